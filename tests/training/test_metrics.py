"""Metrics, thresholds and temperature scaling against hand-computed values and scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (accuracy_score, cohen_kappa_score, confusion_matrix, f1_score, precision_score,
                             recall_score, roc_auc_score)

from training.calibration import bootstrap_temperature_interval, fit_scale_and_bias, fit_temperature, nll
from training.evaluate import choose_operating_point, wilson_interval
from training.metrics import (binary_metrics, expected_calibration_error, multiclass_metrics,
                              target_sensitivity_threshold, threshold_table, youden_threshold)

LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
PROBS = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.65, 0.3, 0.7, 0.55, 0.95])


def test_binary_metrics_hand_computed():
    m = binary_metrics(LABELS, PROBS, 0.5, ("NORMAL", "PNEUMONIA"))
    # at 0.5: negatives 0.1,0.4,0.35 correct, 0.8 false positive; positives: 0.3 missed, 5 caught
    assert m["confusion_matrix"] == [[3, 1], [1, 5]]
    assert m["n"] == 10
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["sensitivity"] == pytest.approx(5 / 6)
    assert m["specificity"] == pytest.approx(3 / 4)
    assert m["precision"] == pytest.approx(5 / 6)
    assert m["f1"] == pytest.approx(5 / 6)
    # AUC = fraction of (pos, neg) pairs ranked correctly: 24 pairs, misranked: 0.3<0.4, 0.3<0.35, 0.65<0.8,
    # 0.7<0.8, 0.55<0.8, 0.3<0.8 -> 18/24
    assert m["auc"] == pytest.approx(18 / 24)
    # kappa: po = 0.8, pe = (4*4 + 6*6)/100 = 0.52 -> (0.8-0.52)/0.48
    assert m["kappa"] == pytest.approx(0.28 / 0.48)
    assert m["per_class"]["NORMAL"] == pytest.approx({"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4})
    assert m["per_class"]["PNEUMONIA"]["support"] == 6


def test_binary_metrics_match_sklearn_on_random_data():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 300)
    probs = np.clip(labels * 0.3 + rng.random(300) * 0.7, 0, 1)
    threshold = 0.42
    m = binary_metrics(labels, probs, threshold, ("neg", "pos"))
    preds = (probs >= threshold).astype(int)
    assert m["auc"] == pytest.approx(roc_auc_score(labels, probs))
    assert m["accuracy"] == pytest.approx(accuracy_score(labels, preds))
    assert m["sensitivity"] == pytest.approx(recall_score(labels, preds))
    assert m["specificity"] == pytest.approx(recall_score(labels, preds, pos_label=0))
    assert m["precision"] == pytest.approx(precision_score(labels, preds))
    assert m["f1"] == pytest.approx(f1_score(labels, preds))
    assert m["kappa"] == pytest.approx(cohen_kappa_score(labels, preds))
    assert m["confusion_matrix"] == confusion_matrix(labels, preds).tolist()


def test_ece_hand_computed():
    # two confident-correct at 0.9 (bin acc 1.0 vs conf 0.9), two at 0.6 with one wrong (acc 0.5 vs conf 0.6)
    labels = np.array([1, 0, 1, 0])
    probs = np.array([0.9, 0.1, 0.6, 0.6])
    assert expected_calibration_error(labels, probs, n_bins=10) == pytest.approx(0.5 * 0.1 + 0.5 * 0.1)


def test_thresholds():
    # J = 5/6 + 3/4 - 1 is largest from 0.55 down to the next lower score 0.4: the cut goes halfway
    assert youden_threshold(LABELS, PROBS) == pytest.approx(0.475)
    # sensitivity 1.0 needs the lowest positive (0.3) above the cut: halfway to the next lower score 0.1
    assert target_sensitivity_threshold(LABELS, PROBS, 1.0) == pytest.approx(0.2)
    assert target_sensitivity_threshold(LABELS, PROBS, 0.8) == pytest.approx(0.475)  # 5 of 6 positives kept
    table = threshold_table(LABELS, PROBS, [0.5, 0.3])
    assert table == [{"threshold": 0.3, "sensitivity": 1.0, "specificity": 0.25},
                     {"threshold": 0.5, "sensitivity": 5 / 6, "specificity": 0.75}]


def test_temperature_scaling_recovers_known_temperature():
    rng = np.random.default_rng(0)
    true_logit = rng.normal(0, 2, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-true_logit))).astype(int)
    overconfident = np.stack([np.zeros_like(true_logit), true_logit * 3.0], axis=1)  # logits 3x too sharp
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert nll(overconfident, labels, temperature) < nll(overconfident, labels, 1.0)
    point = choose_operating_point(overconfident, labels, positive_index=1, target_sensitivity=0.9)
    assert point.ece_after < point.ece_before
    probs = 1 / (1 + np.exp(-true_logit * 3.0 / point.temperature))
    sens = ((probs >= point.threshold) & (labels == 1)).sum() / (labels == 1).sum()
    assert sens >= 0.9


def test_scale_and_bias_recover_a_shifted_model_that_a_temperature_cannot():
    rng = np.random.default_rng(1)
    true_log_odds = rng.normal(1.0, 2.0, 6000)
    is_positive = (rng.random(6000) < 1 / (1 + np.exp(-true_log_odds))).astype(int)
    model_log_odds = (true_log_odds - 4.0) * 3.0  # 3x too sharp and pushed 12 towards the negative class
    scale, bias = fit_scale_and_bias(model_log_odds, is_positive)
    assert scale == pytest.approx(1 / 3, rel=0.1) and bias == pytest.approx(4.0, rel=0.1)
    two_columns = np.stack([np.zeros_like(model_log_odds), model_log_odds], axis=1)
    temperature = fit_temperature(two_columns, is_positive)
    assert nll(two_columns, is_positive, temperature) > float(np.mean(
        np.logaddexp(0.0, scale * model_log_odds + bias) - is_positive * (scale * model_log_odds + bias))) + 0.05
    assert fit_scale_and_bias(np.array([1.0, 2.0]), np.array([1, 1])) == (1.0, 0.0)


def test_the_temperature_interval_holds_the_true_temperature_and_narrows_with_more_films():
    def films(n, seed):
        rng = np.random.default_rng(seed)
        true_log_odds = rng.normal(0.0, 3.0, n)
        is_positive = (rng.random(n) < 1 / (1 + np.exp(-true_log_odds))).astype(int)
        return np.stack([np.zeros(n), true_log_odds * 2.5], axis=1), is_positive  # 2.5x too sharp

    small, small_labels = films(300, 3)
    large, large_labels = films(6000, 3)
    low, high = bootstrap_temperature_interval(small, small_labels)
    assert low < 2.5 < high
    big_low, big_high = bootstrap_temperature_interval(large, large_labels, rounds=100)
    assert big_low < 2.5 < big_high and (big_high - big_low) < (high - low) / 2
    assert bootstrap_temperature_interval(small[:3], np.array([1, 1, 1])) == (1.0, 1.0)


def test_wilson_interval_known_value():
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


def test_multiclass_metrics():
    labels = np.array([0, 1, 2, 2])
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    m = multiclass_metrics(labels, probs, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert m["per_class"]["c"]["recall"] == pytest.approx(0.5)
