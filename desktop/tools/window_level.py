"""Window/level with the left button (as the right button always does): horizontal = width, vertical = level."""
from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.tools.base import Tool


class WindowLevelTool(Tool):
    id = "window_level"
    cursor = Qt.CursorShape.SizeAllCursor
    hint = "Window/level: drag left/right for width, up/down for level"

    def press(self, view, event) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or view.image_item() is None:
            return False
        view.begin_window_drag(event.position())
        return True

    def move(self, view, event) -> bool:
        return view.drag_window(event.position())

    def release(self, view, event) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        return view.end_window_drag()
