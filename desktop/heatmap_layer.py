"""Turns a Prediction's heatmap (float [0,1], image size) into the RGBA layer the view shows (no Qt).

Colours come from inference.overlay's colormaps. Alpha ramps up over the weakest heat, so faint attention
does not tint the whole radiograph; the user's opacity slider scales the whole layer on top of that.
"""
from __future__ import annotations

import numpy as np

from inference.overlay import COLORMAPS, colormap_lut

ALPHA_RAMP = (0.08, 0.3)  # heat below the first value is transparent, above the second fully coloured


def colormap_names() -> list[str]:
    return list(COLORMAPS)


def heatmap_rgba(heatmap01: np.ndarray, colormap: str) -> np.ndarray:
    heat = np.nan_to_num(np.asarray(heatmap01, dtype=np.float32), nan=0.0).clip(0.0, 1.0)
    rgb = colormap_lut(colormap)[np.rint(heat * 255.0).astype(np.uint8)]
    low, high = ALPHA_RAMP
    alpha = np.clip((heat - low) / (high - low), 0.0, 1.0)
    rgba = np.empty(heat.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = np.rint(alpha * 255.0).astype(np.uint8)
    return rgba


def colormap_lut_for_bar(colormap: str) -> np.ndarray:
    """256x3 uint8 for the colour bar (the same table the layer uses)."""
    return colormap_lut(colormap)


def warm_colormaps() -> None:
    """Builds every colormap table once (imports matplotlib); called on a worker thread so the GUI never does."""
    for name in COLORMAPS:
        colormap_lut(name)
