"""Page 6: name the model, save the bundle into the user's models folder (atomic, validated) and, if wished,
make it the viewer's active model."""
from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
                               QWizardPage)

from desktop.wizard.context import WizardContext
from desktop.wizard.jobs import bundle_folder_name, save_bundle
from desktop.wizard.report_page import describe_failure
from desktop.workers import Job


class SavePage(QWizardPage):
    saved = Signal(str, bool)  # bundle folder, make it the active model
    save_failed = Signal(str)

    def __init__(self, context: WizardContext, parent=None):
        super().__init__(parent)
        self.context = context
        self.job: Job | None = None
        self.setTitle("Save the model")
        self.setSubTitle("The bundle (weights, model card, dataset report, curves) goes into your models folder.")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Model name")
        self.name_edit.textChanged.connect(self._name_changed)
        form.addRow("Name:", self.name_edit)
        self.folder_label = QLabel("")
        self.folder_label.setAccessibleName("Destination folder")
        self.folder_label.setWordWrap(True)
        form.addRow("Saved as:", self.folder_label)
        layout.addLayout(form)
        self.activate_check = QCheckBox("Make it the active model in the viewer")
        self.activate_check.setAccessibleName("Make it the active model")
        self.activate_check.setChecked(True)
        layout.addWidget(self.activate_check)
        row = QHBoxLayout()
        row.addStretch(1)
        self.save_button = QPushButton("Save model")
        self.save_button.clicked.connect(self.save)
        row.addWidget(self.save_button)
        layout.addLayout(row)
        self.status_label = QLabel("")
        self.status_label.setAccessibleName("Save status")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802
        card = self.context.trained.card
        stamp = datetime.now().strftime("%Y-%m-%d %H%M")
        classes = "-".join(card["labels"])[:40]
        self.name_edit.setText(f"{classes} {card['architecture']} {stamp}")
        self.status_label.setText("")
        self.status_label.setStyleSheet("")
        self._name_changed()

    def target(self):
        return self.context.models_dir() / bundle_folder_name(self.name_edit.text())

    def _name_changed(self) -> None:
        if self.context.saved_path is not None:
            return
        target = self.target()
        exists = target.exists()
        self.folder_label.setText(str(target) + ("  — a model with this name exists; choose another" if exists else ""))
        self.save_button.setEnabled(bool(self.name_edit.text().strip()) and not exists and self.job is None)

    def save(self) -> None:
        if self.job is not None or self.context.trained is None:
            return
        self.save_button.setEnabled(False)
        self.name_edit.setEnabled(False)
        self.status_label.setText("Saving…")
        job = Job(save_bundle, self.context.trained.bundle_dir, self.context.models_dir(), self.name_edit.text(),
                  name="save model")
        job.finished.connect(lambda path, j=job: self._on_saved(j, path))
        job.failed.connect(lambda error, j=job: self._on_failed(j, error))
        self.job = job
        job.start()

    def _on_saved(self, job: Job, path) -> None:
        if job is not self.job:
            return
        self.job = None
        self.context.saved_path = path
        self.context.discard_staging()
        make_active = self.activate_check.isChecked()
        if make_active:
            self.context.settings.model_path = str(path)
        self.activate_check.setEnabled(False)
        self.status_label.setStyleSheet("color: #2e7d32;")
        self.status_label.setText(f"Saved to {path}." + (" It is now the viewer's active model." if make_active
                                                         else " Choose it in Settings to use it."))
        self.completeChanged.emit()
        self.saved.emit(str(path), make_active)

    def _on_failed(self, job: Job, error: BaseException) -> None:
        if job is not self.job:
            return
        self.job = None
        message = describe_failure(error)
        self.status_label.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.status_label.setText(f"Not saved: {message}")
        self.name_edit.setEnabled(True)
        self._name_changed()
        self.save_failed.emit(message)

    def isComplete(self) -> bool:  # noqa: N802
        return self.context.saved_path is not None
