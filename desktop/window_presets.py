"""The window/level presets the View menu offers, in the order Ctrl+1..9 reach them: the file's own default,
the chest presets (lung, mediastinum, bone), then the user's saved presets; the file's other presets and the
standard relative windows follow without shortcuts. No Qt.

Radiographs have no fixed units (unlike CT's Hounsfield units), so the chest presets are placed on each image's
own histogram: percentiles of the exposed (non-padding) pixels, counted from dark to bright on screen (for
MONOCHROME1 images, where a higher value is darker, the percentiles are mirrored).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.windowing import WindowPreset

# (name, low percentile, high percentile) of the on-screen brightness the window spans
CHEST_PRESETS = (
    ("Chest: lung", 1.0, 80.0),  # the lung fields get the contrast; the mediastinum and bone go white
    ("Chest: mediastinum", 35.0, 99.5),  # behind the heart and the upper abdomen; the lungs go black
    ("Chest: bone", 60.0, 99.9),  # ribs, spine and clavicles against the soft tissue
)
MAX_SAMPLE = 250_000  # pixels sampled for the percentiles (exact enough, quick on a 3000 x 2500 film)
SHORTCUT_SLOTS = 9


@dataclass(frozen=True)
class UserPreset:
    name: str
    center: float
    width: float

    def preset(self) -> WindowPreset:
        return WindowPreset(name=self.name, center=self.center, width=max(self.width, 1e-6), source="user")


def _sample(image) -> np.ndarray:
    values = np.asarray(image.modality, dtype=np.float32)
    mask = np.isfinite(values)
    padding = getattr(image, "padding_mask", None)
    if padding is not None:
        mask &= ~padding
    values = values[mask]
    if values.size > MAX_SAMPLE:
        values = values[:: max(1, values.size // MAX_SAMPLE)]
    return values


def chest_presets(image) -> list[WindowPreset]:
    values = _sample(image)
    if values.size == 0:
        return []
    mirrored = bool(getattr(image, "inverted", False))  # higher value = darker on screen
    presets = []
    for name, low, high in CHEST_PRESETS:
        if mirrored:
            low, high = 100.0 - high, 100.0 - low
        lo, hi = (float(v) for v in np.percentile(values, [low, high]))
        if hi <= lo:
            hi = lo + 1.0
        presets.append(WindowPreset(name=name, center=(lo + hi) / 2.0, width=hi - lo, source="chest"))
    return presets


def menu_presets(image, file_and_standard: list[WindowPreset], user: list[UserPreset]) -> list[WindowPreset]:
    """Ctrl+1..9 order: the file's default, the chest presets, the user's; then the rest."""
    if not file_and_standard:
        return chest_presets(image) + [u.preset() for u in user]
    default = file_and_standard[min(getattr(image, "default_window", 0), len(file_and_standard) - 1)]
    rest = [p for p in file_and_standard if p is not default]
    return [default] + chest_presets(image) + [u.preset() for u in user] + rest
