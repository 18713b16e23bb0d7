"""Qt-free heatmap colouring and the one overlay function (`blend`) that the screen, the PDF report, the DICOM
Secondary Capture and `--cam-out` PNG exports all use.

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


ALPHA_RAMP = (0.15, 0.45)  # heat below the first value is transparent, above the second fully coloured
DEFAULT_OPACITY = 0.45  # the viewer's default opacity (AppSettings.overlay_opacity)


@lru_cache(maxsize=None)
def rgba_lut(colormap: str = "jet") -> np.ndarray:
    """uint8 [256, 4]: the colormap with the alpha ramp baked in (alpha depends on the heat alone), so faint
    attention does not tint the whole radiograph."""
    low, high = ALPHA_RAMP
    heat = np.arange(256, dtype=np.float32) / 255.0
    lut = np.empty((256, 4), dtype=np.uint8)
    lut[:, :3] = colormap_lut(colormap)
    lut[:, 3] = np.rint(np.clip((heat - low) / (high - low), 0.0, 1.0) * 255.0).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def heatmap_rgba(heatmap01: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """HxW float [0,1] -> HxWx4 uint8: the layer the viewer draws over the image at the user's opacity (one table
    lookup per pixel: fast enough for 10+ Mpx images)."""
    scaled = np.nan_to_num(np.asarray(heatmap01, dtype=np.float32), nan=0.0) * np.float32(255.0)
    scaled += np.float32(0.5)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    return np.take(rgba_lut(colormap), scaled.astype(np.uint8), axis=0)


def blend(display01: np.ndarray, heatmap01: np.ndarray, colormap: str = "jet",
          opacity: float = DEFAULT_OPACITY) -> np.ndarray:
    """The one heatmap overlay: the gray image with `heatmap_rgba` composited at `opacity` -> uint8 HxWx3 RGB.

    This is what the viewer shows (its layer is `heatmap_rgba` drawn at the opacity slider's value), and what the
    PDF report, the DICOM Secondary Capture and `xrayview-predict --cam-out` save, so a saved overlay looks like the
    one that was seen."""
    display01 = np.asarray(display01, dtype=np.float32)
    heatmap01 = np.asarray(heatmap01, dtype=np.float32)
    if display01.shape != heatmap01.shape:
        raise ValueError(f"heatmap {heatmap01.shape} and image {display01.shape} differ in size")
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError(f"opacity must be within [0, 1], got {opacity}")
    layer = heatmap_rgba(heatmap01, colormap).astype(np.float32)
    weight = layer[..., 3:4] * np.float32(float(opacity) / 255.0)
    gray = gray_to_rgb(display01).astype(np.float32)
    out = gray * (1.0 - weight) + layer[..., :3] * weight
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def save_overlay_png(path: str | Path, display01: np.ndarray, heatmap01: np.ndarray, colormap: str = "jet",
                     opacity: float = DEFAULT_OPACITY) -> Path:
    path = Path(path)
    Image.fromarray(blend(display01, heatmap01, colormap, opacity), mode="RGB").save(path, format="PNG")
    return path
