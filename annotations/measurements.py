"""The numbers an annotation stands for: lengths and areas in mm where the pixel spacing is known (pixels
otherwise, and said so), angles, the cardiothoracic ratio, and statistics of the modality values inside a region.

Lengths, areas and angles are computed in physical space (x scaled by the column spacing, y by the row spacing),
so an anisotropic spacing measures correctly. Region statistics use the pixels whose centres lie inside the
outline, leaving out Pixel Padding and non-finite values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from annotations.model import Annotation

SPACING_NOTES = {
    "PixelSpacing": "calibrated in the patient",
    "ImagerPixelSpacing": "calibrated at detector",
}


@dataclass(frozen=True)
class Calibration:
    """mm per pixel along rows (between rows, y) and columns (between columns, x), and the attribute it came from."""

    row_mm: float
    col_mm: float
    source: str = ""

    @property
    def note(self) -> str:
        """How far to trust a mm figure: ImagerPixelSpacing is at the detector (the patient is magnified)."""
        return SPACING_NOTES.get(self.source, self.source)


@dataclass(frozen=True)
class Measurement:
    kind: str
    lines: tuple[str, ...]
    values: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "\n".join(self.lines)


def calibration_of(image) -> Calibration | None:
    """From an XRayImage-like object (`pixel_spacing_mm` = (row_mm, col_mm), `spacing_source`)."""
    spacing = getattr(image, "pixel_spacing_mm", None)
    if spacing is None:
        return None
    if isinstance(spacing, (int, float)):
        spacing = (spacing, spacing)
    row, col = float(spacing[0] or 0), float(spacing[1] or 0)
    if row <= 0 or col <= 0:
        return None
    return Calibration(row, col, str(getattr(image, "spacing_source", "") or ""))


def _scaled(points, calibration: Calibration | None) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if calibration is not None:
        array = array * np.array([calibration.col_mm, calibration.row_mm])
    return array


def _length_text(value: float, calibration: Calibration | None) -> str:
    return f"{value:.1f} mm" if calibration is not None else f"{value:.1f} px (no pixel spacing)"


def _angle_between(u: np.ndarray, v: np.ndarray) -> float:
    norm = float(np.linalg.norm(u) * np.linalg.norm(v))
    if norm == 0.0:
        return 0.0
    return math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(u, v)) / norm))))


def measure(annotation: Annotation, calibration: Calibration | None = None, modality: np.ndarray | None = None,
            padding_mask: np.ndarray | None = None) -> Measurement:
    kind = annotation.kind
    points = _scaled(annotation.points, calibration)
    unit = "mm" if calibration is not None else "px"
    if kind in ("distance", "polyline"):
        length = float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())
        return Measurement(kind, (_length_text(length, calibration),), {f"length_{unit}": length})
    if kind == "angle":
        degrees = _angle_between(points[0] - points[1], points[2] - points[1])
        return Measurement(kind, (f"{degrees:.1f}°",), {"angle_deg": degrees})
    if kind == "cobb":
        degrees = _angle_between(points[1] - points[0], points[3] - points[2])
        degrees = min(degrees, 180.0 - degrees)  # between the lines, whichever way each was drawn
        return Measurement(kind, (f"Cobb {degrees:.1f}°",), {"angle_deg": degrees})
    if kind == "ctr":
        widths = sorted((abs(points[1, 0] - points[0, 0]), abs(points[3, 0] - points[2, 0])))
        heart, thorax = widths
        if thorax == 0.0:
            return Measurement(kind, ("CTR: draw two widths",), {})
        ratio = heart / thorax
        return Measurement(kind, (f"CTR {ratio:.2f}", f"heart {heart:.1f} {unit} / thorax {thorax:.1f} {unit}"),
                           {"ratio": ratio, f"heart_{unit}": heart, f"thorax_{unit}": thorax})
    if kind in ("ellipse", "rectangle", "polygon"):
        return _region_measurement(annotation, calibration, modality, padding_mask)
    if kind in ("arrow", "text"):
        return Measurement(kind, (annotation.text,) if annotation.text else (), {})
    return Measurement(kind, (), {})


# --- regions --------------------------------------------------------------------------------------------------------

def region_area_px(annotation: Annotation) -> float:
    """Geometric area in square pixels (not a pixel count)."""
    if annotation.kind in ("ellipse", "rectangle"):
        (x0, y0), (x1, y1) = annotation.points
        area = abs(x1 - x0) * abs(y1 - y0)
        return area * math.pi / 4.0 if annotation.kind == "ellipse" else area
    xs = np.array([p[0] for p in annotation.points])
    ys = np.array([p[1] for p in annotation.points])
    return float(abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))) / 2.0)


def region_mask(annotation: Annotation, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """(mask, (row0, col0)): True for the pixels whose centres are inside, within the region's bounding box
    clipped to the image; (row0, col0) is where the box starts."""
    height, width = shape
    x0, y0, x1, y1 = annotation.bounds()
    col0, col1 = max(0, int(math.floor(x0))), min(width, int(math.ceil(x1)))
    row0, row1 = max(0, int(math.floor(y0))), min(height, int(math.ceil(y1)))
    if col1 <= col0 or row1 <= row0:
        return np.zeros((0, 0), dtype=bool), (row0, col0)
    cy, cx = np.mgrid[row0:row1, col0:col1].astype(np.float64) + 0.5
    if annotation.kind == "rectangle":
        mask = (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1)
    elif annotation.kind == "ellipse":
        a, b = (x1 - x0) / 2.0, (y1 - y0) / 2.0
        if a <= 0 or b <= 0:
            return np.zeros((0, 0), dtype=bool), (row0, col0)
        mask = ((cx - (x0 + a)) / a) ** 2 + ((cy - (y0 + b)) / b) ** 2 <= 1.0
    else:
        mask = _inside_polygon(cx, cy, annotation.points)
    return mask, (row0, col0)


def _inside_polygon(cx: np.ndarray, cy: np.ndarray, points) -> np.ndarray:
    """Even-odd rule, vectorised over the pixel centres."""
    inside = np.zeros(cx.shape, dtype=bool)
    count = len(points)
    for i in range(count):
        (xa, ya), (xb, yb) = points[i], points[(i + 1) % count]
        if ya == yb:
            continue
        crosses = (cy >= min(ya, yb)) & (cy < max(ya, yb))
        x_at = xa + (cy - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (cx < x_at)
    return inside


def region_values(annotation: Annotation, modality: np.ndarray, padding_mask: np.ndarray | None = None) -> np.ndarray:
    """The modality values inside the region (padding and non-finite values left out), as float64."""
    mask, (row0, col0) = region_mask(annotation, modality.shape[:2])
    if mask.size == 0:
        return np.zeros(0)
    rows, cols = mask.shape
    values = np.asarray(modality[row0:row0 + rows, col0:col0 + cols], dtype=np.float64)
    keep = mask & np.isfinite(values)
    if padding_mask is not None:
        keep &= ~padding_mask[row0:row0 + rows, col0:col0 + cols]
    return values[keep]


def _region_measurement(annotation: Annotation, calibration: Calibration | None, modality: np.ndarray | None,
                        padding_mask: np.ndarray | None) -> Measurement:
    area_px = region_area_px(annotation)
    if calibration is not None:
        area, area_line = area_px * calibration.row_mm * calibration.col_mm, "mm²"
        values = {"area_mm2": area}
    else:
        area, area_line = area_px, "px² (no pixel spacing)"
        values = {"area_px2": area}
    lines = []
    if modality is not None:
        inside = region_values(annotation, modality, padding_mask)
        if inside.size:
            stats = {"mean": float(inside.mean()), "sd": float(inside.std()), "min": float(inside.min()),
                     "max": float(inside.max()), "pixels": float(inside.size)}
            values.update(stats)
            lines += [f"mean {stats['mean']:.1f}  SD {stats['sd']:.1f}", f"min {stats['min']:g}  max {stats['max']:g}"]
        else:
            lines.append("no pixel centre inside")
    lines.append(f"area {area:.1f} {area_line}")
    return Measurement(annotation.kind, tuple(lines), values)
