"""Select and edit: click a measurement or annotation to select it, drag a handle to reshape it or its line to
move it (one undo step per drag), Delete removes it, double-click edits the words of a text or arrow, Escape
lets go."""
from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.tools.base import Tool


class SelectTool(Tool):
    id = "select"
    cursor = Qt.CursorShape.ArrowCursor
    hint = "Select: click a measurement; drag its handles or its line; Delete removes it"

    def __init__(self):
        self._drag = None  # (original annotation, handle index or -1 for the whole, press point)

    def press(self, view, event) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or view.image_item() is None:
            return False
        hit = view.hit_test(event.position())
        if hit is None:
            view.select(None)
            return True
        uid, handle = hit
        view.select(uid)
        view.annotations.begin_change()
        self._drag = (view.annotations.get(uid), handle, view.image_point(event.position()))
        return True

    def move(self, view, event) -> bool:
        if self._drag is None:
            return False
        original, handle, start = self._drag
        point = view.image_point(event.position())
        if handle >= 0:
            changed = view.shape_of(original.kind).drag_handle(original, handle, point)
        else:
            changed = original.moved(point[0] - start[0], point[1] - start[1])
        view.annotations.update(changed, record=False)
        return True

    def release(self, view, event) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or self._drag is None:
            return False
        self._drag = None
        view.annotations.end_change()
        return True

    def double_click(self, view, event) -> bool:
        hit = view.hit_test(event.position())
        annotation = view.annotations.get(hit[0]) if hit else None
        if annotation is None or annotation.kind not in ("text", "arrow"):
            return False
        text = view.prompt_text("Edit text", annotation.text)
        if text is not None and text != annotation.text:
            if annotation.kind == "text" and not text:
                view.annotations.remove(annotation.uid)
            else:
                view.annotations.update(annotation.with_text(text))
        return True

    def key(self, view, event) -> bool:
        selected = view.selected_uid()
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and selected is not None:
            return view.delete_selected()
        if event.key() == Qt.Key.Key_Escape and selected is not None:
            view.select(None)
            return True
        return False

    def cancel(self, view) -> bool:
        if self._drag is not None:
            self._drag = None
            view.annotations.end_change()
            return True
        return False
