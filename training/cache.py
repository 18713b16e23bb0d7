"""Decode every image once into RAM as uint8 at the model input size.

The path is exactly the inference path: `load_image(path).render()` (default window, MONOCHROME1/inversion
applied) then `inference.preprocess.model_input_u8` (the card's geometry, rounded to 8 bits). That 8-bit array
is the model input the predictor builds too, so only the final normalisation is left for batch time and a film
gets the same input here as in the viewer, bit for bit.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from inference.errors import XRayViewError
from inference.preprocess import InputSpec, model_input_u8
from training.events import DecodeProgress, ProgressCallback


@dataclass
class DecodedImages:
    """Parallel arrays over the input paths; `ok[i]` False means `errors[i]` says why it was skipped."""
    paths: list[Path]
    images: torch.Tensor  # uint8 [N, C, H, W]; rows of unreadable files are zero
    ok: np.ndarray  # bool [N]
    original_shapes: list[tuple[int, int] | None]
    errors: list[str | None]


def decode_one(path: Path, spec: InputSpec) -> tuple[np.ndarray | None, tuple[int, int] | None, str | None]:
    from inference.image_io import load_image

    try:
        display = load_image(path).render()
        shape = (int(display.shape[0]), int(display.shape[1]))
        array = model_input_u8(display, spec)
    except XRayViewError as exc:
        return None, None, getattr(exc, "reason", None) or str(exc)
    except (OSError, ValueError) as exc:  # defensive: a decoder bug must not stop a 5,000-image scan
        return None, None, f"cannot be read ({exc})"
    return array, shape, None


class _DecodeDataset(Dataset):
    def __init__(self, paths: Sequence[Path], spec: InputSpec):
        self.paths = list(paths)
        self.spec = spec

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        array, shape, error = decode_one(self.paths[index], self.spec)
        return index, array, shape, error


def _collate(items):
    return items


def default_workers() -> int:
    """Decoding is the only CPU-parallel part outside the model: use the cores, at most 4."""
    return max(0, min(4, (os.cpu_count() or 1)))


def decode_images(paths: Sequence[Path], spec: InputSpec, workers: int | None = None,
                  progress: ProgressCallback | None = None,
                  cancel: threading.Event | None = None) -> DecodedImages:
    paths = [Path(p) for p in paths]
    count = len(paths)
    images = torch.zeros((count, spec.channels, spec.height, spec.width), dtype=torch.uint8)
    ok = np.zeros(count, dtype=bool)
    shapes: list[tuple[int, int] | None] = [None] * count
    errors: list[str | None] = [None] * count
    workers = default_workers() if workers is None else workers
    if count < 64:
        workers = 0  # worker start-up costs more than decoding a handful of files
    loader = DataLoader(_DecodeDataset(paths, spec), batch_size=16, num_workers=workers,
                        collate_fn=_collate, shuffle=False)
    done = 0
    for batch in loader:
        if cancel is not None and cancel.is_set():
            from training.trainer import TrainingCancelled

            raise TrainingCancelled("cancelled while reading the images")
        for index, array, shape, error in batch:
            if array is not None:
                images[index] = torch.from_numpy(array).unsqueeze(0).expand(spec.channels, -1, -1)
                ok[index] = True
            shapes[index] = shape
            errors[index] = error
        done += len(batch)
        if progress is not None:
            progress(DecodeProgress(done=done, total=count))
    return DecodedImages(paths=paths, images=images, ok=ok, original_shapes=shapes, errors=errors)
