"""Stage "calibrate": temperature scaling and the operating threshold, both fitted on the validation split only
(Youden's J, a target sensitivity, or 1/(1+miss cost)), then every number at that operating point: validation,
test (with CIs), the threshold table, the external sets."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from training.evaluate import (OperatingPoint, bootstrap_auc_interval, choose_operating_point, metrics_from_logits,
                               positive_probs, wilson_interval)
from training.metrics import DEFAULT_TABLE_THRESHOLDS, threshold_table, with_operating_point
from training.stages.evaluate import Evaluation, SetLogits
from training.stages.prepare import PreparedData


@dataclass
class Calibration:
    operating: OperatingPoint
    val_metrics: dict
    test_metrics: dict
    tta_metrics: dict | None
    threshold_table: list[dict]
    test_is_positive: np.ndarray | None  # binary models: the test labels as 0/1
    test_probs: np.ndarray | None  # binary models: calibrated P(positive) on test
    external_sections: list[dict]  # the card's external_validation entries


def operating_table(is_positive: np.ndarray, probs: np.ndarray, operating: OperatingPoint) -> list[dict]:
    """The card's threshold table on the test split: the operating point first, then the standard thresholds."""
    table = threshold_table(is_positive, probs, DEFAULT_TABLE_THRESHOLDS)
    chosen = threshold_table(is_positive, probs, [operating.threshold])[0]
    how = ("threshold 1/(1+cost) on P calibrated on validation" if operating.method.startswith("miss_cost")
           else "chosen on validation")
    chosen["name"] = f"operating point ({operating.method}, {how})"
    return with_operating_point(chosen, table)


def one_vs_rest_table(test: SetLogits, classes: list[str], temperature: float) -> list[dict]:
    """Multi-class models: one-vs-rest sensitivity/specificity of P(class) >= t, per class."""
    scaled = torch.softmax(torch.from_numpy(test.logits).float() / temperature, dim=1).numpy()
    table = []
    for index, label in enumerate(classes):
        for row in threshold_table((test.labels == index).astype(int), scaled[:, index], (0.3, 0.5, 0.7)):
            table.append({"name": f"{label} vs rest, P({label}) >= threshold", **row})
    return table


def test_metric_entries(test_metrics: dict, dataset: str, split_name: str, threshold: float | None,
                   is_positive: np.ndarray | None, probs: np.ndarray | None, seed: int) -> list[dict]:
    """The card's `metrics` list: each test metric with its set, split, threshold, n and 95% CI."""
    n = test_metrics["n"]
    entries = []
    cm = test_metrics["confusion_matrix"]
    intervals: dict[str, tuple[float, float]] = {}
    if is_positive is not None and len(cm) == 2:
        (tn, fp), (fn, tp) = cm
        intervals["sensitivity"] = wilson_interval(tp, tp + fn)
        intervals["specificity"] = wilson_interval(tn, tn + fp)
        intervals["accuracy"] = wilson_interval(tp + tn, n)
        auc_ci = bootstrap_auc_interval(is_positive, probs, seed=seed)
        if auc_ci is not None:
            intervals["auc"] = auc_ci
    for name in ("auc", "accuracy", "sensitivity", "specificity", "precision", "f1", "kappa", "ece"):
        value = test_metrics.get(name)
        if value is None:
            continue
        entry = {"name": name, "value": round(float(value), 6), "dataset": dataset, "split": split_name,
                 "threshold": None if name in ("auc", "ece") else threshold, "n": n}
        if name in intervals:
            entry["ci95"] = [round(intervals[name][0], 6), round(intervals[name][1], 6)]
        entries.append(entry)
    return entries


def calibrate(evaluation: Evaluation, prepared: PreparedData, target_sensitivity: float | None,
              miss_cost: float | None, command: str, seed: int, selected_on: str | None = None) -> Calibration:
    classes, positive_index = prepared.classes, prepared.positive_index
    operating = choose_operating_point(evaluation.val.logits, evaluation.val.labels, positive_index,
                                       target_sensitivity, miss_cost)

    def metrics(scored: SetLogits) -> dict:
        return metrics_from_logits(scored.logits, scored.labels, classes, positive_index, operating.temperature,
                                   operating.threshold)

    test = evaluation.test
    test_metrics, val_metrics = metrics(test), metrics(evaluation.val)
    tta_metrics = metrics(evaluation.test_tta) if evaluation.test_tta is not None else None
    is_positive = probs = None
    if positive_index is not None:
        is_positive = (test.labels == positive_index).astype(int)
        probs = positive_probs(test.logits, positive_index, operating.temperature)
        table = operating_table(is_positive, probs, operating)
    else:
        table = one_vs_rest_table(test, classes, operating.temperature)
    sections = []
    if prepared.positive_label is not None:
        from training.external import external_section

        sections = [external_section(scored.labelled, scored.logits, classes, prepared.positive_label,
                                     operating.temperature, operating.threshold, command, seed=seed,
                                     selected_on=selected_on)
                    for scored in evaluation.external]
    return Calibration(operating=operating, val_metrics=val_metrics, test_metrics=test_metrics,
                       tta_metrics=tta_metrics, threshold_table=table, test_is_positive=is_positive,
                       test_probs=probs, external_sections=sections)
