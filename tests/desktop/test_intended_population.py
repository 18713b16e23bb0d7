"""Issue 25.9 in the viewer: an adult's film (the test DICOM's patient is 44 years at the study date) analysed by a
model whose card is for children of 1-5 years says so beside the result in the AI panel, in the PDF report (under
the call) and in the DICOM SR; a film without an age says nothing."""
from __future__ import annotations

import subprocess

import pydicom
import pytest

from inference.model_card import IntendedPopulation
from inference.population import population_notice
from tests.desktop.viewer_helpers import open_and_wait

POPULATION = {"description": "children of 1-5 years", "age_years": {"min": 1, "max": 5}}
NOTICE = population_notice({"PatientAge": "044Y"}, IntendedPopulation("children of 1-5 years", 1, 5))


@pytest.fixture(autouse=True)
def audit_log(tmp_path, monkeypatch):
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(tmp_path / "audit.jsonl"))


@pytest.fixture
def children_bundle(tmp_path):
    from tests.helpers.tiny_models import make_tiny_bundle

    return make_tiny_bundle(tmp_path / "children", card_overrides={"intended_population": POPULATION})


def _texts(dataset) -> list[str]:
    found = []
    for item in dataset.get("ContentSequence", []):
        if item.ValueType == "TEXT":
            found.append((item.ConceptNameCodeSequence[0].CodeMeaning, str(item.TextValue)))
        found += _texts(item)
    return found


def test_an_adult_film_gets_the_notice_beside_the_result_in_the_pdf_and_in_the_sr(qtbot, make_window,
                                                                                 children_bundle, chest_dicom,
                                                                                 chest_png, tmp_path):
    window = make_window(children_bundle)
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        open_and_wait(qtbot, window, chest_dicom)
    assert window.image.metadata["PatientBirthDate"] == "19800101" and window.image.metadata["StudyDate"] == "20240115"
    panel = window.ai_panel
    qtbot.wait(50)  # the new probability bars laid out
    assert panel.notices_label.isVisible() and NOTICE in panel.notices_label.text()
    call, notices, bars = panel.call_label.geometry(), panel.notices_label.geometry(), list(panel._bars.values())
    assert call.bottom() < notices.top() < bars[0].geometry().top()  # right under the call, above the bars

    pdf_text = " ".join(subprocess.run(["pdftotext", str(window.export_pdf(tmp_path / "report.pdf")), "-"],
                                       check=True, capture_output=True, text=True).stdout.split())
    assert f"Note: {NOTICE}" in pdf_text
    result = pdf_text[pdf_text.index("AI result"):]
    assert result.index("Call:") < result.index(NOTICE) < result.index("NORMAL")  # beside the call

    from desktop.model_card_dialog import card_html

    assert "<b>Intended population:</b> children of 1-5 years" in card_html(window.ai_session.card)
    written = window.exports.save_ai_dicom(tmp_path / "dicom")
    sr = next(pydicom.dcmread(path) for path in written if pydicom.dcmread(path).Modality == "SR")
    assert ("Comment", NOTICE) in _texts(sr)

    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        open_and_wait(qtbot, window, chest_png)  # no DICOM header, no age: nothing to say
    assert "intended population" not in panel.notices_label.text()  # (the tiny model's own "experimental" stays)
    assert window.ai_session.state(window.grid.active).prediction.notices == \
        ["model tiny-test-model 0.0.1-test is experimental"]
