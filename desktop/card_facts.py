"""Which data each number of a model card was measured on, written the same way by the AI panel, the PDF report
and the model card dialog (no Qt). A card holds three kinds of numbers:

- internal: `metrics` and, unless the bundle was site-calibrated, `threshold_table`, measured on the test split
  carved from the training folder (patient-grouped hold-out);
- external: `external_validation`, one entry per labelled set from elsewhere, measured at that entry's threshold
  and temperature (training/external.py);
- site: `site_calibration`, the operating point fitted on a site's own films (training/site_calibration.py); its
  `threshold_table` is then measured on that site set, in-sample, and the cross-validated rates say what to
  expect on new films like them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desktop.prediction_adapter import number

RATE_NAMES = ("sensitivity", "specificity", "accuracy")


@dataclass(frozen=True)
class MeasuredSet:
    """One set a card's numbers come from."""

    kind: str  # "internal" | "external" | "site"
    title: str  # short, for a table cell: "internal test", "external: external-a", "site (in-sample)"
    description: str  # the sentence that says which films


def _first_metric(card: dict[str, Any]) -> dict[str, Any]:
    metrics = card.get("metrics") or []
    return metrics[0] if metrics else {}


def internal_set(card: dict[str, Any]) -> MeasuredSet:
    metric = _first_metric(card)
    if not metric:
        return MeasuredSet("internal", "internal test", "the model's own test split (the card gives no details)")
    n = metric.get("n")
    text = f"{metric.get('split', 'test split')} of {metric.get('dataset', 'the training data')}"
    return MeasuredSet("internal", "internal test", text + (f", n={n}" if n else ""))


def site_set(card: dict[str, Any]) -> MeasuredSet | None:
    block = card.get("site_calibration")
    if not block:
        return None
    return MeasuredSet("site", "site (in-sample)",
                       f"site calibration set {block.get('dataset', '')}, n={block.get('n')}, measured "
                       f"{_date(block.get('measured_utc'))} (in-sample: the films the operating point was fitted on)")


def site_badge(card: dict[str, Any]) -> str:
    """"Site-calibrated on NAME (n=60, 2026-12-01)", or "" for a bundle that was not site-calibrated."""
    block = card.get("site_calibration")
    if not block:
        return ""
    return f"Site-calibrated on {block.get('dataset')} (n={block.get('n')}, {_date(block.get('measured_utc'))})"


def external_sets(card: dict[str, Any]) -> list[tuple[MeasuredSet, dict[str, Any]]]:
    out = []
    for entry in card.get("external_validation") or []:
        name = str(entry.get("dataset", "external set"))
        out.append((MeasuredSet("external", f"external: {name}",
                                f"external set {name}, n={entry.get('n')}, measured {_date(entry.get('measured_utc'))}"
                                " (not used for training, threshold or calibration)"), entry))
    return out


def threshold_table_set(card: dict[str, Any]) -> MeasuredSet:
    """Where the card's threshold table was measured: the site set for a site-calibrated bundle, else the
    internal test split."""
    return site_set(card) or internal_set(card)


def _date(utc: Any) -> str:
    return str(utc or "")[:10] or "on an unknown date"


def metric_text(metric: dict[str, Any]) -> str:
    """"sensitivity 0.982 (95% CI 0.963-0.991)" with the threshold when it has one."""
    text = f"{metric.get('name')} {number(metric.get('value'))}"
    if metric.get("ci95"):
        low, high = metric["ci95"]
        text += f" (95% CI {number(low)}-{number(high)})"
    if metric.get("threshold") is not None:
        text += f" at {number(metric['threshold'])}"
    return text


def rate_text(name: str, rate: dict[str, Any] | None) -> str:
    """A site-calibration rate: "sensitivity 0.960 (95% CI 0.90-0.98; 48/50)"."""
    if not rate:
        return f"{name} —"
    text = f"{name} {number(rate.get('value'))}"
    if rate.get("ci95"):
        low, high = rate["ci95"]
        text += f" (95% CI {number(low)}-{number(high)}"
        text += f"; {rate.get('k')}/{rate.get('n')})" if rate.get("n") is not None else ")"
    return text


