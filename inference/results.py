"""What a prediction produces, and the one rule that turns probabilities into a call. No torch, no numpy at import
time: the viewer reads these before torch is loaded, and every caller (CLI, viewer, batch table, PDF, DICOM SR,
audit log) decides the call with `decide_call`, so they cannot disagree.

The call rule:
- binary models (a `positive_label` and a threshold): the positive label when P(positive) >= threshold, else the
  most probable other label; multi-class models (or no threshold): the most probable label;
- when the out-of-distribution guard warns, there is **no call** (`Call.label is None`): the image is unlike the
  training data and the probabilities may mean nothing. An expert may ask to see the call anyway
  (`show_anyway=True`); the call is then given and marked `shown_anyway`;
- a binary call whose log-odds lie within the model's measured moves of the threshold's (the card's `call_margin`:
  how far noise of one grey level or a JPEG re-save moves the answer) stands, and is marked `near_threshold`: the
  same film re-saved could get the other call, so it reads as undecided.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy only for the annotation: importing this module must stay cheap
    import numpy as np

    from inference.errors import XRayViewError

CALL = "call"
NO_CALL = "no_call"
SHOWN_ANYWAY = "shown_anyway"


@dataclass
class OODResult:
    """The out-of-distribution guard's verdict for one image."""

    warning: bool
    reasons: list[str] = field(default_factory=list)
    score: float | None = None
    threshold: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"warning": self.warning, "reasons": list(self.reasons),
                "score": None if self.score is None else round(float(self.score), 4),
                "threshold": None if self.threshold is None else round(float(self.threshold), 4)}


@dataclass(frozen=True)
class Call:
    """The outcome of the call rule for one image.

    `label` is what to show (None: no call); `model_label` is what the probabilities give at the threshold
    whatever the guard says (the label a heatmap explains, and what an expert sees with `shown_anyway`)."""

    label: str | None
    model_label: str
    ood_warning: bool = False
    shown_anyway: bool = False
    near_threshold: bool | None = None  # None: no margin measured for this model, or not a binary call

    @property
    def withheld(self) -> bool:
        return self.label is None

    @property
    def status(self) -> str:
        """"call", "no_call" (the guard warned) or "shown_anyway" (the guard warned; an expert asked for it)."""
        if self.label is None:
            return NO_CALL
        return SHOWN_ANYWAY if self.shown_anyway else CALL


def model_label(probabilities: Mapping[str, float], positive_label: str | None = None,
                threshold: float | None = None) -> str:
    """The label the probabilities give: P(positive) >= threshold for binary models with a threshold (else the
    most probable other label), the most probable label otherwise. Ties go to the first label in order."""
    if not probabilities:
        raise ValueError("no probabilities to decide a call from")
    probs = {str(label): float(p) for label, p in probabilities.items()}
    if positive_label is not None and threshold is not None and positive_label in probs:
        if probs[positive_label] >= threshold:
            return positive_label
        others = {label: p for label, p in probs.items() if label != positive_label}
        return max(others, key=others.__getitem__) if others else positive_label
    return max(probs, key=probs.__getitem__)


def near_threshold(probabilities: Mapping[str, float], positive_label: str | None, threshold: float | None,
                   margin: float | None) -> bool | None:
    """Whether P(positive)'s log-odds lie within `margin` of the threshold's (None: no margin, no threshold or not
    a binary model). A threshold of 0 or 1 has no film near it."""
    if margin is None or positive_label is None or threshold is None or positive_label not in probabilities:
        return None
    if not 0.0 < threshold < 1.0:
        return False
    p = min(max(float(probabilities[positive_label]), 1e-7), 1.0 - 1e-7)
    distance = (math.log(p) - math.log1p(-p)) - (math.log(threshold) - math.log1p(-threshold))
    return abs(distance) < float(margin)


NEAR_THRESHOLD_MARK = "near the threshold"


def near_threshold_cell(near: bool | None) -> str:
    """A call's near-threshold mark as the CSV outputs write it (xrayview-predict, the audit export): "yes", "no",
    or "" when the model has no call margin."""
    return {True: "yes", False: "no"}.get(near, "")


def near_threshold_band(threshold: float, margin: float) -> tuple[float, float]:
    """The probabilities whose log-odds lie within `margin` of `threshold`'s (0 < threshold < 1)."""
    edge = math.log(threshold) - math.log1p(-threshold)
    return 1.0 / (1.0 + math.exp(-(edge - margin))), 1.0 / (1.0 + math.exp(-(edge + margin)))


