"""Stage "evaluate": the trained model's logits on the validation and test splits (and the mirrored test films for
--tta), on every external set, and, when the caller gives one, a stability check of the model.

Nothing here chooses anything: the operating point is the next stage's ("calibrate"), fitted on validation only.
A stability check is a caller's function (`StabilityCheck`): it gets the model and the test split and returns a
JSON-able report, stored as is in evaluation.json and the card's `training.stability`. The run ships none of its
own; without one the step is not run and nothing is claimed."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from inference.architectures import build_model
from inference.preprocess import InputSpec
from training.events import ProgressCallback, Stage, Step, StepStarted, no_progress
from training.stages.prepare import PreparedData
from training.trainer import Normalisation, TensorSplit, TrainConfig, predict_logits


@dataclass(frozen=True)
class StabilityInputs:
    """What a stability check measures: the trained model (eval mode, on `device`) on the test split, with the
    model input the bundle will declare (`spec`; `normalisation` turns the uint8 films into model input)."""
    model: nn.Module
    spec: InputSpec
    normalisation: Normalisation
    test: TensorSplit
    classes: list[str]
    positive_index: int | None
    device: torch.device


StabilityCheck = Callable[[StabilityInputs], dict[str, Any]]


@dataclass
class SetLogits:
    name: str
    logits: np.ndarray  # [N, K]
    labels: np.ndarray  # [N] class indices


@dataclass
class ExternalLogits:
    labelled: Any  # training.external.LabelledSet
    logits: np.ndarray


@dataclass
class Evaluation:
    val: SetLogits
    test: SetLogits
    test_tta: SetLogits | None  # horizontal-flip TTA (--tta): reported beside the plain numbers
    external: list[ExternalLogits]
    stability: dict[str, Any] | None  # the StabilityCheck's report, when one was given


def trained_model(config: TrainConfig, prepared: PreparedData, state: dict[str, torch.Tensor],
                  device: torch.device) -> nn.Module:
    model = build_model(config.arch, len(prepared.classes), in_channels=prepared.spec.channels).to(device)
    model.load_state_dict(state)
    return model


def evaluation_amp(config: TrainConfig, device: torch.device) -> bool:
    """Whether the card's numbers are computed under autocast: on CUDA when training used it, never on a CPU (where
    bf16 logits would move the temperature fitted on validation)."""
    return config.amp and device.type == "cuda"


def evaluate(config: TrainConfig, prepared: PreparedData, state: dict[str, torch.Tensor], device: torch.device,
             external_sets: list, tta: bool = False, stability: StabilityCheck | None = None,
             progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> Evaluation:
    emit = progress or no_progress
    model = trained_model(config, prepared, state, device)
    normalisation = Normalisation.from_spec(prepared.spec)
    use_amp = evaluation_amp(config, device)

    def logits_of(split: TensorSplit, tta_hflip: bool = False) -> np.ndarray:
        return predict_logits(model, split, normalisation, device, config.eval_batch_size, tta_hflip=tta_hflip,
                              amp=use_amp, cancel=cancel)

    emit(StepStarted(Stage.EVALUATE, Step.INTERNAL))
    val, test = prepared.splits["val"], prepared.splits["test"]
    val_logits, test_logits = logits_of(val), logits_of(test)
    test_tta = SetLogits("test", logits_of(test, tta_hflip=True), test.labels.numpy()) if tta else None
    external = []
    if external_sets:
        emit(StepStarted(Stage.EVALUATE, Step.EXTERNAL))
        external = [ExternalLogits(labelled, logits_of(labelled)) for labelled in external_sets]
    report = None
    if stability is not None:
        emit(StepStarted(Stage.EVALUATE, Step.STABILITY))
        report = stability(StabilityInputs(model=model, spec=prepared.spec, normalisation=normalisation, test=test,
                                           classes=list(prepared.classes), positive_index=prepared.positive_index,
                                           device=device))
    return Evaluation(val=SetLogits("val", val_logits, val.labels.numpy()),
                      test=SetLogits("test", test_logits, test.labels.numpy()),
                      test_tta=test_tta, external=external, stability=report)
