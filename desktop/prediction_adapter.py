"""What the viewer reads from `inference.predictor.Prediction` and the bundle's model card, in one place (no Qt)."""
from __future__ import annotations

from typing import Any


def probabilities(prediction) -> dict[str, float]:
    probs = prediction.probabilities
    if isinstance(probs, dict):
        return {str(k): float(v) for k, v in probs.items()}
    labels = list(getattr(prediction, "labels", []) or [])
    return {label: float(p) for label, p in zip(labels, list(probs))}


def positive_label(prediction) -> str | None:
    return getattr(prediction, "positive_label", None)


def call_at(probs: dict[str, float], positive: str | None, threshold: float | None) -> str:
    """The label the model calls: P(positive) >= threshold for binary models with a threshold, else argmax."""
    if positive is not None and threshold is not None and positive in probs:
        if probs[positive] >= threshold:
            return positive
        others = {label: p for label, p in probs.items() if label != positive}
        return max(others, key=others.get) if others else positive
    return max(probs, key=probs.get)


def total_time_ms(prediction) -> float:
    timings = getattr(prediction, "timings_ms", None) or {}
    return float(sum(float(v) for v in timings.values() if v is not None))


def heatmap(prediction):
    return getattr(prediction, "heatmap", None)


def card_of(predictor) -> dict[str, Any]:
    bundle = getattr(predictor, "bundle", None)
    card = getattr(bundle, "card", None)
    return dict(card) if isinstance(card, dict) else {}


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


def ood_warning_text(prediction) -> str:
    """The out-of-distribution warning for the AI panel, the PDF report and the batch table ("" when none)."""
    ood = getattr(prediction, "ood", None)
    if ood is None or not getattr(ood, "warning", False):
        return ""
    reasons = "; ".join(getattr(ood, "reasons", []) or []) or "unusual image"
    return f"Image unlike the model's training data: {reasons}. The result may be meaningless."
