"""The main window: menus, toolbar, docks and the wiring between the widgets, the image loader and the AI
controller. No image processing and no model code lives here."""
from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QTextBrowser,
    QToolBar,
    QVBoxLayout,
)

from desktop import error_reporting
from desktop import prediction_adapter as pa
from desktop.ai_panel import AiPanel
from desktop.analysis_controller import AnalysisController
from desktop.folder_panel import FolderPanel
from desktop.image_files import FILE_DIALOG_FILTER, expand_paths
from desktop.image_view import ImageView
from desktop.model_catalog import bundle_entry, choose_bundle, default_bundle_name, find_bundles
from desktop.paths import bundled_models_dir, default_user_models_dir, sample_image_path
from desktop.settings import AppSettings
from desktop.shortcuts import SHORTCUTS, shortcuts_html
from desktop.tag_tree import TagTree
from desktop.workers import Job

APP_TITLE = "XRayView"
OPTIONAL_TOOL_MODULES = ("desktop.pacs_dialog", "desktop.audit_log_dialog", "desktop.wizard",
                         "desktop.calibration_dialog")


def _prepare_libraries(*, progress, cancel) -> list[str]:
    """Imports numpy, the image readers and the colormap module on a worker thread right after the window is
    shown, so that neither start-up nor the first image open pays for them on the GUI thread."""
    import desktop.image_adapter  # noqa: F401 - numpy, inference.windowing
    import desktop.qimage_convert  # noqa: F401
    import inference.image_io  # noqa: F401 - pydicom, Pillow, decoders
    from desktop.heatmap_layer import colormap_names

    return colormap_names()


def _load_image_job(path: str):
    """Worker thread: the image plus its display lookup table, so the GUI thread only shows it."""
    from desktop.display_renderer import DisplayRenderer
    from inference.image_io import load_image

    image = load_image(path)
    return image, DisplayRenderer(image)


