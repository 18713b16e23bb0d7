"""What the viewer shows from a `inference.results.Prediction` and the loaded model's card, in one place (no Qt).
The call rule itself lives in `inference.results`."""
from __future__ import annotations

from typing import Any

from inference.results import Call, Prediction

NO_CALL_TEXT = "No call"
NO_CALL_EXPLANATION = ("No call: the image is unlike the model's training data, so its probabilities may mean "
                       "nothing.")
NOT_APPLICABLE_EXPLANATION = "Not applicable: the image is unlike the model's training data."
SHOWN_ANYWAY_MARK = "shown anyway"
SHOWN_ANYWAY_EXPLANATION = ("Shown anyway (expert setting): the image is unlike the model's training data, so this "
                            "call may mean nothing.")


def card_of(predictor) -> dict[str, Any]:
    """The loaded Predictor's model card ({} when no model is loaded)."""
    return dict(predictor.bundle.card) if predictor is not None else {}


def model_title(card: dict[str, Any]) -> str:
    title = f"{card.get('name', 'model')} {card.get('version', '')}".strip()
    return title + (" (experimental)" if card.get("experimental") else "")


THRESHOLD_DIGITS = 3  # thresholds, sensitivities and specificities print with 3 decimals everywhere


def number(value: Any, digits: int = THRESHOLD_DIGITS) -> str:
    """A card number as the viewer prints it (0.5001662373542786 -> "0.500"); "—" when missing."""
    if value is None or isinstance(value, bool):
        return "—"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def threshold_rows(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's threshold table as printed: one row per printed threshold. When two rows print alike (an
    operating point at 0.5002 beside the standard 0.5 row), the named row (the operating point) is kept."""
    table = [row for row in card.get("threshold_table") or [] if "threshold" in row]
    kept: dict[str, dict[str, Any]] = {}
    for row in table:
        key = number(row["threshold"])
        if key not in kept or (row.get("name") and not kept[key].get("name")):
            kept[key] = row
    return list(kept.values())


def nearby_thresholds(card: dict[str, Any], threshold: float, count: int = 3) -> list[dict[str, float]]:
    """The card's threshold-table rows closest to `threshold`, sorted by threshold (no threshold printed twice)."""
    table = threshold_rows(card)
    closest = sorted(table, key=lambda row: abs(float(row["threshold"]) - threshold))[:count]
    return sorted(closest, key=lambda row: float(row["threshold"]))


def headline_metrics(card: dict[str, Any], limit: int = 6) -> list[str]:
    lines = []
    for metric in (card.get("metrics") or [])[:limit]:
        text = f"{metric.get('name')}: {float(metric.get('value', 0)):.3f}"
        if metric.get("ci95"):
            low, high = metric["ci95"]
            text += f" (95% CI {float(low):.3f}-{float(high):.3f})"
        text += f" on {metric.get('dataset')} {metric.get('split')}, n={metric.get('n')}"
        lines.append(text)
    return lines


def ood_warning_text(prediction: Prediction) -> str:
    """The out-of-distribution warning for the AI panel, the PDF report and the batch table ("" when none)."""
    ood = prediction.ood
    if ood is None or not ood.warning:
        return ""
    reasons = "; ".join(ood.reasons) or "unusual image"
    return f"Image unlike the model's training data: {reasons}. The result may be meaningless."


def call_text(call: Call) -> str:
    """How a call is written everywhere in the viewer (panel, PDF, batch table and CSV): the label, "No call"
    when the OOD guard withheld it, or the label marked "(shown anyway)" under the expert setting."""
    if call.withheld:
        return NO_CALL_TEXT
    return f"{call.label} ({SHOWN_ANYWAY_MARK})" if call.shown_anyway else str(call.label)
