"""Shows the loaded model's card: identity, intended use, limitations, metrics, threshold table, training data."""
from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from desktop import card_facts
from desktop import prediction_adapter as pa


def _metrics_table(metrics: list) -> str:
    """Metric, value, 95% CI, threshold, n: every number rounded, every CI shown."""
    esc = html.escape
    rows = []
    for m in metrics:
        ci = m.get("ci95")
        rows.append(f"<tr><td>{esc(str(m.get('name')))}</td><td>{pa.number(m.get('value'))}</td>"
                    f"<td>{pa.number(ci[0]) + '-' + pa.number(ci[1]) if ci else '—'}</td>"
                    f"<td>{pa.number(m.get('threshold'))}</td><td>{esc(str(m.get('n', '')))}</td></tr>")
    return ("<table border='1' cellpadding='3'><tr><th>Metric</th><th>Value</th><th>95% CI</th><th>Threshold</th>"
            f"<th>n</th></tr>{''.join(rows)}</table>")


def card_html(card: dict) -> str:
    esc = html.escape
    parts = [f"<h2>{esc(pa.model_title(card))}</h2>"]
    if card.get("experimental"):
        parts.append("<p><b>Experimental model</b> — not validated for use.</p>")
    if card.get("description"):
        parts.append(f"<p>{esc(str(card['description']))}</p>")
    parts.append(f"<p><b>Architecture:</b> {esc(str(card.get('architecture', '')))}<br>"
                 f"<b>Labels:</b> {esc(', '.join(card.get('labels', [])))}<br>"
                 f"<b>Positive label:</b> {esc(str(card.get('positive_label', '—')))}<br>"
                 f"<b>Operating threshold:</b> {esc(pa.number(card.get('threshold')))}</p>")
    parts.append(f"<h3>Intended use</h3><p>{esc(str(card.get('intended_use', '')))}</p>")
    limitations = "".join(f"<li>{esc(str(item))}</li>" for item in card.get("limitations", []))
    parts.append(f"<h3>Limitations</h3><ul>{limitations}</ul>")
    metrics = card.get("metrics") or []
    parts.append("<h3>Measured performance: internal test</h3>")
    if metrics:
        parts.append(f"<p>On {esc(card_facts.internal_set(card).description)}.</p>" + _metrics_table(metrics))
    else:
        parts.append("<p>No metrics reported.</p>")
    external = card_facts.external_sets(card)
    if external:
        parts.append("<h3>External validation</h3>")
        for measured, entry in external:
            counts = ", ".join(f"{n} {label}" for label, n in (entry.get("counts") or {}).items())
            parts.append(f"<p><b>{esc(str(entry.get('dataset')))}</b>: {esc(measured.description)}; {esc(counts)}; "
                         f"threshold {pa.number(entry.get('threshold'))}, temperature "
                         f"{pa.number(entry.get('temperature'))}; set sha256 "
                         f"<code>{esc(str(entry.get('set_sha256', ''))[:16])}…</code></p>"
                         + _metrics_table(entry.get("metrics") or []))
    site_lines = card_facts.site_calibration_lines(card)
    if site_lines:
        parts.append("<h3>Site calibration</h3><ul>" + "".join(f"<li>{esc(line)}</li>" for line in site_lines)
                     + "</ul>")
    table = pa.threshold_rows(card)
    if table:
        rows = "".join(f"<tr><td>{esc(str(r.get('name', '')))}</td><td>{pa.number(r['threshold'])}</td>"
                       f"<td>{pa.number(r['sensitivity'])}</td><td>{pa.number(r['specificity'])}</td></tr>"
                       for r in table)
        parts.append(f"<h3>Threshold table</h3><p>Measured on "
                     f"{esc(card_facts.threshold_table_set(card).description)}.</p>"
                     "<table border='1' cellpadding='3'><tr><th></th><th>Threshold</th>"
                     f"<th>Sensitivity</th><th>Specificity</th></tr>{rows}</table>")
    data = card.get("training_data") or []
    if data:
        items = "".join(f"<li>{esc(str(d.get('name')))} — {int(d.get('n_images', 0))} images; licence "
                        f"{esc(str(d.get('licence')))}; {esc(str(d.get('attribution')))}</li>" for d in data)
        parts.append(f"<h3>Training data</h3><ul>{items}</ul>")
    return "".join(parts)


class ModelCardDialog(QDialog):
    def __init__(self, card: dict, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Model card — {pa.model_title(card)}")
        self.resize(620, 640)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setAccessibleName("Model card")
        self.browser.setHtml(card_html(card))
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
