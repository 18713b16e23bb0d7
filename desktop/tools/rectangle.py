"""Rectangular region: drag from corner to corner; mean, SD, min and max of the modality values and its area."""
from __future__ import annotations

from desktop.tools.base import CreateTool, corner_handles, drag_corner


class RectangleTool(CreateTool):
    id = kind = "rectangle"
    hint = "Rectangular region: drag from one corner to the other"

    @classmethod
    def outline(cls, annotation):
        return [corner_handles(annotation) + [annotation.points[0]]]

    handles = classmethod(lambda cls, annotation: corner_handles(annotation))
    drag_handle = classmethod(lambda cls, annotation, index, point: drag_corner(annotation, index, point))