class MainWindow(QMainWindow):
    image_shown = Signal(object)  # the XRayImage now on screen
    image_failed = Signal(str)  # the message shown for a file that could not be opened
    prediction_shown = Signal(object)  # the Prediction now on screen (always for the image on screen)
    model_state_changed = Signal(str)  # "starting" | "none" | "loading" | "ready" | "failed"

    def __init__(self, settings: AppSettings | None = None, load_model: bool = True):
        super().__init__()
        self.settings = settings or AppSettings()
        self.setWindowTitle(APP_TITLE)
        self.setAccessibleName("XRayView main window")
        self._set_window_icon()
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self.model_state = "starting"  # -> "none" | "loading" -> "ready" | "failed"
        self.image = None
        self.prediction = None
        self._load_request = 0
        self._load_job: Job | None = None
        self._batch_dialog = None
        self._start_model_on_show = load_model
        self._shown_once = False
        self._installed_bundles = []
        self.loaded_bundle = None  # the BundleEntry loading or loaded
        self.model_choice_reason = ""  # why the body part picked the current model ("" when it did not)
        self.pacs_dialog = None
        self.audit_log_dialog = None
        self.tools_installed = False  # Tools menu entries are added just after the window is shown

        self._colormaps: list[str] = []  # filled by _prepare_libraries after the window is shown
        self.view = ImageView()
        self.setCentralWidget(self.view)
        self.analysis = AnalysisController(self)
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._wire()
        self._apply_settings_to_widgets()
        self._restore_geometry()
        error_reporting.set_notifier(self.show_error)

    # ==================================================================================== construction
    def _set_window_icon(self) -> None:
        from PySide6.QtGui import QIcon

        from desktop.paths import resources_dir

        icon_path = resources_dir() / "icons" / "xrayview.png"
        if icon_path.is_file():
            self.setWindowIcon(QIcon(str(icon_path)))

    def _build_docks(self) -> None:
        self.ai_panel = AiPanel(self._colormaps)
        scroll = QScrollArea()
        scroll.setWidget(self.ai_panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(310)
        self.ai_dock = QDockWidget("AI", self)
        self.ai_dock.setObjectName("aiDock")
        self.ai_dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.ai_dock)

        self.tag_tree = TagTree()
        self.tags_dock = QDockWidget("DICOM tags", self)
        self.tags_dock.setObjectName("tagsDock")
        self.tags_dock.setWidget(self.tag_tree)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.tags_dock)
        self.tabifyDockWidget(self.ai_dock, self.tags_dock)
        self.ai_dock.raise_()

        self.folder_panel = FolderPanel()
        self.folder_dock = QDockWidget("Folder", self)
        self.folder_dock.setObjectName("folderDock")
        self.folder_dock.setWidget(self.folder_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.folder_dock)
        self.folder_dock.hide()

    def _action(self, name: str, text: str, slot, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if name in SHORTCUTS:
            action.setShortcut(QKeySequence(SHORTCUTS[name][0]))
            action.setToolTip(f"{SHORTCUTS[name][1]} ({SHORTCUTS[name][0]})")
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        action.setObjectName(name)
        self.addAction(action)  # shortcuts work even when the toolbar is hidden
        self.actions_by_name[name] = action
        return action

    def _build_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        a = self._action
        a("open", "&Open…", self.ask_open_files)
        a("open_folder", "Open &Folder…", self.ask_open_folder)
        a("export_png", "Export View as &PNG…", self.ask_export_png)
        a("export_pdf", "Export PDF &Report…", self.ask_export_pdf)
        a("analyze_folder", "&Analyze Folder…", self.ask_analyze_folder)
        a("run_ai", "&Run AI on This Image", self.run_prediction)
        a("settings", "&Settings…", self.open_settings)
        a("quit", "&Quit", self.close)
        a("fit", "&Fit to Window", self.view.fit)
        a("actual_size", "Actual Size (&1:1)", self.view.actual_size)
        a("zoom_in", "Zoom &In", lambda: self.view.zoom_by(1.25))
        a("zoom_out", "Zoom &Out", lambda: self.view.zoom_by(0.8))
        a("rotate_cw", "Rotate 90° &Clockwise", lambda: self.view.rotate_by(90))
        a("rotate_ccw", "Rotate 90° Counter-clockwise", lambda: self.view.rotate_by(-90))
        a("flip_h", "Flip &Horizontal", self.view.flip_horizontal)
        a("flip_v", "Flip &Vertical", self.view.flip_vertical)
        a("invert", "&Invert", self.view.toggle_invert)
        a("reset", "&Reset View", self.view.reset)
        a("heatmap", "Show &Heatmap", self.set_heatmap_visible, checkable=True)
        a("corner_text", "Corner &Information", self.set_corner_text_visible, checkable=True)
        a("measure", "&Distance Tool", self.view.set_measuring, checkable=True)
        a("clear_measurements", "Clear &Measurements", self.view.clear_measurements)
        a("next_image", "&Next Image", lambda: self._step_image(1))
        a("previous_image", "&Previous Image", lambda: self._step_image(-1))
        a("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts)
        a("save_ai_dicom", "Save AI Result as &DICOM (SC + SR)…", self.ask_save_ai_dicom)
        a("send_ai_pacs", "Send AI Result to &PACS…", self.send_ai_result_to_pacs)
        a("deidentify_exports", "De-&identify Exports", self._set_deidentify_exports, checkable=True)
        self.actions_by_name["deidentify_exports"].setToolTip(
            "PNG/PDF/CSV exports and AI DICOM results leave out the patient's name, ID and dates")
        self._update_result_actions()
        self.actions_by_name["open_sample"] = QAction("Open &Sample Image", self, triggered=self.open_sample)
        self.actions_by_name["model_card"] = QAction("&Model Card…", self, triggered=self.show_model_card)
        self.actions_by_name["about"] = QAction("&About XRayView", self, triggered=self.show_about)
        self.actions_by_name["log_file"] = QAction("Show &Log File Location", self, triggered=self.show_log_location)

    def _build_menus(self) -> None:
        acts = self.actions_by_name
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([acts["open"], acts["open_folder"]])
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([acts["export_png"], acts["export_pdf"], acts["deidentify_exports"]])
        file_menu.addSeparator()
        file_menu.addActions([acts["settings"], acts["quit"]])

        view_menu = bar.addMenu("&View")
        view_menu.addActions([acts[n] for n in ("fit", "actual_size", "zoom_in", "zoom_out")])
        view_menu.addSeparator()
        view_menu.addActions([acts[n] for n in ("rotate_cw", "rotate_ccw", "flip_h", "flip_v", "invert", "reset")])
        view_menu.addSeparator()
        self.window_menu = QMenu("&Window/Level Presets", self)
        self.window_menu.setEnabled(False)
        view_menu.addMenu(self.window_menu)
        view_menu.addSeparator()
        view_menu.addActions([acts["heatmap"], acts["corner_text"], acts["measure"], acts["clear_measurements"]])
        view_menu.addSeparator()
        view_menu.addActions([acts["next_image"], acts["previous_image"]])
        view_menu.addSeparator()
        for dock in (self.folder_dock, self.ai_dock, self.tags_dock):
            view_menu.addAction(dock.toggleViewAction())

        ai_menu = bar.addMenu("&AI")
        ai_menu.addActions([acts["run_ai"], acts["analyze_folder"], acts["model_card"]])
        ai_menu.addSeparator()
        ai_menu.addActions([acts["save_ai_dicom"], acts["send_ai_pacs"]])

        self.tools_menu = bar.addMenu("&Tools")
        self.tools_menu.menuAction().setVisible(False)  # shown once a tool (e.g. PACS) adds an action

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([acts["open_sample"], acts["shortcuts"], acts["log_file"], acts["about"]])

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("View", self)
        toolbar.setObjectName("viewToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.setMovable(False)
        acts = self.actions_by_name
        for name in ("open", "open_folder", None, "fit", "actual_size", "rotate_cw", "flip_h", "invert", "reset",
                     None, "measure", "corner_text", "heatmap", None, "run_ai", "analyze_folder", "export_pdf"):
            if name is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(acts[name])
        labels = {"open": "Open", "open_folder": "Folder", "fit": "Fit", "actual_size": "1:1", "rotate_cw": "Rotate",
                  "flip_h": "Flip", "invert": "Invert", "reset": "Reset", "measure": "Measure", "corner_text": "Info",
                  "heatmap": "Heatmap", "run_ai": "Analyze", "analyze_folder": "Batch", "export_pdf": "Report"}
        for name, text in labels.items():
            acts[name].setIconText(text)
        self.addToolBar(toolbar)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.pixel_label = QLabel("")
        self.pixel_label.setAccessibleName("Pixel value under the cursor")
        self.spacing_label = QLabel("")
        self.spacing_label.setAccessibleName("Pixel spacing")
        self.model_status_label = QLabel("")
        self.model_status_label.setAccessibleName("Model status")
        status.addPermanentWidget(self.pixel_label)
        status.addPermanentWidget(self.spacing_label)
        status.addPermanentWidget(self.model_status_label)

    def _wire(self) -> None:
        self.view.pixel_info.connect(self.pixel_label.setText)
        self.view.measurement_added.connect(lambda text: self.statusBar().showMessage(f"Distance: {text}", 8000))
        self.folder_panel.open_requested.connect(self.open_path)
        panel = self.ai_panel
        panel.run_requested.connect(self.run_prediction)
        panel.auto_run_toggled.connect(self._set_auto_run)
        panel.heatmap_toggled.connect(self.set_heatmap_visible)
        panel.opacity_changed.connect(self._set_opacity)
        panel.colormap_changed.connect(self._set_colormap)
        panel.cam_method_changed.connect(self._set_cam_method)
        panel.model_card_requested.connect(self.show_model_card)
        ac = self.analysis
        ac.model_loading.connect(self._on_model_loading)
        ac.model_ready.connect(self._on_model_ready)
        ac.model_failed.connect(self._on_model_failed)
        ac.prediction_started.connect(self._on_prediction_started)
        ac.prediction_ready.connect(self._on_prediction_ready)
        ac.prediction_failed.connect(self._on_prediction_failed)
        ac.audit_failed.connect(self.show_error)

    def _apply_settings_to_widgets(self) -> None:
        s = self.settings
        self.ai_panel.set_controls(auto_run=s.auto_run, heatmap_visible=s.overlay_visible, opacity=s.overlay_opacity,
                                   colormap=s.overlay_colormap, cam_method=s.cam_method)
        self.ai_panel.set_show_call_anyway(s.show_call_when_ood)
        self.analysis.show_call_anyway = s.show_call_when_ood
        self.actions_by_name["heatmap"].setChecked(s.overlay_visible)
        self.view.set_heatmap_visible(s.overlay_visible)
        self.view.set_heatmap_opacity(s.overlay_opacity)
        self.actions_by_name["corner_text"].setChecked(s.corner_text_visible)
        self.actions_by_name["deidentify_exports"].setChecked(s.deidentify_exports)
        self.view.set_corner_text_visible(s.corner_text_visible)

    def _restore_geometry(self) -> None:
        geometry = self.settings.qsettings.value("ui/geometry")
        state = self.settings.qsettings.value("ui/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    # ==================================================================================== plug-in points
    def add_tool_actions(self, *actions: QAction) -> None:
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
                if error.name == name:
                    continue
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
        self._colormaps = list(colormaps)
        self.ai_panel.set_colormaps(self._colormaps, self.settings.overlay_colormap)
        from desktop.heatmap_layer import colormap_lut_for_bar

        self.ai_panel.colour_bar.set_lut(colormap_lut_for_bar(self.settings.overlay_colormap))

    def start_model_loading(self) -> None:
        s = self.settings
        user_dir = Path(s.user_models_dir) if s.user_models_dir else default_user_models_dir()
        entries = find_bundles(bundled_models_dir(), user_dir)
        if s.model_path and not any(str(e.path) == s.model_path for e in entries):
            chosen = bundle_entry(s.model_path)  # a bundle outside both folders (xrayview --model DIR)
            entries += [chosen] if chosen is not None else []
        entry = choose_bundle(entries, s.model_path, default_bundle_name(bundled_models_dir()))
        self._installed_bundles = entries
        choice = self._body_part_choice(self.image)
        if choice is not None:  # an image is already on screen (command line): its body part decides
            entry = choice.entry
            self.statusBar().showMessage(choice.reason, 10000)
        if entry is None:
            self._set_model_state("none")
            self.model_status_label.setText("No AI model installed")
            self.ai_panel.set_model(None)
            return
        self._load_bundle(entry)

    def _load_bundle(self, entry) -> None:
        self.loaded_bundle = entry
        self.analysis.load_model(entry.path, self.settings.device, entry.title, self.settings.cam_method)

    def _body_part_choice(self, image):
        """A DICOM's BodyPartExamined picks the model made for it, unless the user pinned one in settings."""
        from desktop.model_choice import choose_for_body_part

        if image is None or self.settings.model_path:
            return None
        body_part = str((getattr(image, "metadata", None) or {}).get("BodyPartExamined") or "")
        choice = choose_for_body_part(self._installed_bundles, body_part)
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
            self.prediction = None
            self._load_bundle(choice.entry)
        self.statusBar().showMessage(choice.reason, 10000)

    def _set_model_state(self, state: str) -> None:
        self.model_state = state
        self.model_state_changed.emit(state)

    def _on_model_loading(self, name: str) -> None:
        self._set_model_state("loading")
        self.model_status_label.setText("loading model…")
        self.ai_panel.set_model_loading(name)

    def _on_model_ready(self, predictor) -> None:
        card = pa.card_of(predictor)
        device = str(predictor.device)
        self.ai_panel.set_model(card, device, self.settings.threshold_override)
        self.model_status_label.setText(f"{pa.model_title(card)} · {device}")
        self._set_model_state("ready")
        if self.image is not None and self.prediction is None and self.settings.auto_run \
                and not self._prediction_pending:
            self.run_prediction()

    def _on_model_failed(self, message: str) -> None:
        self._set_model_state("failed")
        self.model_status_label.setText("model failed to load")
        self.ai_panel.set_model_failed(message)
        self.show_error(message)

    # ==================================================================================== opening
    def ask_open_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open radiographs", self.settings.last_directory,
                                                FILE_DIALOG_FILTER)
        if paths:
            self.open_paths(paths)

    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder", self.settings.last_directory)
        if folder:
            self.open_folder(folder)

    def open_sample(self) -> None:
        self.open_path(str(sample_image_path()))

    def open_paths(self, paths: list[str | Path]) -> None:
        """Command line, drag and drop, other tools: a folder opens in the folder panel; files open the first."""
        paths = [Path(p) for p in paths]
        folders = [p for p in paths if p.is_dir()]
        if folders:
            self.open_folder(folders[0])
            return
        files = expand_paths(paths)
        if len(files) > 1:
            self.folder_dock.show()
            self.folder_panel.set_files(files)
        if files:
            self.open_path(str(files[0]))

    def open_folder(self, folder: str | Path) -> None:
        self.settings.last_directory = str(folder)
        self.folder_dock.show()
        found = self.folder_panel.set_folder(folder)
        if found:
            self.open_path(str(found[0]))
        else:
            self.show_error(f"{folder}: no images found in this folder")

    def open_path(self, path: str) -> None:
        """Loads on a worker thread; the result is shown only if no newer open was asked for meanwhile."""
        self._load_request += 1
        request = self._load_request
        self._requested_path = str(path)
        if self._load_job is not None:
            self._load_job.cancel()
        self.analysis.discard_current()  # whatever runs now belongs to the previous image
        self._prediction_pending = False
        self.statusBar().showMessage(f"Opening {Path(path).name}…")
        job = Job(_load_image_job, str(path), pass_progress=False, pass_cancel=False, name="load image")
        job.finished.connect(lambda loaded: self._on_image_loaded(request, path, *loaded))
        job.failed.connect(lambda error: self._on_image_failed(request, path, error))
        self._load_job = job
        job.start()

    def _on_image_loaded(self, request: int, path: str, image, renderer=None) -> None:
        if request != self._load_request:
            return
        self._load_job = None
        self.image = image
        self.prediction = None
        self.view.set_image(image, renderer=renderer)
        self.tag_tree.set_dataset(getattr(image, "dataset", None))
        self._fill_window_menu()
        from desktop.image_adapter import display_name, spacing_description

        self.setWindowTitle(f"{display_name(image)} — {APP_TITLE}")
        self.spacing_label.setText(spacing_description(image))
        notices = list(getattr(image, "notices", []) or [])
        self.statusBar().showMessage(f"Opened {path}" + (f" — {'; '.join(notices)}" if notices else ""), 8000)
        self.settings.add_recent_file(str(path))
        self.folder_panel.select_path(path)
        self.ai_panel.clear_result()
        self._update_result_actions()
        self._choose_model_for(image)
        self.image_shown.emit(image)
        if self.settings.auto_run and self.model_state in ("loading", "ready"):
            self.run_prediction()
        elif self.model_state == "ready":
            self.ai_panel.clear_result("Press Analyze (Ctrl+R) to run the model on this image.")

    def _on_image_failed(self, request: int, path: str, error: BaseException) -> None:
        if request != self._load_request:
            return
        self._load_job = None
        from inference.errors import XRayViewError

        if isinstance(error, XRayViewError):
            message = str(error)
        else:
            error_reporting.report_unexpected(error, "opening an image")
            message = f"{path}: could not be opened ({type(error).__name__}: {error})"
        self.show_error(message)
        if self.image is None:
            self.view.set_empty_message(message)
        self.image_failed.emit(message)

    def _step_image(self, step: int) -> None:
        current = getattr(self, "_requested_path", None)
        if current is None:
            return
        target = self.folder_panel.neighbour(current, step)  # from the last file asked for, even if unreadable
        if target:
            self.open_path(target)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent_files)

    def _fill_window_menu(self) -> None:
        from desktop.image_adapter import window_presets

        self.window_menu.clear()
        presets = window_presets(self.image, self.view.value_range)
        for index, preset in enumerate(presets):
            label = preset.name + (" (file)" if preset.source == "file" else "")
            action = self.window_menu.addAction(label, lambda p=preset: self.view.set_window_preset(p))
            if index < 9:
                action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
        self.window_menu.setEnabled(bool(presets))

    # drag and drop -------------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ==================================================================================== AI
    _prediction_pending = False

    def run_prediction(self) -> None:
        if self.image is None:
            self.show_error("Open an image first.")
            return
        if self.model_state not in ("loading", "ready"):
            self.ai_panel.set_error("No AI model is installed or loaded.")
            return
        self.prediction = None
        self._update_result_actions()
        self.view.clear_heatmap()
        self._prediction_pending = True
        self.analysis.request_prediction(self.image, self.ai_panel.cam_method(), self.settings.overlay_colormap)

    def _on_prediction_started(self, request_id: int) -> None:
        waiting = self.model_state == "loading"
        self.ai_panel.set_running("Waiting for the model to load…" if waiting else "Analyzing…")

    def _on_prediction_ready(self, request_id: int, prediction, layer=None) -> None:
        if request_id != self.analysis.current_request:
            return
        self._prediction_pending = False
        self.prediction = prediction
        self.ai_panel.set_prediction(prediction, prediction.device)
        self._update_result_actions()
        notices = list(prediction.notices)
        if notices:
            self.ai_panel.status_label.setText(" ".join(notices))
        if layer is not None and layer.colormap == self.settings.overlay_colormap \
                and layer.rgba.shape[:2] == self.image.modality.shape:
            self.view.set_heatmap_rgba(layer.rgba)  # coloured on the worker thread
        else:
            self._show_heatmap()
        self.prediction_shown.emit(prediction)

    def _on_prediction_failed(self, request_id: int, message: str) -> None:
        if request_id != self.analysis.current_request:
            return
        self._prediction_pending = False
        self.ai_panel.set_error(message)
        self.statusBar().showMessage(message, 10000)

    def _show_heatmap(self) -> None:
        heatmap = self.prediction.heatmap if self.prediction is not None else None
        if heatmap is None or self.image is None:
            self.view.clear_heatmap()
            return
        from desktop.heatmap_layer import heatmap_rgba

        self.view.set_heatmap_rgba(heatmap_rgba(heatmap, self.settings.overlay_colormap))

    def set_heatmap_visible(self, visible: bool) -> None:
        visible = bool(visible)
        self.settings.overlay_visible = visible
        self.view.set_heatmap_visible(visible)
        self.actions_by_name["heatmap"].setChecked(visible)
        if self.ai_panel.heatmap_check.isChecked() != visible:
            self.ai_panel.heatmap_check.blockSignals(True)
            self.ai_panel.heatmap_check.setChecked(visible)
            self.ai_panel.heatmap_check.blockSignals(False)

    def _set_opacity(self, opacity: float) -> None:
        self.settings.overlay_opacity = opacity
        self.view.set_heatmap_opacity(opacity)

    def _set_colormap(self, name: str) -> None:
        self.settings.overlay_colormap = name
        if self._colormaps:  # the colormap module is loaded (after start-up)
            from desktop.heatmap_layer import colormap_lut_for_bar

            self.ai_panel.colour_bar.set_lut(colormap_lut_for_bar(name))
        self._show_heatmap()

    def _set_cam_method(self, method: str) -> None:
        self.settings.cam_method = method
        if self.prediction is not None:
            self.run_prediction()

    def _set_auto_run(self, on: bool) -> None:
        self.settings.auto_run = bool(on)

    def set_corner_text_visible(self, visible: bool) -> None:
        self.settings.corner_text_visible = bool(visible)
        self.view.set_corner_text_visible(bool(visible))

    def show_model_card(self) -> None:
        predictor = self.analysis.predictor
        if predictor is None:
            self.show_error("No AI model is loaded.")
            return
        from desktop.model_card_dialog import ModelCardDialog

        ModelCardDialog(pa.card_of(predictor), self).exec()

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
        from desktop.image_files import find_images

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

    # ==================================================================================== export
    def ask_export_png(self) -> None:
        if self.image is None:
            self.show_error("Open an image first.")
            return
        target, _ = QFileDialog.getSaveFileName(self, "Export view as PNG",
                                                str(Path(self.settings.last_directory or Path.home())
                                                    / f"{self._export_stem()}-view.png"),
                                                "PNG image (*.png)")
        if target:
            self.export_png(Path(target))

    def export_png(self, target: Path) -> Path | None:
        from desktop.report_export import export_view_png

        deidentify = self.settings.deidentify_exports
        corner_text = self.settings.corner_text_visible
        if deidentify and corner_text:  # the corner text prints the patient's name and ID
            self.view.set_corner_text_visible(False)
        try:
            view_image = self.view.grab_image()
        finally:
            if deidentify and corner_text:
                self.view.set_corner_text_visible(True)
        try:
            export_view_png(view_image, target)
        except OSError as error:
            self.show_error(str(error))
            return None
        self.statusBar().showMessage(f"Saved {target}", 8000)
        return target

    def ask_export_pdf(self) -> None:
        if self.image is None:
            self.show_error("Open an image first.")
            return
        target, _ = QFileDialog.getSaveFileName(self, "Export PDF report",
                                                str(Path(self.settings.last_directory or Path.home())
                                                    / f"{self._export_stem()}-report.pdf"),
                                                "PDF (*.pdf)")
        if target:
            self.export_pdf(Path(target))

    def export_pdf(self, target: Path) -> Path | None:
        from desktop.report_builder import build_report_content
        from desktop.report_export import write_pdf_report

        if self.image is None:
            self.show_error("Open an image first.")
            return None
        content = build_report_content(self.image, self.view, self.prediction, pa.card_of(self.analysis.predictor),
                                       self.ai_panel.threshold, self.ai_panel.current_call(),
                                       self.settings.overlay_colormap, self.settings.overlay_opacity,
                                       deidentify=self.settings.deidentify_exports)
        try:
            write_pdf_report(content, target)
        except OSError as error:
            self.show_error(str(error))
            return None
        self.statusBar().showMessage(f"Saved {target}", 8000)
        return target

    def _export_stem(self) -> str:
        """The suggested export file name: the image's, with patient identifiers removed when de-identifying."""
        from desktop.image_adapter import display_name

        stem = Path(display_name(self.image)).stem
        if self.settings.deidentify_exports:
            from inference.deid import Deidentifier

            stem = Deidentifier().scrub_text(stem, getattr(self.image, "metadata", None) or {})
        return stem

    def _set_deidentify_exports(self, on: bool) -> None:
        self.settings.deidentify_exports = bool(on)

    # AI result as DICOM -------------------------------------------------------------------------------------
    def _update_result_actions(self) -> None:
        has_result = self.image is not None and self.prediction is not None
        for name in ("save_ai_dicom", "send_ai_pacs"):
            self.actions_by_name[name].setEnabled(has_result)

    def ask_save_ai_dicom(self) -> None:
        if self.prediction is None:
            self.show_error("Run the AI on this image first.")
            return
        folder = QFileDialog.getExistingDirectory(self, "Save AI result as DICOM", self.settings.last_directory)
        if folder:
            self.save_ai_dicom(folder)

    def save_ai_dicom(self, folder: str | Path) -> list[Path]:
        """Secondary Capture + Structured Report for the result on screen, saved into `folder`."""
        from desktop.ai_results import save_result_datasets
        from inference.errors import XRayViewError

        if self.image is None or self.prediction is None:
            self.show_error("Run the AI on this image first.")
            return []
        try:
            written = save_result_datasets(self.image, self.prediction, folder, self.settings.deidentify_exports,
                                           **self._ai_result_look())
        except (OSError, XRayViewError) as error:
            self.show_error(str(error))
            return []
        self.statusBar().showMessage(f"Saved {len(written)} DICOM object(s) to {folder}", 8000)
        return written

    def _ai_result_look(self) -> dict:
        """What the DICOM result objects take from the screen: the call shown and the heatmap's look."""
        return {"call": self.ai_panel.current_call(), "threshold": self.ai_panel.threshold,
                "colormap": self.settings.overlay_colormap, "opacity": self.settings.overlay_opacity}

    def send_ai_result_to_pacs(self):
        """Builds the result objects and opens the send dialog (returns it, None without a result)."""
        from desktop.ai_results import build_result_datasets
        from desktop.pacs_dialog import SendResultsDialog
        from inference.errors import XRayViewError

        if self.image is None or self.prediction is None:
            self.show_error("Run the AI on this image first.")
            return None
        try:
            datasets = build_result_datasets(self.image, self.prediction, self.settings.deidentify_exports,
                                             **self._ai_result_look())
        except XRayViewError as error:
            self.show_error(str(error))
            return None
        dialog = SendResultsDialog(datasets, self.settings.qsettings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    # ==================================================================================== settings & help
    def open_settings(self) -> None:
        from desktop.heatmap_layer import colormap_names
        from desktop.settings_dialog import SettingsDialog

        self._colormaps = self._colormaps or colormap_names()

        before = (self.settings.device, self.settings.model_path, self.settings.user_models_dir)
        dialog = SettingsDialog(self.settings, self._colormaps, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        dialog.apply()
        self.apply_settings(model_changed=before != (self.settings.device, self.settings.model_path,
                                                     self.settings.user_models_dir))

    def apply_settings(self, model_changed: bool = False) -> None:
        from desktop.theme import apply_theme

        apply_theme(QApplication.instance(), self.settings.theme)
        self._apply_settings_to_widgets()
        self._show_heatmap()
        if model_changed:
            self.prediction = None
            self._update_result_actions()
            self._prediction_pending = False  # the new model re-runs the image when it is ready
            self.view.clear_heatmap()
            self.start_model_loading()
        elif self.analysis.predictor is not None:
            card = pa.card_of(self.analysis.predictor)
            threshold = self.settings.threshold_override
            if threshold is None and card.get("threshold") is not None:
                threshold = float(card["threshold"])
            if threshold is not None and self.ai_panel.threshold is not None:
                self.ai_panel.set_threshold(threshold)

    def show_shortcuts(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        dialog.resize(480, 640)
        layout = QVBoxLayout(dialog)
        browser = QTextBrowser()
        browser.setAccessibleName("Keyboard shortcuts")
        browser.setHtml(shortcuts_html())
        layout.addWidget(browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.exec()

    def show_about(self) -> None:
        QMessageBox.about(self, "About XRayView",
                          "<b>XRayView</b> — offline radiograph viewer with on-device AI.<br><br>"
                          "<b>Not for diagnostic use.</b> Research and education only.")

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
        if self._load_job is not None:
            self._load_job.cancel()
        self.analysis.shutdown(timeout_ms=30_000)  # a running forward pass cannot be interrupted: wait for it
        error_reporting.set_notifier(None)
        super().closeEvent(event)
