"""Shows the loaded model's card: identity, intended use, limitations, metrics, threshold table, training data."""
from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from desktop import card_facts
from desktop import prediction_adapter as pa
from inference.model_card import ExternalValidation, Metric, ModelCard
from inference.vocabulary import VIEW_TITLES, split_views


def _metrics_table(metrics: list[Metric] | tuple[Metric, ...]) -> str:
    """Metric, value, 95% CI, threshold, n: every number rounded, every CI shown."""
    esc = html.escape
    rows = []
    for m in metrics:
        ci = m.ci95
        rows.append(f"<tr><td>{esc(m.name)}</td><td>{pa.number(m.value)}</td>"
                    f"<td>{pa.number(ci[0]) + '-' + pa.number(ci[1]) if ci else '—'}</td>"
                    f"<td>{pa.number(m.threshold)}</td><td>{esc('' if m.n is None else str(m.n))}</td></tr>")
    return ("<table border='1' cellpadding='3'><tr><th>Metric</th><th>Value</th><th>95% CI</th><th>Threshold</th>"
            f"<th>n</th></tr>{''.join(rows)}</table>")


def _external_entry(measured: card_facts.MeasuredSet, entry: ExternalValidation, with_hash: bool = True) -> str:
    esc = html.escape
    counts = ", ".join(f"{n} {label}" for label, n in entry.counts.items())
    identity = f"; set sha256 <code>{esc(entry.set_sha256[:16])}…</code>" if with_hash else ""
    return (f"<p><b>{esc(entry.dataset)}</b>: {esc(measured.description)}; {esc(counts)}; threshold "
            f"{pa.number(entry.threshold)}, temperature {pa.number(entry.temperature)}{identity}</p>"
            + _metrics_table(entry.metrics))


def card_html(card: ModelCard) -> str:
    esc = html.escape
    parts = [f"<h2>{esc(card.title)}</h2>"]
    if card.experimental:
        parts.append("<p><b>Experimental model</b> — not validated for use.</p>")
    if card.description:
        parts.append(f"<p>{esc(card.description)}</p>")
    members = "".join(f"<br>&nbsp;&nbsp;{esc(m.name)} {esc(m.version)} ({esc(m.architecture)}, weights "
                      f"{esc(m.weights_sha256[:12])}…)" for m in card.ensemble_members)
    if members:
        title = "Mean of the logits of:" if len(card.ensemble_members) > 1 else "Weights from:"
        members = f"<br><b>{title}</b>" + members
    views = split_views(card.architecture)[1]
    if views:
        members += ("<br><b>Answer:</b> the mean of its logits over the film and "
                    + esc("; ".join(VIEW_TITLES.get(view, view) for view in views)))
    parts.append(f"<p><b>Architecture:</b> {esc(card.architecture)}{members}<br>"
                 f"<b>Labels:</b> {esc(', '.join(card.labels))}<br>"
                 f"<b>Positive label:</b> {esc(card.positive_label or '—')}<br>"
                 f"<b>Operating threshold:</b> {esc(pa.number(card.threshold))}</p>")
    parts.append(f"<h3>Intended use</h3><p>{esc(card.intended_use)}</p>")
    if card.intended_population is not None:
        parts.append(f"<p><b>Intended population:</b> {esc(card.intended_population.description)}</p>")
    limitations = "".join(f"<li>{esc(item)}</li>" for item in card.limitations)
    parts.append(f"<h3>Limitations</h3><ul>{limitations}</ul>")
    metrics = card.metrics
    parts.append("<h3>Measured performance: internal test</h3>")
    if metrics:
        parts.append(f"<p>On {esc(card_facts.internal_set(card).description)}.</p>" + _metrics_table(metrics))
    else:
        parts.append("<p>No metrics reported.</p>")
    external = card_facts.external_sets(card)
    for kind, heading in (("external", "External validation"),
                          ("selection", "Selection sets (not independent estimates)")):
        entries = [(measured, entry) for measured, entry in external if measured.kind == kind]
        if entries:
            parts.append(f"<h3>{heading}</h3>"
                         + "".join(_external_entry(measured, entry) for measured, entry in entries))
    site_lines = card_facts.site_calibration_lines(card)
    if site_lines:
        parts.append("<h3>Site calibration</h3><ul>" + "".join(f"<li>{esc(line)}</li>" for line in site_lines)
                     + "</ul>")
        for measured, entry in external:  # the calibration set measured before: under its own heading, once
            if measured.kind == "calibration":
                parts.append(_external_entry(measured, entry, with_hash=False))
    table = pa.threshold_rows(card)
    if table:
        rows = "".join(f"<tr><td>{esc(r.name)}</td><td>{pa.number(r.threshold)}</td>"
                       f"<td>{pa.number(r.sensitivity)}</td><td>{pa.number(r.specificity)}</td></tr>"
                       for r in table)
        parts.append(f"<h3>Threshold table</h3><p>Measured on "
                     f"{esc(card_facts.threshold_table_set(card).description)}.</p>"
                     "<table border='1' cellpadding='3'><tr><th></th><th>Threshold</th>"
                     f"<th>Sensitivity</th><th>Specificity</th></tr>{rows}</table>")
    if card.stability:
        parts.append(_stability_html(card))
    margin = card_facts.call_margin_text(card)
    if margin:
        parts.append(f"<h3>Calls near the threshold</h3><p>{esc(margin)}</p>")
    data = card.training_data
    if data:
        items = "".join(f"<li>{esc(d.name)} — {d.n_images} images; licence "
                        f"{esc(d.licence)}; {esc(d.attribution)}</li>" for d in data)
        parts.append(f"<h3>Training data</h3><ul>{items}</ul>")
    return "".join(parts)


