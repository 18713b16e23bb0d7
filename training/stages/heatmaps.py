"""Stage "check heatmaps": where the model's Grad-CAM mass falls on the true-positive test films, measured exactly
as `python -m training.cli_cam_check` measures a sealed bundle (training.cam_check.check_predictor), on the model
and card about to be sealed (guard included, so its no-call rule applies as in the viewer)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from inference.bundle import draft_bundle
from training.cam_check import HeatmapCheckOptions, check_predictor, use_layers
from training.data_manifest import parse_manifest


def check_heatmaps(options: HeatmapCheckOptions, card: dict, state: dict[str, torch.Tensor],
                   files: dict[str, bytes], manifest: bytes, data_root: Path, where: Path,
                   command: str) -> dict[str, Any]:
    from inference.predictor import Predictor

    predictor = Predictor(draft_bundle(where, card, state, files), device="cpu")
    use_layers(predictor, options.detail_layer_to_measure(), options.target_power, where)
    result = check_predictor(predictor, parse_manifest(manifest, "the run's data manifest"), data_root, where,
                             options.split, options.method, options.limit, options.sheet)
    if command:
        result["command"] = command
    return result
