"""Cobb angle: two lines (e.g. along the end plates of the end vertebrae); the angle between them."""
from __future__ import annotations

from desktop.tools.base import CreateTool, draw_tick


class CobbTool(CreateTool):
    id = kind = "cobb"
    steps = ("drag", "drag")
    hint = "Cobb angle: drag along the first end plate, then along the second"

    @classmethod
    def outline(cls, annotation):
        points = list(annotation.points)
        return [points[:2], points[2:]]

    @classmethod
    def paint(cls, painter, annotation, screen_px: float) -> None:
        super().paint(painter, annotation, screen_px)
        for a, b in (annotation.points[:2], annotation.points[2:]):
            draw_tick(painter, a, b, screen_px)
            draw_tick(painter, b, a, screen_px)
