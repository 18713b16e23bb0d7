"""Annotation records: one immutable value per measurement or mark.

Coordinates are image pixels with sub-pixel precision, x = column, y = row, (0, 0) the top-left corner of the
top-left pixel: the convention of DICOM GSPS "PIXEL" units (PS3.3 C.10.5.1.2), so they are written unchanged.

Points per kind:
  distance  [a, b]                        the segment
  angle     [a, vertex, c]                the angle at the vertex between a and c
  cobb      [a1, b1, a2, b2]              two lines; the angle between them
  ellipse   [corner, opposite corner]     the axis-aligned box the ellipse fills
  rectangle [corner, opposite corner]
  polygon   [p1, ..., pn]                 a closed outline (from other viewers' presentation states)
  ctr       [a1, b1, a2, b2]              two horizontal widths (heart and thorax, either order)
  arrow     [tail, tip]
  text      [anchor]                      with `text`
  polyline  [p1, ..., pn]                 an open line (from other viewers' presentation states)
  point     [p]
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

Point = tuple[float, float]

POINT_COUNTS = {"distance": 2, "angle": 3, "cobb": 4, "ellipse": 2, "rectangle": 2, "ctr": 4, "arrow": 2,
                "text": 1, "point": 1}
OPEN_KINDS = ("polygon", "polyline")  # any number of points (at least 2)
KINDS = tuple(POINT_COUNTS) + OPEN_KINDS
REGION_KINDS = ("ellipse", "rectangle", "polygon")  # the ones with pixel statistics


def _new_uid() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Annotation:
    kind: str
    points: tuple[Point, ...]
    text: str = ""
    uid: str = field(default_factory=_new_uid)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown annotation kind {self.kind!r}; known: {', '.join(KINDS)}")
        points = tuple((float(x), float(y)) for x, y in self.points)
        object.__setattr__(self, "points", points)
        expected = POINT_COUNTS.get(self.kind)
        if expected is not None and len(points) != expected:
            raise ValueError(f"a {self.kind} annotation has {expected} point(s), got {len(points)}")
        if expected is None and len(points) < 2:
            raise ValueError(f"a {self.kind} annotation needs at least 2 points, got {len(points)}")
        if self.kind in ("ellipse", "rectangle"):  # top-left corner first, whichever way it was drawn
            (x0, y0), (x1, y1) = points
            object.__setattr__(self, "points", ((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))))

    def moved(self, dx: float, dy: float) -> "Annotation":
        return replace(self, points=tuple((x + dx, y + dy) for x, y in self.points))

    def with_point(self, index: int, point: Point) -> "Annotation":
        points = list(self.points)
        points[index] = (float(point[0]), float(point[1]))
        if self.kind == "ctr":  # the widths stay horizontal: a moved end takes its partner's row
            partner = index ^ 1
            points[index] = (points[index][0], points[partner][1])
        return replace(self, points=tuple(points))

    def with_text(self, text: str) -> "Annotation":
        return replace(self, text=str(text))

    def label_anchor(self) -> Point:
        """Where the measurement text sits, on screen and in a presentation state."""
        if self.kind in ("ellipse", "rectangle", "polygon"):
            x0, y0, x1, y1 = self.bounds()
            return x1, y1
        if self.kind == "angle":
            return self.points[1]
        if self.kind == "arrow":
            return self.points[0]  # the tip points at the finding; its words sit at the tail
        return self.points[-1]

    def bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the points."""
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        return min(xs), min(ys), max(xs), max(ys)


def new_annotation(kind: str, points, text: str = "") -> Annotation:
    """An annotation as a tool finishes it; a CTR's widths are made horizontal (each at its start point's row)."""
    points = [(float(x), float(y)) for x, y in points]
    if kind == "ctr":
        points = [points[0], (points[1][0], points[0][1]), points[2], (points[3][0], points[2][1])]
    return Annotation(kind=kind, points=tuple(points), text=text)
