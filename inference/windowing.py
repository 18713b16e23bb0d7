"""VOI (value of interest) presets: window center/width and VOI LUT tables, mapping modality values to [0, 1].

Formulas follow DICOM PS3.3 C.11.2.1.2 (LINEAR, LINEAR_EXACT, SIGMOID) and C.11.2.1.1 (VOI LUT tables).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LINEAR = "LINEAR"
LINEAR_EXACT = "LINEAR_EXACT"
SIGMOID = "SIGMOID"
VOI_FUNCTIONS = (LINEAR, LINEAR_EXACT, SIGMOID)


@dataclass(frozen=True, eq=False)
class WindowPreset:
    """One way to display the modality values: a window (center/width + function) or a VOI LUT table.

    `source` says where it came from: "file" (the DICOM's own presets) or "default" (computed by the reader
    because the file has none). For a LUT preset `center`/`width` describe the LUT's input range, for display.
    """

    name: str
    center: float
    width: float
    function: str = LINEAR
    lut: np.ndarray | None = field(default=None, repr=False)
    lut_first_mapped: int = 0
    lut_max_output: int = 0
    source: str = "file"

    @property
    def is_lut(self) -> bool:
        return self.lut is not None

    def apply(self, values: np.ndarray, invert: bool = False) -> np.ndarray:
        """Maps modality values to float32 display values in [0, 1]; `invert` flips the result (1 - y).

        Computed in float64 and rounded once, so an inverted MONOCHROME1 image and its MONOCHROME2 twin give
        bit-identical float32 output.
        """
        values = np.asarray(values)
        if self.lut is not None:
            out = _apply_lut(values, self.lut, self.lut_first_mapped, self.lut_max_output)
        else:
            out = _apply_window(values.astype(np.float64, copy=False), self.center, self.width, self.function)
        if invert:
            out = 1.0 - out
        return out.astype(np.float32)


def window_from_range(low: float, high: float, name: str, source: str = "default") -> WindowPreset:
    """The LINEAR window that maps `low` exactly to 0.0 and `high` exactly to 1.0 (width = high - low + 1).

    With DICOM's LINEAR formula, center c and width w give y = (x - (c - 0.5)) / (w - 1) + 0.5, so
    c = (low + high) / 2 + 0.5 and w = high - low + 1 make the stored range 0..255 map to x / 255 exactly.
    """
    low, high = float(low), float(high)
    if high <= low:
        high = low + 1.0
    return WindowPreset(name=name, center=(low + high) / 2.0 + 0.5, width=high - low + 1.0, source=source)


def lut_preset(name: str, lut: np.ndarray, first_mapped: int, output_bits: int) -> WindowPreset:
    """A VOI LUT table preset. The output range is 0..2^bits-1 (bits from the LUT Descriptor), widened when the
    table's own values exceed it (a common descriptor error)."""
    lut = np.asarray(lut)
    max_output = (1 << int(output_bits)) - 1 if output_bits else 0
    table_max = int(lut.max()) if lut.size else 0
    while max_output < table_max:
        output_bits = max(int(output_bits), 7) + 1
        max_output = (1 << output_bits) - 1
    return WindowPreset(name=name, center=first_mapped + len(lut) / 2.0, width=float(len(lut)), lut=lut,
                        lut_first_mapped=int(first_mapped), lut_max_output=max(max_output, 1))


def _apply_window(x: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    if function == SIGMOID:
        out = 1.0 / (1.0 + np.exp(-4.0 * (x - center) / max(width, 1e-12)))
    elif function == LINEAR_EXACT:
        out = (x - center) / max(width, 1e-12) + 0.5
    else:
        if width <= 1.0:  # degenerate LINEAR window: a threshold at c - 0.5
            out = (x > center - 0.5).astype(np.float64)
        else:
            out = (x - (center - 0.5)) / (width - 1.0) + 0.5
    return np.clip(out, 0.0, 1.0)


def _apply_lut(x: np.ndarray, lut: np.ndarray, first_mapped: int, max_output: int) -> np.ndarray:
    index = np.rint(x).astype(np.int64) - first_mapped
    np.clip(index, 0, len(lut) - 1, out=index)
    return (lut.astype(np.float64)[index] / float(max_output)).clip(0.0, 1.0)
