"""Distance: a segment with end ticks; mm when the pixel spacing is known (else pixels, said so)."""
from __future__ import annotations

from desktop.tools.base import CreateTool, draw_tick


class DistanceTool(CreateTool):
    id = kind = "distance"
    hint = "Distance: drag from one point to the other (or click both)"

    @classmethod
    def paint(cls, painter, annotation, screen_px: float) -> None:
        super().paint(painter, annotation, screen_px)
        a, b = annotation.points
        draw_tick(painter, a, b, screen_px)
        draw_tick(painter, b, a, screen_px)
