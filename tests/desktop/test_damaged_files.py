"""Issue 17 item 1 in the GUI: a file that makes a decoder panic or abort is that file's error in the viewer and
one error row in Analyze folder; the other files are analysed and the app keeps running."""
from __future__ import annotations

import shutil

import pytest

from tests.desktop.viewer_helpers import open_and_wait
from tests.helpers.damaged_files import rle_panic_unreadable_dicom


@pytest.fixture
def damaged_folder(tmp_path, chest_png, chest_dicom):
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(chest_png, folder / "a_chest.png")
    rle_panic_unreadable_dicom(folder / "b_panic.dcm")
    shutil.copy(chest_dicom, folder / "c_chest.dcm")
    return folder


def test_batch_keeps_every_row_when_a_decoder_panics(make_window, qtbot, tiny_bundle, damaged_folder):
    window = make_window(tiny_bundle, auto_run=False)
    dialog = window.analyze_folder(damaged_folder)
    with qtbot.waitSignal(dialog.analysis_finished, timeout=120_000) as blocker:
        pass
    assert blocker.args == ["finished"]
    rows = {dialog.model.item(r, 0).text(): [dialog.model.item(r, c).text()
                                             for c in range(dialog.model.columnCount())]
            for r in range(dialog.model.rowCount())}
    assert set(rows) == {"a_chest.png", "b_panic.dcm", "c_chest.dcm"}
    assert rows["a_chest.png"][-1] == "ok" and rows["c_chest.dcm"][-1] == "ok"
    assert "pixel data is damaged" in rows["b_panic.dcm"][-1] and "an internal panic" in rows["b_panic.dcm"][-1]
    dialog.close()


def test_viewer_reports_the_panic_file_and_opens_the_next(make_window, qtbot, damaged_folder):
    window = make_window()
    with qtbot.waitSignal(window.image_failed, timeout=60_000) as failed:
        window.open_path(str(damaged_folder / "b_panic.dcm"))
    assert "b_panic.dcm" in failed.args[0] and "damaged" in failed.args[0]
    image = open_and_wait(qtbot, window, damaged_folder / "a_chest.png")
    assert image.path.name == "a_chest.png"
