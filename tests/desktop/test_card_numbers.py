"""Issue 14.3: no threshold is printed twice with different rates, and card numbers print rounded (card dialog,
AI panel, audit viewer); the training export no longer writes such a pair."""
from __future__ import annotations

import numpy as np

from desktop import prediction_adapter as pa
from desktop.model_card_dialog import card_html
from inference.model_card import ModelCard

USER_CARD = ModelCard({"name": "user-model", "version": "1", "threshold": 0.5001662373542786, "positive_label": "PNEUMONIA",
             "labels": ["NORMAL", "PNEUMONIA"],
             "threshold_table": [
                 {"threshold": 0.5001662373542786, "sensitivity": 0.8123456789, "specificity": 0.7012345678,
                  "name": "operating point (youden, chosen on validation)"},
                 {"threshold": 0.3, "sensitivity": 0.9, "specificity": 0.6},
                 {"threshold": 0.5, "sensitivity": 0.8125, "specificity": 0.69},
                 {"threshold": 0.7, "sensitivity": 0.6, "specificity": 0.85}]})


def test_rows_that_print_alike_collapse_to_the_operating_point():
    rows = pa.threshold_rows(USER_CARD)
    printed = [pa.number(r.threshold) for r in rows]
    assert printed == ["0.500", "0.300", "0.700"]
    assert rows[0].name.startswith("operating point")
    assert [pa.number(r.threshold) for r in pa.nearby_thresholds(USER_CARD, 0.5)] == ["0.300", "0.500", "0.700"]


def test_card_dialog_prints_rounded_numbers_once():
    text = card_html(USER_CARD)
    assert "0.5001662373542786" not in text and "0.8123456789" not in text
    assert text.count("<td>0.500</td>") == 1 and "<b>Operating threshold:</b> 0.500" in text
    assert "<td>0.812</td>" in text


def test_panel_table_has_one_row_per_threshold(qtbot):
    from desktop.ai_panel import AiPanel

    panel = AiPanel(["jet"])
    qtbot.addWidget(panel)
    panel.set_model(USER_CARD, "cpu")
    shown = [panel.threshold_table.item(r, 0).text() for r in range(panel.threshold_table.rowCount())]
    assert shown == ["0.300", "0.500", "0.700"] and panel.threshold_value.text() == "0.500"


def test_audit_viewer_rounds_the_threshold(qtbot, tmp_path):
    import json

    from desktop.audit_log_dialog import AuditLogDialog

    log = tmp_path / "audit.jsonl"
    record = {"schema": 1, "time": "2026-01-01T00:00:00.000Z", "user": "u", "origin": "cli", "source_path": "a.png",
              "source_sha256": "0" * 64, "sop_instance_uid": None, "model": {"name": "m", "version": "1", "sha256": ""},
              "device": "cpu", "probabilities": {"NORMAL": 0.4, "PNEUMONIA": 0.6},
              "threshold": 0.30313757061958313, "positive_label": "PNEUMONIA", "call": "PNEUMONIA",
              "cam_method": None}
    log.write_text(json.dumps(record) + "\n")
    dialog = AuditLogDialog(log)
    qtbot.addWidget(dialog)
    cells = [dialog.table.item(0, c).text() for c in range(dialog.table.columnCount())]
    assert "0.303138" in cells and "0.30313757061958313" not in cells
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())]
    assert "call status" in headers and "ood warning" in headers


def test_training_table_never_repeats_a_printed_threshold():
    from training.metrics import DEFAULT_TABLE_THRESHOLDS, threshold_table, with_operating_point

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    probs = np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1)
    chosen = threshold_table(labels, probs, [0.5001662373542786])[0]
    table = with_operating_point(chosen, threshold_table(labels, probs, DEFAULT_TABLE_THRESHOLDS))
    printed = [f"{row['threshold']:.3f}" for row in table]
    assert len(printed) == len(set(printed)) and table[0] is chosen
    assert 0.5 in DEFAULT_TABLE_THRESHOLDS
