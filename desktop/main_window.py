"""The main window: the viewports, the docks, the menus and toolbar (made from tables in window_actions), and the
wiring between them, the AI (ai_coordinator) and the exports (exports). No image processing, no model code and
no per-image state live here: each viewport keeps its own image, window, zoom, annotations and AI result."""
from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
)

from desktop import error_reporting, window_actions
from desktop.ai_coordinator import AiCoordinator
from desktop.ai_panel import AiPanel
from desktop.analysis_controller import AnalysisController
from desktop.exports import Exports
from desktop.folder_panel import FolderPanel
from desktop.opening import Opener
from desktop.settings import AppSettings
from desktop.tag_tree import TagTree
from desktop.tools import DEFAULT_TOOL, TOOLS_BY_ID
from desktop.view_menus import ViewMenus
from desktop.viewport_grid import ViewportGrid
from desktop.workers import Job

APP_TITLE = "XRayView"
OPTIONAL_TOOL_MODULES = ("desktop.pacs_dialog", "desktop.audit_log_dialog", "desktop.wizard",
                         "desktop.calibration_dialog", "desktop.report_dicom", "desktop.overlay_layer")


def _prepare_libraries(*, progress, cancel) -> list[str]:
    """Imports numpy, the image readers and the colormap module on a worker thread right after the window is
    shown, so that neither start-up nor the first image open pays for them on the GUI thread."""
    import desktop.image_adapter  # noqa: F401 - numpy, inference.windowing
    import desktop.qimage_convert  # noqa: F401
    from desktop import libraries

    libraries.image_stack()  # pydicom, Pillow, decoders
    from desktop.heatmap_layer import colormap_names, warm_colormaps

    warm_colormaps()  # matplotlib (1.5 s to import on 2 cores) here, not when the colour bar is first drawn
    return colormap_names()


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
        self._batch_dialog = None
        self._start_model_on_show = load_model
        self._shown_once = False
        self.pacs_dialog = None
        self.audit_log_dialog = None
        self.tools_installed = False  # Tools menu entries are added just after the window is shown
        self.grid = ViewportGrid()
        self.setCentralWidget(self.grid)
        self.analysis = AnalysisController(self, audit_policy=lambda: self.settings.audit_source_path_policy)
        self.exports = Exports(self)
        self.opener = Opener(self)
        self.menus_view = ViewMenus(self)
        self._build_docks()
        self.actions_by_name = window_actions.build_actions(self)
        self.menus = window_actions.build_menus(self, self.actions_by_name,
                                                (self.folder_dock, self.ai_dock, self.tags_dock))
        self.toolbar = window_actions.build_toolbar(self, self.actions_by_name, self.settings.toolbar_text)
        self._build_status_bar()
        self.ai = AiCoordinator(self.analysis, self.ai_panel, self.grid, self.settings, self.model_status_label, self)
        self._wire()
        self._apply_settings_to_widgets()
        self.set_layout(self.settings.viewport_layout if self.settings.viewport_layout in
                        ("1x1", "1x2", "2x1", "2x2") else "1x1")
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

    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.ai_panel = AiPanel([])
        scroll = QScrollArea()
        scroll.setWidget(self.ai_panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(310)
        right, left = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.LeftDockWidgetArea
        self.ai_dock = self._dock("AI", "aiDock", scroll, right)
        self.tag_tree = TagTree()
        self.tags_dock = self._dock("DICOM tags", "tagsDock", self.tag_tree, right)
        self.tabifyDockWidget(self.ai_dock, self.tags_dock)
        self.ai_dock.raise_()
        self.folder_panel = FolderPanel()
        self.folder_dock = self._dock("Studies", "folderDock", self.folder_panel, left)
        self.folder_dock.hide()

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.pixel_label = QLabel("")
        self.pixel_label.setAccessibleName("Pixel value under the cursor")
        self.spacing_label = QLabel("")
        self.spacing_label.setAccessibleName("Pixel spacing")
        self.model_status_label = QLabel("")
        self.model_status_label.setAccessibleName("Model status")
        for label in (self.pixel_label, self.spacing_label, self.model_status_label):
            status.addPermanentWidget(label)

    def _wire(self) -> None:
        for viewport in self.grid.all_viewports():
            view = viewport.view
            view.pixel_info.connect(self.pixel_label.setText)
            view.measurement_added.connect(lambda title, text: self.statusBar().showMessage(
                f"{title}: {' / '.join(text.splitlines())}" if text else title, 8000))
            view.annotations_changed.connect(self._update_edit_actions)
            view.tool_changed.connect(self._on_tool_changed)
            view.corner_layout = self.menus_view.corner_lines
            viewport.image_shown.connect(self._on_image_shown)
            viewport.image_failed.connect(self._on_image_failed)
            viewport.presentation_state_opened.connect(self.opener.on_presentation_state)
            viewport.files_dropped.connect(lambda vp, paths: self.open_paths(paths, vp))
        self.grid.active_changed.connect(self._show_active)
        self.folder_panel.open_requested.connect(self.open_path)
        panel = self.ai_panel
        panel.run_requested.connect(self.run_prediction)
        panel.auto_run_toggled.connect(lambda on: setattr(self.settings, "auto_run", bool(on)))
        panel.heatmap_toggled.connect(self.set_heatmap_visible)
        panel.opacity_changed.connect(self._set_opacity)
        panel.colormap_changed.connect(self._set_colormap)
        panel.cam_method_changed.connect(self._set_cam_method)
        panel.model_card_requested.connect(self.show_model_card)
        self.ai.model_state_changed.connect(self.model_state_changed)
        self.ai.prediction_shown.connect(self.prediction_shown)
        self.ai.prediction_shown.connect(lambda _: self._update_result_actions())
        self.ai.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.analysis.audit_failed.connect(self.show_error)

    def _apply_settings_to_widgets(self) -> None:
        s = self.settings
        self.ai_panel.set_controls(auto_run=s.auto_run, heatmap_visible=s.overlay_visible, opacity=s.overlay_opacity,
                                   colormap=s.overlay_colormap, cam_method=s.cam_method)
        self.ai_panel.set_show_call_anyway(s.show_call_when_ood)
        self.analysis.show_call_anyway = s.show_call_when_ood
        acts = self.actions_by_name
        acts["heatmap"].setChecked(s.overlay_visible)
        acts["corner_text"].setChecked(s.corner_text_visible)
        acts["deidentify_exports"].setChecked(s.deidentify_exports)
        acts["toolbar_text"].setChecked(s.toolbar_text)
        self.ai.set_heatmap_visible(s.overlay_visible)
        self.ai.set_opacity(s.overlay_opacity)
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
        return self.grid.active.prediction

    @property
    def model_state(self) -> str:
        return self.ai.model_state

    @property
    def loaded_bundle(self):
        return self.ai.loaded_bundle

    @property
    def model_choice_reason(self) -> str:
        return self.ai.model_choice_reason

    def _show_active(self, viewport) -> None:
        """Title, tags, spacing, presets, tool and edit actions follow the active viewport."""
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
        self.ai.show_viewport(viewport)

    def set_layout(self, name: str) -> None:
        self.grid.set_layout(name)
        self.settings.viewport_layout = name
        self.actions_by_name[f"layout_{name}"].setChecked(True)

    # ==================================================================================== tools and annotations
    def choose_tool(self, tool_id: str) -> None:
        """`tool_id` in every viewport (one tool for all, as in other viewers)."""
        for viewport in self.grid.all_viewports():
            viewport.view.set_tool(tool_id)
        self.statusBar().showMessage(TOOLS_BY_ID[tool_id].tool.hint, 6000)

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
        has_image = self.image is not None
        for name in ("save_gsps", "send_gsps", "clear_measurements", "save_window_preset", "delete_annotation"):
            self.actions_by_name[name].setEnabled(has_image)

    # ==================================================================================== plug-in points
    def add_tool_actions(self, *actions) -> None:
        """Tools menu hook (PACS, audit log, ...): adds the actions and shows the menu."""
        for action in actions:
            action.setParent(self)
            self.tools_menu.addAction(action)
        self.tools_menu.menuAction().setVisible(not self.tools_menu.isEmpty())

    def _install_optional_tools(self) -> None:
        """Modules in OPTIONAL_TOOL_MODULES that exist and define `install_tools(main_window)` add their menu
        actions (via add_tool_actions). Absent modules are fine; a broken one is logged, never fatal."""
        if self.tools_installed:
            return
        self.tools_installed = True
        for name in OPTIONAL_TOOL_MODULES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as error:
                if error.name != name:
                    error_reporting.report_unexpected(error, f"loading {name}")
                continue
            except Exception as error:  # noqa: BLE001 - a broken optional tool must not stop the viewer
                error_reporting.report_unexpected(error, f"loading {name}")
                continue
            install = getattr(module, "install_tools", None)
            if callable(install):
                try:
                    install(self)
                except Exception as error:  # noqa: BLE001
                    error_reporting.report_unexpected(error, f"installing {name}")

    # ==================================================================================== start-up
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            # image libraries first (an image given on the command line shows sooner), then torch and the model
            QTimer.singleShot(0, self._start_background_preparation)
            # optional tools (training wizard, PACS) import their own modules: after the window is up
            QTimer.singleShot(0, self._install_optional_tools)

    def _start_background_preparation(self) -> None:
        job = Job(_prepare_libraries, name="prepare libraries")
        job.finished.connect(self._on_libraries_ready)
        job.failed.connect(lambda error: error_reporting.report_unexpected(error, "preparing libraries"))
        if self._start_model_on_show:
            job.done.connect(self.start_model_loading)
        self._prepare_job = job
        job.start()

    def _on_libraries_ready(self, colormaps: list[str]) -> None:
        self.ai.colormaps = list(colormaps)
        self.ai_panel.set_colormaps(self.ai.colormaps, self.settings.overlay_colormap)
        from desktop.heatmap_layer import colormap_lut_for_bar

        self.ai_panel.colour_bar.set_lut(colormap_lut_for_bar(self.settings.overlay_colormap))

    def start_model_loading(self) -> None:
        self.ai.start_model_loading()

    # ==================================================================================== opening (desktop.opening)
    def open_paths(self, paths, viewport=None) -> None:
        self.opener.open_paths(paths, viewport)

    def open_folder(self, folder) -> None:
        self.opener.open_folder(folder)

    def open_path(self, path, viewport=None, presentation_state=None) -> None:
        self.opener.open_path(path, viewport, presentation_state)

    def _on_image_shown(self, viewport, image) -> None:
        notices = list(getattr(image, "notices", []) or [])
        notices += self.folder_panel.presentation_state_notice(image)
        self.statusBar().showMessage(f"Opened {image.path}" + (f" — {'; '.join(notices)}" if notices else ""), 8000)
        self.settings.add_recent_file(str(viewport.requested_path))
        if viewport is self.grid.active:
            self._show_active(viewport)
        self.ai.image_shown(viewport, image)
        self._update_result_actions()
        self.image_shown.emit(image)

    def _on_image_failed(self, viewport, message: str) -> None:
        self.show_error(message)
        self.ai.image_failed(viewport, message)
        if viewport is self.grid.active:
            self._show_active(viewport)
        self.image_failed.emit(message)

    def next_image(self) -> None:
        self.opener.step(1)

    def previous_image(self) -> None:
        self.opener.step(-1)

    # drag and drop onto the window (a viewport takes its own drops) ---------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ==================================================================================== AI
    def run_prediction(self) -> None:
        self.ai.run()

    def set_heatmap_visible(self, visible: bool) -> None:
        visible = bool(visible)
        self.settings.overlay_visible = visible
        self.ai.set_heatmap_visible(visible)
        self.actions_by_name["heatmap"].setChecked(visible)
        if self.ai_panel.heatmap_check.isChecked() != visible:
            self.ai_panel.heatmap_check.blockSignals(True)
            self.ai_panel.heatmap_check.setChecked(visible)
            self.ai_panel.heatmap_check.blockSignals(False)

    def _set_opacity(self, opacity: float) -> None:
        self.settings.overlay_opacity = opacity
        self.ai.set_opacity(opacity)

    def _set_colormap(self, name: str) -> None:
        self.settings.overlay_colormap = name
        if self.ai.colormaps:  # the colormap module is loaded (after start-up)
            from desktop.heatmap_layer import colormap_lut_for_bar

            self.ai_panel.colour_bar.set_lut(colormap_lut_for_bar(name))
        self.ai.recolour_all()

    def _set_cam_method(self, method: str) -> None:
        self.settings.cam_method = method
        self.ai.rerun_all()

    def set_corner_text_visible(self, visible: bool) -> None:
        self.settings.corner_text_visible = bool(visible)
        for viewport in self.grid.all_viewports():
            viewport.view.set_corner_text_visible(bool(visible))

    def set_toolbar_text(self, on: bool) -> None:
        self.settings.toolbar_text = bool(on)
        window_actions.set_toolbar_text(self.toolbar, bool(on))

    def show_model_card(self) -> None:
        if self.analysis.predictor is None:
            self.show_error("No AI model is loaded.")
            return
        from desktop.model_card_dialog import ModelCardDialog

        ModelCardDialog(self.ai.card(), self).exec()

    def _update_result_actions(self) -> None:
        has_result = self.image is not None and self.prediction is not None
        for name in ("save_ai_dicom", "send_ai_pacs"):
            self.actions_by_name[name].setEnabled(has_result)

    # batch ------------------------------------------------------------------------------------------------
    def ask_analyze_folder(self) -> None:
        start = str(self.folder_panel.folder or self.settings.last_directory)  # the folder on screen, if any
        folder = QFileDialog.getExistingDirectory(self, "Analyze folder", start)
        if folder:
            self.analyze_folder(folder)

    def analyze_folder(self, folder: str | Path):
        """Opens the results dialog and starts the run; returns the dialog (None without a model)."""
        predictor = self.analysis.predictor
        if predictor is None:
            self.show_error("Analyze folder needs a loaded AI model.")
            return None
        from desktop.batch_dialog import BatchDialog
        from inference.image_files import find_images

        paths = find_images(folder)
        if not paths:
            self.show_error(f"{folder}: no images found in this folder")
            return None
        if self._batch_dialog is not None and self._batch_dialog.is_running():
            self._batch_dialog.cancel()
        dialog = BatchDialog(Path(folder), list(predictor.labels), predictor.positive_label,
                             self.ai_panel.threshold, self, deidentify=self.settings.deidentify_exports,
                             show_anyway=self.settings.show_call_when_ood)
        dialog.open_requested.connect(self.open_path)
        self._batch_dialog = dialog
        dialog.show()
        job = self.analysis.analyze_folder_job(paths)
        job.progress.connect(self._on_batch_row)
        dialog.start(job, len(paths))
        return dialog

    def _on_batch_row(self, done: int, total: int, row) -> None:
        if isinstance(row, dict) and row.get("audit_error"):
            self.show_error(row["audit_error"])

    # ==================================================================================== export (desktop.exports)
    def export_png(self, target: Path) -> Path | None:
        return self.exports.export_png(target)

    def export_pdf(self, target: Path) -> Path | None:
        return self.exports.export_pdf(target)

    def _export_stem(self) -> str:
        return self.exports.export_stem()

    def set_deidentify_exports(self, on: bool) -> None:
        self.settings.deidentify_exports = bool(on)

    def save_ai_dicom(self, folder: str | Path) -> list[Path]:
        return self.exports.save_ai_dicom(folder)

    def send_ai_result_to_pacs(self):
        return self.exports.send_ai_result_to_pacs()

    def save_presentation_state(self, folder: str | Path | None = None) -> Path | None:
        return self.exports.save_presentation_state(folder)


    # ==================================================================================== settings & help
    def open_settings(self) -> None:
        from desktop.heatmap_layer import colormap_names
        from desktop.settings_dialog import SettingsDialog

        self.ai.colormaps = self.ai.colormaps or colormap_names()
        before = (self.settings.device, self.settings.model_path, self.settings.user_models_dir)
        dialog = SettingsDialog(self.settings, self.ai.colormaps, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        dialog.apply()
        self.apply_settings(model_changed=before != (self.settings.device, self.settings.model_path,
                                                     self.settings.user_models_dir))

    def apply_settings(self, model_changed: bool = False) -> None:
        from desktop.theme import apply_theme

        apply_theme(QApplication.instance(), self.settings.theme)
        self._apply_settings_to_widgets()
        self.ai.recolour_all()
        if model_changed:
            self.ai.reload_model()
            self._update_result_actions()
        elif self.analysis.predictor is not None:
            card = self.ai.card()
            threshold = self.settings.threshold_override
            if threshold is None and card.get("threshold") is not None:
                threshold = float(card["threshold"])
            if threshold is not None and self.ai_panel.threshold is not None:
                self.ai_panel.set_threshold(threshold)

    def show_shortcuts(self) -> None:
        from desktop.about_dialog import show_shortcuts

        show_shortcuts(self)

    def show_about(self) -> None:
        from desktop.about_dialog import AboutDialog

        AboutDialog(self.ai.card() if self.analysis.predictor is not None else None, self).exec()

    def show_log_location(self) -> None:
        from desktop.paths import log_file_path

        QMessageBox.information(self, "Log file", f"Unexpected errors are logged to:\n{log_file_path()}")

    def show_error(self, message: str) -> None:
        """Errors the user should see: the status bar (long enough to read), never a modal box."""
        self.statusBar().showMessage(message, 15000)

    # ==================================================================================== shutdown
    def closeEvent(self, event) -> None:  # noqa: N802
        self.settings.qsettings.setValue("ui/geometry", self.saveGeometry())
        self.settings.qsettings.setValue("ui/state", self.saveState())
        self.settings.sync()
        if self._batch_dialog is not None:
            self._batch_dialog.cancel()
        self.folder_panel.cancel()
        for viewport in self.grid.all_viewports():
            viewport.cancel()
        self.analysis.shutdown(timeout_ms=30_000)  # a running forward pass cannot be interrupted: wait for it
        error_reporting.set_notifier(None)
        super().closeEvent(event)
