"""The training wizard: folders -> dataset report -> model and options -> training -> evaluation -> save.
Every long step runs on a `desktop.workers.Job`; the dialog is modeless so the viewer stays usable."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWizard

from desktop.settings import AppSettings
from desktop.wizard.context import WizardContext
from desktop.wizard.evaluation_page import EvaluationPage
from desktop.wizard.folders_page import FoldersPage
from desktop.wizard.options_page import OptionsPage
from desktop.wizard.report_page import ReportPage
from desktop.wizard.save_page import SavePage
from desktop.wizard.training_page import TrainingPage

SHUTDOWN_WAIT_MS = 20_000  # one batch of the largest model on a slow CPU, with room to spare


class TrainingWizard(QWizard):
    model_saved = Signal(str, bool)  # bundle folder, make it the active model
    calibrate_requested = Signal(str)  # the saved bundle folder, to calibrate to this site

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Train a model")
        self.setAccessibleName("Training wizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.resize(900, 720)
        self.context = WizardContext(settings)
        self.folders_page = FoldersPage(self.context)
        self.report_page = ReportPage(self.context)
        self.options_page = OptionsPage(self.context)
        self.training_page = TrainingPage(self.context)
        self.evaluation_page = EvaluationPage(self.context)
        self.save_page = SavePage(self.context)
        for page in (self.folders_page, self.report_page, self.options_page, self.training_page,
                     self.evaluation_page, self.save_page):
            self.addPage(page)
        self.save_page.saved.connect(self.model_saved)
        self.save_page.calibrate_requested.connect(self.calibrate_requested)

    def shutdown(self) -> None:
        """Stops whatever runs and removes the unsaved run's files (Cancel, close, or the viewer quitting)."""
        self.report_page.stop()
        self.options_page.stop()
        if self.training_page.is_running():
            self.training_page.job.cancel()
            self.training_page.wait(SHUTDOWN_WAIT_MS)
            self.training_page.stop()
        if self.context.saved_path is None:
            self.context.trained = None
        self.context.discard_staging()

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)
