"""Issue 17 item 8: the audit log is tamper-evident. Records carry a sequence number and the hash of the record
before them; the reader and Tools > AI audit log verify the chain and say where it breaks. CLI records name the
DICOM's SOP Instance UID, and a setting keeps only the folder + file hash instead of a file name."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from inference.audit import GENESIS_HASH, append_ai_result, line_hash, read_audit_log

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _prediction(p: float = 0.8) -> SimpleNamespace:
    return SimpleNamespace(probabilities={"NORMAL": 1 - p, "PNEUMONIA": p}, label="PNEUMONIA" if p >= 0.5 else
                           "NORMAL", threshold=0.5, positive_label="PNEUMONIA", cam_method=None, device="cpu",
                           model={"name": "tiny-test-model", "version": "1", "sha256": "ab" * 32})


def _write(log: Path, count: int) -> list[bytes]:
    for index in range(count):
        append_ai_result(_prediction(0.1 + 0.8 * (index % 2)), sop_instance_uid=f"1.2.3.{index}", origin="batch",
                         log_path=log)
    return log.read_bytes().splitlines()


def test_records_are_chained(tmp_path):
    log = tmp_path / "audit.jsonl"
    lines = _write(log, 5)
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev"] == GENESIS_HASH
    assert all(records[i]["prev"] == line_hash(lines[i - 1]) for i in range(1, 5))
    contents = read_audit_log(log)
    assert contents.chain_intact and contents.chained == 5 and contents.last_seq == 5
    assert contents.last_hash == line_hash(lines[-1])
    assert "intact over 5 record(s)" in contents.chain_summary()


def test_an_edited_call_and_deleted_lines_are_found_and_located(tmp_path):
    """The issue's tampering: one record's call edited and 11 lines deleted went unnoticed."""
    log = tmp_path / "audit.jsonl"
    lines = _write(log, 30)
    assert b'"call":"PNEUMONIA"' in lines[5]
    lines[5] = lines[5].replace(b'"call":"PNEUMONIA"', b'"call":"NORMAL"')  # record #6, line 6
    del lines[14:25]  # records #15-#25
    log.write_bytes(b"\n".join(lines) + b"\n")
    contents = read_audit_log(log)
    assert not contents.chain_intact
    assert contents.chain_breaks == [(6, "record #6 was changed after it was written (record #7 holds another "
                                         "hash of it)"),
                                     (15, "record #26 follows #14: records #15-#25 missing")]
    assert len(contents.records) == 19  # every readable record is still shown
    assert "HASH CHAIN BROKEN at 2 place(s)" in contents.chain_summary()


def test_removed_first_records_and_inserted_records_break_the_chain(tmp_path):
    log = tmp_path / "audit.jsonl"
    lines = _write(log, 6)
    log.write_bytes(b"\n".join(lines[2:]) + b"\n")
    assert read_audit_log(log).chain_breaks == [(1, "the first record is #3, not #1: records #1-#2 are missing")]
    forged = json.loads(lines[3])
    forged["call"] = "NORMAL"
    unchained = {k: v for k, v in forged.items() if k not in ("seq", "prev")}
    log.write_bytes(b"\n".join([*lines[:3], json.dumps(unchained).encode(), *lines[3:]]) + b"\n")
    breaks = read_audit_log(log).chain_breaks
    assert breaks and breaks[0][0] == 4 and "without sequence number inside the chain" in breaks[0][1]


def test_a_torn_write_does_not_break_the_chain(tmp_path):
    log = tmp_path / "audit.jsonl"
    _write(log, 2)
    with open(log, "ab") as handle:
        handle.write(b'{"schema":2,"time":"2026')  # a crash in the middle of a write
    _write(log, 2)
    contents = read_audit_log(log)
    assert contents.chain_intact and [r["seq"] for r in contents.records] == [1, 2, 3, 4]
    assert [n for n, _ in contents.skipped] == [3]


def test_older_unchained_records_are_counted_not_verified(tmp_path):
    log = tmp_path / "audit.jsonl"
    legacy = {"schema": 1, "time": "2026-01-01T00:00:00.000Z", "user": "u", "origin": "cli", "source_path": None,
              "source_sha256": "cd" * 32, "sop_instance_uid": "1.2", "model": {}, "device": "cpu",
              "probabilities": {"NORMAL": 1.0}, "threshold": None, "positive_label": None, "call": "NORMAL",
              "cam_method": None}
    log.write_bytes((json.dumps(legacy) + "\n").encode() * 2)
    lines = _write(log, 2)
    first_chained = json.loads(lines[2])
    assert first_chained["seq"] == 1 and first_chained["prev"] == line_hash(lines[1])
    contents = read_audit_log(log)
    assert contents.chain_intact and contents.unchained == 2 and contents.chained == 2
    assert "2 older record(s) predate the chain" in contents.chain_summary()
    log.write_bytes((json.dumps(legacy) + "\n").encode())
    assert "No record is hash-chained" in read_audit_log(log).chain_summary()


def test_concurrent_writers_keep_one_chain(tmp_path):
    log = tmp_path / "audit.jsonl"
    code = ("import sys\nfrom types import SimpleNamespace\nfrom inference.audit import append_ai_result\n"
            "p = SimpleNamespace(probabilities={'N': 0.5}, label='N', threshold=None, positive_label=None, "
            "cam_method=None, device='cpu', model={})\n"
            "for i in range(25):\n    append_ai_result(p, sop_instance_uid=f'{sys.argv[1]}.{i}', log_path=sys.argv[2])\n")
    writers = [subprocess.Popen([sys.executable, "-c", code, str(n), str(log)], cwd=PROJECT_ROOT)
               for n in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    contents = read_audit_log(log)
    assert contents.chain_intact, contents.chain_breaks
    assert [r["seq"] for r in contents.records] == list(range(1, 101))
    assert len({r["sop_instance_uid"] for r in contents.records}) == 100


def test_folder_policy_keeps_no_file_name(tmp_path):
    source = tmp_path / "DOE_JOHN_MRN123456_19800101.dcm"
    source.write_bytes(b"not really an image, only hashed")
    log = tmp_path / "audit.jsonl"
    record = append_ai_result(_prediction(), source_path=source, origin="viewer", log_path=log,
                              source_path_policy="folder")
    assert record["source_path"] is None and record["source_folder"] == str(tmp_path)
    assert len(record["source_sha256"]) == 64
    assert b"DOE_JOHN" not in log.read_bytes() and b"MRN123456" not in log.read_bytes()


def test_cli_records_name_the_sop_instance_uid_and_honour_audit_path(tmp_path, monkeypatch, source_studies,
                                                                    tiny_bundle):
    import pydicom

    from inference.cli_predict import run

    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(log))
    bundle = tiny_bundle
    named = tmp_path / "DOE_JOHN_MRN123456.dcm"
    named.write_bytes(source_studies[0].path.read_bytes())
    uid = str(pydicom.dcmread(named).SOPInstanceUID)
    assert run([str(named), "--model", str(bundle), "--device", "cpu"], stdout=io.StringIO(),
               stderr=io.StringIO()) == 0
    assert run([str(named), "--model", str(bundle), "--device", "cpu", "--audit-path", "folder"],
               stdout=io.StringIO(), stderr=io.StringIO()) == 0
    first, second = read_audit_log(log).records
    assert first["sop_instance_uid"] == uid and first["source_path"] == str(named) and first["origin"] == "cli"
    assert second["sop_instance_uid"] == uid and second["source_path"] is None
    assert second["source_folder"] == str(tmp_path) and second["source_sha256"] == first["source_sha256"]


def test_dialog_says_where_the_chain_breaks(qtbot, tmp_path):
    from desktop.audit_log_dialog import AuditLogDialog

    log = tmp_path / "audit.jsonl"
    lines = _write(log, 4)
    dialog = AuditLogDialog(log)
    qtbot.addWidget(dialog)
    assert dialog.chain_intact and "intact over 4 record(s)" in dialog.chain_label.text()
    lines[1] = lines[1].replace(b'"call":"PNEUMONIA"', b'"call":"NORMAL"')
    log.write_bytes(b"\n".join(lines) + b"\n")
    dialog.reload()
    assert not dialog.chain_intact
    assert "HASH CHAIN BROKEN" in dialog.chain_label.text() and "line 2: record #2 was changed" in \
        dialog.chain_label.text()
    assert dialog.table.rowCount() == 4


def test_audit_source_path_setting_follows_deidentification(tmp_path):
    from PySide6.QtCore import QSettings

    from desktop.settings import AppSettings

    settings = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert settings.audit_source_path == "auto" and settings.audit_source_path_policy == "full"
    settings.deidentify_exports = True
    assert settings.audit_source_path_policy == "folder"
    settings.audit_source_path = "full"
    assert settings.audit_source_path_policy == "full"
    with pytest.raises(ValueError):
        settings.audit_source_path = "name"
