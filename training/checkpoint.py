"""Atomic training checkpoints: a kill -9 at any moment leaves either the previous or the new checkpoint."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from inference.errors import TrainingError

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(work_dir: Path, payload: dict) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    final = work_dir / CHECKPOINT_NAME
    tmp = work_dir / (CHECKPOINT_NAME + ".tmp")
    with open(tmp, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    return final


def load_checkpoint(work_dir: Path) -> dict | None:
    path = work_dir / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        # our own file, written by save_checkpoint: it holds numpy/python RNG states, so not weights_only
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure means the checkpoint is unusable
        raise TrainingError(f"{path}: checkpoint cannot be read ({exc}); delete it to start over") from exc
