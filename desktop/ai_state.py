"""The AI state the viewer shows, as frozen values (no Qt): one `ViewportAi` per viewport, the window's one
`OperatingPoint` (threshold and the expert show-anyway setting), and the loaded model's `ModelStatus`.
desktop.ai_session.AiSession owns and replaces them; everything else (AI panel, heatmap layers, PDF, SR/SC,
batch table) reads them.

`OperatingPoint.call` is where the desktop applies the call rule (inference.results): nothing else in the
viewer decides a call."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from inference.model_card import ModelCard
from inference.results import Call, Prediction

PRESS_ANALYZE = "Press Analyze (Ctrl+R) to run the model on this image."
WAITING_FOR_MODEL = "Waiting for the model to load…"
ANALYZING = "Analyzing…"
NO_MODEL = "No AI model is installed or loaded."
OPEN_AN_IMAGE = "Open an image first."


@dataclass(frozen=True)
class OperatingPoint:
    """How probabilities become a call in this window: `threshold` on P(positive) (None: the most probable
    label, for multi-class models or before a model is loaded) and `show_anyway`, the expert setting that shows
    the call even when the out-of-distribution guard warns (marked "shown anyway")."""

    threshold: float | None = None
    show_anyway: bool = False

    def call(self, prediction: Prediction) -> Call:
        return prediction.call(self.threshold, show_anyway=self.show_anyway)


@dataclass(frozen=True)
class ViewportAi:
    """One viewport's AI state. `image` is the image it belongs to (None: nothing to analyse); `request_id` the
    prediction it waits for (0: none); `status` what the panel says while there is no result; `call` is
    `prediction`'s call at the window's operating point; `heatmap_rgba` the coloured heatmap (HxWx4 uint8)."""

    image: Any = None
    status: str = ""
    request_id: int = 0
    prediction: Prediction | None = None
    heatmap_rgba: Any = None
    call: Call | None = None

    @property
    def pending(self) -> bool:
        return self.request_id != 0

    def waiting(self, request_id: int, status: str) -> ViewportAi:
        """A new request for this image: the previous result is gone."""
        return replace(self, request_id=request_id, status=status, prediction=None, heatmap_rgba=None, call=None)

    def with_result(self, prediction: Prediction, heatmap_rgba, call: Call) -> ViewportAi:
        return replace(self, request_id=0, status="", prediction=prediction, heatmap_rgba=heatmap_rgba, call=call)

    def without_request(self, status: str) -> ViewportAi:
        return replace(self, request_id=0, status=status)


@dataclass(frozen=True)
class ModelStatus:
    """The window's model: `state` is "starting" | "none" | "loading" | "ready" | "failed"; `name` what is
    loading, `message` why it failed; `card`/`device` once ready."""

    state: str = "starting"
    name: str = ""
    message: str = ""
    card: ModelCard | None = None
    device: str = ""

    @property
    def can_run(self) -> bool:
        """A prediction asked for now runs (ready) or waits for the model (loading)."""
        return self.state in ("loading", "ready")

    def default_threshold(self, override: float | None) -> float | None:
        """The operating threshold a loaded model starts at: the settings' override, else the card's; None for
        a model without a positive label and threshold (multi-class: the most probable label)."""
        card = self.card
        if card is None or card.positive_label is None or card.threshold is None:
            return None
        return float(override) if override is not None else card.threshold