def near_threshold_explanation(positive_label: str, threshold: float, margin: float) -> str:
    """What a call marked near the threshold means, in the words every output uses."""
    low, high = near_threshold_band(threshold, margin)
    return (f"Near the threshold: P({positive_label}) lies between {low:.2f} and {high:.2f}, within what noise of one "
            f"grey level or re-saving the file as JPEG moves this model's answer, so the same film re-saved could get "
            f"the other call. Read it as undecided.")


def decide_call(probabilities: Mapping[str, float], positive_label: str | None = None,
                threshold: float | None = None, ood: OODResult | None = None, *,
                show_anyway: bool = False, margin: float | None = None) -> Call:
    """The call for one image (see the module docstring). `show_anyway`: an expert override that gives the call
    even when the guard warns; the result says so (`Call.shown_anyway`). `margin`: the card's call margin in
    log-odds at the probabilities' temperature (`ModelCard.call_margin`), which marks a call near the threshold."""
    label = model_label(probabilities, positive_label, threshold)
    near = near_threshold(probabilities, positive_label, threshold, margin)
    warned = bool(ood is not None and ood.warning)
    if not warned:
        return Call(label=label, model_label=label, near_threshold=near)
    if show_anyway:
        return Call(label=label, model_label=label, ood_warning=True, shown_anyway=True, near_threshold=near)
    return Call(label=None, model_label=label, ood_warning=True, near_threshold=near)


@dataclass
class Prediction:
    """One image's result. `label` is the model's label at `threshold` (the rule without the guard); what to show
    is `call()`, which withholds it when `ood.warning` is set."""

    probabilities: dict[str, float]
    label: str
    threshold: float | None
    positive_label: str | None
    heatmap: np.ndarray | None  # float32 [0, 1] at the original image size, or None
    cam_method: str | None
    cam_label: str | None  # the label the heatmap explains (the model's label)
    timings_ms: dict[str, float | None]
    device: str
    model: dict[str, str]  # name, version, sha256 (weights), manifest_sha256 (card + weights + guard)
    notices: list[str] = field(default_factory=list)
    ood: OODResult | None = None  # the out-of-distribution guard's verdict (None: the guard was not run)
    # the card's call margin in log-odds at this model's temperature (None: not measured for this model)
    call_margin: float | None = None

    def call(self, threshold: float | None = None, *, show_anyway: bool = False) -> Call:
        """The call rule on this prediction, at `threshold` (default: the one it was made with)."""
        return decide_call(self.probabilities, self.positive_label,
                           self.threshold if threshold is None else threshold, self.ood, show_anyway=show_anyway,
                           margin=self.call_margin)

    @property
    def total_time_ms(self) -> float:
        return float(sum(float(v) for v in self.timings_ms.values() if v is not None))

    def to_json(self, *, show_anyway: bool = False) -> dict[str, Any]:
        """The CLI's JSON object for this prediction (without "path"). "label" is the call: null when the OOD guard
        warns (unless `show_anyway`); "call_status" says which ("call", "no_call", "shown_anyway")."""
        call = self.call(show_anyway=show_anyway)
        out: dict[str, Any] = {
            "label": call.label,
            "call_status": call.status,
            "near_threshold": call.near_threshold,
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "threshold": self.threshold,
            "model": dict(self.model),
            "device": self.device,
            "timings_ms": {k: (round(v, 2) if v is not None else None) for k, v in self.timings_ms.items()},
        }
        if self.cam_method:  # the heatmap explains the model's label: naming it would give the withheld call away
            out["cam"] = {"method": self.cam_method, "label": None if call.withheld else self.cam_label}
        if self.notices:
            out["notices"] = list(self.notices)
        if self.ood is not None:
            out["ood"] = self.ood.to_json()
        return out


@dataclass
class PathResult:
    """One file of a folder run: a prediction or the error that stopped this file (never both)."""

    path: Path
    prediction: Prediction | None = None
    error: XRayViewError | Exception | None = None
    image: Any = None  # the loaded XRayImage when keep_images=True

    @property
    def ok(self) -> bool:
        return self.prediction is not None

    def error_json(self) -> dict[str, str]:
        assert self.error is not None
        return {"type": type(self.error).__name__, "message": str(self.error)}
