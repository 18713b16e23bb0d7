"""The viewer wired to the Qt-free tools: Tools menu (PACS, audit log), the AI audit trail of viewer and batch
results, AI results saved as DICOM, and the model picked by the DICOM body part. Real files, tiny real models."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pydicom
import pytest

from tests.desktop.viewer_helpers import open_and_wait
from tests.helpers.dicom_factory import make_dicom_from_image


@pytest.fixture
def audit_log(tmp_path, monkeypatch) -> Path:
    log = tmp_path / "audit" / "ai-results.jsonl"
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(log))
    return log


def _audit_records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def _predict(qtbot, window, path) -> object:
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000) as blocker:
        window.open_path(str(path))
    return blocker.args[0]


def test_tools_menu_audit_trail_and_dicom_results(qtbot, make_window, tiny_bundle, chest_dicom, chest_png,
                                                  audit_log, tmp_path):
    window = make_window(tiny_bundle)
    tool_names = {action.objectName() for action in window.tools_menu.actions()}
    assert {"pacs_query", "audit_log"} <= tool_names
    assert not window.actions_by_name["save_ai_dicom"].isEnabled()  # no result yet

    prediction = _predict(qtbot, window, chest_dicom)
    records = _audit_records(audit_log)  # written on the worker before the result was delivered
    assert len(records) == 1
    sop_uid = pydicom.dcmread(chest_dicom, stop_before_pixels=True).SOPInstanceUID
    assert records[0]["origin"] == "viewer" and records[0]["sop_instance_uid"] == sop_uid
    assert records[0]["call"] == prediction.label
    assert records[0]["model"]["name"] == "tiny-test-model"

    assert window.actions_by_name["save_ai_dicom"].isEnabled()
    window.settings.deidentify_exports = True
    written = window.save_ai_dicom(tmp_path / "results")
    assert len(written) == 2
    saved = [pydicom.dcmread(path) for path in written]
    assert [ds.Modality == "SR" for ds in saved].count(True) == 1  # one report, one picture
    assert any("SecondaryCapture" in ds.SOPClassUID.keyword or "Secondary" in ds.SOPClassUID.name for ds in saved)
    for ds in saved:
        assert "DOE" not in str(ds.PatientName) and ds.PatientID != "PID-42"

    send = window.send_ai_result_to_pacs()
    assert send is not None and len(send._datasets) == 2
    send.close()

    window.tools_menu.actions()[[a.objectName() for a in window.tools_menu.actions()].index("audit_log")].trigger()
    assert len(window.tool_dialog("audit_log").records()) == 1
    window.tool_dialog("audit_log").close()

    next(a for a in window.tools_menu.actions() if a.objectName() == "pacs_query").trigger()
    assert window.tool_dialog("pacs").isVisible()
    with qtbot.waitSignal(window.image_shown, timeout=30_000) as blocker:
        window.tool_dialog("pacs").filesRetrieved.emit([str(chest_png)])  # what a finished C-MOVE/C-GET emits
    assert Path(blocker.args[0].path) == chest_png
    window.tool_dialog("pacs").close()

    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "a.png").write_bytes(chest_png.read_bytes())
    (folder / "b.dcm").write_bytes(chest_dicom.read_bytes())
    (folder / "broken.dcm").write_bytes(b"not a dicom")
    dialog = window.analyze_folder(folder)
    qtbot.waitUntil(lambda: dialog.state == "finished", timeout=60_000)
    batch = [r for r in _audit_records(audit_log) if r["origin"] == "batch"]
    # de-identified exports are on: by default the audit log then keeps the folder and file hash, not the name
    assert [r["source_path"] for r in batch] == [None, None] and {r["source_folder"] for r in batch} == {str(folder)}
    assert sorted(r["source_sha256"] for r in batch) == sorted(
        hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in ("a.png", "b.dcm"))  # not broken.dcm
    assert sop_uid in {r["sop_instance_uid"] for r in batch}
    dialog.close()
    window.settings.deidentify_exports = False
    dialog = window.analyze_folder(folder)
    qtbot.waitUntil(lambda: dialog.state == "finished", timeout=60_000)
    batch = [r for r in _audit_records(audit_log) if r["origin"] == "batch"][2:]
    assert sorted(Path(r["source_path"]).name for r in batch) == ["a.png", "b.dcm"]  # the broken file has none
    assert next(r for r in batch if r["source_path"].endswith("b.dcm"))["sop_instance_uid"] == sop_uid
    dialog.close()


def test_failing_audit_write_keeps_the_result(qtbot, make_window, tiny_bundle, chest_png, tmp_path, monkeypatch):
    blocker_file = tmp_path / "not-a-folder"
    blocker_file.write_text("x")
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(blocker_file / "audit.jsonl"))  # parent is a file: cannot write
    window = make_window(tiny_bundle)
    messages = []
    window.analysis.audit_failed.connect(messages.append)
    prediction = _predict(qtbot, window, chest_png)
    assert window.prediction is prediction and window.ai_panel.call_label.text() == prediction.label
    assert messages and "audit log" in messages[0]
    assert "audit log" in window.statusBar().currentMessage()


@pytest.fixture(scope="module")
def body_part_models(tmp_path_factory) -> Path:
    from tests.helpers.tiny_models import make_tiny_bundle

    root = tmp_path_factory.mktemp("body-part-models")
    make_tiny_bundle(root / "a-chest", name="chest-test-model",
                     card_overrides={"ood": {"expected_body_parts": ["CHEST"]}})
    make_tiny_bundle(root / "b-fracture", name="fracture-test-model", seed=1, card_overrides={
        "experimental": True, "ood": {"expected_body_parts": ["HAND", "WRIST", "ELBOW"]}})
    return root


def test_model_follows_the_body_part(qtbot, settings, no_shipped_models, body_part_models, chest_source, tmp_path):
    from desktop.main_window import MainWindow

    settings.auto_run = True
    settings.model_path = ""  # not pinned: the body part may choose
    settings.user_models_dir = str(body_part_models)
    window = MainWindow(settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.analysis.model_ready, timeout=240_000):
        window.show()
    assert window.loaded_bundle.name == "chest-test-model"  # the stable model is the default

    hand = make_dicom_from_image(chest_source, tmp_path / "hand.dcm", size=128, body_part="HAND")
    prediction = _predict(qtbot, window, hand)
    assert prediction.model["name"] == "fracture-test-model"
    assert "fracture-test-model" in window.model_choice_reason and "HAND" in window.model_choice_reason

    chest = make_dicom_from_image(chest_source, tmp_path / "chest.dcm", size=128, body_part="CHEST")
    prediction = _predict(qtbot, window, chest)
    assert prediction.model["name"] == "chest-test-model"
    assert "CHEST" in window.model_choice_reason

    window.settings.model_path = str(body_part_models / "b-fracture")  # pinned by the user: kept
    window.start_model_loading()
    qtbot.waitUntil(lambda: window.model_state == "ready", timeout=60_000)
    prediction = _predict(qtbot, window, chest)
    assert prediction.model["name"] == "fracture-test-model"
    from desktop.workers import Job

    assert Job.cancel_all_and_wait(20_000)
