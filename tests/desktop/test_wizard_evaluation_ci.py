"""Issue 25 item 11: the wizard's evaluation page gives every number with its 95% confidence interval and the
films it is counted on, computed as the model card computes them, and a test split too small to judge a model by
says so. The page is shown for a tiny bundle (tests/helpers/tiny_models.py) with the issue's case: 12 test films
the model separates perfectly ("ROC AUC 1.000" with no interval before)."""
from __future__ import annotations

import numpy as np
import pytest

CLASSES = ["NORMAL", "PNEUMONIA"]


def _perfect_test_predictions(per_class: int = 6):
    from desktop.wizard.jobs import TestPredictions

    labels = np.array([0] * per_class + [1] * per_class)
    margin = np.linspace(0.5, 3.0, 2 * per_class)
    z = np.where(labels == 1, margin, -margin)
    logits = np.stack([-z / 2, z / 2], axis=1).astype(np.float32)
    return TestPredictions(classes=CLASSES, positive_index=1, logits=logits, labels=labels, temperature=1.0,
                           threshold=0.5, threshold_method="youden", seed=7)


@pytest.fixture
def wizard_on_evaluation(qtbot, settings, tmp_path):
    """The wizard on its evaluation page for a tiny bundle whose test split is 6 NORMAL + 6 PNEUMONIA films."""
    from desktop.wizard.jobs import TrainedModel
    from desktop.wizard.wizard import TrainingWizard
    from inference.model_card import read_card
    from tests.helpers.tiny_models import make_tiny_bundle

    bundle = make_tiny_bundle(tmp_path / "tiny")
    wizard = TrainingWizard(settings)
    qtbot.addWidget(wizard)
    wizard.context.trained = TrainedModel(bundle_dir=bundle, card=read_card(bundle), summary={},
                                          test=_perfect_test_predictions())
    show_evaluation_page(wizard)
    return wizard


def show_evaluation_page(wizard) -> None:
    """Opens the wizard on its evaluation page, as Next from a finished training run does."""
    wizard.setStartId(next(i for i in wizard.pageIds() if wizard.page(i) is wizard.evaluation_page))
    wizard.show()
    assert wizard.currentPage() is wizard.evaluation_page


def test_every_number_has_its_ci_and_n_and_a_tiny_test_split_says_so(wizard_on_evaluation):
    from training.evaluate import wilson_interval

    page = wizard_on_evaluation.evaluation_page
    shown = {key: label.text() for key, label in page.metric_labels.items()}
    # the case: a perfect AUC on 12 films, now with the card's bootstrap interval and the count
    assert shown["auc"] == "1.000 (95% CI 1.000-1.000; n=12 films)"
    low, high = wilson_interval(6, 6)
    assert round(low, 3) == 0.610 and high == 1.0  # 6 of 6 positives found: the true rate may be as low as 0.61
    assert shown["sensitivity"] == "1.000 (95% CI 0.610-1.000; 6/6 PNEUMONIA films)"
    assert shown["specificity"] == "1.000 (95% CI 0.610-1.000; 6/6 NORMAL films)"
    assert shown["accuracy"] == "1.000 (95% CI 0.758-1.000; 12/12 films)"
    assert shown["precision"] == "1.000 (95% CI 0.610-1.000; 6/6 films called PNEUMONIA)"
    for key in ("f1", "kappa", "ece"):
        assert "95% CI" in shown[key] and shown[key].endswith("n=12 films)")
    assert page.small_test_label.isVisibleTo(wizard_on_evaluation)
    warning = page.small_test_label.text()
    assert "Only 12 test films (6 NORMAL, 6 PNEUMONIA), fewer than 20 per class" in warning
    assert "too uncertain" in warning

    # moving the threshold re-counts every interval: at 0.9 only the most confident positives are called
    page.set_threshold(0.9)
    probs = page.context.trained.test.positive_probabilities()
    found = int((probs[6:] >= 0.9).sum())
    assert 0 < found < 6
    low, high = wilson_interval(found, 6)
    assert page.metric_labels["sensitivity"].text() == (f"{found / 6:.3f} (95% CI {low:.3f}-{high:.3f}; "
                                                        f"{found}/6 PNEUMONIA films)")
    assert page.metric_labels["auc"].text() == shown["auc"]  # the AUC does not depend on the threshold


