"""Angle: drag the first arm from its end to the vertex, then click the end of the second arm."""
from __future__ import annotations

import math

from PySide6.QtCore import QRectF

from desktop.tools.base import CreateTool

ARC_PX = 18.0


class AngleTool(CreateTool):
    id = kind = "angle"
    steps = ("drag", "click")
    hint = "Angle: drag from the end of the first arm to the vertex, then click the end of the second arm"

    @classmethod
    def paint(cls, painter, annotation, screen_px: float) -> None:
        super().paint(painter, annotation, screen_px)
        (ax, ay), (vx, vy), (cx, cy) = annotation.points
        start = math.degrees(math.atan2(-(ay - vy), ax - vx))  # Qt arcs: degrees counter-clockwise, y up
        end = math.degrees(math.atan2(-(cy - vy), cx - vx))
        span = (end - start + 180.0) % 360.0 - 180.0
        radius = ARC_PX * screen_px
        painter.drawArc(QRectF(vx - radius, vy - radius, 2 * radius, 2 * radius), round(start * 16), round(span * 16))
