"""Tools > Calibrate model to this site…: fits a bundle's temperature and threshold on the site's own labelled films
(`DIR/CLASS/*`) with training.site_calibration.calibrate_bundle on a worker (progress, cancel), writes the result as
a NEW bundle version (its folder must not exist: nothing is ever overwritten), shows the measured rates with their
CIs and the small-set warning, and offers to make the new version the viewer's active model."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop import card_facts
from desktop.workers import Job
from inference.model_card import ModelCard

DEFAULT_TARGET_SENSITIVITY = 0.97  # training.site_calibration's default (not imported: that module loads torch)


def calibrate_job(bundle_dir: str, data_dir: str, out: str, target_sensitivity: float, *, progress, cancel):
    """Worker-thread function: training.site_calibration.calibrate_bundle with its event dicts forwarded as
    (done, total, event) to the Job's progress."""
    from training.site_calibration import calibrate_bundle

    from training.events import DecodeProgress

    def on_event(event) -> None:
        done, total = (event.done, event.total) if isinstance(event, DecodeProgress) else (0, 0)
        progress(int(done), int(total), event)

    return calibrate_bundle(Path(bundle_dir), Path(data_dir), Path(out), target_sensitivity=target_sensitivity,
                            command="XRayView viewer: Tools > Calibrate model to this site", progress=on_event,
                            cancel=cancel)


def new_version_folder(models_dir: Path, name: str, today: dt.date | None = None) -> Path:
    """<models dir>/<name>-site-<date>, with -2, -3, ... when that folder already exists."""
    stem = f"{name}-site-{(today or dt.date.today()):%Y%m%d}"
    candidate, counter = models_dir / stem, 2
    while candidate.exists():
        candidate, counter = models_dir / f"{stem}-{counter}", counter + 1
    return candidate


