"""Exponential moving average of a model's weights (and BatchNorm statistics).

Evaluating the averaged weights smooths the epoch-to-epoch swings of a small, imbalanced training set
(the operating point of a single snapshot can move a lot between epochs).
"""
from __future__ import annotations

import torch
from torch import nn


class WeightEMA:
    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.state = {k: v.detach().clone().float() if v.is_floating_point() else v.detach().clone()
                      for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        # warm-up: early on, follow the model closely instead of averaging in the random initialisation
        decay = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for key, value in model.state_dict().items():
            average = self.state[key]
            if value.is_floating_point():
                average.mul_(decay).add_(value.detach().float(), alpha=1.0 - decay)
            else:
                average.copy_(value)

    def state_dict_for(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The averaged weights in the model's own dtypes, ready for `load_state_dict`."""
        own = model.state_dict()
        return {k: v.to(own[k].dtype) for k, v in self.state.items()}

    def to_checkpoint(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "state": self.state}

    def load_checkpoint(self, data: dict) -> None:
        self.decay = data["decay"]
        self.updates = data["updates"]
        self.state = {k: v.clone() for k, v in data["state"].items()}
