"""Which data each number of a model card was measured on, written the same way by the AI panel, the PDF report
and the model card dialog (no Qt). A card holds three kinds of numbers:

- internal: `metrics` and, unless the bundle was site-calibrated, `threshold_table`, measured on the test split
  carved from the training folder (patient-grouped hold-out);
- external: `external_validation`, one entry per labelled set from elsewhere, measured at that entry's threshold
  and temperature (training/external.py). Only an entry nothing was fitted or chosen on is independent
  validation: one with `selected_on` is a selection set (the recipe or the threshold rule was chosen by looking
  at it), and one whose films are the site calibration set (same set sha256) is the calibration set;
- site: `site_calibration`, the operating point fitted on a site's own films (training/site_calibration.py); its
  `threshold_table` is then measured on that site set, in-sample, and the cross-validated rates say what to
  expect on new films like them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desktop.prediction_adapter import nearby_thresholds, number
from inference.model_card import ExternalValidation, Metric, ModelCard, Rate

RATE_NAMES = ("sensitivity", "specificity", "accuracy")


@dataclass(frozen=True)
class MeasuredSet:
    """One set a card's numbers come from."""

    kind: str  # "internal" | "external" | "selection" | "calibration" (an external entry) | "site"
    title: str  # short, for a table cell: "internal test", "external: external-a", "site (in-sample)"
    description: str  # the sentence that says which films


@dataclass(frozen=True)
class TableRow:
    """A row of the AI panel's threshold table: the rates at one threshold and the set they were measured on."""

    threshold: float
    sensitivity: float | None
    specificity: float | None
    measured: MeasuredSet
    sensitivity_ci95: tuple[float, float] | None = None
    specificity_ci95: tuple[float, float] | None = None


def internal_set(card: ModelCard) -> MeasuredSet:
    metrics = card.metrics
    if not metrics:
        return MeasuredSet("internal", "internal test", "the model's own test split (the card gives no details)")
    metric = metrics[0]
    text = f"{metric.split or 'test split'} of {metric.dataset or 'the training data'}"
    return MeasuredSet("internal", "internal test", text + (f", n={metric.n}" if metric.n else ""))


def site_set(card: ModelCard) -> MeasuredSet | None:
    site = card.site_calibration
    if site is None:
        return None
    return MeasuredSet("site", "site (in-sample)",
                       f"site calibration set {site.dataset}, n={site.n}, measured {_date(site.measured_utc)} "
                       "(in-sample: the films the operating point was fitted on)")


def site_badge(card: ModelCard) -> str:
    """"Site-calibrated on NAME (n=60, 2026-12-01)", or "" for a bundle that was not site-calibrated."""
    site = card.site_calibration
    if site is None:
        return ""
    return f"Site-calibrated on {site.dataset} (n={site.n}, {_date(site.measured_utc)})"


def external_sets(card: ModelCard) -> list[tuple[MeasuredSet, ExternalValidation]]:
    """Each `external_validation` entry and what it is: independent validation ("external"), a selection set
    ("selection": something was chosen by looking at it) or the site calibration set ("calibration": the
    operating point was fitted on these very films, same set sha256). Only the first is called independent."""
    site = card.site_calibration
    sets = []
    for entry in card.external_validation:
        when = f"n={entry.n}, measured {_date(entry.measured_utc)}"
        if site is not None and entry.set_sha256 and entry.set_sha256 == site.set_sha256:
            measured = MeasuredSet("calibration", f"calibration set: {entry.dataset}",
                                   f"{entry.dataset}, the site calibration set ({when}, at the operating point "
                                   f"before calibration: threshold {number(entry.threshold)}; the new operating "
                                   "point was fitted on these films, so they are not an independent estimate)")
        elif entry.selected_on:
            measured = MeasuredSet("selection", f"selection set: {entry.dataset}",
                                   f"selection set {entry.dataset}, {when} (not an independent estimate: "
                                   f"{entry.selected_on} chosen by looking at it)")
        else:
            measured = MeasuredSet("external", f"external: {entry.dataset}",
                                   f"external set {entry.dataset}, {when} (not used for training, threshold or "
                                   "calibration)")
        sets.append((measured, entry))
    return sets


def threshold_table_set(card: ModelCard) -> MeasuredSet:
    """Where the card's threshold table was measured: the site set for a site-calibrated bundle, else the
    internal test split."""
    return site_set(card) or internal_set(card)


def _date(utc: Any) -> str:
    return str(utc or "")[:10] or "on an unknown date"


def _ci(ci95: tuple[float, float] | None) -> str:
    return f"95% CI {number(ci95[0])}-{number(ci95[1])}" if ci95 else ""


def metric_text(metric: Metric) -> str:
    """"sensitivity 0.982 (95% CI 0.963-0.991)" with the threshold when it has one."""
    text = f"{metric.name} {number(metric.value)}"
    if metric.ci95:
        text += f" ({_ci(metric.ci95)})"
    if metric.threshold is not None:
        text += f" at {number(metric.threshold)}"
    return text