# what a reader is shown of the stability block: the perturbations issue 24 set targets for, in plain words
STABILITY_ROWS = (("noise_1", "noise of 1 grey level"), ("jpeg_90_model", "JPEG quality 90"),
                  ("jpeg_75_model", "JPEG quality 75"), ("resample_lanczos", "another resampling filter"))


def _stability_html(card: ModelCard) -> str:
    esc = html.escape
    number = pa.number
    rows = []
    for entry in card.stability:
        for name, words in STABILITY_ROWS:
            change = entry.changes.get(name)
            if change is not None:
                rows.append((entry.dataset, entry.n, words, change))
        if entry.copies is not None:
            rows.append((entry.dataset, entry.n, "full resolution vs its own resized copy", entry.copies))
    cells = "".join(f"<tr><td>{esc(dataset)} (n = {n})</td><td>{esc(words)}</td><td>{number(c.median_abs_dp)}</td>"
                    f"<td>{number(c.max_abs_dp)}</td><td>{'' if c.calls_flipped is None else c.calls_flipped}</td>"
                    "</tr>" for dataset, n, words, c in rows)
    verdicts = "; ".join(f"{esc(e.dataset)}: {'meets' if e.meets_targets else 'does not meet'} the targets"
                         for e in card.stability if e.meets_targets is not None)
    first = card.stability[0]
    return ("<h3>Stability: how much the probability moves under what no one can see</h3>"
            "<p>Change in the probability of the positive label when the same film is given with the change "
            "named (targets: median at most 0.01, max at most 0.05, no call flipped). "
            f"{verdicts}. Measured {esc(first.measured_utc)}.</p>"
            "<table border='1' cellpadding='3'><tr><th>Set</th><th>Change</th><th>Median</th><th>Max</th>"
            f"<th>Calls flipped</th></tr>{cells}</table>")


class ModelCardDialog(QDialog):
    def __init__(self, card: ModelCard, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Model card — {card.title}")
        self.resize(620, 640)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setAccessibleName("Model card")
        self.browser.setHtml(card_html(card))
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
