"""The evaluation page's test numbers with their 95% confidence intervals and what each is counted on, computed
as the model card computes them (training.stages.calibrate.test_metric_entries), so page and card agree: the AUC's
bootstrap interval drawn with the run's seed, Wilson intervals for the rates (accuracy, sensitivity, specificity,
precision). The numbers the card gives without an interval (F1, Cohen's kappa, calibration error; every macro
average of a multi-class model) get a percentile bootstrap over the test films. No Qt.

The threshold-free intervals and the resampled films are drawn once (`TestIntervals.draw`, on the training
worker); the rest is counted again at each threshold the page's slider gives, vectorised over the resamples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop.prediction_adapter import number

BOOTSTRAP_ROUNDS = 500  # as training.evaluate.bootstrap_auc_interval


@dataclass(frozen=True)
class Measured:
    """One number on the page: its value, 95% CI and what it is counted on (k of n films, or n films)."""

    value: float | None
    ci95: tuple[float, float] | None
    n: int | None  # None: not known (a card written without it)
    counted: str  # what the n films are: "films", "PNEUMONIA films", "films called PNEUMONIA"
    k: int | None = None  # for a rate: the films it counts among the n

    def text(self) -> str:
        """"0.833 (95% CI 0.436-0.970; 5/6 PNEUMONIA films)", "0.975 (95% CI 0.900-1.000; n=12 films)"."""
        count = "" if self.n is None else (f"{self.k}/{self.n}" if self.k is not None else f"n={self.n}")
        count = f"{count} {self.counted}" if count else "number of films not known"
        if self.value is None:
            return f"n/a ({count})"
        interval = (f"95% CI {number(self.ci95[0])}-{number(self.ci95[1])}" if self.ci95 is not None
                    else "no confidence interval")
        return f"{number(self.value)} ({interval}; {count})"


def _percentile_interval(values: list[float] | np.ndarray) -> tuple[float, float] | None:
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))


@dataclass(frozen=True)
class TestIntervals:
    """What the intervals at any threshold start from: the resampled films (rows of indices into the test split)
    and the intervals of the numbers that do not depend on the threshold."""

    resamples: np.ndarray  # [rounds, n] indices
    fixed: dict[str, tuple[float, float] | None]

    @classmethod
    def draw(cls, labels: np.ndarray, probabilities: np.ndarray, class_names: list[str], positive_index: int | None,
             seed: int, rounds: int = BOOTSTRAP_ROUNDS) -> TestIntervals:
        """`probabilities`: calibrated P(positive) [N] for a binary model, else the class probabilities [N, K]."""
        labels = np.asarray(labels, dtype=int)
        resamples = np.random.default_rng(seed).integers(0, labels.size, (rounds, labels.size))
        if positive_index is not None:
            return cls(resamples, _binary_fixed(labels == positive_index, probabilities, seed, resamples))
        return cls(resamples, _multiclass_fixed(labels, probabilities, class_names, resamples))


def _binary_fixed(is_positive: np.ndarray, probs: np.ndarray, seed: int,
                  resamples: np.ndarray) -> dict[str, tuple[float, float] | None]:
    from training.evaluate import bootstrap_auc_interval
    from training.metrics import expected_calibration_error

    is_positive = is_positive.astype(int)
    return {"auc": bootstrap_auc_interval(is_positive, probs, seed=seed),  # the card's own interval
            "ece": _percentile_interval([expected_calibration_error(is_positive[rows], probs[rows])
                                         for rows in resamples])}


def _multiclass_fixed(labels: np.ndarray, probabilities: np.ndarray, class_names: list[str],
                      resamples: np.ndarray) -> dict[str, tuple[float, float] | None]:
    from training.metrics import multiclass_metrics

    names = ("auc", "sensitivity", "specificity", "precision", "f1", "kappa", "ece")
    samples: dict[str, list[float]] = {name: [] for name in names}
    for rows in resamples:
        if np.unique(labels[rows]).size < len(class_names):
            continue  # a resample without some class leaves its recall (and the AUC) undefined
        measured = multiclass_metrics(labels[rows], probabilities[rows], class_names)
        for name in names:
            if measured.get(name) is not None:
                samples[name].append(measured[name])
    return {name: _percentile_interval(values) for name, values in samples.items()}


def binary_measured(metrics: dict, is_positive: np.ndarray, probs: np.ndarray, intervals: TestIntervals,
                    class_names: list[str], positive_index: int) -> dict[str, Measured]:
    """Every number of `metrics` (training.metrics.binary_metrics at its threshold) with its interval and count."""
    from training.evaluate import wilson_interval

    positive, negative = class_names[positive_index], class_names[1 - positive_index]
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    n = tn + fp + fn + tp
    rates = {"accuracy": (tp + tn, n, "films"), "sensitivity": (tp, tp + fn, f"{positive} films"),
             "specificity": (tn, tn + fp, f"{negative} films"), "precision": (tp, tp + fp, f"films called {positive}")}
    measured = {name: Measured(metrics[name], wilson_interval(k, total), total, counted, k)
                for name, (k, total, counted) in rates.items()}
    resampled = _resampled_f1_kappa(np.asarray(is_positive, dtype=bool), np.asarray(probs) >= metrics["threshold"],
                                    intervals.resamples)
    for name in ("f1", "kappa"):
        measured[name] = Measured(metrics[name], _percentile_interval(resampled[name]), n, "films")
    for name in ("auc", "ece"):
        measured[name] = Measured(metrics[name], intervals.fixed.get(name) if metrics[name] is not None else None,
                                  n, "films")
    return measured


def _resampled_f1_kappa(is_positive: np.ndarray, called: np.ndarray, resamples: np.ndarray) -> dict[str, np.ndarray]:
    """F1 of the positive class and Cohen's kappa of each resample, as training.metrics computes them."""
    truth, call = is_positive[resamples], called[resamples]
    tp = (truth & call).sum(axis=1).astype(float)
    fp = (~truth & call).sum(axis=1).astype(float)
    fn = (truth & ~call).sum(axis=1).astype(float)
    n = float(resamples.shape[1])
    tn = n - tp - fp - fn
    f1_denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, f1_denominator, out=np.zeros_like(tp), where=f1_denominator > 0)
    observed = (tp + tn) / n
    expected = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / (n * n)
    kappa = np.divide(observed - expected, 1.0 - expected, out=np.zeros_like(tp), where=expected != 1.0)
    return {"f1": f1, "kappa": kappa}


def multiclass_measured(metrics: dict, intervals: TestIntervals) -> dict[str, Measured]:
    """Every number of `metrics` (training.metrics.multiclass_metrics): accuracy with its Wilson interval, the macro
    averages, AUC, kappa and calibration error with their bootstrap intervals."""
    from training.evaluate import wilson_interval

    matrix = np.asarray(metrics["confusion_matrix"])
    n, correct = int(matrix.sum()), int(np.trace(matrix))
    measured = {"accuracy": Measured(metrics["accuracy"], wilson_interval(correct, n), n, "films", correct)}
    for name in ("auc", "sensitivity", "specificity", "precision", "f1", "kappa", "ece"):
        value = metrics.get(name)
        measured[name] = Measured(value, intervals.fixed.get(name) if value is not None else None, n, "films")
    return measured
