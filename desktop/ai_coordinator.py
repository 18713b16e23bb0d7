"""The AI side of the window: which model is loaded (the user's choice, else the one a DICOM's body part asks
for), a prediction per viewport (each keeps its own result; auto-run runs it as an image opens), the heatmap
overlay of each viewport, and the AI panel, which always shows the active viewport's result. The model and the
predictions run on workers through AnalysisController; nothing here blocks the GUI thread."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop import paths
from desktop import prediction_adapter as pa
from inference import bundle_catalog
from inference.bundle_catalog import bundle_entry, choose_bundle, choose_for_body_part, default_bundle_name, find_bundles

PRESS_ANALYZE = "Press Analyze (Ctrl+R) to run the model on this image."


class AiCoordinator(QObject):
    model_state_changed = Signal(str)  # "starting" | "none" | "loading" | "ready" | "failed"
    prediction_shown = Signal(object)  # a Prediction delivered to a viewport
    message = Signal(str)  # for the status bar

    def __init__(self, analysis, panel, grid, settings, status_label, parent=None):
        super().__init__(parent)
        self.analysis, self.panel, self.grid, self.settings = analysis, panel, grid, settings
        self.status_label = status_label
        self.model_state = "starting"
        self.loaded_bundle = None  # the BundleEntry loading or loaded
        self.model_choice_reason = ""  # why the body part picked the current model ("" when it did not)
        self.colormaps: list[str] = []
        self._installed = []
        self._status: dict = {}  # viewport -> panel status text while it has no result
        self._pending: set = set()  # viewports whose prediction was asked for and has not come back
        analysis.model_loading.connect(self._on_model_loading)
        analysis.model_ready.connect(self._on_model_ready)
        analysis.model_failed.connect(self._on_model_failed)
        analysis.prediction_started.connect(self._on_prediction_started)
        analysis.prediction_ready.connect(self._on_prediction_ready)
        analysis.prediction_failed.connect(self._on_prediction_failed)
        grid.active_changed.connect(self.show_viewport)

    # -- model ------------------------------------------------------------------------------------------------
    def start_model_loading(self) -> None:
        s = self.settings
        user_dir = Path(s.user_models_dir) if s.user_models_dir else paths.default_user_models_dir()
        entries = find_bundles(bundle_catalog.bundled_models_dir(), user_dir)
        if s.model_path and not any(str(e.path) == s.model_path for e in entries):
            chosen = bundle_entry(s.model_path)  # a bundle outside both folders (xrayview --model DIR)
            entries += [chosen] if chosen is not None else []
        entry = choose_bundle(entries, s.model_path, default_bundle_name(bundle_catalog.bundled_models_dir()))
        self._installed = entries
        choice = self._body_part_choice(self.grid.active.image)
        if choice is not None:  # an image is already on screen (command line): its body part decides
            entry = choice.entry
            self.message.emit(choice.reason)
        if entry is None:
            self._set_state("none")
            self.status_label.setText("No AI model installed")
            self.panel.set_model(None)
            return
        self._load_bundle(entry)

    def reload_model(self) -> None:
        """The model settings changed: every result is dropped; the new model re-runs the images on screen."""
        for viewport in self.grid.all_viewports():
            viewport.clear_prediction()
        self._pending.clear()
        self.start_model_loading()

    def _load_bundle(self, entry) -> None:
        self.loaded_bundle = entry
        self.analysis.load_model(entry.path, self.settings.device, entry.title, self.settings.cam_method)

    def _body_part_choice(self, image):
        """A DICOM's BodyPartExamined picks the model made for it, unless the user pinned one in settings."""
        if image is None or self.settings.model_path:
            return None
        body_part = str((getattr(image, "metadata", None) or {}).get("BodyPartExamined") or "")
        choice = choose_for_body_part(self._installed, body_part)
        if choice is not None:
            self.model_choice_reason = choice.reason
        return choice

    def _choose_model_for(self, image) -> None:
        if self.loaded_bundle is None:  # no model yet: start_model_loading will look at this image
            return
        choice = self._body_part_choice(image)
        if choice is None:
            return
        if choice.entry.path != self.loaded_bundle.path:
            self._load_bundle(choice.entry)
        self.message.emit(choice.reason)

    def _set_state(self, state: str) -> None:
        self.model_state = state
        self.model_state_changed.emit(state)

    def _on_model_loading(self, name: str) -> None:
        self._set_state("loading")
        self.status_label.setText("loading model…")
        self.panel.set_model_loading(name)

    def _on_model_ready(self, predictor) -> None:
        card = pa.card_of(predictor)
        device = str(predictor.device)
        self.panel.set_model(card, device, self.settings.threshold_override)
        self.status_label.setText(f"{pa.model_title(card)} · {device}")
        self._set_state("ready")
        for viewport in self.grid.viewports():
            if viewport.image is not None and viewport.prediction is None and self.settings.auto_run \
                    and viewport not in self._pending:
                self.run(viewport)
        self.show_viewport(self.grid.active)

    def _on_model_failed(self, message: str) -> None:
        self._set_state("failed")
        self.status_label.setText("model failed to load")
        self.panel.set_model_failed(message)
        self.message.emit(message)

    def card(self) -> dict:
        return pa.card_of(self.analysis.predictor)

    # -- images and predictions -------------------------------------------------------------------------------
    def image_shown(self, viewport, image) -> None:
        """A viewport shows a new image: its old result is gone; auto-run asks for a new one."""
        self.analysis.discard_current(viewport)
        self._pending.discard(viewport)
        viewport.clear_prediction()
        self._status[viewport] = PRESS_ANALYZE if self.model_state == "ready" else ""
        if viewport is self.grid.active:
            self._choose_model_for(image)
        if self.settings.auto_run and self.model_state in ("loading", "ready"):
            self.run(viewport)
        elif viewport is self.grid.active:
            self.show_viewport(viewport)

    def image_failed(self, viewport, message: str) -> None:
        self.analysis.discard_current(viewport)
        self._pending.discard(viewport)
        self._status[viewport] = f"No result: {message}"
        if viewport is self.grid.active:
            self.show_viewport(viewport)

    def run(self, viewport=None) -> bool:
        viewport = viewport or self.grid.active
        if viewport.image is None:
            self.message.emit("Open an image first.")
            return False
        if self.model_state not in ("loading", "ready"):
            self._status[viewport] = "No AI model is installed or loaded."
            if viewport is self.grid.active:
                self.panel.set_error(self._status[viewport])
            return False
        viewport.clear_prediction()
        self._pending.add(viewport)
        self.analysis.request_prediction(viewport.image, self.panel.cam_method(), self.settings.overlay_colormap,
                                         slot=viewport)
        return True

    def resume(self, viewport) -> None:
        """The viewport's request was set aside but its image stayed: ask again if it had no result."""
        if viewport.image is not None and viewport.prediction is None and self.settings.auto_run \
                and self.model_state in ("loading", "ready"):
            self.run(viewport)

    def rerun_all(self) -> None:
        for viewport in self.grid.viewports():
            if viewport.prediction is not None:
                self.run(viewport)

    def _on_prediction_started(self, request_id: int) -> None:
        viewport = self.analysis.slot_of(request_id)
        if viewport is None:
            return
        self._status[viewport] = "Waiting for the model to load…" if self.model_state == "loading" else "Analyzing…"
        if viewport is self.grid.active:
            self.panel.set_running(self._status[viewport])

    def _on_prediction_ready(self, request_id: int, prediction, layer=None) -> None:
        viewport = self.analysis.slot_of(request_id)
        if viewport is None or not self.analysis.is_current(request_id):
            return
        self._pending.discard(viewport)
        rgba = None
        image = viewport.image
        if layer is not None and layer.colormap == self.settings.overlay_colormap and image is not None \
                and layer.rgba.shape[:2] == image.modality.shape:
            rgba = layer.rgba  # coloured on the worker thread
        viewport.set_prediction(prediction, rgba)
        if rgba is None:
            self._colour_heatmap(viewport)
        if viewport is self.grid.active:
            self.show_viewport(viewport)
        self.prediction_shown.emit(prediction)

    def _on_prediction_failed(self, request_id: int, message: str) -> None:
        viewport = self.analysis.slot_of(request_id)
        if viewport is None or not self.analysis.is_current(request_id):
            return
        self._pending.discard(viewport)
        self._status[viewport] = message
        if viewport is self.grid.active:
            self.panel.set_error(message)
        self.message.emit(message)

    def show_viewport(self, viewport) -> None:
        """The AI panel follows the active viewport."""
        prediction = viewport.prediction
        if prediction is not None:
            self.panel.set_prediction(prediction, prediction.device)
            notices = list(prediction.notices)
            if notices:
                self.panel.status_label.setText(" ".join(notices))
        elif viewport in self._pending:
            self.panel.set_running(self._status.get(viewport, "Analyzing…"))
        else:
            self.panel.clear_result(self._status.get(viewport, "") if viewport.image is not None or viewport.failure
                                    else "")

    # -- heatmap ----------------------------------------------------------------------------------------------
    def _colour_heatmap(self, viewport) -> None:
        heatmap = viewport.prediction.heatmap if viewport.prediction is not None else None
        if heatmap is None or viewport.image is None:
            viewport.view.clear_heatmap()
            return
        from desktop.heatmap_layer import heatmap_rgba

        viewport.heatmap_rgba = heatmap_rgba(heatmap, self.settings.overlay_colormap)
        viewport.view.set_heatmap_rgba(viewport.heatmap_rgba)

    def recolour_all(self) -> None:
        for viewport in self.grid.all_viewports():
            if viewport.prediction is not None:
                self._colour_heatmap(viewport)

    def set_heatmap_visible(self, visible: bool) -> None:
        for viewport in self.grid.all_viewports():
            viewport.view.set_heatmap_visible(visible)

    def set_opacity(self, opacity: float) -> None:
        for viewport in self.grid.all_viewports():
            viewport.view.set_heatmap_opacity(opacity)
