"""AI > Analyze Folder: asks for a folder, opens the results table (desktop.batch_dialog) and runs the loaded
model over its images on a worker, calling each at the AI session's operating point as the run starts (one run
at a time: a new one cancels the previous)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QFileDialog


class FolderAnalysis:
    def __init__(self, session, runner, settings, messages, open_path: Callable[[str], None],
                 start_folder: Callable[[], str], dialog_parent):
        """`runner`: AnalysisController (the model and the job); `messages`: desktop.status_messages.
        StatusMessages; `open_path(path)`: a row double-clicked opens there; `start_folder()`: where the folder
        dialog starts."""
        self._session, self._runner, self._settings, self._messages = session, runner, settings, messages
        self._open_path, self._start_folder, self._parent = open_path, start_folder, dialog_parent
        self.dialog = None  # the results dialog of the latest run

    def ask(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Analyze folder", self._start_folder())
        if folder:
            self.analyze(folder)

    def analyze(self, folder: str | Path):
        """Opens the results dialog and starts the run; returns the dialog (None without a model)."""
        predictor = self._runner.predictor
        if predictor is None:
            self._messages.error("Analyze folder needs a loaded AI model.")
            return None
        from desktop.batch_dialog import BatchDialog
        from inference.image_files import find_images

        paths = find_images(folder)
        if not paths:
            self._messages.error(f"{folder}: no images found in this folder")
            return None
        self.cancel()
        operating_point = self._session.operating_point
        dialog = BatchDialog(Path(folder), list(predictor.labels), operating_point, self._parent,
                             deidentify=self._settings.deidentify_exports)
        dialog.open_requested.connect(self._open_path)
        self.dialog = dialog
        dialog.show()
        job = self._runner.analyze_folder_job(paths, show_anyway=operating_point.show_anyway)
        job.progress.connect(self._on_row)
        dialog.start(job, len(paths))
        return dialog

    def cancel(self) -> None:
        if self.dialog is not None and self.dialog.is_running():
            self.dialog.cancel()

    def _on_row(self, done: int, total: int, row) -> None:
        if isinstance(row, dict) and row.get("audit_error"):
            self._messages.error(row["audit_error"])