class CalibrationDialog(QDialog):
    activate_requested = Signal(str)  # the new bundle folder
    calibration_finished = Signal(str)  # "finished" | "cancelled" | "failed"

    def __init__(self, bundles: list, active: str | Path | None, models_dir: Path, parent: QWidget | None = None):
        """bundles: inference.bundle_catalog entries (path, title); active: the bundle to preselect; models_dir: where
        the new version goes by default (the user models folder)."""
        super().__init__(parent)
        self.setWindowTitle("Calibrate model to this site")
        self.setAccessibleName("Calibrate model to this site")
        self.setMinimumWidth(620)
        self.resize(680, 560)  # room for a typical result; the dialog grows to show a longer one
        self._models_dir = Path(models_dir)
        self._job: Job | None = None
        self.result = None
        self.state = "idle"

        layout = QVBoxLayout(self)
        # the form never shrinks below what its rows need: a long result scrolls instead of squeezing them
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetMinimumSize)
        intro = QLabel("Fits the model's temperature and operating threshold on your own labelled films (one "
                       "sub-folder per label, e.g. NORMAL/ and PNEUMONIA/) and saves the result as a new model "
                       "version. The original model is never changed. The weights are not retrained.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        layout.addLayout(form)
        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Model to calibrate")
        for entry in bundles:
            self.model_combo.addItem(entry.title, str(entry.path))
        if active is not None:
            index = self.model_combo.findData(str(active))
            if index < 0:
                self.model_combo.addItem(Path(active).name, str(active))
                index = self.model_combo.count() - 1
            self.model_combo.setCurrentIndex(index)
        form.addRow("Model", self.model_combo)
        self.data_edit = QLineEdit()
        self.data_edit.setAccessibleName("Labelled site folder")
        self.data_edit.setPlaceholderText("DIR with one sub-folder per label")
        form.addRow("Labelled films", self._with_browse(self.data_edit, self._browse_data))
        self.target_spin = QDoubleSpinBox()
        self.target_spin.setAccessibleName("Target sensitivity")
        self.target_spin.setRange(0.5, 0.995)
        self.target_spin.setDecimals(3)
        self.target_spin.setSingleStep(0.01)
        self.target_spin.setValue(DEFAULT_TARGET_SENSITIVITY)
        form.addRow("Target sensitivity", self.target_spin)
        self.out_edit = QLineEdit()
        self.out_edit.setAccessibleName("New version folder")
        form.addRow("New version folder", self._with_browse(self.out_edit, self._browse_out))
        self.model_combo.currentIndexChanged.connect(self._suggest_out)
        self._suggest_out()

        row = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setAccessibleName("Calibration progress")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.run_button = QPushButton("Calibrate")
        self.run_button.setAccessibleName("Start the site calibration")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the site calibration")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setAccessibleName("Calibration status")
        layout.addWidget(self.status_label)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        self.result_label.setAccessibleName("Calibration result")
        self.warning_label = QLabel("")
        self.warning_label.setWordWrap(True)
        self.warning_label.setObjectName("calibrationWarning")
        self.warning_label.setStyleSheet("QLabel#calibrationWarning { color: #ffffff; background: #b00020; "
                                         "padding: 4px; font-weight: bold; }")
        self.warning_label.setAccessibleName("Small-set warning")
        self.warning_label.hide()
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.result_label)
        results_layout.addWidget(self.warning_label)
        results_layout.addStretch(1)
        self.result_area = QScrollArea()
        self.result_area.setWidget(results)
        self.result_area.setWidgetResizable(True)
        self.result_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.result_area.setMinimumHeight(80)
        layout.addWidget(self.result_area, 1)
        bottom = QHBoxLayout()
        self.activate_button = QPushButton("Make it the active model")
        self.activate_button.setAccessibleName("Make the new version the active model")
        self.activate_button.setEnabled(False)
        self.activate_button.clicked.connect(self._activate)
        close_button = QPushButton("Close")
        close_button.clicked.connect(self.close)
        bottom.addStretch(1)
        bottom.addWidget(self.activate_button)
        bottom.addWidget(close_button)
        layout.addLayout(bottom)

    @staticmethod
    def _with_browse(edit: QLineEdit, browse) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        button = QPushButton("Browse…")
        button.clicked.connect(browse)
        box.addWidget(edit, 1)
        box.addWidget(button)
        return row

    def _browse_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Labelled site films", self.data_edit.text())
        if folder:
            self.data_edit.setText(folder)

    def _browse_out(self) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "New version folder (must not exist)", self.out_edit.text())
        if target:
            self.out_edit.setText(target)

    def _suggest_out(self) -> None:
        bundle = self.model_combo.currentData()
        if bundle:
            self.out_edit.setText(str(new_version_folder(self._models_dir, Path(bundle).name)))

    # -- run ------------------------------------------------------------------------------------------------
    def problem(self) -> str:
        """Why the calibration cannot start ("" when it can): checked before any work is done."""
        bundle, data, out = self.model_combo.currentData(), self.data_edit.text().strip(), self.out_edit.text().strip()
        if not bundle:
            return "Choose the model to calibrate."
        if not data or not Path(data).is_dir():
            return f"{data or 'The labelled folder'}: not a folder. Choose a folder with one sub-folder per label."
        if not out:
            return "Choose the folder for the new version."
        if Path(out).exists():
            return f"{out}: already exists. Site calibration writes a new version and never replaces a folder."
        if Path(out).resolve() == Path(bundle).resolve():
            return "The new version cannot be the original model's folder."
        return ""

    def start(self) -> Job | None:
        problem = self.problem()
        if problem:
            self.status_label.setText(problem)
            return None
        self.result = None
        self.state = "running"
        self.warning_label.hide()
        self.result_label.setText("")
        self.activate_button.setEnabled(False)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        self.status_label.setText("Reading and scoring the site's films…")
        job = Job(calibrate_job, self.model_combo.currentData(), self.data_edit.text().strip(),
                  self.out_edit.text().strip(), float(self.target_spin.value()), name="site calibration")
        job.progress.connect(self._on_progress)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        self._job = job
        return job.start()

    def cancel(self) -> None:
        if self._job is not None and self.state == "running":
            self.status_label.setText("Cancelling…")
            self._job.cancel()

    def is_running(self) -> bool:
        return self.state == "running"

    def _on_progress(self, done: int, total: int, event) -> None:
        if total > 0:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(done)
            self.status_label.setText(f"Reading films: {done} of {total}")

    def _end(self, state: str, message: str) -> None:
        self.state = state
        self._job = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if state == "finished" else 0)
        self.status_label.setText(message)
        self.calibration_finished.emit(state)

    def _on_finished(self, result) -> None:
        self.result = result
        card = ModelCard(result.card)
        lines = card_facts.site_calibration_lines(card)
        self.result_label.setText("\n".join(line for line in lines if not line.startswith("Warning: ")))
        if result.warnings:
            self.warning_label.setText("⚠ " + "\n⚠ ".join(result.warnings))
            self.warning_label.show()
        self.activate_button.setEnabled(True)
        self._end("finished", f"Saved the new version {card.name} {card.version} to {result.out}. "
                              "The original model is unchanged.")
        self.fit_result()

    def fit_result(self) -> None:
        """Grows the dialog (within the screen) until the whole result shows without scrolling."""
        content = self.result_area.widget()
        content.layout().activate()
        needed = content.layout().totalHeightForWidth(self.result_area.viewport().width())
        missing = needed - self.result_area.viewport().height()
        if missing <= 0:
            return
        screen = self.screen() or QGuiApplication.primaryScreen()
        room = screen.availableGeometry().height() - self.frameGeometry().height() if screen is not None else 0
        self.resize(self.width(), self.height() + max(0, min(missing, room)))

    def _on_failed(self, error) -> None:
        from inference.errors import XRayViewError

        if not isinstance(error, (XRayViewError, OSError)):
            from desktop.error_reporting import report_unexpected

            report_unexpected(error, "site calibration")
        self._end("failed", f"Calibration failed: {error}. Nothing was written.")

    def _on_cancelled(self) -> None:
        out = Path(self.out_edit.text().strip())
        self._end("cancelled", "Cancelled. " + ("Nothing was written." if not out.exists() else f"{out} exists."))

    def _activate(self) -> None:
        if self.result is not None:
            self.activate_requested.emit(str(self.result.out))
            self.activate_button.setEnabled(False)
            self.status_label.setText(f"{self.result.out} is now the viewer's active model.")

    def closeEvent(self, event) -> None:  # noqa: N802
        self.cancel()
        super().closeEvent(event)


