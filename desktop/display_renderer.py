"""Fast windowed display of one XRayImage as 8-bit gray (no Qt): what the view re-renders on every window/level
step, so it has to keep up with a right-drag on a 3000 x 2500 radiograph.

Radiographs hold integer values (up to 16 bits, after any integer rescale), so the window is applied once to
each possible value (a lookup table of at most 65,536 entries) and the image becomes one table lookup per pixel
from a uint16 index prepared once (on the loader thread). The table is built with the preset's own `apply`, and
polarity and padding follow `XRayImage.render`, so the result equals `render()` quantised to 8 bits; images
with non-integer values simply go through `render()`.
"""
from __future__ import annotations

import numpy as np

MAX_LUT_ENTRIES = 1 << 16


def to_gray8(display01: np.ndarray) -> np.ndarray:
    scaled = np.asarray(display01, dtype=np.float32) * np.float32(255.0)
    scaled += np.float32(0.5)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    return scaled.astype(np.uint8)


class DisplayRenderer:
    def __init__(self, image):
        self.image = image
        modality = np.asarray(image.modality)
        finite = np.isfinite(modality)
        all_finite = bool(finite.all())
        values = modality if all_finite else modality[finite]
        self.value_range = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        self._index: np.ndarray | None = None
        self._low = 0
        low, high = self.value_range
        if all_finite and values.size and high - low < MAX_LUT_ENTRIES:
            shifted = modality - np.float32(low)
            index = shifted.astype(np.uint16)
            if np.array_equal(index, shifted):  # every value is an integer: the table covers them all
                self._index = index
                self._low = int(low)

    @property
    def uses_lookup_table(self) -> bool:
        return self._index is not None

    def render8(self, preset, user_invert: bool, step: int = 1) -> np.ndarray:
        """uint8 HxW, 255 = white: the file's polarity, flipped once more when the user pressed Invert.
        `step` > 1 renders every step-th row and column only (a quick preview while the window is dragged)."""
        polarity = bool(self.image.inverted) != bool(user_invert)
        if self._index is None:
            full = to_gray8(self.image.render(preset, invert=polarity))
            return np.ascontiguousarray(full[::step, ::step])
        count = int(self.value_range[1]) - self._low + 1
        table = np.asarray(preset.apply(np.arange(self._low, self._low + count, dtype=np.float32)), dtype=np.float32)
        if polarity:
            table = np.float32(1.0) - table
        out = to_gray8(table)[self._index[::step, ::step]]
        if self.image.padding_mask is not None:
            out[self.image.padding_mask[::step, ::step]] = 0
        return out
