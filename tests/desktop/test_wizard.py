"""The training wizard driven end to end on small real subsets of the Kermany chest data (symlinks in pytest's
tmp folder): report -> options -> training on a worker -> evaluation -> save -> the viewer predicts with the
saved bundle. Plus: leakage/unreadable warnings and cancel between batches; a failed run shows its error."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.desktop.viewer_helpers import open_and_wait

PER_CLASS = 24
CLASSES = ("NORMAL", "PNEUMONIA")


def _kermany_train(shared_data: Path) -> Path:
    return shared_data / "chest-xray-pneumonia" / "train"


def _link(files: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        os.symlink(path, folder / path.name)


def link_kermany_subset(shared_data: Path, root: Path, files: slice) -> Path:
    """ROOT/CLASS/*: the Kermany training films `files` (in name order) of each class, as symlinks."""
    for label in CLASSES:
        _link(sorted((_kermany_train(shared_data) / label).iterdir())[files], root / label)
    return root


@pytest.fixture(scope="module")
def small_dataset(shared_data, tmp_path_factory) -> Path:
    """ROOT/CLASS/*: the first 24 images of each class (several patients each)."""
    return link_kermany_subset(shared_data, tmp_path_factory.mktemp("wizard_data"), slice(0, PER_CLASS))


def make_presplit_dataset(shared_data: Path, root: Path) -> Path:
    """ROOT/{train,val,test}/CLASS/* with one train image copied into test (leakage) and one broken file."""
    for label in CLASSES:
        files = sorted((_kermany_train(shared_data) / label).iterdir())[100:112]
        _link(files[:6], root / "train" / label)
        _link(files[6:9], root / "val" / label)
        _link(files[9:12], root / "test" / label)
    shutil.copyfile(root / "train" / "NORMAL" / sorted(os.listdir(root / "train" / "NORMAL"))[0],
                    root / "test" / "NORMAL" / "copied-from-train.jpeg")
    (root / "train" / "PNEUMONIA" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    return root


def table_counts(table) -> dict[str, dict[str, int]]:
    header = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    return {table.verticalHeaderItem(r).text(): {header[c]: int(table.item(r, c).text())
                                                 for c in range(table.columnCount())}
            for r in range(table.rowCount())}


def go_to_options(qtbot, wizard, data: Path, acknowledge_leakage: bool = False):
    wizard.folders_page.set_folders(data)
    assert wizard.folders_page.isComplete()
    wizard.next()
    assert wizard.currentPage() is wizard.report_page
    qtbot.waitUntil(lambda: wizard.context.scan is not None, timeout=60_000)
    if acknowledge_leakage:
        wizard.report_page.leakage_ack.setChecked(True)
    wizard.next()
    assert wizard.currentPage() is wizard.options_page
    return wizard.options_page


def set_small_options(page, epochs: int, batch_size: int = 8) -> None:
    page.set_arch("compact_cnn")
    page.img_size_spin.setValue(64)
    page.epochs_spin.setValue(epochs)
    page.batch_spin.setValue(batch_size)
    page.augment_check.setChecked(False)


def test_wizard_trains_evaluates_saves_and_the_viewer_predicts(qtbot, make_window, settings, small_dataset,
                                                                chest_png, no_shipped_models, tmp_path):
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QWizard

    from desktop.wizard.jobs import WIZARD_COMMAND
    from desktop.wizard.wizard import TrainingWizard
    from inference.bundle import load_bundle

    window = make_window()  # no model yet; the user models folder is an empty temp folder
    window.findChild(QAction, "train_model").trigger()
    wizard = window.findChild(TrainingWizard)
    assert wizard is not None and wizard.isVisible()

    # -- report: every image readable, the splits hold all 48 images
    options = go_to_options(qtbot, wizard, small_dataset)
    report = wizard.context.scan.report
    counts = table_counts(wizard.report_page.counts_table)
    assert set(counts) == {"train", "val", "test"}
    for label in CLASSES:
        assert sum(row[label] for row in counts.values()) == PER_CLASS
    assert sum(row["total"] for row in counts.values()) == 2 * PER_CLASS
    assert report.unreadable == [] and report.duplicates_across_splits == []
    assert not wizard.report_page.leakage_label.isVisibleTo(wizard)
    assert "1.00 : 1" in wizard.report_page.summary_label.text()

    # -- options: defaults, then a small fast run; the estimate comes from a measured throughput
    assert options.arch() == "efficientnet_lite0" and options.pretrained_check.isChecked()
    set_small_options(options, epochs=2)
    assert options.choices().config.lung_focus == 0.0  # off unless asked: it needs frontal chest films
    options.lung_focus_check.setChecked(True)
    assert options.choices().config.lung_focus == 1.0
    options.lung_focus_check.setChecked(False)
    assert not options.pretrained_check.isEnabled()
    qtbot.waitUntil(lambda: options.throughput is not None, timeout=60_000)
    assert options.throughput.arch == "compact_cnn" and options.throughput.img_size == 64
    assert options.throughput.images_per_s > 0
    assert options.estimated_seconds() > 0
    assert "Estimated time" in options.estimate_label.text()
    # 24 films per class leave a test split far below 20 per class: said before training starts
    assert options.split_warning_label.isVisibleTo(wizard)
    assert "fewer than 20 per class" in options.split_warning_label.text()

    # -- training on the worker, live curves
    training = wizard.training_page
    with qtbot.waitSignal(training.training_finished, timeout=120_000) as blocker:
        wizard.next()
    trained = blocker.args[0]
    summary = trained.summary
    assert summary["epochs_run"] == 2
    assert len(training.loss_plot.series("training loss (epoch)")) == 2
    assert len(training.loss_plot.series("validation loss")) == 2
    aucs = [y for _, y in training.auc_plot.series("validation AUC")]
    assert len(aucs) == 2 and all(0.0 <= a <= 1.0 for a in aucs)
    assert training.loss_plot.series("training loss (batches)")
    picture = training.loss_plot.grab().toImage()
    assert picture.width() > 0 and len({picture.pixel(x, picture.height() // 2)
                                        for x in range(picture.width())}) > 2  # axes, grid and curves drawn
    assert wizard.button(QWizard.WizardButton.BackButton).isEnabled()
    assert trained.bundle_dir.is_dir() and not str(trained.bundle_dir).startswith(str(no_shipped_models))

    # -- evaluation: the page's numbers are the test metrics of the run, at the validation threshold
    wizard.next()
    evaluation = wizard.evaluation_page
    assert wizard.currentPage() is evaluation
    test = summary["test"]
    shown = evaluation.current_metrics
    assert shown["n"] == test["n"] == sum(sum(row) for row in evaluation.confusion.matrix())
    assert evaluation.confusion.matrix() == test["confusion_matrix"]
    assert shown["accuracy"] == pytest.approx(test["accuracy"])
    assert shown["auc"] == pytest.approx(test["auc"], abs=1e-6)
    # every number with its 95% CI and count, the card's own intervals (same functions, same seed)
    positives = sum(test["confusion_matrix"][1])
    assert evaluation.metric_labels["accuracy"].text().startswith(f"{test['accuracy']:.3f} (95% CI ")
    assert evaluation.metric_labels["sensitivity"].text().startswith(f"{test['sensitivity']:.3f} (95% CI ")
    assert evaluation.metric_labels["sensitivity"].text().endswith(f"/{positives} PNEUMONIA films)")
    card_metrics = {metric.name: metric for metric in trained.card.metrics}
    for name in ("auc", "accuracy", "sensitivity", "specificity"):
        assert evaluation.current_measured[name].ci95 == pytest.approx(card_metrics[name].ci95, abs=1e-6), name
        assert f"95% CI {card_metrics[name].ci95[0]:.3f}-{card_metrics[name].ci95[1]:.3f}" in \
            evaluation.metric_labels[name].text()
    assert all("95% CI" in label.text() for label in evaluation.metric_labels.values())
    assert evaluation.small_test_label.isVisibleTo(wizard)  # a handful of test films: said on the page
    assert f"Only {test['n']} test films" in evaluation.small_test_label.text()
    assert "95% CI" in training.result_label.text()
    assert len(evaluation.roc_plot.series("ROC curve")) >= 2
    # threshold 0: every image is called positive
    evaluation.slider.setValue(0)
    negatives, positives = (int((trained.test.labels == i).sum()) for i in (0, 1))
    assert evaluation.confusion.matrix() == [[0, negatives], [0, positives]]
    assert evaluation.metric_labels["sensitivity"].text().startswith("1.000 (95% CI ")
    assert evaluation.metric_labels["specificity"].text().startswith("0.000 (95% CI 0.000-")
    assert evaluation.roc_plot.marker == (1.0, 1.0)
    evaluation.reset_threshold()
    assert evaluation.confusion.matrix() == test["confusion_matrix"]

    # -- save: into the user models folder under the user's name, then the viewer loads it
    wizard.next()
    save = wizard.save_page
    assert not wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    (no_shipped_models / "taken").mkdir()
    save.name_edit.setText("taken")
    assert not save.save_button.isEnabled() and "exists" in save.folder_label.text()
    save.name_edit.setText("wizard test model")
    assert save.save_button.isEnabled()
    # the quality gate: a tiny test split, so not made active unless the user confirms the named reason
    assert not save.activate_check.isChecked() and save.gate_label.isVisibleTo(wizard)
    assert "fewer than 20 per class" in save.gate_label.text()
    save.activate_check.setChecked(True)
    asked = []
    save.confirm_activation = lambda reasons: asked.append(reasons) or True
    with qtbot.waitSignal(window.analysis.model_ready, timeout=60_000):
        save.save_button.click()
    assert asked and any("fewer than 20 per class" in reason for reason in asked[0])
    saved = no_shipped_models / "wizard test model"
    assert wizard.context.saved_path == saved
    bundle = load_bundle(saved)
    assert bundle.name == "wizard test model" and bundle.architecture == "compact_cnn"
    assert bundle.labels == list(CLASSES) and bundle.positive_label == "PNEUMONIA"
    assert bundle.card["training"]["command"] == WIZARD_COMMAND
    assert bundle.card["ood"]["method"] and (saved / bundle.card["ood"]["file"]).is_file()  # every model: a guard
    assert bundle.sha256 == summary["weights_sha256"]  # the very weights that were evaluated
    assert json.loads((saved / "evaluation.json").read_text())["test"]["confusion_matrix"] == test["confusion_matrix"]
    assert settings.model_path == str(saved)
    assert all(not folder.exists() for folder in wizard.context.staging_dirs_made)
    # the recipe the wizard trained from is in the bundle and its card; replayed on the command line, it trains the
    # very same weights
    recipe = saved / "recipe.toml"
    recorded = bundle.card["training"]["recipe"]
    assert recorded["sha256"] == hashlib.sha256(recipe.read_bytes()).hexdigest() and recorded["overrides"] == []
    assert recorded["source"] == WIZARD_COMMAND and recorded["text"] == recipe.read_text(encoding="utf-8")
    text = recipe.read_text(encoding="utf-8")
    assert f"data = {json.dumps(str(small_dataset))}" in text and "[guard]\nfit = true\noptional = true" in text
    assert 'arch = "compact_cnn"' in text and "epochs = 2" in text and "no-augment = true" in text
    from training.cli_train import main as train_main

    replay_out = io.StringIO()
    with contextlib.redirect_stdout(replay_out):
        assert train_main(["--recipe", str(recipe), "--out", str(tmp_path / "replayed"), "--quiet"]) == 0
    assert json.loads(replay_out.getvalue().strip().splitlines()[-1])["weights_sha256"] == summary["weights_sha256"]
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    wizard.accept()

    with qtbot.waitSignal(window.prediction_shown, timeout=60_000) as shown_prediction:
        open_and_wait(qtbot, window, chest_png)
    from desktop import prediction_adapter as pa

    probabilities = shown_prediction.args[0].probabilities
    assert set(probabilities) == set(CLASSES)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert pa.card_of(window.analysis.predictor).name == "wizard test model"


def test_report_flags_leakage_and_unreadable_files_and_cancel_leaves_nothing(qtbot, settings, shared_data,
                                                                               tmp_path):
    from PySide6.QtWidgets import QWizard

    from desktop.wizard.wizard import TrainingWizard

    data = make_presplit_dataset(shared_data, tmp_path / "presplit")
    wizard = TrainingWizard(settings)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.folders_page.set_folders(data)
    wizard.next()
    page = wizard.report_page
    qtbot.waitUntil(lambda: wizard.context.scan is not None, timeout=60_000)
    report = wizard.context.scan.report
    # loud leakage banner, and Next only after the user acknowledges it
    assert page.leakage_label.isVisibleTo(wizard) and "DATA LEAKAGE" in page.leakage_label.text()
    assert "copied-from-train.jpeg" in page.details.toPlainText()
    assert len(report.duplicates_across_splits) == 1
    assert not page.isComplete()
    page.leakage_ack.setChecked(True)
    assert page.isComplete()
    assert [Path(u["path"]).name for u in report.unreadable] == ["broken.png"]
    assert "broken.png" in page.details.toPlainText()
    assert table_counts(page.counts_table) == {
        "train": {"NORMAL": 6, "PNEUMONIA": 6, "total": 12},
        "val": {"NORMAL": 3, "PNEUMONIA": 3, "total": 6},
        "test": {"NORMAL": 4, "PNEUMONIA": 3, "total": 7}}
    warnings = [page.warnings_list.item(i).text() for i in range(page.warnings_list.count())]
    assert any("leakage" in w for w in warnings) and any("could not be read" in w for w in warnings)

    wizard.next()
    set_small_options(wizard.options_page, epochs=200, batch_size=2)
    training = wizard.training_page
    back = wizard.button(QWizard.WizardButton.BackButton)
    wizard.next()
    qtbot.waitUntil(lambda: len(training.loss_plot.series("training loss (batches)")) >= 2, timeout=60_000)
    assert training.is_running() and not back.isEnabled()
    assert "left in training" in training.eta_label.text()
    # the GUI thread keeps serving events while the worker trains
    from PySide6.QtCore import QTimer

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    qtbot.wait(600)
    timer.stop()
    assert training.is_running() and len(ticks) >= 5
    staging = wizard.context.staging_dir
    assert staging is not None and staging.is_dir()
    with qtbot.waitSignal(training.training_cancelled, timeout=30_000):
        training.cancel_button.click()
    if wizard.context.cancelled_run is None:  # cancelled before an epoch was validated: nothing to resume
        qtbot.waitUntil(lambda: not staging.exists(), timeout=10_000)
        assert not training.resume_button.isVisibleTo(wizard)
    else:  # an epoch's checkpoint is kept for a resume (tests/desktop/test_wizard_resume.py), in the staging folder
        assert training.resume_button.isVisibleTo(wizard) and (staging / "checkpoint" / "checkpoint.pt").is_file()
    assert back.isEnabled() and not training.isComplete()
    assert "cancelled" in training.stage_label.text().lower()
    assert training.retry_button.isVisibleTo(wizard)
    models_dir = wizard.context.models_dir()
    assert not models_dir.exists() or not any(models_dir.iterdir())
    assert wizard.context.trained is None
    wizard.back()
    assert wizard.currentPage() is wizard.options_page
    wizard.close()  # closing the wizard leaves nothing of the run
    assert not staging.exists()


def test_failed_training_shows_the_error_and_lets_the_user_go_back(qtbot, settings, shared_data, tmp_path):
    from PySide6.QtWidgets import QWizard

    from desktop.wizard.wizard import TrainingWizard

    data = make_presplit_dataset(shared_data, tmp_path / "vanishing")
    wizard = TrainingWizard(settings)
    qtbot.addWidget(wizard)
    wizard.show()
    options = go_to_options(qtbot, wizard, data, acknowledge_leakage=True)
    set_small_options(options, epochs=1)
    shutil.rmtree(data)  # e.g. a network share that went away between the report and training
    with qtbot.waitSignal(wizard.training_page.training_failed, timeout=30_000) as blocker:
        wizard.next()
    assert "vanishing" in blocker.args[0] and "does not exist" in blocker.args[0]
    page = wizard.training_page
    assert page.error_label.isVisibleTo(wizard) and page.error_label.text() == blocker.args[0]
    qtbot.waitUntil(lambda: wizard.button(QWizard.WizardButton.BackButton).isEnabled(), timeout=5_000)
    assert not page.isComplete() and not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert all(not folder.exists() for folder in wizard.context.staging_dirs_made)
    wizard.back()
    assert wizard.currentPage() is wizard.options_page


def test_nice_ticks_cover_the_range_with_round_steps():
    from desktop.wizard.curve_plot import nice_ticks

    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.13, 0.71) == pytest.approx([0.2, 0.4, 0.6])
    ticks = nice_ticks(3, 997)
    assert ticks[0] >= 3 and ticks[-1] <= 997 and np.allclose(np.diff(ticks), 200)
