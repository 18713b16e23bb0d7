"""File > Save PDF Report as DICOM… / Send PDF Report to PACS…: the report File > Export PDF Report writes,
as an Encapsulated PDF in the image's study (valid for dciodvfy and dcmtk), de-identified with the exports."""
from __future__ import annotations

import subprocess

import pydicom
from PySide6.QtWidgets import QApplication, QFileDialog

from inference.encapsulated_pdf import pdf_of
from tests.desktop.viewer_helpers import open_and_wait
from tests.helpers.dicom_validators import assert_valid


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "inside.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_save_and_send_the_report_as_dicom(qtbot, make_window, tiny_bundle, chest_dicom, tmp_path, monkeypatch):
    window = make_window(tiny_bundle)
    names = [action.objectName() for action in window.menus["file"].actions()]
    export = names.index("export_pdf")
    assert names[export:export + 3] == ["export_pdf", "save_report_dicom", "send_report_pacs"]
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        window.open_path(str(chest_dicom))

    folder = tmp_path / "reports"
    folder.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(folder))
    window.actions_by_name["save_report_dicom"].trigger()
    (saved,) = folder.iterdir()
    assert saved.name.startswith("PDF_") and "Encapsulated PDF" in window.statusBar().currentMessage()
    assert_valid(saved)
    ds = pydicom.dcmread(saved)
    source = pydicom.dcmread(chest_dicom, stop_before_pixels=True)
    assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.SeriesInstanceUID != source.SeriesInstanceUID
    assert (str(ds.PatientName), ds.PatientID) == ("DOE^JANE", "PID-42")
    text = _pdf_text(pdf_of(ds), tmp_path)
    assert "PID-42" in text and "NOT FOR DIAGNOSTIC USE" in text and "tiny-test-model" in text

    window.settings.deidentify_exports = True
    window.actions_by_name["save_report_dicom"].trigger()
    (deidentified,) = [path for path in folder.iterdir() if path != saved]
    assert_valid(deidentified)
    data = deidentified.read_bytes()
    assert b"DOE^JANE" not in data and b"PID-42" not in data
    assert "PID-42" not in _pdf_text(pdf_of(pydicom.dcmread(deidentified)), tmp_path)

    from desktop.pacs_dialog import SendResultsDialog

    window.actions_by_name["send_report_pacs"].trigger()
    (dialog,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, SendResultsDialog) and w.isVisible()]
    assert [d.Modality for d in dialog._datasets] == ["DOC"]
    assert "Encapsulated PDF report" in dialog.summary.text()
    assert "report.pdf" not in window.statusBar().currentMessage()  # the temporary PDF is never named as saved
    dialog.close()


def test_without_an_image_it_says_so(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(out))
    errors = []
    monkeypatch.setattr(window.messages, "error", errors.append)
    window.actions_by_name["save_report_dicom"].trigger()
    assert errors == ["Open an image first."] and not list(out.iterdir())
    window.actions_by_name["send_report_pacs"].trigger()
    assert errors == ["Open an image first."] * 2
