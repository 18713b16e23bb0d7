"""Classification metrics for a binary (or multi-class) classifier, from labels and probabilities.

Binary convention: `labels` holds 1 for the positive class; `probs` is P(positive). The call is positive
when P(positive) >= threshold, exactly as the predictor decides.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

DEFAULT_TABLE_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def _safe_div(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def confusion_counts(labels: np.ndarray, preds: np.ndarray) -> tuple[int, int, int, int]:
    """(tn, fp, fn, tp) for binary 0/1 arrays."""
    labels = np.asarray(labels).astype(int)
    preds = np.asarray(preds).astype(int)
    tp = int(np.sum((labels == 1) & (preds == 1)))
    tn = int(np.sum((labels == 0) & (preds == 0)))
    fp = int(np.sum((labels == 0) & (preds == 1)))
    fn = int(np.sum((labels == 1) & (preds == 0)))
    return tn, fp, fn, tp


def cohen_kappa(labels: np.ndarray, preds: np.ndarray, num_classes: int = 2) -> float:
    matrix = np.zeros((num_classes, num_classes), dtype=float)
    for truth, pred in zip(np.asarray(labels, dtype=int), np.asarray(preds, dtype=int)):
        matrix[truth, pred] += 1
    total = matrix.sum()
    if total == 0:
        return 0.0
    observed = np.trace(matrix) / total
    expected = float(np.sum(matrix.sum(axis=0) * matrix.sum(axis=1))) / total**2
    return 0.0 if expected == 1.0 else float((observed - expected) / (1.0 - expected))


def roc_auc(labels: np.ndarray, probs: np.ndarray) -> float | None:
    """ROC-AUC, or None when only one class is present (undefined)."""
    labels = np.asarray(labels).astype(int)
    if labels.min(initial=0) == labels.max(initial=0) or len(np.unique(labels)) < 2:
        return None
    return float(roc_auc_score(labels, np.asarray(probs, dtype=float)))


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    """ECE of the predicted class's confidence (max(p, 1-p)) against its accuracy, equal-width bins."""
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    if labels.size == 0:
        return 0.0
    preds = (probs >= 0.5).astype(int)
    confidence = np.where(preds == 1, probs, 1.0 - probs)
    correct = (preds == labels).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bin_index == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def sensitivity_specificity(labels: np.ndarray, probs: np.ndarray, threshold: float) -> tuple[float, float]:
    tn, fp, fn, tp = confusion_counts(labels, np.asarray(probs) >= threshold)
    return _safe_div(tp, tp + fn), _safe_div(tn, tn + fp)


def binary_metrics(labels: Sequence[int], probs: Sequence[float], threshold: float,
                   class_names: Sequence[str]) -> dict:
    """Every headline metric at one threshold, in the `xrayview-eval` JSON shape.

    `class_names` = (negative, positive). The confusion matrix is rows = truth, columns = prediction,
    both in `class_names` order.
    """
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    preds = (probs >= threshold).astype(int)
    tn, fp, fn, tp = confusion_counts(labels, preds)
    n = int(labels.size)
    sensitivity = _safe_div(tp, tp + fn)
    specificity = _safe_div(tn, tn + fp)
    precision = _safe_div(tp, tp + fp)
    f1 = _safe_div(2 * precision * sensitivity, precision + sensitivity)
    npv = _safe_div(tn, tn + fn)
    neg_f1 = _safe_div(2 * npv * specificity, npv + specificity)
    negative, positive = class_names
    return {
        "n": n,
        "auc": roc_auc(labels, probs),
        "accuracy": _safe_div(tp + tn, n),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "precision": precision,
        "f1": f1,
        "kappa": cohen_kappa(labels, preds),
        "ece": expected_calibration_error(labels, probs),
        "threshold": float(threshold),
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "per_class": {
            negative: {"precision": npv, "recall": specificity, "f1": neg_f1, "support": tn + fp},
            positive: {"precision": precision, "recall": sensitivity, "f1": f1, "support": tp + fn},
        },
    }


def threshold_table(labels: Sequence[int], probs: Sequence[float],
                    thresholds: Sequence[float] = DEFAULT_TABLE_THRESHOLDS) -> list[dict]:
    """Sensitivity and specificity at several thresholds (for the model card and the wizard)."""
    rows = []
    for threshold in sorted(set(float(t) for t in thresholds)):
        sensitivity, specificity = sensitivity_specificity(labels, probs, threshold)
        rows.append({"threshold": round(threshold, 6), "sensitivity": sensitivity, "specificity": specificity})
    return rows


