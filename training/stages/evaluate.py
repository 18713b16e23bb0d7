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
    # two-class models: each validation film's change in log-odds (temperature 1) under each of
    # training.stability.MARGIN_CHANGES, for the card's call margin (None: not measured)
    val_moves: dict[str, np.ndarray] | None = None


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
    val_moves = None
    if prepared.positive_index is not None and val.images.shape[1] == 1 and len(val):
        emit(StepStarted(Stage.EVALUATE, Step.CALL_MARGIN))
        val_moves = validation_moves(val, val_logits, prepared.positive_index, prepared.spec, logits_of)
    report = None
    if stability is not None:
        emit(StepStarted(Stage.EVALUATE, Step.STABILITY))
        report = stability(StabilityInputs(model=model, spec=prepared.spec, normalisation=normalisation, test=test,
                                           classes=list(prepared.classes), positive_index=prepared.positive_index,
                                           device=device))
    return Evaluation(val=SetLogits("val", val_logits, val.labels.numpy()),
                      test=SetLogits("test", test_logits, test.labels.numpy()),
                      test_tta=test_tta, external=external, stability=report, val_moves=val_moves)


def positive_log_odds(logits: np.ndarray, positive_index: int) -> np.ndarray:
    """log P(positive) - log P(rest) of softmax(logits) (temperature 1): for two classes the logits' difference,
    which a temperature T divides by T."""
    logits = np.asarray(logits, dtype=np.float64)
    others = np.delete(logits, positive_index, axis=1)
    rest = others.max(axis=1) + np.log(np.exp(others - others.max(axis=1, keepdims=True)).sum(axis=1))
    return logits[:, positive_index] - rest


def validation_moves(val: TensorSplit, val_logits: np.ndarray, positive_index: int, spec: InputSpec,
                     logits_of: Callable[[TensorSplit], np.ndarray]) -> dict[str, np.ndarray]:
    """Each validation film's change in log-odds under noise of one grey level and JPEG q 95/90/75 of its model
    input (training.stability.MARGIN_CHANGES, seeded per film): what the card's call margin is measured from,
    without labels, on films the network was not trained on."""
    from training.stability import MARGIN_CHANGES, perturbed_inputs

    base = positive_log_odds(val_logits, positive_index)
    changed = perturbed_inputs(val.images[:, 0].numpy(), spec, MARGIN_CHANGES)
    return {name: positive_log_odds(logits_of(TensorSplit(torch.from_numpy(images[:, None]), val.labels)),
                                    positive_index) - base
            for name, images in changed.items()}
