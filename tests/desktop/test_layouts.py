"""Viewport layouts in the real window: 1x1, 1x2, 2x1, 2x2; each viewport keeps its own image, window, zoom,
annotations and AI result; the AI panel follows the active viewport; window/level and zoom/pan can be
synchronised; a file dropped on a viewport opens there; "Compare with prior" opens the patient's most recent
earlier study beside the current one. Real DICOM studies (same patient, different dates) made from real films."""
from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.desktop.viewer_helpers import drag, open_and_wait, view_pixels
from tests.helpers.dicom_factory import make_dicom_from_image

PATIENT = ("ROE^ANNA", "PID-7")


@pytest.fixture
def patient_folder(tmp_path, shared_data):
    """PID-7: studies of 2022-01-01, 2023-03-10 and 2024-01-15 (the last with a PA and a lateral series); PID-8:
    a study of 2023-12-01 (another patient, never a prior of PID-7)."""
    films = sorted((shared_data / "samples/chest-xray-fullres/NORMAL").iterdir())
    folder = tmp_path / "archive"
    made = {}

    def film(name, index, patient, date, study_uid, series_uid, view="PA", accession="ACC", series_number=1):
        made[name] = make_dicom_from_image(
            films[index], folder / patient[1] / f"{name}.dcm", size=200, bits_stored=12, spacing=(0.4, 0.4),
            patient=patient, view_position=view,
            extra={"StudyDate": date, "SeriesDate": date, "StudyInstanceUID": study_uid,
                   "SeriesInstanceUID": series_uid, "AccessionNumber": accession, "SeriesNumber": series_number,
                   "StudyDescription": f"XR CHEST {date[:4]}"})

    film("older", 0, PATIENT, "20220101", "1.2.826.0.1.3680043.10.7.1", "1.2.826.0.1.3680043.10.7.1.1", accession="A-2022")
    film("prior", 1, PATIENT, "20230310", "1.2.826.0.1.3680043.10.7.2", "1.2.826.0.1.3680043.10.7.2.1", accession="A-2023")
    film("current", 2, PATIENT, "20240115", "1.2.826.0.1.3680043.10.7.3", "1.2.826.0.1.3680043.10.7.3.1", accession="A-2024")
    film("current-lat", 3, PATIENT, "20240115", "1.2.826.0.1.3680043.10.7.3", "1.2.826.0.1.3680043.10.7.3.2",
         view="LL", accession="A-2024", series_number=2)
    film("other", 4, ("DOE^OTTO", "PID-8"), "20231201", "1.2.826.0.1.3680043.10.8.1", "1.2.826.0.1.3680043.10.8.1.1")
    return folder, made