def rate_text(name: str, rate: Rate | None) -> str:
    """A site-calibration rate: "sensitivity 0.960 (95% CI 0.90-0.98; 48/50)"."""
    if rate is None:
        return f"{name} —"
    text = f"{name} {number(rate.value)}"
    if rate.ci95:
        text += f" ({_ci(rate.ci95)}"
        text += f"; {rate.k}/{rate.n})" if rate.n is not None else ")"
    return text


def table_rows(card: ModelCard, threshold: float) -> list[TableRow]:
    """The AI panel's threshold table: the card's rows nearest `threshold` (on the set the table was measured
    on), then one row per external set (its threshold, sensitivity, specificity, the CIs)."""
    measured = threshold_table_set(card)
    rows = [TableRow(row.threshold, row.sensitivity, row.specificity, measured)
            for row in nearby_thresholds(card, threshold)]
    for external, entry in external_sets(card):
        if external.kind == "calibration":  # measured at the operating point the calibration replaced
            continue
        sensitivity, specificity = entry.metric("sensitivity"), entry.metric("specificity")
        if sensitivity is None or specificity is None or entry.threshold is None:
            continue
        rows.append(TableRow(entry.threshold, sensitivity.value, specificity.value, external,
                             sensitivity.ci95, specificity.ci95))
    return rows


EXTERNAL_LINE_HEADS = {"external": "External validation on", "selection": "Measured on",
                       "calibration": "Measured on"}


def external_lines(card: ModelCard) -> list[str]:
    """One line per external entry: what the set is (independent validation, selection set, calibration set),
    then its numbers with CIs (and the threshold they were taken at)."""
    lines = []
    for measured, entry in external_sets(card):
        numbers = "; ".join(metric_text(m) for m in entry.metrics if m.name != "ece")
        lines.append(f"{EXTERNAL_LINE_HEADS[measured.kind]} {measured.description}: {numbers}.")
    return lines


def internal_lines(card: ModelCard, limit: int = 6) -> list[str]:
    metrics = card.metrics[:limit]
    if not metrics:
        return []
    numbers = "; ".join(metric_text(m) for m in metrics)
    return [f"Internal test ({internal_set(card).description}): {numbers}."]


def site_calibration_lines(card: ModelCard) -> list[str]:
    """What the viewer says about a site-calibrated operating point: which set, n, date, the in-sample and
    cross-validated rates with CIs, what it replaced, and the small-set warnings."""
    site = card.site_calibration
    if site is None:
        return []
    counts = ", ".join(f"{n} {label}" for label, n in site.counts.items())
    lines = [f"Site-calibrated operating point: threshold {number(site.threshold)}, temperature "
             f"{number(site.temperature)}, fitted for sensitivity {number(site.target_sensitivity, 2)}"
             f" on {site.dataset} (n={site.n}: {counts}; {_date(site.measured_utc)}; set "
             f"sha256 {site.set_sha256[:12]}…)."]
    for rates, title in ((site.in_sample, "In-sample (the fitting films)"),
                         (site.cross_validated, "Cross-validated (what to expect on new films like them)")):
        folds = f", {rates.folds} folds" if rates.folds else ""
        lines.append(f"{title}{folds}: " + "; ".join(rate_text(name, rates.rate(name)) for name in RATE_NAMES) + ".")
    if site.previous is not None:
        lines.append(f"Replaces version {site.previous.version} (threshold {number(site.previous.threshold)}, "
                     f"temperature {number(site.previous.temperature)}); the weights are unchanged.")
    lines += [f"Warning: {warning}" for warning in site.warnings]
    return lines


def operating_point_text(card: ModelCard, threshold: float | None) -> str:
    """The operating point and the set its table was measured on, for the panel's note and the PDF."""
    measured = threshold_table_set(card)
    text = f"Sensitivity/specificity measured on {measured.description}."
    if measured.kind == "site":
        text = "Site-calibrated operating point. " + text
    if card.threshold is not None and threshold is not None and abs(float(threshold) - card.threshold) > 1e-9:
        text += f" Card's operating threshold: {number(card.threshold)}."
    return text


def call_margin_text(card: ModelCard) -> str:
    """What the card's call margin is and where it was measured ("" when the card has none)."""
    margin = card.call_margin
    if margin is None or card.threshold is None or card.positive_label is None or not 0 < card.threshold < 1:
        return ""
    low, high = margin.band(card.threshold, card.temperature)
    return (f"A call whose P({card.positive_label}) lies between {low:.2f} and {high:.2f} is marked \"near the "
            f"threshold\": the model's answer moves by up to {margin.half_width(card.temperature):.2f} in log-odds "
            f"under noise of one grey level or a JPEG re-save on {margin.quantile:.0%} of the films of "
            f"{margin.measured_on} (n = {margin.n}; measured {_date(margin.measured_utc)}), so such a call could turn "
            f"with the file's noise or compression. Read it as undecided.")
