"""Cobb angle: two lines (e.g. along the end plates of the end vertebrae); the angle between them."""
from __future__ import annotations

from desktop.tools.base import CreateTool, TwoTickedSegments


class CobbTool(TwoTickedSegments, CreateTool):
    id = kind = "cobb"
    steps = ("drag", "drag")
    hint = "Cobb angle: drag along the first end plate, then along the second"
