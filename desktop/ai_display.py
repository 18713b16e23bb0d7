"""Shows the AI session (desktop.ai_session) in the window: the AI panel follows the active viewport, each
viewport's heatmap layer shows its own heatmap at the window's visibility, opacity and colormap (kept in the
settings), and the status bar's model label says which model is loaded. The panel's requests (analyze,
threshold, heatmap look, CAM method) go to the session and the settings. No AI state of its own: everything it
shows is read from the session when it changes."""
from __future__ import annotations

from desktop.ai_state import ModelStatus


class AiDisplay:
    def __init__(self, session, panel, grid, model_label, settings):
        """`grid`: the ViewportGrid (viewports are the session's keys); `model_label`: the status bar's QLabel."""
        self.session, self.panel, self.grid, self.model_label = session, panel, grid, model_label
        self.settings = settings
        self.colormaps: list[str] = []  # known once the colormap module is loaded (after start-up)
        session.viewport_changed.connect(self._on_viewport_changed)
        session.heatmap_changed.connect(self._on_heatmap_changed)
        session.operating_point_changed.connect(panel.show_operating_point)
        session.model_changed.connect(self._on_model_changed)
        grid.active_changed.connect(self.show_viewport)
        panel.run_requested.connect(lambda: session.run(grid.active))
        panel.threshold_requested.connect(session.set_threshold)
        panel.threshold_reset_requested.connect(session.reset_threshold)
        panel.auto_run_toggled.connect(lambda on: setattr(settings, "auto_run", bool(on)))
        panel.opacity_changed.connect(self.set_opacity)
        panel.colormap_changed.connect(self.set_colormap)
        panel.cam_method_changed.connect(self.set_cam_method)

    def show_viewport(self, viewport) -> None:
        """The AI panel follows the active viewport."""
        self.panel.show_state(self.session.state(viewport))

    def _on_viewport_changed(self, viewport, state) -> None:
        if viewport is self.grid.active:
            self.panel.show_state(state)

    @staticmethod
    def _on_heatmap_changed(viewport, rgba) -> None:
        if rgba is None:
            viewport.view.clear_heatmap()
        else:
            viewport.view.set_heatmap_rgba(rgba)

    def _on_model_changed(self, model: ModelStatus) -> None:
        if model.state == "none":
            self.model_label.setText("No AI model installed")
            self.panel.set_model(None)
        elif model.state == "loading":
            self.model_label.setText("loading model…")
            self.panel.set_model_loading(model.name)
        elif model.state == "ready":
            self.model_label.setText(f"{model.card.title} · {model.device}")
            self.panel.set_model(model.card, model.device, self.session.operating_point.threshold)
            self.show_viewport(self.grid.active)
        elif model.state == "failed":
            self.model_label.setText("model failed to load")
            self.panel.set_model_failed(model.message)

    # -- the heatmap's look (the same in every viewport) and the CAM method ----------------------------------------
    def show_settings(self) -> None:
        """The panel's controls and the heatmap layers as the settings say."""
        s = self.settings
        self.panel.set_controls(auto_run=s.auto_run, heatmap_visible=s.overlay_visible, opacity=s.overlay_opacity,
                                colormap=s.overlay_colormap, cam_method=s.cam_method)
        self.set_heatmap_visible(s.overlay_visible)
        self.set_opacity(s.overlay_opacity)

    def set_heatmap_visible(self, visible: bool) -> None:
        self.settings.overlay_visible = bool(visible)
        for viewport in self.grid.all_viewports():
            viewport.view.set_heatmap_visible(bool(visible))
        self.panel.show_heatmap_visible(bool(visible))

    def set_opacity(self, opacity: float) -> None:
        self.settings.overlay_opacity = opacity
        for viewport in self.grid.all_viewports():
            viewport.view.set_heatmap_opacity(opacity)

    def set_colormaps(self, names: list[str]) -> None:
        """The colormap module is loaded: the panel lists them and the colour bar shows the current one."""
        self.colormaps = list(names)
        self.panel.set_colormaps(self.colormaps, self.settings.overlay_colormap)
        self._show_colour_bar()

    def set_colormap(self, name: str) -> None:
        self.settings.overlay_colormap = name
        if self.colormaps:  # else the colormap module is not loaded yet (start-up): set_colormaps draws it
            self._show_colour_bar()
        self.session.recolour()

    def _show_colour_bar(self) -> None:
        from desktop.heatmap_layer import colormap_lut_for_bar

        self.panel.colour_bar.set_lut(colormap_lut_for_bar(self.settings.overlay_colormap))

    def set_cam_method(self, method: str) -> None:
        self.settings.cam_method = method
        self.session.rerun_all()