def external_rows(card: dict[str, Any]) -> list[dict[str, Any]]:
    """One threshold-table row per external set (its threshold, sensitivity, specificity, the CIs), for the
    AI panel's table beside the internal rows."""
    rows = []
    for measured, entry in external_sets(card):
        by_name = {m.get("name"): m for m in entry.get("metrics") or []}
        if "sensitivity" not in by_name or "specificity" not in by_name or entry.get("threshold") is None:
            continue
        rows.append({"threshold": float(entry["threshold"]), "sensitivity": by_name["sensitivity"]["value"],
                     "specificity": by_name["specificity"]["value"], "set": measured,
                     "sensitivity_ci95": by_name["sensitivity"].get("ci95"),
                     "specificity_ci95": by_name["specificity"].get("ci95")})
    return rows


def external_lines(card: dict[str, Any]) -> list[str]:
    """One line per external set: the set, then its numbers with CIs (and the threshold they were taken at)."""
    lines = []
    for measured, entry in external_sets(card):
        numbers = "; ".join(metric_text(m) for m in entry.get("metrics") or [] if m.get("name") != "ece")
        lines.append(f"External validation on {measured.description}: {numbers}.")
    return lines


def internal_lines(card: dict[str, Any], limit: int = 6) -> list[str]:
    metrics = [m for m in (card.get("metrics") or [])[:limit]]
    if not metrics:
        return []
    numbers = "; ".join(metric_text(m) for m in metrics)
    return [f"Internal test ({internal_set(card).description}): {numbers}."]


def site_calibration_lines(card: dict[str, Any]) -> list[str]:
    """What the viewer says about a site-calibrated operating point: which set, n, date, the in-sample and
    cross-validated rates with CIs, what it replaced, and the small-set warnings."""
    block = card.get("site_calibration")
    if not block:
        return []
    counts = ", ".join(f"{n} {label}" for label, n in (block.get("counts") or {}).items())
    lines = [f"Site-calibrated operating point: threshold {number(block.get('threshold'))}, temperature "
             f"{number(block.get('temperature'))}, fitted for sensitivity {number(block.get('target_sensitivity'), 2)}"
             f" on {block.get('dataset')} (n={block.get('n')}: {counts}; {_date(block.get('measured_utc'))}; set "
             f"sha256 {str(block.get('set_sha256', ''))[:12]}…)."]
    for key, title in (("in_sample", "In-sample (the fitting films)"),
                       ("cross_validated", "Cross-validated (what to expect on new films like them)")):
        rates = block.get(key) or {}
        folds = f", {rates['folds']} folds" if rates.get("folds") else ""
        lines.append(f"{title}{folds}: " + "; ".join(rate_text(name, rates.get(name)) for name in RATE_NAMES) + ".")
    previous = block.get("previous") or {}
    if previous:
        lines.append(f"Replaces version {previous.get('version')} (threshold {number(previous.get('threshold'))}, "
                     f"temperature {number(previous.get('temperature'))}); the weights are unchanged.")
    lines += [f"Warning: {warning}" for warning in block.get("warnings") or []]
    return lines


def operating_point_text(card: dict[str, Any], threshold: float | None) -> str:
    """The operating point and the set its table was measured on, for the panel's note and the PDF."""
    measured = threshold_table_set(card)
    card_threshold = card.get("threshold")
    text = f"Sensitivity/specificity measured on {measured.description}."
    if measured.kind == "site":
        text = "Site-calibrated operating point. " + text
    if card_threshold is not None and threshold is not None and abs(float(threshold) - float(card_threshold)) > 1e-9:
        text += f" Card's operating threshold: {number(card_threshold)}."
    return text
