"""Issue 25 item 11: a cancelled training run is resumed from the wizard as `xrayview-train --resume` resumes it:
from the checkpoint of its last validated epoch (kept in the run's private staging folder, never in the models
folder), with "Resume training" or by starting the same run again (Back, Next with the same options); the
checkpoint goes once the bundle is sealed, and "Start over" or other options discard it. A compact CNN trained for
real on real films (symlinks)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.desktop.test_wizard import go_to_options, link_kermany_subset, set_small_options

EPOCHS = 3


@pytest.fixture(scope="module")
def dataset(shared_data, tmp_path_factory):
    return link_kermany_subset(shared_data, tmp_path_factory.mktemp("resume_data"), slice(300, 324))


def _wizard_on_options(qtbot, settings, dataset, tmp_path):
    """A shown wizard on its options page, set for a short run of EPOCHS epochs."""
    from desktop.wizard.wizard import TrainingWizard

    settings.user_models_dir = str(tmp_path / "models")
    wizard = TrainingWizard(settings)
    qtbot.addWidget(wizard)
    wizard.show()
    options = go_to_options(qtbot, wizard, dataset)
    set_small_options(options, epochs=EPOCHS, batch_size=8)
    return wizard, options


def _run_until_cancelled(qtbot, training, start, cancel_after_epoch: int) -> list:
    """Starts a run with `start()` and cancels it on the worker the moment epoch `cancel_after_epoch` was
    validated (its checkpoint is written just before), so the next epoch is the first one not done."""
    from PySide6.QtCore import Qt

    from training.events import EpochDone

    seen: list = []

    def on_progress(done, total, event):  # runs on the worker thread (direct connection)
        seen.append(event)
        if isinstance(event, EpochDone) and event.epoch == cancel_after_epoch:
            job.cancel()

    with qtbot.waitSignal(training.training_cancelled, timeout=300_000):
        start()
        job = training.job
        job.progress.connect(on_progress, Qt.ConnectionType.DirectConnection)
    return seen


def _epochs_trained(events: list) -> list[int]:
    from training.events import BatchDone

    return sorted({event.epoch for event in events if isinstance(event, BatchDone)})


def test_cancelled_training_resumes_from_its_checkpoint_and_ends_with_a_bundle(qtbot, settings, dataset,
                                                                                tmp_path):
    from PySide6.QtWidgets import QWizard

    from desktop.wizard.jobs import checkpoint_dir
    from inference.bundle import load_bundle
    from training.checkpoint import load_checkpoint
    from training.events import EpochDone, TrainingResumed

    wizard, options = _wizard_on_options(qtbot, settings, dataset, tmp_path)
    training, context = wizard.training_page, wizard.context

    # -- 1. cancelled during epoch 2: the checkpoint of epoch 1 stays, outside the models folder
    first = _run_until_cancelled(qtbot, training, wizard.next, cancel_after_epoch=1)
    assert [e.epoch for e in first if isinstance(e, EpochDone)] == [1]
    staging = context.staging_dir
    assert load_checkpoint(checkpoint_dir(staging))["epoch"] == 1
    assert "cancelled after epoch 1 of 3" in training.stage_label.text()
    assert "Resume continues with epoch 2" in training.stage_label.text()
    assert training.resume_button.isVisibleTo(wizard) and training.retry_button.text() == "Start over"
    assert not training.isComplete() and context.trained is None
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())

    # -- 2. "Resume training": starts at epoch 2, and is cancelled again once epoch 2 was validated
    second = _run_until_cancelled(qtbot, training, training.resume_button.click, cancel_after_epoch=2)
    resumed = [e for e in second if isinstance(e, TrainingResumed)]
    assert [(e.epoch, e.epochs) for e in resumed] == [(1, EPOCHS)]
    assert _epochs_trained(second)[0] == 2  # no batch of epoch 1 again
    assert [e.epoch for e in second if isinstance(e, EpochDone)] == [2]
    assert context.staging_dir == staging  # the same run, the same folder
    assert load_checkpoint(checkpoint_dir(staging))["epoch"] == 2
    assert "cancelled after epoch 2 of 3" in training.stage_label.text()
    # the curves keep the epochs the checkpoint holds
    assert [x for x, _ in training.auc_plot.series("validation AUC")] == [1.0, 2.0]

    # -- 3. the same run started again (Back, Next with unchanged options) continues with epoch 3 and finishes
    wizard.back()
    assert wizard.currentPage() is wizard.options_page and staging.is_dir()  # Back keeps the cancelled run
    third: list = []
    with qtbot.waitSignal(training.training_finished, timeout=300_000) as finished:
        wizard.next()
        training.job.progress.connect(lambda done, total, event: third.append(event))
    trained = finished.args[0]
    assert [(e.epoch, e.epochs) for e in third if isinstance(e, TrainingResumed)] == [(2, EPOCHS)]
    assert _epochs_trained(third) == [3]
    assert [e.epoch for e in third if isinstance(e, EpochDone)] == [3]
    assert trained.summary["epochs_run"] == EPOCHS  # the history runs through all three epochs
    assert [h["epoch"] for h in trained.card.data["training"]["history"]] == [1, 2, 3]
    assert trained.card.data["training"]["resumed_from_epoch"] == 2
    assert "Resumed after epoch 2" in training.result_label.text()
    assert trained.bundle_dir.parent == staging
    assert not (checkpoint_dir(staging) / "checkpoint.pt").exists()  # sealing the bundle removed the checkpoint
    assert [x for x, _ in training.auc_plot.series("validation AUC")] == [1.0, 2.0, 3.0]

    # the resumed run trains the very weights an uninterrupted run of its recipe trains (the command line's replay)
    import contextlib
    import io

    from training.cli_train import main as train_main

    replay_out = io.StringIO()
    with contextlib.redirect_stdout(replay_out):
        assert train_main(["--recipe", str(trained.bundle_dir / "recipe.toml"), "--out", str(tmp_path / "replayed"),
                           "--quiet"]) == 0
    assert json.loads(replay_out.getvalue().strip().splitlines()[-1])["weights_sha256"] == \
        trained.summary["weights_sha256"]

    # -- 4. saved: the staging folder (bundle and all) goes
    wizard.next()
    wizard.next()
    save = wizard.save_page
    save.confirm_activation = lambda reasons: False
    save.name_edit.setText("resumed model")
    with qtbot.waitSignal(save.saved, timeout=60_000) as saved:
        save.save_button.click()
    bundle = load_bundle(saved.args[0])
    assert bundle.sha256 == trained.summary["weights_sha256"]
    recipe = Path(saved.args[0]) / "recipe.toml"
    assert bundle.card["training"]["recipe"]["sha256"] == hashlib.sha256(recipe.read_bytes()).hexdigest()
    assert not staging.exists()
    assert all(not folder.exists() for folder in context.staging_dirs_made)
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    wizard.close()


def test_start_over_other_options_and_closing_discard_the_cancelled_run(qtbot, settings, dataset, tmp_path):
    from desktop.wizard.jobs import checkpoint_dir
    from training.events import EpochDone, TrainingResumed

    wizard, options = _wizard_on_options(qtbot, settings, dataset, tmp_path)
    training, context = wizard.training_page, wizard.context

    _run_until_cancelled(qtbot, training, wizard.next, cancel_after_epoch=1)
    kept = context.staging_dir
    assert (checkpoint_dir(kept) / "checkpoint.pt").is_file()

    # "Start over": the checkpoint is discarded and the run starts from epoch 1 in a fresh folder
    again = _run_until_cancelled(qtbot, training, training.retry_button.click, cancel_after_epoch=1)
    assert not any(isinstance(e, TrainingResumed) for e in again)
    assert [e.epoch for e in again if isinstance(e, EpochDone)] == [1]
    qtbot.waitUntil(lambda: not kept.exists(), timeout=10_000)
    kept = context.staging_dir
    assert (checkpoint_dir(kept) / "checkpoint.pt").is_file()

    # other options (another batch size): the cancelled run cannot be continued, so it goes and training restarts
    wizard.back()
    set_small_options(options, epochs=EPOCHS, batch_size=4)
    other = _run_until_cancelled(qtbot, training, wizard.next, cancel_after_epoch=1)
    assert not any(isinstance(e, TrainingResumed) for e in other)
    qtbot.waitUntil(lambda: not kept.exists(), timeout=10_000)
    kept = context.staging_dir
    assert kept.is_dir()

    # closing the wizard discards the cancelled run
    wizard.close()
    assert not kept.exists()
    assert all(not folder.exists() for folder in context.staging_dirs_made)


@pytest.mark.parametrize("ended_by", ["the user's stop", "the last epoch"])
def test_a_run_cancelled_after_its_training_ended_resumes_without_training_more(qtbot, settings, dataset, tmp_path,
                                                                                 ended_by):
    """Cancelled after training ended ("Stop and keep the best epoch", or all epochs run) but before the bundle
    was sealed: Resume trains no further epoch and evaluates the kept one."""
    from PySide6.QtCore import Qt

    from training.events import BatchDone, EpochDone, Stage, StageStarted, TrainingResumed, TrainingStopped

    wizard, options = _wizard_on_options(qtbot, settings, dataset, tmp_path)
    training = wizard.training_page

    def on_progress(done, total, event):  # on the worker thread
        if ended_by == "the user's stop" and isinstance(event, EpochDone) and event.epoch == 1:
            training.stop_event.set()  # what "Stop and keep the best epoch" sets
        elif ended_by == "the user's stop" and isinstance(event, TrainingStopped):
            job.cancel()
        elif ended_by == "the last epoch" and isinstance(event, StageStarted) and event.stage == Stage.EVALUATE:
            job.cancel()

    with qtbot.waitSignal(training.training_cancelled, timeout=300_000):
        wizard.next()
        job = training.job
        job.progress.connect(on_progress, Qt.ConnectionType.DirectConnection)
    kept = 1 if ended_by == "the user's stop" else EPOCHS
    assert f"cancelled after epoch {kept} of {EPOCHS}" in training.stage_label.text()
    assert "Resume continues with the evaluation of the kept epoch" in training.stage_label.text()

    resumed: list = []
    with qtbot.waitSignal(training.training_finished, timeout=300_000) as finished:
        training.resume_button.click()
        training.job.progress.connect(lambda done, total, event: resumed.append(event))
    assert [e.epoch for e in resumed if isinstance(e, TrainingResumed)] == [kept]
    assert not any(isinstance(e, (BatchDone, EpochDone)) for e in resumed)  # no further training
    trained = finished.args[0]
    assert trained.summary["epochs_run"] == kept and trained.bundle_dir.is_dir()
    assert "Stopped by you" not in training.result_label.text()
    wizard.close()
