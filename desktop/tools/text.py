"""Text: click where the words go, then type them. With the select tool, double-click to edit, drag to move."""
from __future__ import annotations

from PySide6.QtCore import QPointF

from annotations.model import new_annotation
from desktop.tools.base import ANNOTATE_COLOUR, CreateTool

DOT_PX = 2.5


class TextTool(CreateTool):
    id = kind = "text"
    steps = ("click",)
    colour = ANNOTATE_COLOUR
    hint = "Text: click where it goes, then type it"

    def make(self, view, points):
        text = view.prompt_text("Text annotation")
        return new_annotation("text", points, text=text) if text else None

    def preview(self, points):
        return None

    @classmethod
    def outline(cls, annotation):
        return []  # selected by clicking its words

    @classmethod
    def paint(cls, painter, annotation, screen_px: float) -> None:
        (x, y), = annotation.points
        radius = DOT_PX * screen_px
        painter.drawEllipse(QPointF(x, y), radius, radius)
