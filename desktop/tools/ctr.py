"""Cardiothoracic ratio: two horizontal widths (the heart's and the thorax's, either order); the ratio of the
narrower to the wider is shown."""
from __future__ import annotations

from annotations.model import Annotation, POINT_COUNTS, new_annotation
from desktop.tools.base import CreateTool, TwoTickedSegments


class CardiothoracicTool(TwoTickedSegments, CreateTool):
    id = kind = "ctr"
    steps = ("drag", "drag")
    hint = "Cardiothoracic ratio: drag across the widest part of the heart, then across the thorax (or the other way)"

    def preview(self, points):
        points = list(points)
        for start in range(0, len(points) - 1, 2):  # each width stays horizontal while it is drawn
            points[start + 1] = (points[start + 1][0], points[start][1])
        if len(points) == POINT_COUNTS["ctr"]:
            return new_annotation("ctr", points)
        return Annotation("polyline", tuple(points[:2])) if len(points) >= 2 else None
