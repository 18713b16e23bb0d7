"""Opening PNG and DICOM files and the view operations, checked on what is actually drawn."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from tests.desktop.viewer_helpers import open_and_wait, view_pixels


def test_open_png_shows_the_real_pixels(make_window, qtbot, chest_png):
    from PIL import Image

    window = make_window()
    image = open_and_wait(qtbot, window, chest_png)
    expected = np.asarray(Image.open(chest_png).convert("L"), dtype=np.float32)
    assert image.modality.shape == expected.shape
    np.testing.assert_array_equal(image.modality, expected)
    assert window.view.pixmap_item().pixmap().width() == expected.shape[1]
    drawn = view_pixels(window)
    # a radiograph, not a blank view: dark air and bright bone/mediastinum both present
    gray = drawn[..., 0]
    assert gray.max() - gray.min() > 150
    assert window.windowTitle().startswith("chest.png")


def test_open_dicom_reads_metadata_spacing_and_tags(make_window, qtbot, chest_dicom):
    window = make_window()
    image = open_and_wait(qtbot, window, chest_dicom)
    assert image.pixel_spacing_mm == pytest.approx((0.5, 0.5))
    assert "0.5 x 0.5 mm/pixel" in window.spacing_label.text()
    # corner text carries the patient; tag tree is searchable
    lines = window.view._corner_lines()
    assert any("DOE JANE" in line for line in lines["top_left"])
    assert window.tag_tree.apply_filter("PatientID") >= 1
    assert "Patient ID" in window.tag_tree.visible_names()
    assert window.tag_tree.apply_filter("no-such-tag-anywhere") == 0
    # the file's own window preset is offered
    assert any("FULL" in action.text() for action in window.window_menu.actions())


def test_unreadable_file_shows_message_and_app_carries_on(make_window, qtbot, tmp_path, chest_png):
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"DICM" + b"\x00" * 10)
    window = make_window()
    with qtbot.waitSignal(window.image_failed, timeout=30_000) as blocker:
        window.open_path(str(broken))
    assert "broken.dcm" in blocker.args[0]
    assert "broken.dcm" in window.statusBar().currentMessage()
    assert "broken.dcm" in window.view._empty_message  # also written in the empty view
    open_and_wait(qtbot, window, chest_png)  # still works afterwards


def test_zoom_fit_and_actual_size_change_what_is_drawn(make_window, qtbot, chest_png):
    window = make_window()
    open_and_wait(qtbot, window, chest_png)
    view = window.view
    fitted = view_pixels(window)
    fit_zoom = view.zoom
    view.actual_size()
    assert view.zoom == 1.0
    actual = view_pixels(window)
    assert fit_zoom > 1.5  # 256 px image in a ~600 px view
    assert np.abs(fitted - actual).mean() > 5
    # wheel zoom keeps the image point under the cursor in place
    view.fit()
    cursor = QPoint(view.viewport().width() // 3, view.viewport().height() // 3)
    before = view.image_item().mapFromScene(view.mapToScene(cursor))
    view.zoom_by(2.0, QPointF(cursor))
    after = view.image_item().mapFromScene(view.mapToScene(cursor))
    assert view.zoom == pytest.approx(fit_zoom * 2.0)
    assert abs(before.x() - after.x()) < 1.0 and abs(before.y() - after.y()) < 1.0
    view.fit()
    np.testing.assert_array_equal(view_pixels(window), fitted)


def test_window_level_and_invert_change_the_rendered_pixels(make_window, qtbot, chest_png):
    window = make_window()
    open_and_wait(qtbot, window, chest_png)
    view = window.view
    view.set_corner_text_visible(False)
    base = view_pixels(window)
    center = view.pixmap_item().pixmap().toImage().pixelColor(128, 128).red()
    # invert: every image pixel p becomes 255 - p
    view.toggle_invert()
    inverted_pixmap = view.pixmap_item().pixmap().toImage()
    assert inverted_pixmap.pixelColor(128, 128).red() == 255 - center
    assert np.abs(view_pixels(window) - base).mean() > 20
    view.toggle_invert()
    # a narrow window around mid-gray raises contrast: more pixels clip to black or white
    view.set_window(128, 40)
    narrow = view.pixmap_item().pixmap().toImage()
    values = np.array([[narrow.pixelColor(x, y).red() for x in range(0, 256, 8)] for y in range(0, 200, 8)])
    assert ((values == 0) | (values == 255)).mean() > 0.5
    view.reset()
    np.testing.assert_array_equal(view_pixels(window), base)


def test_right_drag_adjusts_window_with_a_preview_on_large_images(make_window, qtbot, chest_source):
    window = make_window()
    image = open_and_wait(qtbot, window, chest_source)  # the full-resolution original, about 2 Mpx
    height, width = image.modality.shape
    assert height * width > 1_500_000
    view = window.view
    start = view.window
    centre = view.viewport().rect().center()
    qtbot.mousePress(view.viewport(), Qt.MouseButton.RightButton, pos=centre)
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    move = QMouseEvent(QEvent.Type.MouseMove, QPointF(centre + QPoint(-100, 50)), QPointF(centre + QPoint(-100, 50)),
                       Qt.MouseButton.NoButton, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), move)
    qtbot.waitUntil(lambda: view.pixmap_item().scale() == 2, timeout=2000)  # decimated preview while dragging
    assert view.pixmap_item().pixmap().width() == (width + 1) // 2
    assert view.pixmap_item().sceneBoundingRect().width() == pytest.approx(view.image_item().sceneBoundingRect().width(), abs=2)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.RightButton, pos=centre + QPoint(-100, 50))
    assert view.pixmap_item().scale() == 1 and view.pixmap_item().pixmap().width() == width  # full resolution again
    assert view.window.width < start.width
    assert view.window.center > start.center


def test_rotate_and_flip_move_the_picture(make_window, qtbot, chest_png):
    window = make_window()
    open_and_wait(qtbot, window, chest_png)
    view = window.view
    view.set_corner_text_visible(False)
    base = view_pixels(window)
    view.flip_horizontal()
    flipped = view_pixels(window)
    # the drawn picture is mirrored about the viewport's centre line (within a pixel of rounding)
    mirrored = flipped[:, ::-1]
    shift_errors = [np.abs(mirrored[:, s:] - base[:, : base.shape[1] - s]).mean() for s in range(0, 3)]
    assert min(shift_errors) < 6
    assert np.abs(flipped - base).mean() > 10
    view.flip_horizontal()
    view.rotate_by(90)
    assert view.rotation == 90
    assert np.abs(view_pixels(window) - base).mean() > 10


def test_distance_tool_in_mm_with_spacing_and_pixels_without(make_window, qtbot, chest_dicom, chest_png):
    window = make_window()
    open_and_wait(qtbot, window, chest_dicom)
    label = window.view.add_measurement(QPointF(10, 10), QPointF(40, 50))  # 50 px at 0.5 mm
    assert label == "25.0 mm"
    assert window.view.scale_bar_mm() is not None
    open_and_wait(qtbot, window, chest_png)
    assert window.view.measurement_labels() == []
    assert window.view.add_measurement(QPointF(0, 0), QPointF(30, 40)) == "50.0 px (no pixel spacing)"
    assert window.view.scale_bar_mm() is None


def test_pixel_value_under_cursor_is_in_modality_units(make_window, qtbot, chest_dicom):
    window = make_window()
    image = open_and_wait(qtbot, window, chest_dicom)
    view = window.view
    view.actual_size()
    item_point = QPointF(100.5, 80.5)
    view_point = view.mapFromScene(view.image_item().mapToScene(item_point))
    texts = []
    view.pixel_info.connect(texts.append)
    qtbot.mouseMove(view.viewport(), view_point)
    qtbot.waitUntil(lambda: bool(texts), timeout=2000)
    coords, value = texts[-1].split(":")
    col, row = (int(part.split()[1]) for part in coords.split(","))
    assert abs(col - 100) <= 1 and abs(row - 80) <= 1  # integer mouse positions: within a pixel
    expected = image.modality[row, col]
    assert expected > 255  # 12-bit data: these are modality values, not display bytes
    assert float(value) == pytest.approx(float(expected), rel=1e-5)


def test_orientation_labels_follow_rotation_and_flip(make_window, qtbot, project_root):
    window = make_window()
    open_and_wait(qtbot, window, project_root / "resources/samples/chest-pa-sample.dcm")  # Patient Orientation L\F
    view = window.view
    assert view.edge_labels() == {"right": "L", "left": "R", "bottom": "F", "top": "H"}
    lines = view._corner_lines()
    assert "ANONYMOUS SAMPLE" in lines["top_left"]
    assert any("2024-01-15 09:30" in line for line in lines["top_right"])
    view.flip_horizontal()
    assert view.edge_labels() == {"right": "R", "left": "L", "bottom": "F", "top": "H"}
    view.flip_horizontal()
    view.rotate_by(90)  # clockwise: the image's +x (patient left) now points down
    assert view.edge_labels() == {"bottom": "L", "top": "R", "left": "F", "right": "H"}


def test_every_shortcut_is_bound_and_listed_in_help(make_window):
    from PySide6.QtGui import QKeySequence

    from desktop.shortcuts import SHORTCUTS, shortcuts_html

    window = make_window()
    help_text = shortcuts_html()
    for name, (key, description) in SHORTCUTS.items():
        action = window.actions_by_name[name]
        assert action.shortcut() == QKeySequence(key), name
        assert description in help_text
    # keyboard: I inverts the image shown
    assert window.actions_by_name["invert"].shortcut().toString() == "I"


def test_keyboard_shortcuts_drive_the_view(make_window, qtbot, chest_png):
    from PySide6.QtCore import Qt

    window = make_window()
    open_and_wait(qtbot, window, chest_png)
    window.activateWindow()
    window.view.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.keyClick(window.view, Qt.Key.Key_I)
    assert window.view.inverted
    qtbot.keyClick(window.view, Qt.Key.Key_1)
    assert window.view.zoom == 1.0
    qtbot.keyClick(window.view, Qt.Key.Key_F)
    assert window.view.zoom != 1.0
    qtbot.keyClick(window.view, Qt.Key.Key_R)
    assert not window.view.inverted


def test_wheel_zooms_around_the_cursor(make_window, qtbot, chest_png):
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window = make_window()
    open_and_wait(qtbot, window, chest_png)
    view = window.view
    zoom = view.zoom
    cursor = QPointF(view.viewport().width() * 0.3, view.viewport().height() * 0.4)
    before = view.image_item().mapFromScene(view.mapToScene(cursor.toPoint()))
    wheel = QWheelEvent(cursor, view.viewport().mapToGlobal(cursor), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom == pytest.approx(zoom * 1.15 ** 2)
    after = view.image_item().mapFromScene(view.mapToScene(cursor.toPoint()))
    assert abs(before.x() - after.x()) < 1.0 and abs(before.y() - after.y()) < 1.0


def test_corner_text_toggle_changes_the_drawing(make_window, qtbot, chest_dicom):
    window = make_window()
    open_and_wait(qtbot, window, chest_dicom)
    window.set_corner_text_visible(True)
    with_text = view_pixels(window)
    window.actions_by_name["corner_text"].trigger()  # checkable: now off
    assert not window.view.corner_text_visible()
    without = view_pixels(window)
    changed = np.abs(with_text - without).sum(axis=2) > 0
    rows, cols = np.nonzero(changed)
    assert changed.sum() > 200
    height = with_text.shape[0]
    assert rows.min() < height * 0.15  # the patient lines at the top are gone
    assert window.settings.corner_text_visible is False


def test_help_open_sample(make_window, qtbot, project_root):
    window = make_window()
    with qtbot.waitSignal(window.image_shown, timeout=30_000) as blocker:
        window.actions_by_name["open_sample"].trigger()
    assert blocker.args[0].path.name == "chest-pa-sample.png"
    assert blocker.args[0].modality.shape == (959, 1024)


def test_controls_have_accessible_names(make_window):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QComboBox, QLineEdit, QTableWidget, QTreeWidget

    window = make_window()
    unnamed = []
    for kind in (QAbstractButton, QAbstractSlider, QComboBox, QLineEdit, QTableWidget, QTreeWidget):
        for widget in window.findChildren(kind):
            if widget.parent() is None or widget.objectName().startswith("qt_") \
                    or type(widget).__name__ in ("QScrollBar", "QToolButton", "QDockWidgetTitleButton"):
                continue  # Qt's internal parts; scroll bars, dock title and toolbar buttons carry their action's text
            text = widget.text() if isinstance(widget, QAbstractButton) else ""
            if not (widget.accessibleName() or text):
                unnamed.append(f"{type(widget).__name__} {widget.objectName()}")
    assert unnamed == []
