"""Elliptical region: drag the box it fills; mean, SD, min and max of the modality values inside and its area."""
from __future__ import annotations

import math

from PySide6.QtCore import QRectF

from desktop.tools.base import CreateTool, corner_handles, drag_corner

OUTLINE_POINTS = 64


class EllipseTool(CreateTool):
    id = kind = "ellipse"
    hint = "Elliptical region: drag from one corner of its box to the other"

    @classmethod
    def outline(cls, annotation):
        (x0, y0), (x1, y1) = annotation.points
        a, b, xc, yc = (x1 - x0) / 2, (y1 - y0) / 2, (x0 + x1) / 2, (y0 + y1) / 2
        steps = [2 * math.pi * i / OUTLINE_POINTS for i in range(OUTLINE_POINTS + 1)]
        return [[(xc + a * math.cos(t), yc + b * math.sin(t)) for t in steps]]

    @classmethod
    def paint(cls, painter, annotation, screen_px: float) -> None:
        (x0, y0), (x1, y1) = annotation.points
        painter.drawEllipse(QRectF(x0, y0, x1 - x0, y1 - y0))

    handles = classmethod(lambda cls, annotation: corner_handles(annotation))
    drag_handle = classmethod(lambda cls, annotation, index, point: drag_corner(annotation, index, point))
