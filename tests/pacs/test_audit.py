"""Audit log: one JSON line per AI result, append-only, and a crash mid-write never corrupts earlier lines."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from inference.audit import append_ai_result, default_audit_log_path, export_csv, read_audit_log
from inference.bundle import load_bundle
from inference.errors import AuditLogError


def _prediction(p_pneumonia: float = 0.8125) -> SimpleNamespace:
    """The fields of inference.predictor.Prediction the audit log reads."""
    return SimpleNamespace(probabilities={"NORMAL": 1 - p_pneumonia, "PNEUMONIA": p_pneumonia},
                           label="PNEUMONIA" if p_pneumonia >= 0.5 else "NORMAL", threshold=0.5,
                           positive_label="PNEUMONIA", cam_method="gradcam", device="cpu",
                           model={"name": "tiny-test-model", "version": "0.0.1-test", "sha256": "ab" * 32,
                                  "manifest_sha256": "cd" * 32})


@pytest.fixture()
def log_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "audit" / "ai-results.jsonl"
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(path))
    return path


def test_record_has_every_field(log_path, source_studies):
    source = source_studies[0].path
    record = append_ai_result(_prediction(), source_path=source, sop_instance_uid="1.2.3.4", origin="cli")
    assert default_audit_log_path() == log_path
    (line,) = log_path.read_text().splitlines()
    stored = json.loads(line)
    assert stored == record
    assert stored["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert stored["sop_instance_uid"] == "1.2.3.4" and stored["origin"] == "cli"
    assert stored["model"] == {"name": "tiny-test-model", "version": "0.0.1-test", "sha256": "ab" * 32,
                               "manifest_sha256": "cd" * 32}
    assert stored["probabilities"]["PNEUMONIA"] == 0.8125 and stored["call"] == "PNEUMONIA"
    assert stored["threshold"] == 0.5 and stored["device"] == "cpu" and stored["user"]
    assert stored["time"].endswith("Z") and stored["time"][:4].isdigit()


def test_real_prediction_is_logged(log_path, source_studies, tiny_bundle):
    from inference.image_io import load_image
    from inference.predictor import Predictor

    image = load_image(source_studies[1].path)
    prediction = Predictor(tiny_bundle, device="cpu").predict(image, cam_method=None)
    append_ai_result(prediction, source_path=source_studies[1].path,
                     sop_instance_uid=image.metadata["SOPInstanceUID"], origin="viewer")
    (record,) = read_audit_log().records
    assert record["probabilities"] == pytest.approx(prediction.probabilities)
    assert record["model"]["sha256"] == prediction.model["sha256"] and len(record["model"]["sha256"]) == 64
    # the manifest hash covers the card too: the audit record names exactly the bundle that made the result
    assert record["model"]["manifest_sha256"] == load_bundle(tiny_bundle).manifest_sha256


def test_appends_never_rewrite(log_path, source_studies):
    for p in (0.1, 0.6, 0.9):
        before = log_path.read_bytes() if log_path.exists() else b""
        append_ai_result(_prediction(p), source_path=source_studies[0].path, origin="batch")
        assert log_path.read_bytes().startswith(before)
    contents = read_audit_log()
    assert [r["call"] for r in contents.records] == ["NORMAL", "PNEUMONIA", "PNEUMONIA"]
    assert contents.skipped == []


def test_torn_last_line_is_skipped_and_next_write_starts_clean(log_path, source_studies):
    append_ai_result(_prediction(0.7), source_path=source_studies[0].path)
    good = log_path.read_bytes()
    # what a crash in the middle of a write leaves behind: part of a JSON object, no newline
    with open(log_path, "ab") as handle:
        handle.write(b'{"schema":1,"time":"2026-01-01T00:00:00.000Z","user":"x","orig')
    torn = read_audit_log()
    assert len(torn.records) == 1 and torn.skipped == [(2, "incomplete last line (a write was interrupted)")]
    append_ai_result(_prediction(0.2), source_path=source_studies[0].path)
    after = read_audit_log()
    assert [r["call"] for r in after.records] == ["PNEUMONIA", "NORMAL"]
    assert len(after.skipped) == 1 and log_path.read_bytes().startswith(good)


def test_killed_writer_leaves_every_earlier_line_intact(log_path, source_studies):
    writer = textwrap.dedent(f"""
        import sys
        from types import SimpleNamespace
        from inference.audit import append_ai_result
        p = SimpleNamespace(probabilities={{"NORMAL": 0.25, "PNEUMONIA": 0.75}}, label="PNEUMONIA", threshold=0.5,
                            positive_label="PNEUMONIA", cam_method=None, device="cpu",
                            model={{"name": "m", "version": "1", "sha256": "0" * 64}})
        i = 0
        while True:
            append_ai_result(p, sop_instance_uid=f"1.2.3.{{i}}", origin="batch")
            i += 1
            if i == 20:
                print("ready", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", writer], cwd=Path(__file__).resolve().parents[2],
                               env={**os.environ, "XRAYVIEW_AUDIT_LOG": str(log_path)}, stdout=subprocess.PIPE)
    try:
        assert process.stdout.readline().strip() == b"ready"
        time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    contents = read_audit_log()
    assert len(contents.records) >= 20
    # the records are the writer's, in order, with no gap: each earlier line survived whole
    assert [r["sop_instance_uid"] for r in contents.records] == [f"1.2.3.{i}" for i in range(len(contents.records))]
    assert len(contents.skipped) <= 1
    append_ai_result(_prediction(), sop_instance_uid="9.9.9", origin="cli")
    assert read_audit_log().records[-1]["sop_instance_uid"] == "9.9.9"


