"""Overlay planes (PS3.3 C.9: groups 6000-601E) of a DICOM image as masks at the image's size, for the viewer to
draw over the picture as dcmtk and Weasis do. Overlay Data (60xx,3000) is decoded by pydicom; each plane is placed
at its Overlay Origin (1-based row\\column, may lie partly outside the image); only the first frame's plane is
used, as the viewer shows the first frame. Planes that cannot be read are left out with a reason."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset


@dataclass(frozen=True)
class OverlayPlane:
    group: int
    mask: np.ndarray  # bool, the image's rows x columns
    kind: str  # "G" graphics, "R" region of interest
    label: str


def overlay_groups(ds: Dataset | None) -> list[int]:
    if ds is None:
        return []
    return sorted({element.tag.group for element in ds
                   if 0x6000 <= element.tag.group <= 0x601E and element.tag.group % 2 == 0
                   and element.tag.element == 0x3000})


def overlay_planes(ds: Dataset | None, shape: tuple[int, int]) -> tuple[list[OverlayPlane], list[str]]:
    """The planes of `ds` placed on an image of `shape` (rows, columns), and a reason for each one left out."""
    planes, problems = [], []
    for group in overlay_groups(ds):
        try:
            bits = np.asarray(ds.overlay_array(group))
            if bits.ndim == 3:  # multi-frame overlay: the first frame's
                bits = bits[0]
            origin = ds.get((group, 0x0050))
            row0, col0 = (int(origin.value[0]) - 1, int(origin.value[1]) - 1) if origin is not None else (0, 0)
        except Exception as error:  # noqa: BLE001 - malformed overlay elements come in many shapes
            problems.append(f"overlay plane {group:04X} could not be read ({type(error).__name__}: {error})")
            continue
        mask = np.zeros(shape, dtype=bool)
        rows, columns = bits.shape
        top, left = max(row0, 0), max(col0, 0)
        bottom, right = min(row0 + rows, shape[0]), min(col0 + columns, shape[1])
        if bottom > top and right > left:
            mask[top:bottom, left:right] = bits[top - row0:bottom - row0, left - col0:right - col0] != 0
        kind = str(ds.get((group, 0x0040)).value if (group, 0x0040) in ds else "G")
        label_element = ds.get((group, 0x1500)) or ds.get((group, 0x0022))
        planes.append(OverlayPlane(group, mask, kind, str(label_element.value) if label_element is not None else ""))
    return planes, problems
