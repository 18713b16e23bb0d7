"""Turns a Prediction's heatmap (float [0,1], image size) into the RGBA layer the view shows (no Qt).

Colours come from inference.overlay's colormaps. Alpha ramps up over the weakest heat, so faint attention
does not tint the whole radiograph; the user's opacity slider scales the whole layer on top of that.
"""
from __future__ import annotations

import numpy as np

from inference.overlay import COLORMAPS, colormap_lut

ALPHA_RAMP = (0.15, 0.45)  # heat below the first value is transparent, above the second fully coloured


def colormap_names() -> list[str]:
    return list(COLORMAPS)


def rgba_lut(colormap: str) -> np.ndarray:
    """256x4 uint8: the colormap with the alpha ramp baked in (alpha depends on the heat alone)."""
    low, high = ALPHA_RAMP
    heat = np.arange(256, dtype=np.float32) / 255.0
    lut = np.empty((256, 4), dtype=np.uint8)
    lut[:, :3] = colormap_lut(colormap)
    lut[:, 3] = np.rint(np.clip((heat - low) / (high - low), 0.0, 1.0) * 255.0).astype(np.uint8)
    return lut


def heatmap_rgba(heatmap01: np.ndarray, colormap: str) -> np.ndarray:
    """HxW float [0,1] -> HxWx4 uint8 (one table lookup per pixel: fast enough for 10+ Mpx images)."""
    scaled = np.nan_to_num(np.asarray(heatmap01, dtype=np.float32), nan=0.0) * np.float32(255.0)
    scaled += np.float32(0.5)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    return np.take(rgba_lut(colormap), scaled.astype(np.uint8), axis=0)


def colormap_lut_for_bar(colormap: str) -> np.ndarray:
    """256x3 uint8 for the colour bar (the same table the layer uses)."""
    return colormap_lut(colormap)


def warm_colormaps() -> None:
    """Builds every colormap table once (imports matplotlib); called on a worker thread so the GUI never does."""
    for name in COLORMAPS:
        colormap_lut(name)