def test_csv_export(log_path, tmp_path, source_studies):
    append_ai_result(_prediction(0.75), source_path=source_studies[0].path, sop_instance_uid="1.2.3")
    append_ai_result(_prediction(0.25), sop_instance_uid="4.5.6", origin="batch")
    out = export_csv(read_audit_log().records, tmp_path / "audit.csv")
    rows = list(csv.DictReader(out.open(newline="")))
    assert [r["sop_instance_uid"] for r in rows] == ["1.2.3", "4.5.6"]
    assert [r["p_PNEUMONIA"] for r in rows] == ["0.750000", "0.250000"]
    assert rows[0]["model_version"] == "0.0.1-test" and rows[1]["origin"] == "batch"
    assert rows[0]["source_sha256"] == hashlib.sha256(source_studies[0].path.read_bytes()).hexdigest()


def test_unwritable_log_is_a_typed_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(blocker / "audit.jsonl"))
    with pytest.raises(AuditLogError, match="cannot write the audit log"):
        append_ai_result(_prediction(), sop_instance_uid="1.2.3")


def test_a_record_needs_a_source():
    with pytest.raises(ValueError):
        append_ai_result(_prediction())


def test_cli_appends_one_record_per_image(log_path, source_studies, tiny_bundle):
    import io

    from inference.cli_predict import run

    out = io.StringIO()
    paths = [str(s.path) for s in source_studies]
    assert run([*paths, "--model", str(tiny_bundle), "--device", "cpu"], stdout=out, stderr=io.StringIO()) == 0
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    records = read_audit_log().records
    assert [r["origin"] for r in records] == ["cli", "cli"]
    assert sorted(r["source_path"] for r in records) == sorted(paths)
    by_path = {r["source_path"]: r for r in records}
    for line in printed:
        record = by_path[line["path"]]
        assert record["probabilities"] == pytest.approx(line["probabilities"], abs=1e-6)
        assert record["call"] == line["label"] and record["model"] == line["model"]
        assert record["source_sha256"] == hashlib.sha256(Path(line["path"]).read_bytes()).hexdigest()


def test_one_call_for_a_loaded_image(log_path, source_studies):
    from inference.audit import append_ai_result_for_image
    from inference.image_io import load_image

    image = load_image(source_studies[0].path)
    record = append_ai_result_for_image(_prediction(0.6), image, origin="batch")
    assert record["sop_instance_uid"] == image.metadata["SOPInstanceUID"] and record["origin"] == "batch"
    assert record["source_sha256"] == hashlib.sha256(source_studies[0].path.read_bytes()).hexdigest()
    assert read_audit_log().records == [record]


def test_audit_record_keeps_the_ood_verdict_and_withholds_the_call(log_path, source_studies):
    from inference.audit import records_to_rows
    from inference.results import OODResult

    warned = _prediction(0.9)
    warned.ood = OODResult(warning=True, reasons=["colour image"], score=3.21, threshold=1.89)
    record = append_ai_result(warned, source_path=source_studies[0].path, origin="batch")
    assert record["call"] is None and record["call_status"] == "no_call"
    assert record["ood"] == {"warning": True, "reasons": ["colour image"], "score": 3.21, "threshold": 1.89}
    anyway = append_ai_result(warned, source_path=source_studies[0].path, origin="batch", show_anyway=True)
    assert anyway["call"] == "PNEUMONIA" and anyway["call_status"] == "shown_anyway"
    plain = _prediction(0.9)
    plain.threshold = 0.30313757061958313
    plain_record = append_ai_result(plain, source_path=source_studies[0].path, origin="batch")
    assert plain_record["ood"] is None and plain_record["call_status"] == "call"
    header, rows = records_to_rows(read_audit_log().records)
    column = {name: header.index(name) for name in ("call", "call_status", "ood_warning", "threshold")}
    assert [row[column["call"]] for row in rows] == ["", "PNEUMONIA", "PNEUMONIA"]
    assert [row[column["ood_warning"]] for row in rows] == ["yes: colour image", "yes: colour image", ""]
    assert rows[2][column["threshold"]] == "0.303138"  # rounded, not 0.30313757061958313


def test_audit_record_says_whether_the_call_was_near_the_threshold(log_path, source_studies):
    from inference.audit import records_to_rows

    near, far, unmeasured = _prediction(0.52), _prediction(0.9), _prediction(0.52)
    near.call_margin = far.call_margin = 0.2  # log-odds: 0.52 is 0.08 from the threshold 0.5, 0.9 is 2.2
    records = [append_ai_result(p, source_path=source_studies[0].path, origin="cli") for p in (near, far, unmeasured)]
    assert [r["near_threshold"] for r in records] == [True, False, None]
    assert [r["call"] for r in records] == ["PNEUMONIA", "PNEUMONIA", "PNEUMONIA"]  # the mark never changes it
    header, rows = records_to_rows(read_audit_log().records)
    assert [row[header.index("near_threshold")] for row in rows] == ["yes", "no", ""]
