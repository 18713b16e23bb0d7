"""The viewer's heatmap layer: inference.overlay's RGBA layer (colormap + alpha ramp), which the view draws over the
image at the user's opacity, so the screen and every saved overlay (inference.overlay.blend) look alike (no Qt).
"""
from __future__ import annotations

import numpy as np

from inference.overlay import ALPHA_RAMP, COLORMAPS, colormap_lut, heatmap_rgba, rgba_lut  # noqa: F401 - re-exported


def colormap_names() -> list[str]:
    return list(COLORMAPS)


def colormap_lut_for_bar(colormap: str) -> np.ndarray:
    """256x3 uint8 for the colour bar (the same table the layer uses)."""
    return colormap_lut(colormap)


def warm_colormaps() -> None:
    """Builds every colormap table once (imports matplotlib); called on a worker thread so the GUI never does."""
    for name in COLORMAPS:
        colormap_lut(name)
