"""Kinds no tool draws, which come from other viewers' presentation states: open and closed polylines (a closed
one is a region with statistics) and points."""
from __future__ import annotations

from PySide6.QtCore import QPointF

from desktop.tools.base import ANNOTATE_COLOUR, Shape

CROSS_PX = 6.0


class PolygonShape(Shape):
    kind = "polygon"

    @classmethod
    def closed(cls) -> bool:
        return True

    @classmethod
    def outline(cls, annotation):
        return [list(annotation.points) + [annotation.points[0]]]


class PolylineShape(Shape):
    kind = "polyline"
    colour = ANNOTATE_COLOUR


class PointShape(Shape):
    kind = "point"
    colour = ANNOTATE_COLOUR

    @classmethod
    def paint(cls, painter, annotation, screen_px: float) -> None:
        (x, y), = annotation.points
        size = CROSS_PX * screen_px
        painter.drawLine(QPointF(x - size, y), QPointF(x + size, y))
        painter.drawLine(QPointF(x, y - size), QPointF(x, y + size))


SHAPES = (PolygonShape, PolylineShape, PointShape)
