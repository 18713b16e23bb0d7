"""Issue 14.1: an image the out-of-distribution guard warns about gets no call anywhere (AI panel, PDF report,
batch table and CSV, DICOM SC/SR, audit log); the probabilities are greyed as not applicable; the expert setting
shows the call anyway, marked so everywhere. A real colour photograph and a real chest film, a tiny real model."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def audit_log(tmp_path, monkeypatch) -> Path:
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(log))
    return log


@pytest.fixture
def colour_photo(tmp_path) -> Path:
    from skimage import data

    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).resize((128, 128)).save(path)
    return path


def _pdf_text(path: Path) -> str:
    return " ".join(subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                                   text=True).stdout.split())


def _predict(qtbot, window, path):
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000) as blocker:
        window.open_path(str(path))
    return blocker.args[0]


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_no_call_anywhere_for_an_ood_image(qtbot, make_window, tiny_bundle, colour_photo, chest_png, tmp_path,
                                          audit_log):
    assert shutil.which("pdftotext"), "poppler-utils must be installed (scripts/install.sh)"
    window = make_window(tiny_bundle)
    prediction = _predict(qtbot, window, colour_photo)
    assert prediction.ood.warning and prediction.label in ("NORMAL", "PNEUMONIA")
    panel = window.ai_panel
    assert panel.call_label.text() == "No call"
    assert panel.call_label.property("call") == "withheld"
    assert "unlike the model's training data" in panel.call_label.accessibleDescription()
    for label, bar in panel._bars.items():
        assert not bar.isEnabled() and bar.property("applicable") is False
        assert bar.format().endswith("not applicable") and f"{prediction.probabilities[label] * 100:.1f}%" in bar.format()
    for threshold in (0.0, 1.0):  # no threshold brings a call back
        panel.set_threshold(threshold)
        assert panel.call_label.text() == "No call"
    panel.reset_threshold()
    assert panel.ood_label.isVisible()

    text = _pdf_text(window.export_pdf(tmp_path / "report.pdf"))
    assert "No call" in text and "not applicable" in text
    assert "Call: NORMAL" not in text and "Call: PNEUMONIA" not in text

    sc_path = next(p for p in window.save_ai_dicom(tmp_path / "dicom") if p.name.startswith("SC_"))
    assert "No call" in pydicom.dcmread(sc_path).DerivationDescription

    (record,) = _records(audit_log)
    assert record["call"] is None and record["call_status"] == "no_call"
    assert record["ood"]["warning"] is True and "colour image" in " ".join(record["ood"]["reasons"])

    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(colour_photo, folder / "photo.png")
    shutil.copy(chest_png, folder / "chest.png")
    dialog = window.analyze_folder(folder)
    qtbot.waitUntil(lambda: dialog.state == "finished", timeout=60_000)
    rows = {dialog.proxy.index(r, 0).data(): [dialog.proxy.index(r, c).data() for c in range(dialog.proxy.columnCount())]
            for r in range(dialog.proxy.rowCount())}
    assert rows["photo.png"][1] == "No call" and rows["photo.png"][2:4] == ["n/a", "n/a"]
    assert rows["chest.png"][1] in ("NORMAL", "PNEUMONIA") and rows["chest.png"][2] != "n/a"
    exported = list(csv.DictReader(dialog.export_csv(tmp_path / "batch.csv").open(encoding="utf-8")))
    by_file = {Path(row["path"]).name: row for row in exported}
    assert by_file["photo.png"]["Call"] == "No call" and by_file["photo.png"]["call_status"] == "no_call"
    assert float(by_file["photo.png"]["P(PNEUMONIA)"]) >= 0  # the CSV keeps the number, the call says no call
    assert by_file["chest.png"]["call_status"] == "call"
    batch_records = [r for r in _records(audit_log) if r["origin"] == "batch"]
    assert sorted(r["call_status"] for r in batch_records) == ["call", "no_call"]
    dialog.close()


def test_expert_setting_shows_the_call_marked_as_shown_anyway(qtbot, make_window, tiny_bundle, colour_photo,
                                                              tmp_path, audit_log):
    window = make_window(tiny_bundle)
    window.settings.show_call_when_ood = True
    window.apply_settings()
    prediction = _predict(qtbot, window, colour_photo)
    panel = window.ai_panel
    label = prediction.call(panel.threshold).model_label
    assert panel.call_label.text() == f"{label} (shown anyway)"
    assert "Shown anyway" in panel.call_label.accessibleDescription()
    assert all(bar.isEnabled() for bar in panel._bars.values())
    assert f"{label} (shown anyway)" in _pdf_text(window.export_pdf(tmp_path / "report.pdf"))
    sc_path = next(p for p in window.save_ai_dicom(tmp_path / "dicom") if p.name.startswith("SC_"))
    assert f"{label} (shown anyway" in pydicom.dcmread(sc_path).DerivationDescription
    assert _records(audit_log)[-1]["call_status"] == "shown_anyway"

    window.settings.show_call_when_ood = False  # switched back: the result on screen loses its call at once
    window.apply_settings()
    assert panel.call_label.text() == "No call"
