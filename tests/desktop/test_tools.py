"""Every measurement and annotation tool driven with real mouse events in the real window, on a real radiograph
(a 12-bit DX DICOM with 0.5 mm Imager Pixel Spacing): what lands in the annotation store, the numbers shown,
what is drawn, select/move/delete, undo/redo, the magnifier and the F1 help that lists every tool."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from annotations.measurements import calibration_of, measure
from desktop.tools import TOOLS
from tests.desktop.viewer_helpers import click, drag, image_to_view, open_and_wait, send_mouse, view_pixels

SLOP = 0.8  # image pixels: mouse positions are whole viewport pixels (about 0.4 image px at this zoom)


@pytest.fixture
def window(make_window, qtbot, chest_dicom):
    window = make_window()
    open_and_wait(qtbot, window, chest_dicom)
    window.set_corner_text_visible(False)
    return window


def use(window, tool_id: str):
    window.actions_by_name[f"tool_{tool_id}"].trigger()
    assert window.view.tool_id == tool_id
    return window.view


def only(view, kind: str):
    items = [a for a in view.annotations.items() if a.kind == kind]
    assert len(items) == 1, [a.kind for a in view.annotations.items()]
    return items[0]


def _yellow(pixel) -> bool:
    r, g, b = (int(v) for v in pixel)
    return r > 200 and g > 160 and b < 140


def _cyan(pixel) -> bool:
    r, g, b = (int(v) for v in pixel)
    return b > 180 and g > 180 and r < 170


def test_distance_by_drag_and_by_two_clicks_with_end_ticks(window, qtbot):
    view = use(window, "distance")
    drag(view, (20, 30), (80, 110))  # 100 px at 0.5 mm
    line = only(view, "distance")
    np.testing.assert_allclose(line.points, [(20, 30), (80, 110)], atol=SLOP)
    assert view.measurement_labels() == [measure(line, calibration_of(window.image)).label]
    assert abs(float(view.measurement_labels()[0].split()[0]) - 50.0) < 0.6
    assert "Distance: " in window.statusBar().currentMessage() and "mm" in window.statusBar().currentMessage()
    drawn = view_pixels(window)
    middle = image_to_view(view, 50, 70)
    assert _yellow(drawn[int(middle.y()), int(middle.x())])
    # an end tick crosses the line: a yellow pixel 5 screen px off the line, beside the end point
    end = image_to_view(view, 80, 110)
    dx, dy = 60, 80
    nx, ny = -dy / 100, dx / 100
    assert any(_yellow(drawn[int(round(end.y() + ny * d)), int(round(end.x() + nx * d))]) for d in (4, 5, 6))
    assert not _yellow(view_pixels(window)[int(middle.y()) + 30, int(middle.x())])  # not everything is yellow
    click(view, (100, 100))
    click(view, (100, 160))  # two clicks make the second one
    second = [a for a in view.annotations.items() if a.kind == "distance"][1]
    assert measure(second, calibration_of(window.image)).values["length_mm"] == pytest.approx(30.0, abs=0.6)


def test_select_move_a_handle_move_the_line_delete_undo_redo(window, qtbot):
    view = use(window, "distance")
    drag(view, (40, 40), (120, 40))
    original = only(view, "distance")
    use(window, "select")
    drag(view, (120, 40), (120, 100))  # the end handle: only that point moves
    moved = only(view, "distance")
    assert moved.uid == original.uid and view.selected_uid() == original.uid
    np.testing.assert_allclose(moved.points, [(40, 40), (120, 100)], atol=SLOP)
    drag(view, (60, 55), (70, 75))  # on the line, away from the handles: the whole line moves
    shifted = only(view, "distance")
    np.testing.assert_allclose(shifted.points, [(50, 60), (130, 120)], atol=2 * SLOP)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert len(view.annotations) == 0
    window.actions_by_name["undo"].trigger()
    np.testing.assert_allclose(only(view, "distance").points, shifted.points)
    window.actions_by_name["undo"].trigger()  # one step per drag, not per mouse move
    np.testing.assert_allclose(only(view, "distance").points, moved.points)
    window.actions_by_name["redo"].trigger()
    np.testing.assert_allclose(only(view, "distance").points, shifted.points)
    assert window.actions_by_name["redo"].isEnabled()
    click(view, (200, 200))  # empty image: nothing selected any more
    assert view.selected_uid() is None


def test_angle_and_cobb_angle(window, qtbot):
    view = use(window, "angle")
    drag(view, (150, 60), (60, 60))  # first arm to the vertex
    click(view, (60, 150))  # end of the second arm
    angle = only(view, "angle")
    assert measure(angle).values["angle_deg"] == pytest.approx(90.0, abs=1.5)
    assert view.measurement_labels()[0].endswith("°")
    view = use(window, "cobb")
    drag(view, (30, 180), (130, 180))
    drag(view, (30, 200), (130, 200 + 100 * math.tan(math.radians(25))))
    cobb = only(view, "cobb")
    assert measure(cobb).values["angle_deg"] == pytest.approx(25.0, abs=1.5)
    assert view.measurement_labels()[1].startswith("Cobb ")


def test_ellipse_and_rectangle_regions_show_modality_statistics_and_area(window, qtbot):
    image = window.image
    view = use(window, "ellipse")
    drag(view, (60, 70), (140, 130))
    ellipse = only(view, "ellipse")
    expected = measure(ellipse, calibration_of(image), image.modality)
    assert expected.values["mean"] > 255  # 12-bit modality values, not display bytes
    assert expected.values["area_mm2"] == pytest.approx(math.pi * 40 * 30 * 0.25, rel=0.03)
    assert view.measurement_labels() == [expected.label]
    assert "mean" in expected.label and "SD" in expected.label and "mm²" in expected.label
    view = use(window, "rectangle")
    drag(view, (150, 150), (110, 100))  # from the bottom-right corner
    rect = only(view, "rectangle")
    (x0, y0), (x1, y1) = rect.points
    assert x0 < x1 and y0 < y1
    inside = image.modality[int(math.ceil(y0 - 0.5)):int(math.floor(y1 - 0.5)) + 1,
                            int(math.ceil(x0 - 0.5)):int(math.floor(x1 - 0.5)) + 1]
    values = measure(rect, calibration_of(image), image.modality).values
    assert values["mean"] == pytest.approx(float(inside.mean()), rel=1e-6)
    assert (values["min"], values["max"]) == (float(inside.min()), float(inside.max()))
    use(window, "select")
    drag(view, (150, 150), (170, 160))  # a corner handle: the box grows, the opposite corner stays
    grown = only(view, "rectangle")
    np.testing.assert_allclose(grown.points[0], rect.points[0], atol=1e-9)
    np.testing.assert_allclose(grown.points[1], (170, 160), atol=SLOP)


def test_cardiothoracic_ratio_from_two_horizontal_widths(window, qtbot):
    view = use(window, "ctr")
    drag(view, (30, 120), (230, 126))  # thorax (the end snaps to the start's row)
    drag(view, (80, 150), (180, 140))  # heart
    ctr = only(view, "ctr")
    assert ctr.points[1][1] == ctr.points[0][1] and ctr.points[3][1] == ctr.points[2][1]
    result = measure(ctr, calibration_of(window.image))
    assert result.values["ratio"] == pytest.approx(0.5, abs=0.01)
    assert view.measurement_labels()[0].startswith("CTR 0.5")


def test_labels_never_cover_one_another(window, qtbot):
    """Issue 25.10: the CTR label lay over the ellipse's statistics. A CTR whose heart width ends at the ellipse's
    corner puts both labels at one point: drawn, at any zoom and after a pan, their rectangles do not intersect."""
    view = use(window, "ellipse")
    drag(view, (60, 100), (120, 150))
    use(window, "ctr")
    drag(view, (30, 130), (200, 130))
    drag(view, (80, 150), (120, 150))  # ends at the ellipse's bottom-right corner: the labels' common anchor
    ellipse, ctr = only(view, "ellipse"), only(view, "ctr")
    assert ellipse.label_anchor() == pytest.approx(ctr.label_anchor(), abs=SLOP)
    for step in ("drawn", "zoomed", "panned"):
        if step == "zoomed":
            view.zoom_by(1.6)
        if step == "panned":
            view.centre_on_fraction(0.7, 0.4)
        qtbot.wait(10)
        rects = view.label_rects()
        assert rects[ellipse.uid].isValid() and rects[ctr.uid].isValid()
        assert not rects[ellipse.uid].intersects(rects[ctr.uid]), step


def test_arrow_and_text_annotations(window, qtbot):
    view = use(window, "arrow")
    drag(view, (200, 40), (120, 120))
    arrow = only(view, "arrow")
    drawn = view_pixels(window)
    tip = image_to_view(view, 120, 120)
    box = drawn[int(tip.y()) - 12:int(tip.y()) + 12, int(tip.x()) - 12:int(tip.x()) + 12]
    assert sum(_cyan(p) for row in box for p in row) > 15  # the head's strokes at the tip
    view = use(window, "text")
    view.text_prompt = lambda title, text: "left lower zone?"
    click(view, (40, 200))
    note = only(view, "text")
    assert note.text == "left lower zone?" and "left lower zone?" in view.measurement_labels()
    view.text_prompt = lambda title, text: None  # cancelled: nothing added
    click(view, (60, 220))
    assert len([a for a in view.annotations.items() if a.kind == "text"]) == 1
    use(window, "select")
    view.text_prompt = lambda title, text: "LLZ consolidation"
    label_at = image_to_view(view, 40, 200) + QPointF(20, 10)  # on the words, right of the anchor
    send_mouse(view, "double", label_at)
    assert only(view, "text").text == "LLZ consolidation"
    view.text_prompt = lambda title, text: "points at the line"
    middle = image_to_view(view, *(np.add(arrow.points[0], arrow.points[1]) / 2))
    send_mouse(view, "double", middle)
    assert only(view, "arrow").text == "points at the line"


def test_escape_cancels_a_half_drawn_measurement_then_returns_to_pan(window, qtbot):
    view = use(window, "cobb")
    drag(view, (30, 30), (90, 30))  # first line of two
    assert len(view.annotations) == 0 and view.measurement_labels() == []
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    drag(view, (30, 60), (90, 60))
    assert len(view.annotations) == 0  # started over: one line again, no Cobb angle yet
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.tool_id == "navigate" and window.actions_by_name["tool_navigate"].isChecked()


def test_window_level_tool_and_magnifier(window, qtbot):
    view = use(window, "window_level")
    before = view.window
    drag(view, (128, 128), (60, 170))
    assert view.window.width < before.width and view.window.center > before.center
    plain = view_pixels(window)
    view = use(window, "magnifier")
    centre = image_to_view(view, 128, 100)
    send_mouse(view, "press", centre)
    assert view.magnifier_position() is not None
    lens = view_pixels(window)
    changed = np.abs(lens - plain).sum(axis=2) > 30
    rows, cols = np.nonzero(changed)
    assert changed.sum() > 5000  # a lens of about 95 px radius shows enlarged pixels
    assert abs(rows.mean() - centre.y()) < 15 and abs(cols.mean() - centre.x()) < 15
    send_mouse(view, "release", centre)
    assert view.magnifier_position() is None
    np.testing.assert_array_equal(view_pixels(window), plain)
    use(window, "navigate")
    view.setFocus()
    qtbot.keyPress(view, Qt.Key.Key_Z)  # hold Z: the lens with any tool
    assert view.magnifier_position() is not None
    qtbot.keyRelease(view, Qt.Key.Key_Z)
    assert view.magnifier_position() is None


def test_every_tool_has_an_action_a_button_a_key_and_a_line_in_f1(window, qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QKeySequence

    toolbar_actions = window.toolbar.actions()
    shown = {}

    def read_and_close():
        dialog = window.dialogs.shortcuts_dialog
        shown["text"] = dialog.browser.toPlainText()
        dialog.accept()

    QTimer.singleShot(0, read_and_close)
    window.actions_by_name["shortcuts"].trigger()  # F1
    assert window.actions_by_name["shortcuts"].shortcut() == QKeySequence("F1")
    for spec in TOOLS:
        action = window.actions_by_name[spec.action_name]
        assert action.shortcut() == QKeySequence(spec.shortcut), spec.id
        assert action in toolbar_actions and not action.icon().isNull()
        assert spec.shortcut in action.toolTip() and spec.title in action.toolTip()
        assert spec.title in shown["text"] and spec.help in shown["text"], spec.id
        assert action in window.menus["measure"].actions()
        window.choose_tool(spec.id)
        assert window.view.tool_id == spec.id and action.isChecked()
    window.actions_by_name["tool_magnifier"].trigger()  # the same key again: back to Pan
    assert window.view.tool_id == "navigate"


def test_every_annotation_kind_has_a_shape_that_draws_it(window):
    from annotations.model import KINDS
    from desktop.tools import shape_for

    for kind in KINDS:
        assert shape_for(kind).kind == kind
