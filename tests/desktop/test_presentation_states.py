"""Presentation states from the real window: measurements drawn with the tools, the window and rotation saved
as a GSPS next to the image (checked by dcmtk's dcmpschk), and shown again when the GSPS is opened, whether its
image is already on screen or not; a PNG cannot carry one and says so; the send dialog gets the GSPS."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import QPointF

from tests.desktop.viewer_helpers import click, drag, open_and_wait


@pytest.fixture
def study(tmp_path, project_root):
    """The bundled sample DICOM in a writable folder of its own."""
    folder = tmp_path / "study"
    folder.mkdir()
    return Path(shutil.copy(project_root / "resources/samples/chest-pa-sample.dcm", folder))


def _draw(window, qtbot):
    view = window.view
    window.choose_tool("distance")
    drag(view, (200, 600), (800, 600))
    window.choose_tool("ellipse")
    drag(view, (250, 350), (400, 500))
    window.choose_tool("text")
    view.text_prompt = lambda title, text: "compare with 2023"
    click(view, (600, 120))
    view.set_window(110, 180)
    view.rotate_by(90)
    return list(view.annotations.items())


def test_save_reopen_and_dcmpschk(make_window, qtbot, study):
    window = make_window()
    open_and_wait(qtbot, window, study)
    drawn = _draw(window, qtbot)
    assert [a.kind for a in drawn] == ["distance", "ellipse", "text"]
    labels = window.view.measurement_labels()
    saved = window.save_presentation_state()
    assert saved == study.parent / "chest-pa-sample.pr1.dcm" and saved.is_file()
    assert "Saved presentation state (3 annotation(s)" in window.statusBar().currentMessage()
    check = subprocess.run(["dcmpschk", str(saved)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "Test passed" in check.stdout + check.stderr
    ds = pydicom.dcmread(saved)
    assert ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == \
        window.image.metadata["SOPInstanceUID"]
    assert ds.ImageRotation == 90 and float(ds.SoftcopyVOILUTSequence[0].WindowWidth) == 180

    # a fresh window: open the GSPS file; its image (beside it) opens with the graphics and window applied
    window.close()
    again = make_window()
    with qtbot.waitSignal(again.image_shown, timeout=30_000) as blocker:
        again.open_path(str(saved))
    assert blocker.args[0].path == study
    view = again.view
    restored = list(view.annotations.items())
    assert [a.kind for a in restored] == ["distance", "ellipse", "text"]
    for got, want in zip(restored, drawn):
        np.testing.assert_allclose(got.points, want.points, atol=1e-3)
    assert restored[2].text == "compare with 2023"
    assert view.measurement_labels() == labels  # recomputed from the pixels, the same numbers
    assert (view.window.center, view.window.width, view.rotation) == (110, 180, 90)
    # opening it again onto the image already on screen replaces the graphics in one undoable step
    view.clear_measurements()
    again.open_path(str(saved))
    qtbot.waitUntil(lambda: len(view.annotations) == 3, timeout=30_000)
    view.annotations.undo()
    assert len(view.annotations) == 0
    # a second save never replaces the first
    view.annotations.redo()
    assert again.save_presentation_state().name == "chest-pa-sample.pr2.dcm"


def test_a_png_cannot_carry_a_presentation_state(make_window, qtbot, chest_png):
    window = make_window()
    open_and_wait(qtbot, window, chest_png)
    window.view.add_measurement(QPointF(1, 1), QPointF(9, 9))
    assert window.save_presentation_state() is None
    assert "needs a DICOM image" in window.statusBar().currentMessage()


def test_a_presentation_state_whose_image_is_missing_says_so(make_window, qtbot, study, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, study)
    window.view.add_measurement(QPointF(1, 1), QPointF(90, 9))
    saved = window.save_presentation_state()
    alone = tmp_path / "alone"
    alone.mkdir()
    moved = shutil.move(str(saved), alone / saved.name)
    window.close()
    fresh = make_window()  # its image is neither on screen nor beside it
    fresh.open_path(str(moved))
    qtbot.waitUntil(lambda: "the image it refers to is not open" in fresh.statusBar().currentMessage(),
                    timeout=30_000)
    assert fresh.image is None


def test_send_to_pacs_gets_the_presentation_state(make_window, qtbot, study):
    window = make_window()
    open_and_wait(qtbot, window, study)
    _draw(window, qtbot)
    dialog = window.exports.send_presentation_state()
    assert dialog is not None and len(dialog._datasets) == 1
    state = dialog._datasets[0]
    assert state.Modality == "PR" and state.StudyInstanceUID == window.image.metadata["StudyInstanceUID"]
    dialog.close()


def test_the_polarity_on_screen_is_what_the_presentation_state_says(make_window, qtbot, tmp_path, chest_source):
    from tests.helpers.dicom_factory import make_dicom_from_image

    film = make_dicom_from_image(chest_source, tmp_path / "m1.dcm", size=128, bits_stored=12,
                                 photometric="MONOCHROME1")
    window = make_window()
    image = open_and_wait(qtbot, window, film)
    assert image.inverted  # MONOCHROME1: the reader flips it so that bone is white
    first = pydicom.dcmread(window.save_presentation_state())
    assert first.PresentationLUTShape == "INVERSE"  # how a GSPS shows MONOCHROME1 the same way
    window.view.toggle_invert()  # the user wants it the other way round
    second = pydicom.dcmread(window.save_presentation_state())
    assert second.PresentationLUTShape == "IDENTITY"
    window.view.toggle_invert()
    window.open_path(str(tmp_path / "m1.pr2.dcm"))
    qtbot.waitUntil(lambda: window.view.inverted, timeout=30_000)  # opened again: inverted as it was saved


def test_the_browser_lists_presentation_states_and_says_an_image_has_one(make_window, qtbot, study):
    window = make_window()
    open_and_wait(qtbot, window, study)
    window.view.add_measurement(QPointF(100, 100), QPointF(400, 100))
    saved = window.save_presentation_state()
    window.close()
    fresh = make_window()
    with qtbot.waitSignal(fresh.folder_panel.index_ready, timeout=30_000):
        fresh.open_folder(study.parent)
    panel = fresh.folder_panel
    item = panel._tree_items[str(saved)]
    assert item.text(0) == "Presentation state XRAYVIEW"
    # issue 25.10: listed under its image's series, not as a series of its own ("PR (0 images)")
    image_item = panel._tree_items[str(study)]
    assert item.parent() is image_item.parent() and item.parent().text(0).endswith("(1 image)")
    series_items = [image_item.parent().parent().child(i).text(0)
                    for i in range(image_item.parent().parent().childCount())]
    assert len(series_items) == 1 and not any("PR" in text or "0 images" in text for text in series_items)
    open_and_wait(qtbot, fresh, study)
    assert "1 presentation state(s) for this image" in fresh.statusBar().currentMessage()
    assert len(fresh.view.annotations) == 0  # shown only when asked for
    panel.tree.itemActivated.emit(item, 0)  # double-click the presentation state
    qtbot.waitUntil(lambda: len(fresh.view.annotations) == 1, timeout=30_000)
    assert fresh.view.measurement_labels() == ["84.0 mm"]  # 300 px at 0.28 mm


def test_delete_removes_the_selected_annotation_from_the_edit_menu(make_window, qtbot, study):
    window = make_window()
    open_and_wait(qtbot, window, study)
    window.view.add_measurement(QPointF(100, 100), QPointF(400, 100))
    assert not window.view.delete_selected()  # nothing selected
    window.view.select(window.view.annotations.items()[0].uid)
    window.actions_by_name["delete_annotation"].trigger()
    assert len(window.view.annotations) == 0
    window.actions_by_name["undo"].trigger()
    assert len(window.view.annotations) == 1


def test_ctrl_s_on_a_dx_without_type2_attributes_and_an_arrow_from_the_margin(make_window, qtbot, tmp_path,
                                                                             project_root):
    """Issue 25 items 1 and 2 through the window: a DX without Patient's Birth Date, Study ID, Accession Number
    and the other Type 2 attributes, a distance and an arrow started in the black margin beside the film, saved
    with the action behind Ctrl+S: the presentation state is written and passes dciodvfy, dcmpschk and dcmdump."""
    from tests.annotations.test_gsps_validity import MISSING
    from tests.helpers.dicom_validators import assert_valid

    ds = pydicom.dcmread(project_root / "resources/samples/chest-pa-sample.dcm")
    for keyword in MISSING:
        if keyword in ds:
            delattr(ds, keyword)
    folder = tmp_path / "bare"
    folder.mkdir()
    source = folder / "bare-dx.dcm"
    ds.save_as(source, enforce_file_format=True)
    window = make_window()
    open_and_wait(qtbot, window, source)
    view = window.view
    window.choose_tool("distance")
    drag(view, (200, 600), (800, 600))
    window.choose_tool("arrow")
    drag(view, (-40, -40), (400, 300))
    arrow = list(view.annotations.items())[-1]
    assert arrow.kind == "arrow" and min(arrow.points[0]) < 0  # the tail lies off the pixel grid
    assert window.actions_by_name["save_gsps"].shortcut().toString() == "Ctrl+S"
    window.actions_by_name["save_gsps"].trigger()
    saved = folder / "bare-dx.pr1.dcm"
    assert saved.is_file(), window.statusBar().currentMessage()
    assert "Saved presentation state (2 annotation(s)" in window.statusBar().currentMessage()
    assert_valid(saved)
    written = pydicom.dcmread(saved)
    assert all(keyword in written for keyword in MISSING)
