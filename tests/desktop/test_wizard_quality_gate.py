"""Issue 14.2: the training wizard's quality gate. Every model it saves gets an OOD guard (training.ood_fit, the
recipes' function); a model whose test AUC's 95% CI includes 0.5, whose test split has fewer than 20 films of a
class, or that has no guard is saved but not activated unless the user confirms; "Stop and keep the best epoch"
keeps the best epoch; the threshold chosen on the evaluation page can be saved. Real films (symlinks), a compact
CNN trained for real on them."""
from __future__ import annotations

import numpy as np
import pytest

from desktop.wizard.jobs import MIN_TEST_PER_CLASS, activation_concerns, split_warnings
from tests.desktop.test_wizard import go_to_options, link_kermany_subset, set_small_options

GOOD_AUC = {"name": "auc", "value": 0.97, "ci95": [0.94, 0.99], "dataset": "d", "split": "test", "n": 200}


def _card(auc=GOOD_AUC, ood=True):
    from inference.model_card import ModelCard

    card = {"labels": ["NORMAL", "PNEUMONIA"], "metrics": [auc] if auc else []}
    if ood:
        card["ood"] = {"method": "mahalanobis-pca", "file": "ood_guard.safetensors", "sha256": "0" * 64}
    return ModelCard(card)


def test_concerns_name_each_reason():
    big = {"NORMAL": 60, "PNEUMONIA": 80}
    assert activation_concerns(_card(), big) == []
    chance = dict(GOOD_AUC, value=0.5, ci95=[0.31, 0.69])
    (reason,) = activation_concerns(_card(auc=chance), big)
    assert "test AUC 0.500 (95% CI 0.310-0.690; n=200 films) includes 0.5" in reason
    (reason,) = activation_concerns(_card(auc=dict(GOOD_AUC, ci95=None)), big)
    assert "test AUC 0.970 (no confidence interval; n=200 films): whether it is better than chance" in reason
    (reason,) = activation_concerns(_card(), {"NORMAL": 19, "PNEUMONIA": 80})
    assert "only 19 NORMAL film(s), fewer than 20 per class" in reason
    (reason,) = activation_concerns(_card(ood=False), big, "the guard needs at least 4 feature vectors")
    assert "no out-of-distribution guard (the guard needs at least 4 feature vectors)" in reason
    assert len(activation_concerns(_card(auc=None, ood=False), {"NORMAL": 3, "PNEUMONIA": 3})) == 3
    assert MIN_TEST_PER_CLASS == 20


def test_split_warnings_before_training():
    assert split_warnings({"train": {"A": 50, "B": 50}, "test": {"A": 25, "B": 30}}) == []
    (warning,) = split_warnings({"train": {"A": 50, "B": 50}, "test": {"A": 4, "B": 30}})
    assert "only 4 A film(s)" in warning


@pytest.fixture(scope="module")
def dataset(shared_data, tmp_path_factory):
    return link_kermany_subset(shared_data, tmp_path_factory.mktemp("gate_data"), slice(200, 230))


def test_stop_keeps_the_best_epoch_threshold_is_saved_and_activation_needs_confirmation(
        qtbot, settings, dataset, tmp_path):
    from desktop.wizard.wizard import TrainingWizard
    from inference.bundle import load_bundle

    settings.user_models_dir = str(tmp_path / "models")
    settings.model_path = "/some/earlier/model"
    wizard = TrainingWizard(settings)
    qtbot.addWidget(wizard)
    wizard.show()
    options = go_to_options(qtbot, wizard, dataset)
    set_small_options(options, epochs=30, batch_size=8)
    training = wizard.training_page
    epochs_seen = []

    from training.events import EpochDone

    def on_progress(done, total, event):
        if isinstance(event, EpochDone):
            epochs_seen.append(event.epoch)
            if event.epoch == 2:
                training.stop_button.click()

    with qtbot.waitSignal(training.training_finished, timeout=300_000) as blocker:
        wizard.next()
        training.job.progress.connect(on_progress)
    trained = blocker.args[0]
    assert epochs_seen and max(epochs_seen) <= 3  # stopped long before 30 epochs
    assert trained.summary["epochs_run"] <= 3 and 1 <= trained.summary["best_epoch"] <= trained.summary["epochs_run"]
    assert "Stopped by you" in training.result_label.text()
    assert trained.card.ood.file and trained.ood_error == ""  # the guard, fitted on the worker

    wizard.next()
    evaluation = wizard.evaluation_page
    evaluation.set_threshold(0.42)
    evaluation.keep_threshold_check.setChecked(True)
    assert wizard.context.chosen_threshold == pytest.approx(0.42)

    wizard.next()
    save = wizard.save_page
    assert "0.420 (chosen by you on the evaluation page)" in save.threshold_label.text()
    assert not save.activate_check.isChecked() and "fewer than 20 per class" in save.gate_label.text()
    save.activate_check.setChecked(True)
    asked = []
    save.confirm_activation = lambda reasons: asked.append(reasons) or False  # the user declines
    save.name_edit.setText("gated model")
    with qtbot.waitSignal(save.saved, timeout=60_000) as saved_blocker:
        save.save_button.click()
    path, made_active = saved_blocker.args
    assert not made_active and settings.model_path == "/some/earlier/model"  # saved, not activated
    assert asked and "fewer than 20 per class" in " ".join(asked[0])
    card = load_bundle(path).card
    assert card["threshold"] == pytest.approx(0.42) and card["threshold_table"][0]["threshold"] == pytest.approx(0.42)
    assert "user" in card["training"]["threshold_method"]
    sensitivity = next(m for m in card["metrics"] if m["name"] == "sensitivity")
    test = trained.test
    probs = test.positive_probabilities()
    positives = test.labels == test.positive_index
    assert sensitivity["threshold"] == pytest.approx(0.42) and "chosen by the user" in sensitivity["split"]
    assert sensitivity["value"] == pytest.approx(float(np.mean(probs[positives] >= 0.42)), abs=1e-6)
    assert card["ood"]["method"]
    assert save.calibrate_button.isEnabled()
    wizard.close()
