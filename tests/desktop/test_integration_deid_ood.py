"""De-identified PNG/PDF/CSV exports leave no patient name, ID or birth date behind; the out-of-distribution
warning shows in the AI panel, the PDF report and the batch table. Real DICOM/PNG files, a tiny real model."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.desktop.viewer_helpers import view_pixels
from tests.helpers.dicom_factory import make_dicom_from_image

IDENTIFIERS = ("DOE", "JANE", "PID-42", "19800101", "1980-01-01")


def _outside_compressed_data(path: Path) -> str:
    """The file's bytes without its compressed pixel/page data (PNG IDAT chunks, PDF streams), as latin-1: where
    metadata would sit. Deflated data holds any 3 bytes ("DOE") by chance; the PDF's text is searched decoded."""
    data = path.read_bytes()
    if data.startswith(b"\x89PNG"):
        kept, at = [data[:8]], 8
        while at < len(data):
            length = int.from_bytes(data[at:at + 4], "big")
            chunk = data[at:at + 12 + length]
            if chunk[4:8] != b"IDAT":
                kept.append(chunk)
            at += 12 + length
        data = b"".join(kept)
    else:
        data = re.sub(rb"stream\r?\n.*?endstream", b"stream endstream", data, flags=re.S)
    return data.decode("latin-1")


@pytest.fixture(autouse=True)
def audit_log(tmp_path, monkeypatch) -> Path:
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(log))
    return log


@pytest.fixture
def named_dicom(tmp_path, chest_source) -> Path:
    """A DICOM whose file and folder names carry the patient's name, as exported files often do."""
    folder = tmp_path / "DOE_JANE"
    folder.mkdir()
    return make_dicom_from_image(chest_source, folder / "DOE_JANE_PID-42.dcm", size=128,
                                 patient=("DOE^JANE", "PID-42"))


@pytest.fixture
def colour_photo(tmp_path) -> Path:
    from skimage import data

    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).resize((128, 128)).save(path)
    return path


def _pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def _predict(qtbot, window, path):
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000) as blocker:
        window.open_path(str(path))
    return blocker.args[0]


def test_deidentified_exports_hold_no_patient_identifiers(qtbot, make_window, tiny_bundle, named_dicom, tmp_path):
    window = make_window(tiny_bundle)
    window.settings.corner_text_visible = True
    window.view.set_corner_text_visible(True)
    _predict(qtbot, window, named_dicom)

    plain_pdf = window.export_pdf(tmp_path / "plain.pdf")
    plain_text = _pdf_text(plain_pdf)
    assert "DOE" in plain_text and "PID-42" in plain_text  # the check below can fail

    window.actions_by_name["deidentify_exports"].trigger()  # the File menu checkbox
    assert window.settings.deidentify_exports
    assert "DOE" not in window.exports.export_stem() and "PID-42" not in window.exports.export_stem()
    pdf = window.export_pdf(tmp_path / "report.pdf")
    png = window.export_png(tmp_path / "view.png")
    text = _pdf_text(pdf)
    assert "Anonymous" in text or "ANONYMOUS" in text.upper()  # the patient row is still there, replaced
    for output in (text, _outside_compressed_data(pdf), _outside_compressed_data(png)):
        for identifier in IDENTIFIERS:
            assert identifier not in output
    # PNG bytes hold no text chunks with identifiers (checked above). Burned-in text cannot be searched as bytes;
    # instead: the corner text (which prints the patient's name) was hidden while the view was grabbed.
    exported = np.asarray(Image.open(png).convert("RGB")).astype(np.int16)
    with_corner_text = view_pixels(window)
    window.view.set_corner_text_visible(False)
    without_corner_text = view_pixels(window)
    window.view.set_corner_text_visible(True)
    assert np.abs(with_corner_text - without_corner_text).max() > 0  # the corner text is really drawn
    np.testing.assert_array_equal(exported, without_corner_text)

    dialog = window.analyze_folder(named_dicom.parent)
    qtbot.waitUntil(lambda: dialog.state == "finished", timeout=60_000)
    assert dialog.deidentify_check.isChecked()
    plain_csv = dialog.export_csv(tmp_path / "plain.csv", deidentify=False).read_text(encoding="utf-8")
    assert "DOE_JANE" in plain_csv
    csv_text = dialog.export_csv(tmp_path / "results.csv").read_text(encoding="utf-8")
    assert "ok" in csv_text
    for identifier in IDENTIFIERS:
        assert identifier not in csv_text.upper()
    dialog.close()


def test_out_of_distribution_warning_everywhere(qtbot, make_window, tiny_bundle, colour_photo, chest_png, tmp_path):
    from PySide6.QtCore import Qt

    window = make_window(tiny_bundle)
    prediction = _predict(qtbot, window, colour_photo)
    assert prediction.ood is not None and prediction.ood.warning
    label = window.ai_panel.ood_label
    assert label.isVisible() and label.accessibleName() == "Out-of-distribution warning"
    assert "Image unlike the model's training data" in label.text() and "colour image" in label.text()
    assert "meaningless" in label.accessibleDescription()

    text = " ".join(_pdf_text(window.export_pdf(tmp_path / "report.pdf")).split())
    assert "Image unlike the model's training data" in text

    _predict(qtbot, window, chest_png)  # a gray radiograph: no warning
    assert not window.ai_panel.ood_label.isVisible() and window.ai_panel.ood_label.text() == ""

    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(colour_photo, folder / "photo.png")
    shutil.copy(chest_png, folder / "chest.png")
    dialog = window.analyze_folder(folder)
    qtbot.waitUntil(lambda: dialog.state == "finished", timeout=60_000)
    headers = [dialog.model.headerData(c, Qt.Orientation.Horizontal) for c in range(dialog.model.columnCount())]
    warning_column = headers.index("Warning")
    warnings = {dialog.model.item(r, 0).text(): dialog.model.item(r, warning_column).text()
                for r in range(dialog.model.rowCount())}
    assert "colour image" in warnings["photo.png"] and warnings["chest.png"] == ""
    dialog.close()
