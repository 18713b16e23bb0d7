"""Thumbnail rendering for the folder panel, run on a worker thread by desktop.workers.Job (no Qt here)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

THUMBNAIL_SIZE = 96


def downscale(display01: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """Box-filtered shrink so the long side is at most `size`; returns uint8."""
    height, width = display01.shape
    step = max(1, int(np.ceil(max(height, width) / size)))
    cropped = display01[: height - height % step or height, : width - width % step or width]
    h, w = cropped.shape[0] // step, cropped.shape[1] // step
    if h == 0 or w == 0:
        small = display01
    else:
        small = cropped[: h * step, : w * step].reshape(h, step, w, step).mean(axis=(1, 3))
    return np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)


def make_thumbnails(paths: list[Path], *, progress, cancel) -> int:
    """Reports (index, total, (path, uint8 thumbnail or None, error message)) for each file; returns the count."""
    from desktop import libraries

    libraries.image_stack()
    from inference.errors import XRayViewError
    from inference.image_io import load_image

    total = len(paths)
    for index, path in enumerate(paths):
        if cancel.is_set():
            break
        try:
            thumbnail, error = downscale(load_image(path).render()), ""
        except XRayViewError as err:
            thumbnail, error = None, str(err)
        except Exception as err:  # noqa: BLE001 - one unreadable file must not stop the other thumbnails
            thumbnail, error = None, f"{Path(path).name}: could not be read ({type(err).__name__}: {err})"
        progress(index + 1, total, (Path(path), thumbnail, error))
    return total
