"""Page 4: the training run on a worker thread, with live loss and validation-AUC curves, the ETA and a
Cancel button (honoured between batches). Once an epoch has been validated, "Stop and keep the best epoch" ends
training early and goes on with the best epoch so far (evaluation, calibration, OOD guard, the bundle), as early
stopping would. A cancelled or failed run leaves no bundle anywhere the viewer looks; the error stays on the page
and Back is enabled again.

A run cancelled after an epoch was validated keeps its checkpoint (in its private staging folder, never in the
models folder): "Resume training", or Back and Next with the same options, continues it with the next epoch as
`xrayview-train --resume` does; "Start over", other options, or closing the wizard discard it. Sealing the bundle
removes the checkpoint."""
from __future__ import annotations

import threading

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWizard,
                               QWizardPage)

from desktop.wizard.context import WizardContext, format_duration
from desktop.wizard.curve_plot import CurvePlot
from desktop.wizard.jobs import has_checkpoint, remove_tree, train_model, wizard_recipe
from desktop.wizard.report_page import describe_failure
from desktop.workers import Job
from training.events import (BatchDone, DecodeProgress, EpochDone, GuardProgress, Stage, StageStarted,
                             TrainingResumed, TrainingStopped)

STAGE_TEXT = {Stage.PREPARE_DATA: "Reading the images", Stage.TRAIN: "Training",
              Stage.EVALUATE: "Evaluating on the test split", Stage.CALIBRATE: "Choosing the operating threshold",
              Stage.FIT_GUARD: "Fitting the out-of-distribution guard",
              Stage.CHECK_HEATMAPS: "Checking where the heatmaps fall", Stage.WRITE_CARD: "Writing the model card",
              Stage.SEAL: "Writing the model bundle"}


