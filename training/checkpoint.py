"""Atomic training checkpoints: a kill -9 at any moment leaves either the previous or the new checkpoint.

A checkpoint is read with `torch.load(weights_only=True)`: PyTorch's restricted unpickler builds tensors,
numbers, strings and plain containers only, so a planted `OUT.partial/checkpoint.pt` cannot run code. Saving
therefore stores only such values (NumPy arrays, e.g. NumPy's RNG key, become lists), and loading checks the
structure and the run fingerprint before the trainer uses anything from it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from inference.errors import TrainingError

CHECKPOINT_NAME = "checkpoint.pt"
# what the trainer reads back; a file without these is not one of our checkpoints
REQUIRED_KEYS = {"fingerprint": str, "epoch": int, "model": dict, "optimizer": dict, "scheduler": dict,
                 "rng": list, "history": list, "best_state": dict, "best_epoch": int, "stale_epochs": int}


def plain_values(value):
    """`value` with NumPy arrays and scalars turned into lists and Python numbers (what weights_only reads)."""
    if isinstance(value, dict):
        return {key: plain_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        converted = [plain_values(item) for item in value]
        return converted if isinstance(value, list) else tuple(converted)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_checkpoint(work_dir: Path, payload: dict) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    final = work_dir / CHECKPOINT_NAME
    tmp = work_dir / (CHECKPOINT_NAME + ".tmp")
    with open(tmp, "wb") as handle:
        torch.save(plain_values(payload), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    return final


def load_checkpoint(work_dir: Path, fingerprint: str | None = None) -> dict | None:
    """The checkpoint in `work_dir` (None when there is none). Raises TrainingError when it cannot be read
    without running code, is not a training checkpoint, or (with `fingerprint`) belongs to another run."""
    path = work_dir / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure means the checkpoint is unusable
        detail = " ".join(str(exc).split())
        if "weights only" in detail.lower() or "weights_only" in detail:
            detail = "it holds objects other than tensors and plain values, which are never unpickled"
        raise TrainingError(f"{path}: checkpoint cannot be read ({detail[:300]}); delete it to start over") \
            from None
    if not isinstance(saved, dict):
        raise TrainingError(f"{path}: is not a training checkpoint (no dictionary of training state)")
    for key, kind in REQUIRED_KEYS.items():
        if not isinstance(saved.get(key), kind):
            raise TrainingError(f"{path}: is not a complete training checkpoint ({key!r} is missing or not a "
                                f"{kind.__name__}); delete it to start over")
    if fingerprint is not None and saved["fingerprint"] != fingerprint:
        raise TrainingError(f"{work_dir}: the checkpoint belongs to a different dataset split or different "
                            "options; delete it or run without --resume")
    return saved
