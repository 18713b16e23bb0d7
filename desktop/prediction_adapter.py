"""What the viewer shows from a `inference.results.Prediction` and the loaded model's card, in one place (no Qt).
The call rule itself lives in `inference.results`."""
from __future__ import annotations

from typing import Any

from inference.model_card import ModelCard, ThresholdRow
from inference.results import NEAR_THRESHOLD_MARK, Call, Prediction, near_threshold_explanation

NO_CALL_TEXT = "No call"
NO_CALL_EXPLANATION = ("No call: the image is unlike the model's training data, so its probabilities may mean "
                       "nothing.")
NOT_APPLICABLE_EXPLANATION = "Not applicable: the image is unlike the model's training data."
SHOWN_ANYWAY_MARK = "shown anyway"
SHOWN_ANYWAY_EXPLANATION = ("Shown anyway (expert setting): the image is unlike the model's training data, so this "
                            "call may mean nothing.")


def card_of(predictor) -> ModelCard | None:
    """The loaded Predictor's model card (None when no model is loaded)."""
    return predictor.bundle.model_card if predictor is not None else None


THRESHOLD_DIGITS = 3  # thresholds, sensitivities and specificities print with 3 decimals everywhere


def number(value: Any, digits: int = THRESHOLD_DIGITS) -> str:
    """A card number as the viewer prints it (0.5001662373542786 -> "0.500"); "—" when missing."""
    if value is None or isinstance(value, bool):
        return "—"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def threshold_rows(card: ModelCard) -> list[ThresholdRow]:
    """The card's threshold table as printed: one row per printed threshold. When two rows print alike (an
    operating point at 0.5002 beside the standard 0.5 row), the named row (the operating point) is kept."""
    kept: dict[str, ThresholdRow] = {}
    for row in card.threshold_table:
        key = number(row.threshold)
        if key not in kept or (row.name and not kept[key].name):
            kept[key] = row
    return list(kept.values())


def nearby_thresholds(card: ModelCard, threshold: float, count: int = 3) -> list[ThresholdRow]:
    """The card's threshold-table rows closest to `threshold`, sorted by threshold (no threshold printed twice)."""
    closest = sorted(threshold_rows(card), key=lambda row: abs(row.threshold - threshold))[:count]
    return sorted(closest, key=lambda row: row.threshold)


def ood_warning_text(prediction: Prediction) -> str:
    """The out-of-distribution warning for the AI panel, the PDF report and the batch table ("" when none)."""
    ood = prediction.ood
    if ood is None or not ood.warning:
        return ""
    reasons = "; ".join(ood.reasons) or "unusual image"
    return f"Image unlike the model's training data: {reasons}. The result may be meaningless."


def call_text(call: Call) -> str:
    """How a call is written everywhere in the viewer (panel, PDF, batch table and CSV): the label, "No call"
    when the OOD guard withheld it, the label marked "(shown anyway)" under the expert setting and "(near the
    threshold)" when its probability lies within the model's measured moves of the threshold."""
    if call.withheld:
        return NO_CALL_TEXT
    marks = [mark for mark, on in ((SHOWN_ANYWAY_MARK, call.shown_anyway), (NEAR_THRESHOLD_MARK, call.near_threshold))
             if on]
    return f"{call.label} ({'; '.join(marks)})" if marks else str(call.label)


def near_threshold_text(prediction: Prediction, call: Call, threshold: float | None) -> str:
    """Why a call is marked near the threshold ("" when it is not, or was withheld)."""
    if call.withheld or not call.near_threshold or threshold is None or prediction.call_margin is None:
        return ""
    return near_threshold_explanation(str(prediction.positive_label), threshold, prediction.call_margin)
