"""Page 6: name the model, save the bundle into the user's models folder (atomic, validated) and, if wished,
make it the viewer's active model.

Quality gate: a model whose test AUC's 95% CI includes 0.5, whose test split has fewer than 20 films of a class,
or that has no out-of-distribution guard is saved but not made the active model unless the user confirms a warning
naming the reason (jobs.activation_concerns). After saving, the model can be calibrated to the site's own films."""
from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton,
                               QVBoxLayout, QWizardPage)

from desktop.wizard.banner import warning_banner
from desktop.wizard.context import WizardContext
from desktop.wizard.jobs import activation_concerns, bundle_folder_name, save_bundle
from desktop.wizard.report_page import describe_failure
from desktop.workers import Job


class SavePage(QWizardPage):
    saved = Signal(str, bool)  # bundle folder, make it the active model
    save_failed = Signal(str)
    calibrate_requested = Signal(str)  # the saved bundle folder (the viewer opens its calibration tool)

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
        self.gate_label = warning_banner("qualityGate", "Why this model is not made the active model")
        layout.addWidget(self.gate_label)
        self.threshold_label = QLabel("")
        self.threshold_label.setAccessibleName("Threshold saved with the model")
        self.threshold_label.setWordWrap(True)
        layout.addWidget(self.threshold_label)
        self.concerns: list[str] = []
        # asked when the user keeps "make it active" despite the concerns; tests replace it
        self.confirm_activation = self._ask_to_activate
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
        self.calibrate_button = QPushButton("Calibrate it to this site…")
        self.calibrate_button.setAccessibleName("Calibrate the saved model to this site's films")
        self.calibrate_button.setToolTip("Fit the saved model's operating point on your own labelled films "
                                         "(Tools > Calibrate model to this site)")
        self.calibrate_button.setEnabled(False)
        self.calibrate_button.clicked.connect(self._calibrate)
        row2 = QHBoxLayout()
        row2.addStretch(1)
        row2.addWidget(self.calibrate_button)
        layout.addLayout(row2)
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802
        card = self.context.trained.card
        stamp = datetime.now().strftime("%Y-%m-%d %H%M")
        classes = "-".join(card.labels)[:40]
        self.name_edit.setText(f"{classes} {card.architecture} {stamp}")
        self.status_label.setText("")
        self.status_label.setStyleSheet("")
        trained = self.context.trained
        self.concerns = activation_concerns(card, trained.test_counts(), trained.ood_error)
        if self.concerns:
            self.activate_check.setChecked(False)
            self.gate_label.setText("This model will be saved but not made the active model unless you confirm: "
                                    + "; ".join(self.concerns) + ".")
            self.gate_label.show()
        else:
            self.activate_check.setChecked(True)
            self.gate_label.hide()
        chosen = self.context.chosen_threshold
        self.threshold_label.setText(
            f"Operating threshold saved with the model: {chosen:.3f} (chosen by you on the evaluation page)."
            if chosen is not None else
            (f"Operating threshold saved with the model: {card.threshold:.3f} (chosen on the validation split)."
             if card.threshold is not None else ""))
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
                  name="save model", threshold=self.context.chosen_threshold, test=self.context.trained.test)
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
        if make_active and self.concerns and not self.confirm_activation(self.concerns):
            make_active = False
        if make_active:
            self.context.settings.model_path = str(path)
        self.calibrate_button.setEnabled(True)
        self.activate_check.setEnabled(False)
        self.status_label.setStyleSheet("color: #2e7d32;")
        self.status_label.setText(f"Saved to {path}." + (" It is now the viewer's active model." if make_active
                                                         else " Choose it in Settings to use it."))
        self.completeChanged.emit()
        self.saved.emit(str(path), make_active)

    def _ask_to_activate(self, concerns: list[str]) -> bool:
        answer = QMessageBox.warning(
            self, "Make this model the active model?",
            "The model was saved. Making it the viewer's active model is not advised: " + "; ".join(concerns)
            + ".\n\nMake it the active model anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _calibrate(self) -> None:
        """Asks for Tools > Calibrate model to this site… with the saved model chosen."""
        if self.context.saved_path is not None:
            self.calibrate_requested.emit(str(self.context.saved_path))

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
