"""The main window: builds the viewports, the docks, the menus and toolbar (from the tables in window_actions),
and wires its parts to each other: the AI session (ai_session, shown by ai_display), opening (opening), exports
(exports), the View menu's per-image parts (view_menus), folder analysis (folder_analysis) and the optional tools
(tool_host). Each part gets what it needs passed in; none of them knows this class. No image processing, no model
code and no per-image state live here."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMainWindow

from desktop import error_reporting, startup, window_actions, window_docks
from desktop.ai_display import AiDisplay
from desktop.ai_session import AiSession
from desktop.analysis_controller import AnalysisController
from desktop.exports import Exports
from desktop.folder_analysis import FolderAnalysis
from desktop.opening import Opener
from desktop.settings import AppSettings
from desktop.status_messages import StatusMessages
from desktop.tool_host import install_optional_tools
from desktop.tools import DEFAULT_TOOL, TOOLS_BY_ID
from desktop.view_menus import ViewMenus
from desktop.viewport_grid import LAYOUT_TITLES, ViewportGrid
from desktop.window_dialogs import WindowDialogs

APP_TITLE = "XRayView"


class MainWindow(QMainWindow):
    image_shown = Signal(object)  # the XRayImage now on screen (in the viewport it was opened in)
    image_failed = Signal(str)  # the message shown for a file that could not be opened
    prediction_shown = Signal(object)  # a Prediction now on screen (in the viewport of its image)
    model_state_changed = Signal(str)  # "starting" | "none" | "loading" | "ready" | "failed"

    def __init__(self, settings: AppSettings | None = None, load_model: bool = True):
        super().__init__()
        self.settings = settings or AppSettings()
        self.setWindowTitle(APP_TITLE)
        self.setAccessibleName("XRayView main window")
        self._set_window_icon()
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self._start_model_on_show = load_model
        self._shown_once = False
        self._tool_dialogs: dict[str, object] = {}
        self.tools_installed = False  # Tools menu entries are added just after the window is shown
        self.grid = ViewportGrid()
        self.setCentralWidget(self.grid)
        self.messages = StatusMessages(self.statusBar())
        self.analysis = AnalysisController(self, audit_policy=lambda: self.settings.audit_source_path_policy)
        self.ai_session = AiSession(self.analysis, self.settings, self.grid.viewports, self)
        docks = window_docks.add_docks(self)
        self.ai_panel, self.ai_dock, self.tag_tree = docks.ai_panel, docks.ai_dock, docks.tag_tree
        self.tags_dock, self.folder_panel, self.folder_dock = docks.tags_dock, docks.folder_panel, docks.folder_dock
        self.opener = Opener(self.grid, self.ai_session, self.folder_panel, self.folder_dock.show, self.settings,
                             self.messages, self)
        self.exports = Exports(self.grid, self.ai_session, self.settings, self.messages, self)
        self.menus_view = ViewMenus(self.grid, self.settings, self.messages, self)
        self.dialogs = WindowDialogs(self.ai_session, self.settings, lambda: self.ai_display.colormaps, self.messages,
                                     lambda model_changed: self.apply_settings(model_changed=model_changed), self)
        start_folder = lambda: str(self.folder_panel.folder or self.settings.last_directory)  # noqa: E731 - on screen
        self.folder_analysis = FolderAnalysis(self.ai_session, self.analysis, self.settings, self.messages,
                                              self.open_path, start_folder, self)
        self.actions_by_name = window_actions.build_actions(self, self._action_handlers(), self.toggle_tool)
        self.menus = window_actions.build_menus(self.menuBar(), self.actions_by_name,
                                                (self.folder_dock, self.ai_dock, self.tags_dock),
                                                self.opener.recent_menu, self.menus_view.window_menu)
        self.tools_menu = self.menus["tools"]
        self.toolbar = window_actions.build_toolbar(self, self.actions_by_name, self.settings.toolbar_text)
        self.addToolBar(self.toolbar)
        labels = window_docks.add_status_labels(self.statusBar())
        self.pixel_label, self.spacing_label, self.model_status_label = labels.pixel, labels.spacing, labels.model
        self.ai_display = AiDisplay(self.ai_session, self.ai_panel, self.grid, self.model_status_label, self.settings)
        self._wire()
        self._apply_settings_to_widgets()
        self.set_layout(self.settings.viewport_layout if self.settings.viewport_layout in LAYOUT_TITLES else "1x1")
        self._restore_geometry()
        self._show_active(self.grid.active)
        error_reporting.set_notifier(self.show_error)

    # ==================================================================================== construction
    def _set_window_icon(self) -> None:
        from PySide6.QtGui import QIcon

        from desktop.paths import resources_dir

        icon_path = resources_dir() / "icons" / "xrayview.png"
        if icon_path.is_file():
            self.setWindowIcon(QIcon(str(icon_path)))

    def _action_handlers(self) -> dict:
        opener, exports, menus, grid, dialogs = self.opener, self.exports, self.menus_view, self.grid, self.dialogs
        return {
            **window_actions.view_handlers(lambda: grid.active.view),
            "open": opener.ask_open_files, "open_folder": opener.ask_open_folder,
            "open_dicomdir": opener.ask_open_dicomdir, "open_sample": opener.open_sample,
            "next_image": lambda: opener.step(1), "previous_image": lambda: opener.step(-1),
            "compare_prior": opener.compare_with_prior,
            "export_png": exports.ask_export_png, "export_pdf": exports.ask_export_pdf,
            "save_report_dicom": exports.ask_save_report_dicom, "send_report_pacs": exports.send_report_to_pacs,
            "save_gsps": exports.ask_save_presentation_state, "send_gsps": exports.send_presentation_state,
            "save_ai_dicom": exports.ask_save_ai_dicom, "send_ai_pacs": exports.send_ai_result_to_pacs,
            "deidentify_exports": self.set_deidentify_exports,
            "analyze_folder": self.folder_analysis.ask, "run_ai": self.run_prediction,
            "model_card": dialogs.show_model_card, "heatmap": self.set_heatmap_visible,
            "corner_text": self.set_corner_text_visible, "corner_layout": menus.edit_corner_layout,
            "overlay_planes": menus.overlay_planes.set_visible,
            "save_window_preset": menus.ask_save_window_preset, "toolbar_text": self.set_toolbar_text,
            "sync_window": grid.set_sync_window, "sync_zoom_pan": grid.set_sync_zoom_pan,
            **{f"layout_{name}": (lambda _checked, name=name: self.set_layout(name)) for name in LAYOUT_TITLES},
            "settings": dialogs.open_settings, "quit": self.close, "shortcuts": dialogs.show_shortcuts,
            "about": dialogs.show_about, "log_file": dialogs.show_log_location,
        }

    def _wire(self) -> None:
        for viewport in self.grid.all_viewports():
            view = viewport.view
            view.pixel_info.connect(self.pixel_label.setText)
            view.measurement_added.connect(lambda title, text: self.messages.info(
                f"{title}: {' / '.join(text.splitlines())}" if text else title))
            view.annotations_changed.connect(self._update_edit_actions)
            view.tool_changed.connect(self._on_tool_changed)
            view.corner_layout = self.menus_view.corner_lines
            viewport.image_shown.connect(self._on_image_shown)
            viewport.image_failed.connect(self._on_image_failed)
            viewport.presentation_state_opened.connect(self.opener.on_presentation_state)
            viewport.files_dropped.connect(lambda vp, paths: self.open_paths(paths, vp))
        self.grid.active_changed.connect(self._show_active)
        self.folder_panel.open_requested.connect(self.open_path)
        self.ai_panel.heatmap_toggled.connect(self.set_heatmap_visible)
        self.ai_panel.model_card_requested.connect(self.dialogs.show_model_card)
        session = self.ai_session
        session.model_state_changed.connect(self.model_state_changed)
        session.prediction_shown.connect(lambda _viewport, prediction: self.prediction_shown.emit(prediction))
        session.viewport_changed.connect(lambda *_: self._update_result_actions())
        session.message.connect(lambda text: self.messages.info(text, 10000))
        self.analysis.audit_failed.connect(self.show_error)

    def _apply_settings_to_widgets(self) -> None:
        s = self.settings
        self.ai_display.show_settings()
        self.ai_session.set_show_anyway(s.show_call_when_ood)
        for name, on in (("heatmap", s.overlay_visible), ("corner_text", s.corner_text_visible),
                         ("overlay_planes", s.overlay_planes_visible), ("deidentify_exports", s.deidentify_exports),
                         ("toolbar_text", s.toolbar_text)):
            self.actions_by_name[name].setChecked(on)
        for viewport in self.grid.all_viewports():
            viewport.view.set_corner_text_visible(s.corner_text_visible)

    def _restore_geometry(self) -> None:
        geometry = self.settings.qsettings.value("ui/geometry")
        state = self.settings.qsettings.value("ui/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    # ==================================================================================== the active viewport
    @property
    def active_viewport(self):
        return self.grid.active

    @property
    def view(self):
        """The active viewport's ImageView."""
        return self.grid.active.view

    @property
    def image(self):
        return self.grid.active.image

    @property
    def prediction(self):
        return self.ai_session.state(self.grid.active).prediction

    @property
    def window_menu(self):
        return self.menus_view.window_menu

    @property
    def model_state(self) -> str:
        return self.ai_session.model.state

    @property
    def loaded_bundle(self):
        return self.ai_session.loaded_bundle

    @property
    def model_choice_reason(self) -> str:
        return self.ai_session.model_choice_reason

    def _show_active(self, viewport) -> None:
        """Title, tags, spacing, presets, tool and edit actions follow the active viewport (the AI panel too:
        desktop.ai_display)."""
        image = viewport.image
        if image is not None:
            from desktop.image_adapter import display_name, spacing_description

            self.setWindowTitle(f"{display_name(image)} — {APP_TITLE}")
            self.spacing_label.setText(spacing_description(image))
        elif viewport.failure:
            self.setWindowTitle(f"{Path(viewport.requested_path or '').name} (could not be opened) — {APP_TITLE}")
            self.spacing_label.setText("")
        else:
            self.setWindowTitle(APP_TITLE)
            self.spacing_label.setText("")
        self.tag_tree.set_dataset(getattr(image, "dataset", None))
        self.menus_view.fill_window_menu()
        self.folder_panel.select_path(viewport.requested_path)
        self._on_tool_changed(viewport.view.tool_id)
        self._update_edit_actions()
        self._update_result_actions()

    def set_layout(self, name: str) -> None:
        self.grid.set_layout(name)
        self.settings.viewport_layout = name
        self.actions_by_name[f"layout_{name}"].setChecked(True)

    # ==================================================================================== tools and annotations
    def choose_tool(self, tool_id: str) -> None:
        """`tool_id` in every viewport (one tool for all, as in other viewers)."""
        for viewport in self.grid.all_viewports():
            viewport.view.set_tool(tool_id)
        self.messages.info(TOOLS_BY_ID[tool_id].tool.hint, 6000)

    def toggle_tool(self, tool_id: str) -> None:
        """A tool's key or button: that tool; pressed again while it is active: back to Pan."""
        active = self.view.tool_id == tool_id and tool_id != DEFAULT_TOOL
        self.choose_tool(DEFAULT_TOOL if active else tool_id)

    def _on_tool_changed(self, tool_id: str) -> None:
        action = self.actions_by_name.get(TOOLS_BY_ID[tool_id].action_name)
        if action is not None and not action.isChecked():
            action.setChecked(True)

    def _update_edit_actions(self) -> None:
        store = self.view.annotations
        self.actions_by_name["undo"].setEnabled(store.can_undo)
        self.actions_by_name["redo"].setEnabled(store.can_redo)
        for name in ("save_gsps", "send_gsps", "clear_measurements", "save_window_preset", "delete_annotation"):
            self.actions_by_name[name].setEnabled(self.image is not None)

    def _update_result_actions(self) -> None:
        has_result = self.image is not None and self.prediction is not None
        for name in ("save_ai_dicom", "send_ai_pacs"):
            self.actions_by_name[name].setEnabled(has_result)

    # ==================================================================================== the tool host (tool_host)
    def add_tool_actions(self, *actions) -> None:
        """Tools menu: adds the actions and shows the menu."""
        for action in actions:
            action.setParent(self)
            self.tools_menu.addAction(action)
        self.tools_menu.menuAction().setVisible(not self.tools_menu.isEmpty())

    def active_model_path(self) -> Path | None:
        predictor = self.analysis.predictor
        return Path(predictor.bundle.path) if predictor is not None else None

    def keep_tool_dialog(self, name: str, dialog) -> None:
        self._tool_dialogs[name] = dialog

    def tool_dialog(self, name: str):
        return self._tool_dialogs.get(name)

    # ==================================================================================== start-up
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            # image libraries first (an image given on the command line shows sooner), then torch and the model
            QTimer.singleShot(0, self._start_background_preparation)
            # optional tools (training wizard, PACS) import their own modules: after the window is up
            QTimer.singleShot(0, self._install_optional_tools)

    def _install_optional_tools(self) -> None:
        if not self.tools_installed:
            self.tools_installed = True
            install_optional_tools(self)

    def _start_background_preparation(self) -> None:
        self._prepare_job = startup.prepare_in_background(
            self.ai_display.set_colormaps, self.start_model_loading if self._start_model_on_show else None)

    def start_model_loading(self) -> None:
        self.ai_session.start_model_loading(self.image)

    # ==================================================================================== opening (opening)
    def open_paths(self, paths, viewport=None) -> None:
        self.opener.open_paths(paths, viewport)

    def open_folder(self, folder) -> None:
        self.opener.open_folder(folder)

    def open_path(self, path, viewport=None, presentation_state=None) -> None:
        self.opener.open_path(path, viewport, presentation_state)

    def _on_image_shown(self, viewport, image) -> None:
        notices = list(getattr(image, "notices", []) or []) + self.folder_panel.presentation_state_notice(image)
        self.messages.info(f"Opened {image.path}" + (f" — {'; '.join(notices)}" if notices else ""))
        self.settings.add_recent_file(str(viewport.requested_path))
        if viewport is self.grid.active:
            self._show_active(viewport)
        self.ai_session.image_shown(viewport, image, choose_model=viewport is self.grid.active)
        self.menus_view.overlay_planes.image_shown(viewport)
        self.image_shown.emit(image)

    def _on_image_failed(self, viewport, message: str) -> None:
        self.show_error(message)
        self.ai_session.image_failed(viewport, message)
        if viewport is self.grid.active:
            self._show_active(viewport)
        self.image_failed.emit(message)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - a viewport takes its own drops
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ==================================================================================== AI (ai_session)
    def run_prediction(self) -> None:
        self.ai_session.run(self.grid.active)

    def set_heatmap_visible(self, visible: bool) -> None:
        self.ai_display.set_heatmap_visible(bool(visible))
        self.actions_by_name["heatmap"].setChecked(bool(visible))

    def analyze_folder(self, folder: str | Path):
        """Opens the results dialog and starts the run; returns the dialog (None without a model)."""
        return self.folder_analysis.analyze(folder)

    # ==================================================================================== export (exports)
    def export_png(self, target: Path) -> Path | None:
        return self.exports.export_png(target)

    def export_pdf(self, target: Path) -> Path | None:
        return self.exports.export_pdf(target)

    def save_ai_dicom(self, folder: str | Path) -> list[Path]:
        return self.exports.save_ai_dicom(folder)

    def send_ai_result_to_pacs(self):
        return self.exports.send_ai_result_to_pacs()

    def save_presentation_state(self, folder: str | Path | None = None) -> Path | None:
        return self.exports.save_presentation_state(folder)

    # ==================================================================================== settings and help
    def set_corner_text_visible(self, visible: bool) -> None:
        self.settings.corner_text_visible = bool(visible)
        for viewport in self.grid.all_viewports():
            viewport.view.set_corner_text_visible(bool(visible))

    def set_deidentify_exports(self, on: bool) -> None:
        self.settings.deidentify_exports = bool(on)

    def set_toolbar_text(self, on: bool) -> None:
        self.settings.toolbar_text = bool(on)
        window_actions.set_toolbar_text(self.toolbar, bool(on))

    def apply_settings(self, model_changed: bool = False) -> None:
        from desktop.theme import apply_theme

        apply_theme(QApplication.instance(), self.settings.theme)
        self._apply_settings_to_widgets()
        self.ai_session.recolour()
        if model_changed:
            self.ai_session.reload_model(self.image)
        else:
            self.ai_session.restore_threshold()

    def show_error(self, message: str) -> None:
        """Errors the user should see: the status bar (long enough to read), never a modal box."""
        self.messages.error(message)

    # ==================================================================================== shutdown
    def closeEvent(self, event) -> None:  # noqa: N802
        self.settings.qsettings.setValue("ui/geometry", self.saveGeometry())
        self.settings.qsettings.setValue("ui/state", self.saveState())
        self.settings.sync()
        self.folder_analysis.cancel()
        self.folder_panel.cancel()
        for viewport in self.grid.all_viewports():
            viewport.cancel()
        self.analysis.shutdown(timeout_ms=30_000)  # a running forward pass cannot be interrupted: wait for it
        error_reporting.set_notifier(None)
        super().closeEvent(event)