TABLE_DIGITS = 3  # how the viewer prints a threshold: two rows must never print the same


def with_operating_point(chosen: dict, rows: Sequence[dict], digits: int = TABLE_DIGITS) -> list[dict]:
    """The card's threshold table: the operating point first, then the standard rows, leaving out any that would
    print as the operating point's threshold (0.500 beside 0.5002 showed two "0.500" rows with different rates)."""
    shown = round(float(chosen["threshold"]), digits)
    return [chosen] + [row for row in rows if round(float(row["threshold"]), digits) != shown]


def _between_scores(probs: np.ndarray, cut: float) -> float:
    """Move a cut that sits exactly on a score to halfway down to the next lower score: same decisions on
    these data, but a positive whose probability is recomputed a rounding error lower stays positive."""
    lower = probs[probs < cut]
    if lower.size == 0:
        return float(cut)
    return float((cut + lower.max()) / 2.0)


def youden_threshold(labels: Sequence[int], probs: Sequence[float]) -> float:
    """The threshold maximising sensitivity + specificity - 1 (ties: the one closest to 0.5)."""
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    if len(np.unique(labels)) < 2:
        return 0.5
    fpr, tpr, thresholds = roc_curve(labels, probs)
    thresholds = np.clip(thresholds, 0.0, 1.0)  # sklearn puts +inf first
    j = tpr - fpr
    best = np.flatnonzero(np.isclose(j, j.max()))
    choice = best[np.argmin(np.abs(thresholds[best] - 0.5))]
    return _between_scores(probs, float(thresholds[choice]))


def target_sensitivity_threshold(labels: Sequence[int], probs: Sequence[float], target: float) -> float:
    """The highest threshold whose sensitivity is still >= target (most specific such operating point)."""
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    positives = np.sort(probs[labels == 1])
    if positives.size == 0:
        return 0.5
    # sensitivity at t = fraction of positives with p >= t; keep ceil(target*n) positives above t
    needed = max(1, math.ceil(target * positives.size - 1e-9))
    return _between_scores(probs, float(positives[positives.size - needed]))


def roc_points(labels: Sequence[int], probs: Sequence[float]) -> dict:
    labels = np.asarray(labels).astype(int)
    if len(np.unique(labels)) < 2:
        return {"fpr": [], "tpr": [], "thresholds": []}
    fpr, tpr, thresholds = roc_curve(labels, np.asarray(probs, dtype=float))
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": np.clip(thresholds, 0, 1).tolist()}


def multiclass_metrics(labels: Sequence[int], probs: np.ndarray, class_names: Sequence[str]) -> dict:
    """Argmax metrics for more than two classes (macro averages; AUC one-vs-rest)."""
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    preds = probs.argmax(axis=1)
    k = len(class_names)
    matrix = np.zeros((k, k), dtype=int)
    for truth, pred in zip(labels, preds):
        matrix[truth, pred] += 1
    per_class = {}
    recalls, precisions, f1s, specificities = [], [], [], []
    for i, name in enumerate(class_names):
        tp = matrix[i, i]
        fn = matrix[i].sum() - tp
        fp = matrix[:, i].sum() - tp
        tn = matrix.sum() - tp - fn - fp
        precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
        f1 = _safe_div(2 * precision * recall, precision + recall)
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": int(tp + fn)}
        recalls.append(recall), precisions.append(precision), f1s.append(f1)
        specificities.append(_safe_div(tn, tn + fp))
    try:
        auc = float(roc_auc_score(labels, probs, multi_class="ovr", average="macro", labels=list(range(k))))
    except ValueError:
        auc = None
    confidence = probs.max(axis=1)
    correct = (preds == labels).astype(float)
    edges = np.linspace(0, 1, 16)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, 14)
    ece = float(sum((bins == b).mean() * abs(correct[bins == b].mean() - confidence[bins == b].mean())
                    for b in range(15) if (bins == b).any())) if labels.size else 0.0
    return {"n": int(labels.size), "auc": auc, "accuracy": _safe_div(np.trace(matrix), matrix.sum()),
            "sensitivity": float(np.mean(recalls)), "specificity": float(np.mean(specificities)),
            "precision": float(np.mean(precisions)), "f1": float(np.mean(f1s)),
            "kappa": cohen_kappa(labels, preds, k), "ece": ece, "threshold": None,
            "confusion_matrix": matrix.tolist(), "per_class": per_class}