def open_calibration_dialog(host, bundle: str | Path | None = None) -> CalibrationDialog:
    """Modeless dialog; `bundle` preselects a model (default: the viewer's active one). `host`:
    desktop.tool_host.ToolHost."""
    from PySide6.QtCore import Qt

    from desktop.paths import default_user_models_dir
    from inference import bundle_catalog

    settings = host.settings
    models_dir = Path(settings.user_models_dir) if settings.user_models_dir else default_user_models_dir()
    if bundle is None:
        bundle = host.active_model_path() or settings.model_path or None
    dialog = CalibrationDialog(bundle_catalog.find_bundles(bundle_catalog.bundled_models_dir(), models_dir), bundle,
                               models_dir, host)

    def activate(path: str) -> None:
        settings.model_path = path
        host.apply_settings(model_changed=True)

    dialog.activate_requested.connect(activate)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    host.keep_tool_dialog("calibration", dialog)
    dialog.show()
    return dialog


def install_tools(host) -> None:
    """Called by the viewer after it is shown (desktop.tool_host): adds Tools > Calibrate model to this site…"""
    from PySide6.QtGui import QAction

    action = QAction("&Calibrate model to this site…", host)
    action.setObjectName("calibrate_model")
    action.triggered.connect(lambda: open_calibration_dialog(host))
    host.add_tool_actions(action)