def test_a_large_enough_test_split_shows_no_warning(qtbot, settings, tmp_path):
    from desktop.wizard.jobs import TrainedModel
    from desktop.wizard.wizard import TrainingWizard
    from inference.model_card import read_card
    from tests.helpers.tiny_models import make_tiny_bundle

    bundle = make_tiny_bundle(tmp_path / "tiny")
    wizard = TrainingWizard(settings)
    qtbot.addWidget(wizard)
    wizard.context.trained = TrainedModel(bundle_dir=bundle, card=read_card(bundle), summary={},
                                          test=_perfect_test_predictions(per_class=20))
    show_evaluation_page(wizard)
    assert not wizard.evaluation_page.small_test_label.isVisibleTo(wizard)
    assert wizard.evaluation_page.metric_labels["auc"].text() == "1.000 (95% CI 1.000-1.000; n=40 films)"


def test_intervals_are_the_cards_and_the_bootstrap_counts_as_training_metrics_do():
    """The page's AUC and rate intervals are those training writes into the card (same functions, same seed); the
    vectorised F1/kappa resamples equal training.metrics.binary_metrics on each resample."""
    from desktop.wizard.metric_intervals import _resampled_f1_kappa
    from training.metrics import binary_metrics
    from training.stages.calibrate import test_metric_entries

    rng = np.random.default_rng(3)
    labels = np.array([0] * 30 + [1] * 25)
    logits = np.stack([np.zeros(55), rng.normal(labels * 1.2, 1.0)], axis=1).astype(np.float32)
    from desktop.wizard.jobs import TestPredictions

    test = TestPredictions(classes=CLASSES, positive_index=1, logits=logits, labels=labels, temperature=1.3,
                           threshold=0.55, threshold_method="youden", seed=11)
    metrics = test.metrics_at(0.55)
    measured = test.measured(metrics)
    is_positive = (labels == 1).astype(int)
    probs = test.positive_probabilities()
    card = {entry["name"]: entry for entry in
            test_metric_entries(metrics, "d", "test", 0.55, is_positive, probs, seed=11)}
    for name in ("auc", "accuracy", "sensitivity", "specificity"):
        assert measured[name].ci95 == pytest.approx(tuple(card[name]["ci95"]), abs=1e-6), name
        assert measured[name].value == pytest.approx(card[name]["value"], abs=1e-6)
    resamples = test.draw_intervals().resamples
    vectorised = _resampled_f1_kappa(is_positive.astype(bool), probs >= 0.55, resamples[:40])
    for i, rows in enumerate(resamples[:40]):
        direct = binary_metrics(is_positive[rows], probs[rows], 0.55, ("NORMAL", "PNEUMONIA"))
        assert vectorised["f1"][i] == pytest.approx(direct["f1"], abs=1e-12)
        assert vectorised["kappa"][i] == pytest.approx(direct["kappa"], abs=1e-12)
    low, high = measured["kappa"].ci95
    assert low < metrics["kappa"] < high


def test_a_multiclass_model_gets_intervals_too():
    from desktop.wizard.jobs import TestPredictions

    rng = np.random.default_rng(5)
    labels = np.repeat([0, 1, 2], 15)
    logits = (np.eye(3)[labels] * 1.5 + rng.normal(0, 1, (45, 3))).astype(np.float32)
    test = TestPredictions(classes=["A", "B", "C"], positive_index=None, logits=logits, labels=labels,
                           temperature=1.0, threshold=None, threshold_method="argmax", seed=0)
    metrics = test.metrics_at(None)
    measured = test.measured(metrics)
    correct = int(np.trace(np.asarray(metrics["confusion_matrix"])))
    assert measured["accuracy"].text().endswith(f"; {correct}/45 films)")
    for name in ("auc", "sensitivity", "specificity", "precision", "f1", "kappa", "ece"):
        low, high = measured[name].ci95
        assert low <= measured[name].value <= high or name == "ece", name
        assert "95% CI" in measured[name].text() and measured[name].text().endswith("n=45 films)")
