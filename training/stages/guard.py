"""Stage "fit guard": the out-of-distribution guard of the trained model, fitted exactly as
`python -m training.cli_ood_fit` fits it on the sealed bundle (training.ood_fit.fit_guard_on), but from the images
already in memory: the run's splits in manifest order, decoded again only when the card's model input differs from
the one they were read with (a JPEG round trip the card adds)."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from inference.errors import XRayViewError
from inference.preprocess import InputSpec
from training.data_manifest import parse_manifest
from training.events import ProgressCallback
from training.ood_fit import GuardFit, GuardOptions, GuardSets, check_layer_and_grid, decode_split, fit_guard_on
from training.stages.evaluate import trained_model
from training.stages.prepare import PreparedData
from training.trainer import TrainConfig, TrainingCancelled


@dataclass
class GuardOutcome:
    fit: GuardFit | None
    error: str = ""  # why no guard could be fitted, when the run may go on without one


def _decode_key(spec: InputSpec) -> tuple:
    """What the uint8 model input of a film depends on (inference.preprocess.model_input_u8)."""
    return spec.channels, spec.height, spec.width, spec.resize_mode, spec.jpeg_quality


def splits_for_guard(prepared: PreparedData, card_spec: InputSpec, data_root: Path,
                     progress: ProgressCallback | None = None,
                     cancel: threading.Event | None = None) -> dict[str, torch.Tensor]:
    """split -> uint8 model inputs in manifest order, as the guard tool would read them from the sealed bundle."""
    rows = parse_manifest(prepared.manifest, "the run's data manifest")
    if _decode_key(card_spec) != _decode_key(prepared.spec):
        splits: dict[str, list[Path]] = {}
        for row in rows:
            splits.setdefault(row.split, []).append(row.path(data_root))
        return {split: decode_split(paths, card_spec, progress=progress, cancel=cancel)
                for split, paths in splits.items()}
    position = {(row.split, row.relpath): i for split_rows in prepared.manifest_rows.values()
                for i, row in enumerate(split_rows)}
    ordered: dict[str, list[int]] = {}
    for row in rows:
        ordered.setdefault(row.split, []).append(position[(row.split, row.relpath)])
    return {split: prepared.splits[split].images[torch.tensor(indices, dtype=torch.int64)]
            for split, indices in ordered.items()}


def fit_guard_stage(options: GuardOptions, sets: GuardSets, optional: bool, config: TrainConfig,
                    prepared: PreparedData, state: dict[str, torch.Tensor], card: dict, data_root: Path,
                    where: Path, command: str, progress: ProgressCallback | None = None,
                    cancel: threading.Event | None = None) -> GuardOutcome:
    """The guard for the model with weights `state` and the card it will be sealed with. With `optional`, a guard
    that cannot be fitted (too few images, ...) is reported in the outcome instead of failing the run."""
    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("cancelled while fitting the out-of-distribution guard")

    try:
        model = trained_model(config, prepared, state, torch.device("cpu")).eval()
        check_layer_and_grid(model, options, where, config.arch)
        splits = splits_for_guard(prepared, InputSpec.from_card(card), data_root, progress, cancel)
        return GuardOutcome(fit_guard_on(model, card, splits, sets, options, command, progress, check_cancel))
    except (ValueError, XRayViewError) as error:
        if not optional or isinstance(error, TrainingCancelled):
            raise
        return GuardOutcome(fit=None, error=str(error))
