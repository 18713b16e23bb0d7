"""The audit log dialog: shows the records newest first, reports torn lines, filters, exports CSV."""
from __future__ import annotations

import csv
from types import SimpleNamespace

from desktop.audit_log_dialog import AuditLogDialog
from inference.audit import append_ai_result


def _prediction(p: float, name: str = "tiny-test-model") -> SimpleNamespace:
    return SimpleNamespace(probabilities={"NORMAL": 1 - p, "PNEUMONIA": p}, label="PNEUMONIA" if p >= 0.5 else
                           "NORMAL", threshold=0.5, positive_label="PNEUMONIA", cam_method=None, device="cpu",
                           model={"name": name, "version": "1.2.3", "sha256": "cd" * 32})


def test_dialog_lists_filters_and_exports(qtbot, tmp_path):
    log = tmp_path / "audit.jsonl"
    append_ai_result(_prediction(0.9), sop_instance_uid="1.2.3.1", origin="viewer", log_path=log)
    append_ai_result(_prediction(0.1, "other-model"), sop_instance_uid="1.2.3.2", origin="batch", log_path=log)
    with open(log, "ab") as handle:
        handle.write(b'{"schema":1,"time":"2026')  # a write interrupted by a crash
    dialog = AuditLogDialog(log)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 2
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())]
    call_column, uid_column = headers.index("call"), headers.index("sop instance uid")
    assert dialog.table.item(0, uid_column).text() == "1.2.3.2"  # newest first
    assert dialog.table.item(0, call_column).text() == "NORMAL"
    assert "p PNEUMONIA" in headers
    assert "2 AI results" in dialog.status.text() and "Skipped 1 incomplete line" in dialog.status.text()

    dialog.filter_edit.setText("other-model")
    assert [dialog.table.isRowHidden(r) for r in range(2)] == [False, True]

    out = dialog.export(tmp_path / "export.csv")
    rows = list(csv.DictReader(out.open(newline="")))
    assert [r["sop_instance_uid"] for r in rows] == ["1.2.3.1", "1.2.3.2"]  # all records, oldest first
    assert rows[0]["p_PNEUMONIA"] == "0.900000"


def test_missing_log_is_empty_not_an_error(qtbot, tmp_path):
    dialog = AuditLogDialog(tmp_path / "never-written.jsonl")
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 0 and "0 AI results" in dialog.status.text()
    assert not dialog.export_button.isEnabled()
