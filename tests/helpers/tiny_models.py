"""Tiny, real model bundles for unit tests: written through `inference.bundle.write_bundle` with deterministic
random weights (seeded), flagged experimental, never shipped as "the model".

`slow_ms=` gives a model whose forward sleeps, for the viewer's responsiveness tests.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inference.architectures import CompactCNN, build_model, default_cam_layer, register_architecture
from inference.bundle import write_bundle

TINY_INPUT_SIZE = 64
TINY_MEAN = (0.5,)
TINY_STD = (0.25,)


class SlowCompactCNN(CompactCNN):
    """A small CompactCNN whose forward sleeps `delay_ms` first: stands in for a slow model on a slow machine."""

    def __init__(self, num_labels: int, in_channels: int, delay_ms: int):
        super().__init__(num_labels, in_channels, widths=(8, 16, 16, 32, 32))
        self.delay_ms = delay_ms

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay_ms / 1000.0)
        return super().forward(x)


def slow_architecture_name(slow_ms: int) -> str:
    """Register (once per process) and return the test-only architecture that sleeps `slow_ms` per forward."""
    name = f"test_slow_compact_cnn_{int(slow_ms)}ms"

    def factory(num_labels: int, in_channels: int, pretrained: bool, pretrained_path: Path | None) -> nn.Module:
        return SlowCompactCNN(num_labels, in_channels, int(slow_ms))

    register_architecture(name, factory, "features.block5", f"test-only CompactCNN sleeping {slow_ms} ms per forward")
    return name


def tiny_card(arch: str, labels: Sequence[str], *, size: int = TINY_INPUT_SIZE, channels: int = 1,
              resize_mode: str = "squash", threshold: float = 0.5, temperature: float = 1.0,
              name: str = "tiny-test-model", version: str = "0.0.1-test", seed: int = 0) -> dict[str, Any]:
    """A schema-valid card for an untrained test model (experimental, no metrics claimed)."""
    labels = list(labels)
    card: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": "Randomly initialised model for unit tests; it has learned nothing.",
        "architecture": arch,
        "labels": labels,
        "input": {"channels": channels, "height": size, "width": size, "resize_mode": resize_mode,
                  "normalisation": {"mean": list(TINY_MEAN), "std": list(TINY_STD)}, "window": "default"},
        "output_activation": "softmax",
        "threshold": threshold if len(labels) == 2 else None,
        "threshold_table": [],
        "metrics": [],
        "calibration": {"temperature": temperature, "ece": None},
        "training_data": [],
        "training": {"command": "tests.helpers.tiny_models.make_tiny_bundle", "seed": seed, "epochs": 0},
        "intended_use": "Unit tests only: research and education, not for diagnostic use.",
        "limitations": ["Untrained random weights: its outputs mean nothing."],
        "cam": {"target_layer": default_cam_layer(arch)},
        "experimental": True,
    }
    if len(labels) == 2:
        card["positive_label"] = labels[1]
    return card


def make_tiny_bundle(out_dir: str | Path, arch: str = "compact_cnn", labels: Sequence[str] = ("NORMAL", "PNEUMONIA"),
                     seed: int = 0, *, size: int = TINY_INPUT_SIZE, resize_mode: str = "squash",
                     threshold: float = 0.5, temperature: float = 1.0, slow_ms: int | None = None,
                     channels: int = 1, name: str = "tiny-test-model", version: str = "0.0.1-test",
                     logit_gain: float = 100.0, card_overrides: dict[str, Any] | None = None) -> Path:
    """Write a real bundle with deterministic random weights (same seed -> byte-identical weights) and return
    its folder. The global torch RNG state is left as it was.

    `logit_gain` scales the final linear layer: a freshly initialised head gives P ~ 0.50 for every image,
    which would make "prediction unchanged" assertions pass vacuously; with the gain, different chest X-rays
    get probabilities that differ by tenths (measured: 0.57-0.86 over 20 images at gain 100).
    """
    if slow_ms is not None:
        arch = slow_architecture_name(slow_ms)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = build_model(arch, len(labels), in_channels=channels)
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            head.weight.mul_(logit_gain)
            head.bias.zero_()
    finally:
        torch.random.set_rng_state(generator_state)
    card = tiny_card(arch, labels, size=size, channels=channels, resize_mode=resize_mode, threshold=threshold,
                     temperature=temperature, name=name, version=version, seed=seed)
    if card_overrides:
        card.update(card_overrides)
    return write_bundle(out_dir, model.state_dict(), card)
