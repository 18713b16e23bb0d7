"""What the viewer shows from a `inference.results.Prediction` and the loaded model's card, in one place (no Qt).
The call rule itself lives in `inference.results`."""
from __future__ import annotations

from typing import Any

from inference.results import Prediction


def card_of(predictor) -> dict[str, Any]:
    """The loaded Predictor's model card ({} when no model is loaded)."""
    return dict(predictor.bundle.card) if predictor is not None else {}


def model_title(card: dict[str, Any]) -> str:
    title = f"{card.get('name', 'model')} {card.get('version', '')}".strip()
    return title + (" (experimental)" if card.get("experimental") else "")


def nearby_thresholds(card: dict[str, Any], threshold: float, count: int = 3) -> list[dict[str, float]]:
    """The card's threshold-table rows closest to `threshold`, sorted by threshold."""
    table = [row for row in card.get("threshold_table") or [] if "threshold" in row]
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
