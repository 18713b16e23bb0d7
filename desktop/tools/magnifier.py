"""Magnifier lens: while the left button is down (or while Z is held, with any tool) a round lens shows the
picture under the cursor enlarged."""
from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.tools.base import Tool


class MagnifierTool(Tool):
    id = "magnifier"
    cursor = Qt.CursorShape.CrossCursor
    hint = "Magnifier: hold the left button over the image (or hold Z with any tool)"

    def press(self, view, event) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or view.image_item() is None:
            return False
        view.show_magnifier(event.position())
        return True

    def move(self, view, event) -> bool:
        if view.magnifier_position() is None:
            return False
        view.show_magnifier(event.position())
        return True

    def release(self, view, event) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        view.show_magnifier(None)
        return True

    def cancel(self, view) -> bool:
        shown = view.magnifier_position() is not None
        view.show_magnifier(None)
        return shown
