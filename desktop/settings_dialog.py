"""Settings: device, model (bundled + user models folder), threshold, auto-run, theme, overlay defaults."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.paths import default_user_models_dir
from desktop.settings import AppSettings
from inference import bundle_catalog
from inference.vocabulary import CAM_METHOD_TITLES, DEVICE_TITLES


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, colormaps: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        self._settings = settings
        layout = QVBoxLayout(self)
        form = QFormLayout()
        layout.addLayout(form)

        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Compute device")
        for key, title in DEVICE_TITLES.items():
            self.device_combo.addItem(title, key)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(settings.device)))
        form.addRow("Device", self.device_combo)

        folder_row = QWidget()
        folder_layout = QHBoxLayout(folder_row)
        folder_layout.setContentsMargins(0, 0, 0, 0)
        self.user_models_edit = QLineEdit(settings.user_models_dir or str(default_user_models_dir()))
        self.user_models_edit.setAccessibleName("User models folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_models)
        folder_layout.addWidget(self.user_models_edit, 1)
        folder_layout.addWidget(browse)
        form.addRow("User models folder", folder_row)

        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Model")
        form.addRow("Model", self.model_combo)
        self.user_models_edit.editingFinished.connect(self._fill_models)
        self._fill_models()

        threshold_row = QWidget()
        threshold_layout = QHBoxLayout(threshold_row)
        threshold_layout.setContentsMargins(0, 0, 0, 0)
        self.threshold_check = QCheckBox("Override the model card's threshold:")
        self.threshold_check.setAccessibleName("Override threshold")
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setDecimals(3)
        self.threshold_spin.setSingleStep(0.01)
        self.threshold_spin.setAccessibleName("Threshold value")
        override = settings.threshold_override
        self.threshold_check.setChecked(override is not None)
        self.threshold_spin.setValue(override if override is not None else 0.5)
        self.threshold_spin.setEnabled(override is not None)
        self.threshold_check.toggled.connect(self.threshold_spin.setEnabled)
        threshold_layout.addWidget(self.threshold_check)
        threshold_layout.addWidget(self.threshold_spin)
        form.addRow("Threshold", threshold_row)

        self.show_ood_call_check = QCheckBox("Show the call even when the image is unlike the training data "
                                             "(expert; marked \"shown anyway\")")
        self.show_ood_call_check.setAccessibleName("Show the call for out-of-distribution images")
        self.show_ood_call_check.setToolTip("By default no call is given when the out-of-distribution guard warns: "
                                            "the probabilities may then mean nothing.")
        self.show_ood_call_check.setChecked(settings.show_call_when_ood)
        form.addRow("Unusual images", self.show_ood_call_check)

        self.auto_run_check = QCheckBox("Run the AI model when an image opens")
        self.auto_run_check.setChecked(settings.auto_run)
        form.addRow("Auto-run", self.auto_run_check)

        self.theme_combo = QComboBox()
        self.theme_combo.setAccessibleName("Theme")
        self.theme_combo.addItem("Dark", "dark")
        self.theme_combo.addItem("Light", "light")
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(settings.theme)))
        form.addRow("Theme", self.theme_combo)

        self.overlay_check = QCheckBox("Show the heatmap by default")
        self.overlay_check.setChecked(settings.overlay_visible)
        form.addRow("Heatmap", self.overlay_check)
        self.opacity_spin = QDoubleSpinBox()
        self.opacity_spin.setRange(0.0, 1.0)
        self.opacity_spin.setSingleStep(0.05)
        self.opacity_spin.setValue(settings.overlay_opacity)
        self.opacity_spin.setAccessibleName("Default heatmap opacity")
        form.addRow("Heatmap opacity", self.opacity_spin)
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(colormaps)
        self.colormap_combo.setCurrentIndex(max(0, self.colormap_combo.findText(settings.overlay_colormap)))
        self.colormap_combo.setAccessibleName("Default heatmap colormap")
        form.addRow("Heatmap colormap", self.colormap_combo)
        self.cam_combo = QComboBox()
        for key, title in CAM_METHOD_TITLES.items():
            self.cam_combo.addItem(title, key)
        self.cam_combo.setCurrentIndex(max(0, self.cam_combo.findData(settings.cam_method)))
        self.cam_combo.setAccessibleName("Default heatmap method")
        form.addRow("Heatmap method", self.cam_combo)
        self.deidentify_check = QCheckBox("Leave patient name, ID and dates out of PNG/PDF/CSV/DICOM exports")
        self.deidentify_check.setAccessibleName("De-identify exports")
        self.deidentify_check.setChecked(settings.deidentify_exports)
        form.addRow("Exports", self.deidentify_check)
        self.audit_path_combo = QComboBox()
        for key, title in (("auto", "Automatic: folder only while exports are de-identified"),
                           ("full", "Full file path"),
                           ("folder", "Folder only (the file is identified by its SHA-256)")):
            self.audit_path_combo.addItem(title, key)
        self.audit_path_combo.setCurrentIndex(max(0, self.audit_path_combo.findData(settings.audit_source_path)))
        self.audit_path_combo.setAccessibleName("File names in the AI audit log")
        form.addRow("Audit log file names", self.audit_path_combo)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _browse_models(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "User models folder", self.user_models_edit.text())
        if folder:
            self.user_models_edit.setText(folder)
            self._fill_models()

    def _fill_models(self) -> None:
        self.model_combo.clear()
        self.model_combo.addItem("Automatic (default model; by DICOM body part)", "")
        for entry in bundle_catalog.find_bundles(bundle_catalog.bundled_models_dir(),
                                                 Path(self.user_models_edit.text() or default_user_models_dir())):
            self.model_combo.addItem(entry.title, str(entry.path))
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(self._settings.model_path)))

    def apply(self) -> None:
        """Writes the dialog's values to the settings (called by the owner after `exec()` accepted)."""
        s = self._settings
        s.device = self.device_combo.currentData()
        s.user_models_dir = self.user_models_edit.text()
        s.model_path = self.model_combo.currentData() or ""
        s.threshold_override = self.threshold_spin.value() if self.threshold_check.isChecked() else None
        s.auto_run = self.auto_run_check.isChecked()
        s.show_call_when_ood = self.show_ood_call_check.isChecked()
        s.theme = self.theme_combo.currentData()
        s.overlay_visible = self.overlay_check.isChecked()
        s.overlay_opacity = self.opacity_spin.value()
        s.overlay_colormap = self.colormap_combo.currentText()
        s.cam_method = self.cam_combo.currentData()
        s.deidentify_exports = self.deidentify_check.isChecked()
        s.audit_source_path = self.audit_path_combo.currentData()
        s.sync()
