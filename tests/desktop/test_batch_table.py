"""Issue 14.5: the Analyze Folder table and its CSV: model name/version, threshold and time in the CSV; file names
sorted A->Z by default; P(...) headers not clipped; honest wording when nothing could be read; the Status column
shows the reason (not the path). Real films, real broken files, a tiny real model."""
from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop.batch_dialog import summary_text


@pytest.fixture(autouse=True)
def audit_log(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(tmp_path / "audit.jsonl"))


def _run(qtbot, window, folder):
    dialog = window.analyze_folder(folder)
    qtbot.waitUntil(lambda: dialog.state == "finished", timeout=60_000)
    return dialog


def _column(dialog, title: str) -> int:
    headers = [dialog.model.headerData(c, Qt.Orientation.Horizontal) for c in range(dialog.model.columnCount())]
    return headers.index(title)


def test_csv_names_model_threshold_and_time_and_rows_sort_a_to_z(qtbot, make_window, tiny_bundle, chest_png,
                                                                  chest_dicom, tmp_path):
    folder = tmp_path / "films"
    folder.mkdir()
    for name in ("c.png", "a.png"):
        shutil.copy(chest_png, folder / name)
    shutil.copy(chest_dicom, folder / "b.dcm")
    window = make_window(tiny_bundle)
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    dialog = _run(qtbot, window, folder)
    assert dialog.status_label.text() == "Done: 3 images analysed."
    shown = [dialog.proxy.index(r, 0).data() for r in range(dialog.proxy.rowCount())]
    assert shown == ["a.png", "b.dcm", "c.png"]
    header = dialog.table.horizontalHeader()
    metrics = header.fontMetrics()
    for title in ("P(NORMAL)", "P(PNEUMONIA)"):
        assert header.sectionSize(_column(dialog, title)) >= metrics.horizontalAdvance(title)
    warning = _column(dialog, "Warning")  # issue 25.10: empty, it stays as narrow as its title
    assert not any(dialog.proxy.index(r, warning).data() for r in range(dialog.proxy.rowCount()))
    assert header.sectionSize(warning) <= header.sectionSizeHint(warning)
    rows = list(csv.DictReader(dialog.export_csv(tmp_path / "out.csv").open(encoding="utf-8")))
    assert [Path(r["path"]).name for r in rows] == shown
    for row in rows:
        assert row["model_name"] == "tiny-test-model" and row["model_version"] == "0.0.1-test"
        assert row["threshold"] == "0.5000" and row["call_status"] == "call"
        when = dt.datetime.fromisoformat(row["analysed_utc"].replace("Z", "+00:00"))
        assert before <= when <= dt.datetime.now(dt.timezone.utc)
    dialog.close()


def test_unreadable_files_show_the_reason_and_honest_wording(qtbot, make_window, tiny_bundle, chest_png, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.dcm").write_bytes(b"this is not a DICOM file at all" * 10)
    (folder / "cut.png").write_bytes(chest_png.read_bytes()[:200])
    window = make_window(tiny_bundle)
    dialog = _run(qtbot, window, folder)
    assert dialog.status_label.text() == "Done: none of the 3 images could be read."
    status = _column(dialog, "Status")
    for r in range(dialog.proxy.rowCount()):
        text = dialog.proxy.index(r, status).data()
        assert text and text != "ok"
        assert str(folder) not in text and not text.startswith(dialog.proxy.index(r, 0).data())
        assert str(folder) in dialog.proxy.index(r, status).data(Qt.ItemDataRole.ToolTipRole)  # full message
    dialog.close()

    shutil.copy(chest_png, folder / "good.png")
    dialog = _run(qtbot, window, folder)
    assert dialog.status_label.text() == "Done: 1 image analysed, 3 could not be read."
    dialog.close()


@pytest.mark.parametrize("state, analysed, unreadable, expected", [
    ("finished", 0, 0, "Done: no images."),
    ("finished", 0, 1, "Done: the image could not be read."),
    ("finished", 1, 0, "Done: 1 image analysed."),
    ("cancelled", 2, 1, "Cancelled: 2 images analysed, 1 could not be read."),
    ("failed", 0, 2, "Failed: disk gone: none of the 2 images could be read."),
])
def test_summary_wording(state, analysed, unreadable, expected):
    assert summary_text(state, analysed, unreadable, "disk gone") == expected


def test_file_names_show_whole_the_empty_warning_column_stays_narrow_and_the_threshold_is_shown(
        qtbot, make_window, tiny_bundle, shared_data, tmp_path):
    """Issue 25.10: the File column showed "NORMAL/ NORMAL2-..." on every row (wrapped and cut) while an empty
    Warning column took the width, and the table had no threshold column. Geometry at the default size: each
    relative path fits its cell on one line while a long warning is shown (its column narrower than the file
    column; its tooltip has the rest), and a Threshold column gives the threshold each call was made at."""
    from PIL import Image
    from skimage import data

    source = shared_data / "samples/chest-xray-fullres"
    folder = tmp_path / "fullres"
    for label in ("NORMAL", "PNEUMONIA"):
        (folder / label).mkdir(parents=True)
        for film in sorted((source / label).iterdir())[-4:]:  # NORMAL2-IM-..., person..._bacteria_...
            (folder / label / film.name).symlink_to(film)
    (folder / "photos").mkdir()
    Image.fromarray(data.astronaut()).resize((96, 96)).save(folder / "photos" / "astronaut.png")  # a warning
    window = make_window(tiny_bundle)
    dialog = _run(qtbot, window, folder)
    qtbot.waitExposed(dialog)
    table, header = dialog.table, dialog.table.horizontalHeader()
    metrics = table.fontMetrics()
    assert not table.wordWrap()
    files = [dialog.proxy.index(r, 0).data() for r in range(dialog.proxy.rowCount())]
    assert len(set(files)) == 9 and any(f.startswith("NORMAL/NORMAL2-IM-") for f in files)
    for text in files:
        assert metrics.horizontalAdvance(text) + 8 <= header.sectionSize(0), text  # whole, on one line
    warning_column, threshold_column = _column(dialog, "Warning"), _column(dialog, "Threshold")
    warnings = {dialog.proxy.index(r, 0).data(): dialog.proxy.index(r, warning_column).data()
                for r in range(dialog.proxy.rowCount())}
    assert "colour image" in warnings["photos/astronaut.png"] and list(warnings.values()).count("") == 8
    assert header.sectionSize(0) > header.sectionSize(warning_column)  # a long warning does not take the width
    thresholds = {dialog.proxy.index(r, threshold_column).data() for r in range(dialog.proxy.rowCount())}
    assert thresholds == {"0.500"}  # the session's operating point, as the panel prints it
    last = header.sectionViewportPosition(header.count() - 1) + header.sectionSize(header.count() - 1)
    assert last <= table.viewport().width()  # every column in view at the default size
    dialog.close()
