"""What the wizard pages share: the chosen folders, the dataset report, the options, the trained model and
the staging folder it lives in until the user saves it (or a cancelled run's checkpoint, until it is resumed or
discarded)."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.paths import default_user_models_dir, user_data_dir
from desktop.settings import AppSettings


@dataclass
class TrainingChoices:
    """The options page's result: recipe keys (training.option_table names, as `xrayview-train` flags without
    their dashes) and the device to run on."""
    recipe: dict[str, Any]
    device: str

    @property
    def config(self):  # training.trainer.TrainConfig
        from training.option_table import train_config

        return train_config(self.recipe)

    @property
    def img_size(self) -> int:
        return int(self.recipe["img-size"])


@dataclass(frozen=True)
class CancelledRun:
    """A cancelled training run that can be continued: its staging folder keeps the recipe it trained from and
    the checkpoint of its last validated epoch (desktop.wizard.jobs.train_model)."""
    folder: Path
    recipe: str
    epochs_done: int
    epochs: int
    training_ended: bool = False  # its epochs were over (all run, early stopping or the user's stop): a resume
    # goes on to evaluate the kept weights


@dataclass
class WizardContext:
    settings: AppSettings
    data_dir: Path | None = None
    val_dir: Path | None = None
    test_dir: Path | None = None
    scan: object | None = None  # desktop.wizard.jobs.DatasetScan
    choices: TrainingChoices | None = None
    trained: object | None = None  # desktop.wizard.jobs.TrainedModel
    staging_dir: Path | None = None
    saved_path: Path | None = None
    chosen_threshold: float | None = None  # the evaluation page's threshold, when the user asked to save it
    staging_dirs_made: list[Path] = field(default_factory=list)
    cancelled_run: CancelledRun | None = None  # kept in staging_dir until resumed or discarded

    def models_dir(self) -> Path:
        """The user models folder the viewer reads (the same rule as the main window)."""
        chosen = self.settings.user_models_dir
        return Path(chosen) if chosen else default_user_models_dir()

    def new_staging_dir(self) -> Path:
        """A fresh private folder for one training run (never inside the user's models folder, so a cancelled
        or failed run can leave nothing the viewer would list as a model)."""
        self.discard_staging()
        root = user_data_dir() / "training-runs"
        root.mkdir(parents=True, exist_ok=True)
        self.staging_dir = Path(tempfile.mkdtemp(prefix="run-", dir=root))
        self.staging_dirs_made.append(self.staging_dir)
        return self.staging_dir

    def discard_staging(self) -> None:
        """Removes the current run's folder: its bundle if it finished, its checkpoint if it was cancelled."""
        from desktop.wizard.jobs import remove_tree

        remove_tree(self.staging_dir)
        self.staging_dir = None
        self.cancelled_run = None

    def keep_cancelled_run(self, recipe: str, epochs_done: int, epochs: int, training_ended: bool) -> CancelledRun:
        """The run in staging_dir was cancelled after `epochs_done` validated epochs: its folder stays for a
        resume."""
        self.cancelled_run = CancelledRun(self.staging_dir, recipe, epochs_done, epochs, training_ended)
        return self.cancelled_run

    def resumable_run(self, recipe: str) -> CancelledRun | None:
        """The cancelled run a run of `recipe` continues (the same recipe), or None."""
        run = self.cancelled_run
        return run if run is not None and run.recipe == recipe and run.folder == self.staging_dir else None


def format_duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
