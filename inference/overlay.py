"""Qt-free heatmap colouring and blending, for `--cam-out` PNG exports (and any other non-Qt consumer).

Colour tables come from matplotlib's colormaps (sampled once into 256-entry uint8 LUTs and cached); matplotlib
is only imported the first time a colormap is needed.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

COLORMAPS = ("jet", "inferno", "viridis", "magma", "plasma", "turbo", "hot")


@lru_cache(maxsize=None)
def colormap_lut(name: str = "jet") -> np.ndarray:
    """uint8 [256, 3] RGB lookup table for a colormap name."""
    if name not in COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}")
    from matplotlib import colormaps

    rgba = colormaps[name](np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255.0).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def _to_index(values01: np.ndarray) -> np.ndarray:
    values = np.nan_to_num(np.asarray(values01, dtype=np.float32), nan=0.0)
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def colorize(heatmap01: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """float [0, 1] HxW -> uint8 HxWx3 RGB."""
    return colormap_lut(colormap)[_to_index(heatmap01)]


def gray_to_rgb(display01: np.ndarray) -> np.ndarray:
    index = _to_index(display01)
    return np.repeat(index[:, :, None], 3, axis=2)


def blend(display01: np.ndarray, heatmap01: np.ndarray, alpha: float = 0.4, colormap: str = "jet",
          min_value: float = 0.0) -> np.ndarray:
    """Alpha-blend a coloured heatmap over a gray image -> uint8 HxWx3 RGB.

    Pixels whose heat is below `min_value` stay plain gray, so weak evidence does not tint the whole image.
    """
    display01 = np.asarray(display01, dtype=np.float32)
    heatmap01 = np.asarray(heatmap01, dtype=np.float32)
    if display01.shape != heatmap01.shape:
        raise ValueError(f"heatmap {heatmap01.shape} and image {display01.shape} differ in size")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    gray = gray_to_rgb(display01).astype(np.float32)
    colour = colorize(heatmap01, colormap).astype(np.float32)
    weight = np.where(heatmap01 >= min_value, np.float32(alpha), np.float32(0.0))[:, :, None]
    out = gray * (1.0 - weight) + colour * weight
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def save_overlay_png(path: str | Path, display01: np.ndarray, heatmap01: np.ndarray, alpha: float = 0.4,
                     colormap: str = "jet") -> Path:
    path = Path(path)
    Image.fromarray(blend(display01, heatmap01, alpha, colormap), mode="RGB").save(path, format="PNG")
    return path