def _drop_file(qtbot, window, viewport, path) -> None:
    """A file dragged from the desktop and dropped in the middle of `viewport`; returns once it is shown."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    view = viewport.view
    drop = QDropEvent(QPointF(view.viewport().width() / 2, view.viewport().height() / 2), Qt.DropAction.CopyAction,
                      mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        view.dropEvent(drop)


def test_layouts_show_one_two_or_four_viewports(make_window, qtbot):
    window = make_window()
    grid = window.grid
    for name, count in (("1x2", 2), ("2x1", 2), ("2x2", 4), ("1x1", 1)):
        window.actions_by_name[f"layout_{name}"].trigger()
        qtbot.wait(20)
        shown = grid.viewports()
        assert len(shown) == count and all(v.isVisible() for v in shown)
        assert sum(v.isVisible() for v in grid.all_viewports()) == count
        assert window.actions_by_name[f"layout_{name}"].isChecked() and window.settings.viewport_layout == name
        if name == "1x2":
            assert shown[0].geometry().top() == shown[1].geometry().top()
            assert shown[0].geometry().right() < shown[1].geometry().left()
        if name == "2x1":
            assert shown[0].geometry().left() == shown[1].geometry().left()
            assert shown[0].geometry().bottom() < shown[1].geometry().top()


def test_each_viewport_keeps_its_own_image_window_zoom_annotations_and_ai_result(make_window, qtbot, tiny_bundle,
                                                                                 chest_png, chest_dicom, tmp_path):
    # chest_dicom holds chest_png's pixels, which give the PNG's answer bit for bit: the left film is mirrored
    mirrored = tmp_path / "chest.png"
    Image.open(chest_png).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored)
    chest_png = mirrored
    window = make_window(tiny_bundle)
    window.set_layout("1x2")
    left, right = window.grid.viewports()
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000) as first:
        open_and_wait(qtbot, window, chest_png)  # the active (left) viewport
    window.grid.set_active(right)
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000) as second:
        open_and_wait(qtbot, window, chest_dicom)
    assert left.image.path == chest_png and right.image.path == chest_dicom
    left_ai, right_ai = window.ai_session.state(left), window.ai_session.state(right)
    assert left_ai.prediction is first.args[0] and right_ai.prediction is second.args[0]
    assert left_ai.prediction.probabilities != right_ai.prediction.probabilities  # two different films
    # the AI panel shows the active viewport's result
    panel = window.ai_panel
    assert panel._bars["PNEUMONIA"].value() == round(right_ai.prediction.probabilities["PNEUMONIA"] * 1000)
    window.grid.set_active(left)
    assert panel._bars["PNEUMONIA"].value() == round(left_ai.prediction.probabilities["PNEUMONIA"] * 1000)
    assert window.windowTitle().startswith("chest.png") and window.prediction is left_ai.prediction
    assert "DICOM" in window.tag_tree.visible_names()[0] or window.tag_tree.apply_filter("PatientID") == 0
    # window, zoom and annotations stay in their own viewport
    right.view.set_window(1000, 500)
    left.view.zoom_by(2.0)
    right.view.add_measurement(QPointF(10, 10), QPointF(40, 50))
    assert left.view.window.width != 500 and right.view.zoom != left.view.zoom
    assert left.view.measurement_labels() == [] and right.view.measurement_labels() == ["25.0 mm"]
    window.grid.set_active(right)
    assert window.tag_tree.apply_filter("PatientID") >= 1  # the tag dock follows too
    window.actions_by_name["undo"].trigger()  # Edit > Undo acts on the active viewport's annotations
    assert right.view.measurement_labels() == []


def test_window_zoom_and_pan_synchronise_when_asked(make_window, qtbot, chest_dicom, tmp_path, chest_source):
    other = make_dicom_from_image(chest_source, tmp_path / "bigger.dcm", size=400, bits_stored=12)
    window = make_window()
    window.set_layout("1x2")
    left, right = window.grid.viewports()
    open_and_wait(qtbot, window, chest_dicom)
    window.open_path(str(other), right)
    qtbot.waitUntil(lambda: right.image is not None, timeout=30_000)
    window.grid.set_active(left)
    left.view.set_window(1500, 800)
    assert right.view.window.width != 800  # not synchronised yet
    window.actions_by_name["sync_window"].trigger()
    left.view.set_window(1200, 700)
    assert (right.view.window.center, right.view.window.width) == (1200, 700)
    window.actions_by_name["sync_zoom_pan"].trigger()
    left.view.zoom_by(2.0)
    # the same zoom relative to each one's fitted size (400 px vs 256 px films), and the same spot in the middle
    assert right.view.zoom / right.view.fit_zoom() == pytest.approx(left.view.zoom / left.view.fit_zoom(), rel=1e-3)
    left.view.centre_on_fraction(0.3, 0.6)
    fx, fy = right.view.centre_fraction()
    assert fx == pytest.approx(0.3, abs=0.02) and fy == pytest.approx(0.6, abs=0.02)
    window.actions_by_name["sync_window"].trigger()  # off again
    left.view.set_window(900, 300)
    assert right.view.window.width == 700


def test_a_study_dropped_with_sync_window_on_keeps_the_others_window(make_window, qtbot, chest_dicom, tmp_path,
                                                                     chest_source):
    """Issue 25.11: with Sync W/L on, a film dropped into a 2x2 viewport joins the synchronised window; the other
    viewports keep theirs (its own default window used to overwrite them)."""
    dropped = make_dicom_from_image(chest_source, tmp_path / "dropped.dcm", size=300, bits_stored=12,
                                    window=[(600, 300, "NARROW")])
    window = make_window()
    window.set_layout("2x2")
    first, second, _, target = window.grid.viewports()
    open_and_wait(qtbot, window, chest_dicom)
    window.open_path(str(chest_dicom), second)
    qtbot.waitUntil(lambda: second.image is not None, timeout=30_000)
    window.grid.set_active(first)
    window.actions_by_name["sync_window"].trigger()
    first.view.set_window(1200, 700)
    assert (second.view.window.center, second.view.window.width) == (1200, 700)
    _drop_file(qtbot, window, target, dropped)
    assert target.image.path == dropped and window.grid.active is target
    for viewport in (first, second, target):
        assert (viewport.view.window.center, viewport.view.window.width) == (1200, 700), viewport
    target.view.set_window(900, 400)  # and the new one drives the others like any synchronised viewport
    assert (first.view.window.center, second.view.window.width) == (900, 400)


def test_a_file_dropped_on_a_viewport_opens_there(make_window, qtbot, chest_png, chest_dicom):
    window = make_window()
    window.set_layout("2x2")
    target = window.grid.viewports()[3]
    _drop_file(qtbot, window, target, chest_dicom)
    assert target.image.path == chest_dicom and window.grid.active is target
    assert all(v.image is None for v in window.grid.viewports()[:3])


def test_compare_with_prior_opens_the_most_recent_earlier_study_beside(make_window, qtbot, patient_folder):
    folder, made = patient_folder
    window = make_window()
    with qtbot.waitSignal(window.folder_panel.index_ready, timeout=30_000):
        window.open_folder(folder)
    open_and_wait(qtbot, window, made["current"])
    assert window.grid.layout_name == "1x1"
    with qtbot.waitSignal(window.image_shown, timeout=30_000) as blocker:
        window.actions_by_name["compare_prior"].trigger()
    assert blocker.args[0].path == made["prior"]  # 2023, not 2022, and never the other patient's 2023-12 study
    left, right = window.grid.viewports()
    assert window.grid.layout_name == "1x2" and left.image.path == made["current"] and right.image.path == made["prior"]
    assert "2023-03-10" in right.header.text() and "2024-01-15" in left.header.text()
    drawn = view_pixels(window)
    assert drawn.std() > 20
    window.grid.set_active(right)  # the prior's own prior is the 2022 study
    with qtbot.waitSignal(window.image_shown, timeout=30_000) as blocker:
        window.opener.compare_with_prior()
    assert blocker.args[0].path == made["older"]
    window.grid.set_active(window.grid.viewports()[1])
    open_and_wait(qtbot, window, made["older"])
    window.opener.compare_with_prior()
    assert "No earlier study of ROE ANNA" in window.statusBar().currentMessage()


def test_drawing_in_one_viewport_leaves_the_other_alone(make_window, qtbot, chest_dicom, chest_png):
    window = make_window()
    window.set_layout("1x2")
    left, right = window.grid.viewports()
    open_and_wait(qtbot, window, chest_dicom)
    window.open_path(str(chest_png), right)
    qtbot.waitUntil(lambda: right.image is not None, timeout=30_000)
    window.grid.set_active(left)
    window.choose_tool("distance")
    drag(left.view, (20, 20), (60, 20))
    assert len(left.view.annotations) == 1 and len(right.view.annotations) == 0
    assert right.view.tool_id == "distance"  # one tool for every viewport
