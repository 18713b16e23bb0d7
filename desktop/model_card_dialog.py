"""Shows the loaded model's card: identity, intended use, limitations, metrics, threshold table, training data."""
from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from desktop import prediction_adapter as pa


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
    metrics = pa.headline_metrics(card, limit=50)
    parts.append("<h3>Measured performance</h3>" + ("<ul>" + "".join(f"<li>{esc(m)}</li>" for m in metrics) + "</ul>"
                                                    if metrics else "<p>No metrics reported.</p>"))
    table = pa.threshold_rows(card)
    if table:
        rows = "".join(f"<tr><td>{esc(str(r.get('name', '')))}</td><td>{pa.number(r['threshold'])}</td>"
                       f"<td>{pa.number(r['sensitivity'])}</td><td>{pa.number(r['specificity'])}</td></tr>"
                       for r in table)
        parts.append("<h3>Threshold table</h3><table border='1' cellpadding='3'><tr><th></th><th>Threshold</th>"
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
