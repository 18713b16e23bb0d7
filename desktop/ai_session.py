"""The window's AI session: the one owner of what the AI says in this window (as labelme's model manager or
napari's layer models own theirs). Per viewport a frozen `ViewportAi` (status, request id, prediction, heatmap,
the call); one `OperatingPoint` (threshold, show-anyway) for the window; the loaded model (`ModelStatus`, and
which bundle: the user's choice, else the one a DICOM's body part asks for). It emits a signal whenever one of
them changes; the AI panel and the viewports' heatmap layers render them (desktop.ai_display), the exports, the
PDF, SR/SC and the batch read them.

A session does not run anything itself: it asks a runner (desktop.analysis_controller.AnalysisController, or a
fake in tests) for a model or a prediction under a request id and takes back results by that id. A viewport
waits for at most one request; a result whose request is no longer some viewport's is dropped, checked once,
when it arrives. Viewports are opaque keys here (the Viewport widgets in the window).
"""
from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable

from PySide6.QtCore import QObject, Signal

from desktop.ai_state import (ANALYZING, NO_MODEL, OPEN_AN_IMAGE, PRESS_ANALYZE, WAITING_FOR_MODEL, ModelStatus,
                              OperatingPoint, ViewportAi)


class AiSession(QObject):
    viewport_changed = Signal(object, object)  # viewport key, its new ViewportAi
    heatmap_changed = Signal(object, object)  # viewport key, its coloured heatmap (HxWx4 uint8) or None
    operating_point_changed = Signal(object)  # OperatingPoint
    model_changed = Signal(object)  # ModelStatus
    model_state_changed = Signal(str)  # ModelStatus.state, when it changes
    prediction_shown = Signal(object, object)  # viewport key, the Prediction it now shows
    message = Signal(str)  # for the status bar

    def __init__(self, runner, settings, shown_viewports: Callable[[], Iterable[Hashable]] | None = None,
                 parent=None):
        """`runner`: AnalysisController's interface. `settings`: AppSettings or any object with its AI fields
        (auto_run, cam_method, overlay_colormap, threshold_override, show_call_when_ood, device, model_path,
        user_models_dir). `shown_viewports()`: the viewports on screen, which auto-run and re-runs cover
        (default: every viewport the session has seen)."""
        super().__init__(parent)
        self.runner, self.settings = runner, settings
        self._shown = shown_viewports or (lambda: list(self._states))
        self._states: dict[Hashable, ViewportAi] = {}
        self._requests: dict[int, Hashable] = {}  # request id -> the viewport waiting for it
        self._request_ids = itertools.count(1)
        self._operating_point = OperatingPoint(show_anyway=bool(settings.show_call_when_ood))
        self._model = ModelStatus()
        self.loaded_bundle = None  # the inference.bundle_catalog.BundleEntry loading or loaded
        self.model_choice_reason = ""  # why the body part picked the current model ("" when it did not)
        self._installed: list = []
        runner.model_loading.connect(lambda name: self._set_model(ModelStatus("loading", name=name)))
        runner.model_ready.connect(self._on_model_ready)
        runner.model_failed.connect(self._on_model_failed)
        runner.prediction_started.connect(self._on_started)
        runner.prediction_ready.connect(self._on_result)
        runner.prediction_failed.connect(self._on_failed)

    # -- reading ----------------------------------------------------------------------------------------------
    def state(self, viewport: Hashable) -> ViewportAi:
        return self._states.get(viewport, ViewportAi())

    @property
    def operating_point(self) -> OperatingPoint:
        return self._operating_point

    @property
    def model(self) -> ModelStatus:
        return self._model

    @property
    def card(self):
        """The loaded model's ModelCard (None when no model is ready)."""
        return self._model.card

    # -- images -------------------------------------------------------------------------------------------------
    def image_opening(self, viewport: Hashable) -> None:
        """`viewport` starts opening a file: what runs for it belongs to the image it showed until now. (A
        presentation state opened there turns out to leave the image: `resume` asks again.)"""
        if self.state(viewport).pending:
            self._set(viewport, self._drop_request(viewport).without_request(""))

    def image_shown(self, viewport: Hashable, image, *, choose_model: bool = False) -> None:
        """`viewport` shows a new image: its old result is gone; auto-run asks for a new one. `choose_model`: the
        image is in the active viewport, so its DICOM body part may pick the model (choose_model_for)."""
        self._drop_request(viewport)  # asked for while the file loaded: that was the previous image
        if choose_model:
            self.choose_model_for(image)
        self._set(viewport, ViewportAi(image=image, status=PRESS_ANALYZE if self._model.state == "ready" else ""))
        if self.settings.auto_run and self._model.can_run:
            self.run(viewport)

    def image_failed(self, viewport: Hashable, message: str) -> None:
        self._drop_request(viewport)
        self._set(viewport, ViewportAi(status=f"No result: {message}"))

    # -- predictions --------------------------------------------------------------------------------------------
    def run(self, viewport: Hashable) -> bool:
        """Asks for a prediction of the viewport's image (it waits when the model is still loading)."""
        state = self._drop_request(viewport)
        if state.image is None:
            self.message.emit(OPEN_AN_IMAGE)
            return False
        if not self._model.can_run:
            self._set(viewport, state.without_request(NO_MODEL))
            return False
        request_id = next(self._request_ids)
        self._requests[request_id] = viewport
        status = WAITING_FOR_MODEL if self._model.state == "loading" else ANALYZING
        self._set(viewport, state.waiting(request_id, status))
        self.runner.request_prediction(request_id, state.image, self.settings.cam_method,
                                       self.settings.overlay_colormap,
                                       show_anyway=self._operating_point.show_anyway)
        return True

    def resume(self, viewport: Hashable) -> None:
        """The viewport's request was set aside but its image stayed: ask again if it had no result."""
        state = self.state(viewport)
        if state.image is not None and state.prediction is None and not state.pending and self.settings.auto_run \
                and self._model.can_run:
            self.run(viewport)

    def rerun_all(self) -> None:
        """The CAM method changed: every result on screen is made again."""
        for viewport in self._shown():
            if self.state(viewport).prediction is not None:
                self.run(viewport)

    def _drop_request(self, viewport: Hashable) -> ViewportAi:
        """The viewport no longer waits for its request (the runner stops it); returns its state without it, for
        the caller to set."""
        state = self.state(viewport)
        if not state.pending:
            return state
        self._requests.pop(state.request_id, None)
        self.runner.cancel(state.request_id)
        return state.without_request(state.status)

    def _on_started(self, request_id: int) -> None:
        viewport = self._requests.get(request_id)
        if viewport is not None:
            status = WAITING_FOR_MODEL if self._model.state == "loading" else ANALYZING
            self._set(viewport, replace(self.state(viewport), status=status))

    def _on_result(self, request_id: int, prediction, layer=None) -> None:
        viewport = self._requests.pop(request_id, None)
        if viewport is None:
            return  # stale: its viewport moved on to another image (or asked again)
        state = self._states[viewport]
        rgba = layer.rgba if _layer_fits(layer, self.settings.overlay_colormap, state.image) else \
            _colour(prediction, state.image, self.settings.overlay_colormap)
        self._set(viewport, state.with_result(prediction, rgba, self._operating_point.call(prediction)))
        self.prediction_shown.emit(viewport, prediction)

    def _on_failed(self, request_id: int, message: str) -> None:
        viewport = self._requests.pop(request_id, None)
        if viewport is None:
            return
        self._set(viewport, self._states[viewport].without_request(message))
        self.message.emit(message)

    # -- the operating point ------------------------------------------------------------------------------------
    def set_threshold(self, threshold: float) -> None:
        """The user's threshold (ignored for a model without one: multi-class calls the most probable label)."""
        if self._operating_point.threshold is not None:
            self._set_operating_point(replace(self._operating_point, threshold=float(threshold)))

    def reset_threshold(self) -> None:
        """Back to the model card's threshold."""
        if self._model.card is None:
            return
        self._set_operating_point(replace(self._operating_point, threshold=self._model.default_threshold(None)))

    def restore_threshold(self) -> None:
        """The threshold the settings ask for: their override, else the card's."""
        if self._model.card is None:
            return
        threshold = self._model.default_threshold(self.settings.threshold_override)
        self._set_operating_point(replace(self._operating_point, threshold=threshold))

    def set_show_anyway(self, on: bool) -> None:
        """The expert setting: show the call even when the image is unlike the training data (marked so)."""
        self._set_operating_point(replace(self._operating_point, show_anyway=bool(on)))

    def _set_operating_point(self, operating_point: OperatingPoint) -> None:
        if operating_point == self._operating_point:
            return
        self._operating_point = operating_point
        self.operating_point_changed.emit(operating_point)
        for viewport, state in list(self._states.items()):
            if state.prediction is not None:
                call = operating_point.call(state.prediction)
                if call != state.call:
                    self._set(viewport, replace(state, call=call))

    # -- heatmap colours ----------------------------------------------------------------------------------------
    def recolour(self) -> None:
        """The colormap changed (settings.overlay_colormap): every heatmap is coloured again."""
        colormap = self.settings.overlay_colormap
        for viewport, state in list(self._states.items()):
            if state.prediction is not None:
                self._set(viewport, replace(state, heatmap_rgba=_colour(state.prediction, state.image, colormap)))

    # -- the model ----------------------------------------------------------------------------------------------
    def start_model_loading(self, image=None) -> None:
        """Loads the user's model, else the installed one `image`'s body part asks for, else the default."""
        from desktop import paths
        from inference import bundle_catalog

        s = self.settings
        user_dir = Path(s.user_models_dir) if s.user_models_dir else paths.default_user_models_dir()
        entries = bundle_catalog.find_bundles(bundle_catalog.bundled_models_dir(), user_dir)
        if s.model_path and not any(str(e.path) == s.model_path for e in entries):
            chosen = bundle_catalog.bundle_entry(s.model_path)  # a bundle outside both folders (--model DIR)
            entries += [chosen] if chosen is not None else []
        entry = bundle_catalog.choose_bundle(entries, s.model_path,
                                             bundle_catalog.default_bundle_name(bundle_catalog.bundled_models_dir()))
        self._installed = entries
        choice = self._body_part_choice(image)
        if choice is not None:  # an image is already on screen (command line): its body part decides
            entry = choice.entry
            self.message.emit(choice.reason)
        if entry is None:
            self._set_model(ModelStatus("none"))
            return
        self.load_bundle(entry)

    def reload_model(self, image=None) -> None:
        """The model settings changed: every result is dropped; the new model runs the images on screen again
        (a request still waiting runs on the new model)."""
        for viewport, state in list(self._states.items()):
            if state.prediction is not None:
                self._set(viewport, replace(state, prediction=None, heatmap_rgba=None, call=None))
        self.start_model_loading(image)

    def load_bundle(self, entry) -> None:
        self.loaded_bundle = entry
        self.runner.load_model(entry.path, self.settings.device, entry.title, self.settings.cam_method)

    def choose_model_for(self, image) -> None:
        """A DICOM's BodyPartExamined picks the model made for it, unless the user pinned one in settings."""
        if self.loaded_bundle is None:  # no model yet: start_model_loading will look at this image
            return
        choice = self._body_part_choice(image)
        if choice is None:
            return
        if choice.entry.path != self.loaded_bundle.path:
            self.load_bundle(choice.entry)
        self.message.emit(choice.reason)

    def _body_part_choice(self, image):
        if image is None or self.settings.model_path:
            return None
        from inference.bundle_catalog import choose_for_body_part

        body_part = str((getattr(image, "metadata", None) or {}).get("BodyPartExamined") or "")
        choice = choose_for_body_part(self._installed, body_part)
        if choice is not None:
            self.model_choice_reason = choice.reason
        return choice

    def _on_model_ready(self, predictor) -> None:
        card = predictor.bundle.model_card
        self._set_model(ModelStatus("ready", card=card, device=str(predictor.device)))
        self.restore_threshold()
        for viewport in self._shown():
            state = self.state(viewport)
            if state.image is not None and state.prediction is None and not state.pending and self.settings.auto_run:
                self.run(viewport)

    def _on_model_failed(self, message: str) -> None:
        self._set_model(ModelStatus("failed", message=message))
        for viewport, state in list(self._states.items()):
            if state.pending:  # the runner dropped what waited for the model
                self._requests.pop(state.request_id, None)
                self._set(viewport, state.without_request(message))
        self.message.emit(message)

    def _set_model(self, model: ModelStatus) -> None:
        changed = model.state != self._model.state
        self._model = model
        self.model_changed.emit(model)
        if changed:
            self.model_state_changed.emit(model.state)

    def _set(self, viewport: Hashable, state: ViewportAi) -> None:
        old = self._states.get(viewport, ViewportAi())
        self._states[viewport] = state
        if state.heatmap_rgba is not old.heatmap_rgba:
            self.heatmap_changed.emit(viewport, state.heatmap_rgba)
        self.viewport_changed.emit(viewport, state)


def _layer_fits(layer, colormap: str, image) -> bool:
    """A heatmap coloured on the worker thread is used when its colormap is still the one asked for."""
    return layer is not None and image is not None and layer.colormap == colormap \
        and layer.rgba.shape[:2] == image.modality.shape


def _colour(prediction, image, colormap: str) -> Any:
    if prediction.heatmap is None or image is None:
        return None
    from desktop.heatmap_layer import heatmap_rgba

    return heatmap_rgba(prediction.heatmap, colormap)