class TrainingPage(QWizardPage):
    training_finished = Signal(object)  # TrainedModel
    training_failed = Signal(str)
    training_cancelled = Signal()

    def __init__(self, context: WizardContext, parent=None):
        super().__init__(parent)
        self.context = context
        self.job: Job | None = None
        self.stop_event = threading.Event()
        self.events_seen = 0
        self.recipe = ""  # the recipe file's text the current (or last) run trains from
        self.resuming = False  # the current (or last) run continues a cancelled one
        self.epochs_done = 0  # validated epochs of that run, resumed ones included (its checkpoint's epoch)
        self.resumed_from: int | None = None  # the epoch the run continued after, when it was resumed
        self.training_ended = False  # that run's epochs are over (all run, early stopping, or the user's stop)
        self.setTitle("Training")
        self.setSubTitle("The model trains in the background; you can keep using the viewer.")
        layout = QVBoxLayout(self)
        self.stage_label = QLabel("")
        self.stage_label.setAccessibleName("Training stage")
        layout.addWidget(self.stage_label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setAccessibleName("Training progress")
        layout.addWidget(self.progress_bar)
        self.eta_label = QLabel("")
        self.eta_label.setAccessibleName("Time left")
        layout.addWidget(self.eta_label)
        plots = QHBoxLayout()
        self.loss_plot = CurvePlot("Loss", "epoch", "cross-entropy")
        self.auc_plot = CurvePlot("Validation AUC", "epoch", "AUC", y_range=(0.0, 1.0))
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.auc_plot)
        layout.addLayout(plots, 1)
        self.error_label = QLabel("")
        self.error_label.setAccessibleName("Training error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self.result_label = QLabel("")
        self.result_label.setAccessibleName("Training result")
        self.result_label.setWordWrap(True)
        layout.addWidget(self.result_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.retry_button = QPushButton("Train again")
        self.retry_button.clicked.connect(self.start_over)
        self.retry_button.hide()
        self.resume_button = QPushButton("Resume training")
        self.resume_button.setAccessibleName("Resume the cancelled training from its last epoch")
        self.resume_button.clicked.connect(self.start)
        self.resume_button.hide()
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.clicked.connect(self.cancel)
        self.stop_button = QPushButton("Stop and keep the best epoch")
        self.stop_button.setAccessibleName("Stop training and keep the best epoch so far")
        self.stop_button.clicked.connect(self.stop_keeping_best)
        self.stop_button.setEnabled(False)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802
        self.start()

    def cleanupPage(self) -> None:  # noqa: N802 - Back (only possible when no run is going on)
        self.stop()
        self.context.trained = None
        if self.context.cancelled_run is None:  # a cancelled run stays: Next with the same options resumes it
            self.context.discard_staging()

    def is_running(self) -> bool:
        return self.job is not None

    def start(self) -> None:
        """Trains the options page's recipe: continues the cancelled run of the same recipe from its checkpoint,
        else starts afresh (a cancelled run of other options is discarded)."""
        self.stop()
        context = self.context
        context.trained = None
        context.saved_path = None
        choices = context.choices
        self.recipe = wizard_recipe(choices.recipe, context.data_dir, context.val_dir, context.test_dir)
        resumed = context.resumable_run(self.recipe)
        self.resuming = resumed is not None
        staging = resumed.folder if resumed is not None else context.new_staging_dir()
        context.cancelled_run = None  # the run under way owns the folder now
        self._reset_view(choices.config.epochs, resumed.epochs_done if resumed is not None else 0)
        self.stop_event = threading.Event()
        stop = self.stop_event
        if resumed is not None and resumed.training_ended:  # no more epochs: the kept one is evaluated
            self.training_ended = True
            stop = threading.Event()
            stop.set()
        job = Job(train_model, self.recipe, choices.device, staging, name="training", stop=stop,
                  resume=resumed is not None)
        job.progress.connect(self._on_progress)
        job.finished.connect(lambda trained, j=job: self._on_finished(j, trained))
        job.failed.connect(lambda error, j=job: self._on_failed(j, error))
        job.cancelled.connect(lambda j=job: self._on_cancelled(j))
        job.done.connect(lambda folder=staging: self._on_run_ended(folder))
        self.job = job
        job.start()
        self.completeChanged.emit()
        # QWizard re-enables Back whenever it refreshes its buttons (page switch, completeChanged): switch it
        # off once that refresh is over, so a stray click cannot throw away a long run.
        QTimer.singleShot(0, self._sync_back_button)

    def start_over(self) -> None:
        """Discards a cancelled run's checkpoint and trains from the first epoch."""
        self.context.discard_staging()
        self.start()

    def cancel(self) -> None:
        """Asks the run to stop after the current batch; `training_cancelled` follows."""
        if self.job is not None:
            self.cancel_button.setEnabled(False)
            self.stage_label.setText("Cancelling after the current batch…")
            self.job.cancel()

    def stop_keeping_best(self) -> None:
        """Ends training after the current batch and keeps the best epoch so far; the run then evaluates and
        exports that model (training_finished follows)."""
        if self.job is not None:
            self.stop_button.setEnabled(False)
            self.stage_label.setText("Stopping: keeping the best epoch so far…")
            self.stop_event.set()

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def _sync_back_button(self) -> None:
        self._set_back_enabled(self.job is None)

    def _set_back_enabled(self, enabled: bool) -> None:
        wizard = self.wizard()
        if wizard is not None:
            wizard.button(QWizard.WizardButton.BackButton).setEnabled(enabled)

    def _reset_view(self, epochs: int, kept_epochs: int = 0) -> None:
        """A fresh page for a run; a resumed run keeps the curves of the epochs its checkpoint holds."""
        self.events_seen = 0
        self.epochs_done = kept_epochs
        self.resumed_from = None
        self.training_ended = False
        if not kept_epochs:
            self._batch_losses: list[tuple[float, float]] = []
            self._epoch_train: list[tuple[float, float]] = []
            self._epoch_val: list[tuple[float, float]] = []
            self._epoch_auc: list[tuple[float, float]] = []
        else:
            self._batch_losses = [point for point in self._batch_losses if point[0] <= kept_epochs]
            self._epoch_train, self._epoch_val, self._epoch_auc = (
                [point for point in series if point[0] <= kept_epochs]
                for series in (self._epoch_train, self._epoch_val, self._epoch_auc))
        self.loss_plot.clear()
        self.auc_plot.clear()
        self.loss_plot.fixed_x = (0.0, float(epochs))
        self.auc_plot.fixed_x = (0.0, float(epochs))
        if kept_epochs:
            self._draw_batch_losses()
            self._draw_epoch_curves()
        self.error_label.hide()
        self.result_label.setText("")
        self.retry_button.hide()
        self.resume_button.hide()
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self.stop_button.setEnabled(False)
        self.stop_button.show()
        self.progress_bar.setRange(0, 0)
        self.stage_label.setText("Starting…")
        self.eta_label.setText("")

    # -- job signals --------------------------------------------------------------------------------------------
    def _on_progress(self, done: int, total: int, event) -> None:
        if self.job is None:
            return
        self.events_seen += 1
        if isinstance(event, StageStarted):
            self.stage_label.setText(STAGE_TEXT[event.stage] + "…")
            self.training_ended = self.training_ended or event.stage not in (Stage.PREPARE_DATA, Stage.TRAIN)
            if event.stage not in (Stage.PREPARE_DATA, Stage.TRAIN):
                self.progress_bar.setRange(0, 0)
                self.eta_label.setText("")
        elif isinstance(event, DecodeProgress):
            self.progress_bar.setRange(0, max(1, total))
            self.progress_bar.setValue(done)
            self.stage_label.setText(f"Reading the images: {done} of {total}")
        elif isinstance(event, GuardProgress):
            self.progress_bar.setRange(0, max(1, total))
            self.progress_bar.setValue(done)
        elif isinstance(event, BatchDone):
            self._show_batch(event, done, total)
        elif isinstance(event, EpochDone):
            self._show_epoch(event)
        elif isinstance(event, TrainingResumed):
            self.resumed_from = self.epochs_done = event.epoch
            self.result_label.setText(f"Resumed from the checkpoint of epoch {event.epoch} of {event.epochs}: "
                                      f"training continues with epoch {event.epoch + 1}.")
            self.stop_button.setEnabled(not self.training_ended and not self.stop_event.is_set())
        elif isinstance(event, TrainingStopped):
            self.training_ended = True
            self.result_label.setText(f"Stopped by you during epoch {event.epoch + 1}: the best epoch "
                                      f"({event.best_epoch}) is kept.")

    def _show_batch(self, event: BatchDone, done: int, total: int) -> None:
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(done)
        self.stage_label.setText(f"Training: epoch {event.epoch} of {event.epochs}, "
                                 f"batch {event.batch} of {event.batches}")
        self.eta_label.setText(f"About {format_duration(event.eta_s)} left in training "
                               f"({format_duration(event.elapsed_s)} so far)")
        x = event.epoch - 1 + event.batch / event.batches
        self._batch_losses.append((x, float(event.loss)))
        self._draw_batch_losses()

    def _draw_batch_losses(self) -> None:
        self.loss_plot.set_series("training loss (batches)", self._batch_losses, "#9ab7d3")

    def _draw_epoch_curves(self) -> None:
        self.loss_plot.set_series("training loss (epoch)", self._epoch_train, "#1f77b4", markers=True)
        self.loss_plot.set_series("validation loss", self._epoch_val, "#ff7f0e", markers=True)
        self.auc_plot.set_series("validation AUC", self._epoch_auc, "#2ca02c", markers=True)

    def _show_epoch(self, event: EpochDone) -> None:
        epoch = float(event.epoch)
        self.epochs_done = event.epoch
        self._epoch_train.append((epoch, float(event.train_loss)))
        self._epoch_val.append((epoch, float(event.val_loss)))
        self._epoch_auc.append((epoch, float(event.val_score)))
        self._draw_epoch_curves()
        self.training_ended = self.training_ended or event.stop
        if not self.stop_event.is_set():
            self.stop_button.setEnabled(True)  # a validated epoch exists: it can be kept
        if event.stop and self.stop_event.is_set():
            self.result_label.setText(f"Stopped by you after epoch {event.epoch}: the best epoch is kept.")
        elif event.stop:
            self.result_label.setText(f"Stopped early after epoch {event.epoch}: validation AUC "
                                      "stopped improving.")

    def _on_run_ended(self, folder) -> None:
        """Whatever way a run ended, its staging folder goes unless it is still the wizard's (the model now on
        offer, a cancelled run kept for a resume, or the resumed run using it): a run abandoned with Back, Close
        or Start over is removed here, once its thread no longer writes into it."""
        if folder != self.context.staging_dir:
            remove_tree(folder)

    def wait(self, timeout_ms: int) -> bool:
        return self.job.wait(timeout_ms) if self.job is not None else True

    def _on_finished(self, job: Job, trained) -> None:
        if job is not self.job:
            return
        self.job = None
        self.context.trained = trained
        summary = trained.summary
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.stage_label.setText(f"Done in {format_duration(summary['duration_s'])}.")
        self.eta_label.setText("")
        self.cancel_button.hide()
        self.stop_button.hide()
        self.result_label.setText(self._result_text(trained))
        self._set_back_enabled(True)
        self.completeChanged.emit()
        self.training_finished.emit(trained)

    def _result_text(self, trained) -> str:
        """What the run gave, every number with its 95% CI and the films it is counted on."""
        summary = trained.summary
        stopped = "Stopped by you: " if self.stop_event.is_set() else ""
        resumed = (f"Resumed after epoch {self.resumed_from}. " if self.resumed_from is not None else "")
        best = f"Best epoch {summary['best_epoch']} of {summary['epochs_run']}"
        if trained.validation is not None:
            name, score = trained.validation.headline()
            best += f": validation {name} {score.text()}"
        test_metrics = trained.test.measured(trained.test.metrics_at(trained.test.threshold))
        test_name, test_score = trained.test.headline()
        tested = f"test {test_name} {test_score.text()}"
        if test_name != "accuracy":
            tested += f", accuracy {test_metrics['accuracy'].text()}"
        return f"{stopped}{resumed}{best}; {tested}. Press Next to inspect the results."

    def _on_failed(self, job: Job, error: BaseException) -> None:
        if job is not self.job:
            return
        self.job = None
        self.context.discard_staging()
        message = describe_failure(error)
        discarded = " The cancelled run's checkpoint was discarded." if self.resuming else ""
        self._show_stopped("Training failed. Nothing was saved." + discarded + " Go Back to change the options or "
                           "the folders, or train again.")
        self.error_label.setText(message)
        self.error_label.show()
        self.training_failed.emit(message)

    def _on_cancelled(self, job: Job) -> None:
        if job is not self.job:
            return
        self.job = None
        context = self.context
        epochs = context.choices.config.epochs
        if self.epochs_done > 0 and context.staging_dir is not None and has_checkpoint(context.staging_dir):
            run = context.keep_cancelled_run(self.recipe, self.epochs_done, epochs, self.training_ended)
            goes_on = ("with the evaluation of the kept epoch" if run.training_ended
                       else f"with epoch {run.epochs_done + 1}")
            self._show_stopped(f"Training cancelled after epoch {run.epochs_done} of {epochs}. Nothing was saved; "
                               f"the checkpoint is kept while this wizard is open: Resume continues {goes_on}.")
            self.retry_button.setText("Start over")
            self.resume_button.show()
        else:
            context.discard_staging()
            self._show_stopped("Training cancelled. Nothing was saved.")
        self.training_cancelled.emit()

    def _show_stopped(self, text: str) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.stage_label.setText(text)
        self.eta_label.setText("")
        self.cancel_button.hide()
        self.stop_button.hide()
        self.retry_button.setText("Train again")
        self.retry_button.show()
        self._set_back_enabled(True)
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self.job is None and self.context.trained is not None
