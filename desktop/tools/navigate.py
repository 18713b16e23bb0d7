"""Pan: the default tool. Left drag moves the image (QGraphicsView's hand drag); the wheel zooms anywhere."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsView

from desktop.tools.base import Tool


class NavigateTool(Tool):
    id = "navigate"
    cursor = Qt.CursorShape.OpenHandCursor
    drag_mode = QGraphicsView.DragMode.ScrollHandDrag
    hint = "Pan: drag the image; wheel zooms, right drag sets window/level"
