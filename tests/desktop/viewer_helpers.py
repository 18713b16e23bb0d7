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
