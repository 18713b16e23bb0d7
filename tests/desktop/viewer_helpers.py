"""Small helpers shared by the viewer tests."""
from __future__ import annotations

import numpy as np


def open_and_wait(qtbot, window, path) -> object:
    with qtbot.waitSignal(window.image_shown, timeout=30_000) as blocker:
        window.open_path(str(path))
    return blocker.args[0]


def view_pixels(window) -> np.ndarray:
    from desktop.qimage_convert import qimage_to_rgb_array

    return qimage_to_rgb_array(window.view.grab_image()).astype(np.int16)


def image_to_view(view, x: float, y: float):
    """Viewport position (integer, as a mouse gives) of image pixel coordinates (x, y)."""
    from PySide6.QtCore import QPointF

    point = view.view_point((x, y))
    return QPointF(round(point.x()), round(point.y()))


def send_mouse(view, kind: str, pos, button=None, buttons=None) -> None:
    """A real mouse event on the view's viewport: kind is "press", "move", "release" or "double"."""
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease, "double": QEvent.Type.MouseButtonDblClick}
    button = Qt.MouseButton.LeftButton if button is None else button
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == "release" else button
    if kind == "move":
        button = Qt.MouseButton.NoButton
    global_pos = view.viewport().mapToGlobal(pos.toPoint())
    event = QMouseEvent(types[kind], pos, global_pos.toPointF(), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), event)


def drag(view, start, end, steps: int = 4, button=None) -> None:
    """Press at image point `start`, move in `steps` to `end`, release there."""
    from PySide6.QtCore import QPointF

    a, b = image_to_view(view, *start), image_to_view(view, *end)
    send_mouse(view, "press", a, button)
    for i in range(1, steps + 1):
        send_mouse(view, "move", QPointF(a.x() + (b.x() - a.x()) * i / steps, a.y() + (b.y() - a.y()) * i / steps),
                   button, buttons=button)
    send_mouse(view, "release", b, button)


def click(view, point, button=None) -> None:
    position = image_to_view(view, *point)
    send_mouse(view, "move", position)
    send_mouse(view, "press", position, button)
    send_mouse(view, "release", position, button)
