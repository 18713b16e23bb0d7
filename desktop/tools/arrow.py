"""Arrow: drag from the tail to the tip (the tip points at the finding). With the select tool, double-click it
to give it words."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF

from desktop.tools.base import ANNOTATE_COLOUR, CreateTool

HEAD_PX = 14.0


class ArrowTool(CreateTool):
    id = kind = "arrow"
    colour = ANNOTATE_COLOUR
    hint = "Arrow: drag from the tail to the tip"

    @classmethod
    def paint(cls, painter, annotation, screen_px: float) -> None:
        super().paint(painter, annotation, screen_px)
        (x0, y0), (x1, y1) = annotation.points
        length = math.hypot(x1 - x0, y1 - y0)
        if length == 0:
            return
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        size = HEAD_PX * screen_px
        for side in (1, -1):
            painter.drawLine(QPointF(x1, y1), QPointF(x1 - size * (ux * 0.87 - side * uy * 0.5),
                                                      y1 - size * (uy * 0.87 + side * ux * 0.5)))
