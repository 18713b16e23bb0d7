"""Evaluation: metrics of a classifier's logits at a threshold, operating-point choice and calibration,
and `evaluate_bundle` (the core of `xrayview-eval`)."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from inference.errors import DatasetError
from training.calibration import fit_temperature
from training.events import ProgressCallback
from training.metrics import (binary_metrics, expected_calibration_error, multiclass_metrics,
                              target_sensitivity_threshold, youden_threshold)


@dataclass
class OperatingPoint:
    temperature: float
    threshold: float | None
    method: str  # "youden" | "target_sensitivity=0.97" | "miss_cost=2" | "argmax" | "fixed"
    ece_before: float | None
    ece_after: float | None


def positive_probs(logits: np.ndarray, positive_index: int, temperature: float = 1.0) -> np.ndarray:
    z = torch.from_numpy(np.asarray(logits, dtype=np.float32)) / temperature
    return torch.softmax(z, dim=1)[:, positive_index].numpy().astype(np.float64)


def choose_operating_point(val_logits: np.ndarray, val_labels: np.ndarray, positive_index: int | None,
                           target_sensitivity: float | None = None,
                           miss_cost: float | None = None) -> OperatingPoint:
    """Temperature scaling on validation, then the threshold on the calibrated P(positive): the most specific one
    keeping `target_sensitivity` on validation, or the decision threshold 1 / (1 + miss_cost) (a missed finding
    costs `miss_cost` false alarms: the Bayes rule for calibrated probabilities), or else Youden's J."""
    if target_sensitivity is not None and miss_cost is not None:
        raise ValueError("choose the threshold by a target sensitivity or by a miss cost, not both")
    temperature = fit_temperature(val_logits, val_labels)
    if positive_index is None or val_logits.shape[1] != 2:
        return OperatingPoint(temperature, None, "argmax", None, None)
    is_positive = (np.asarray(val_labels) == positive_index).astype(int)
    before = expected_calibration_error(is_positive, positive_probs(val_logits, positive_index))
    probs = positive_probs(val_logits, positive_index, temperature)
    after = expected_calibration_error(is_positive, probs)
    if target_sensitivity is not None:
        threshold = target_sensitivity_threshold(is_positive, probs, target_sensitivity)
        method = f"target_sensitivity={target_sensitivity:g}"
    elif miss_cost is not None:
        threshold = 1.0 / (1.0 + miss_cost)
        method = f"miss_cost={miss_cost:g}"
    else:
        threshold = youden_threshold(is_positive, probs)
        method = "youden"
    return OperatingPoint(temperature, float(threshold), method, before, after)


def metrics_from_logits(logits: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                        positive_index: int | None, temperature: float, threshold: float | None) -> dict:
    """The `xrayview-eval` JSON for logits over `class_names` (labels are indices into them)."""
    labels = np.asarray(labels, dtype=int)
    if positive_index is not None and len(class_names) == 2:
        negative_index = 1 - positive_index
        probs = positive_probs(logits, positive_index, temperature)
        return binary_metrics((labels == positive_index).astype(int), probs,
                              0.5 if threshold is None else threshold,
                              (class_names[negative_index], class_names[positive_index]))
    z = torch.from_numpy(np.asarray(logits, dtype=np.float32)) / temperature
    return multiclass_metrics(labels, torch.softmax(z, dim=1).numpy(), list(class_names))


def wilson_interval(successes: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    if total == 0:
        return (0.0, 1.0)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_auc_interval(is_positive: np.ndarray, probs: np.ndarray, rounds: int = 500,
                           seed: int = 0) -> tuple[float, float] | None:
    from sklearn.metrics import roc_auc_score

    is_positive = np.asarray(is_positive, dtype=int)
    if len(np.unique(is_positive)) < 2:
        return None
    rng = np.random.default_rng(seed)
    values = []
    n = len(is_positive)
    for _ in range(rounds):
        sample = rng.integers(0, n, n)
        if len(np.unique(is_positive[sample])) == 2:
            values.append(roc_auc_score(is_positive[sample], probs[sample]))
    return (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))


def match_class_folders(folder_classes: Sequence[str], model_labels: Sequence[str], folder: Path) -> dict[str, int]:
    """Map each class folder to the model's label index (exact name, else case-insensitive)."""
    mapping: dict[str, int] = {}
    lowered = {label.lower(): i for i, label in enumerate(model_labels)}
    for name in folder_classes:
        if name in model_labels:
            mapping[name] = list(model_labels).index(name)
        elif name.lower() in lowered:
            mapping[name] = lowered[name.lower()]
        else:
            raise DatasetError(folder, f"class folder {name!r} is not one of the model's labels "
                                       f"{list(model_labels)}; name the sub-folders after the labels")
    if len(set(mapping.values())) != len(mapping):
        raise DatasetError(folder, "two class folders map to the same model label")
    return mapping


@dataclass
class ScoredSet:
    """A bundle's logits over the readable images of a labelled folder."""
    bundle: object  # inference.bundle.ModelBundle
    labelled: object  # training.external.LabelledSet
    logits: np.ndarray
    tta: bool


def score_bundle(bundle_dir: Path | None, data_dir: Path, tta: bool = False, device: str = "auto",
                 batch_size: int = 64, progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None, set_name: str | None = None) -> ScoredSet:
    """Run a bundle (default: the bundled default model) over a `DIR/CLASS/*` folder, as the predictor would."""
    from inference.bundle import load_bundle
    from inference.device import resolve_device
    from inference.preprocess import InputSpec
    from training.external import load_labelled_set
    from training.trainer import Normalisation, predict_logits

    if bundle_dir is None:
        from inference.predictor import load_default_bundle

        bundle = load_default_bundle()
    else:
        bundle = load_bundle(bundle_dir)
    spec = InputSpec.from_card(bundle.card)
    labelled = load_labelled_set(Path(data_dir), spec, bundle.labels, name=set_name, progress=progress,
                                 cancel=cancel)
    torch_device = resolve_device(device)
    model = bundle.build(torch_device)
    logits = predict_logits(model, labelled, Normalisation.from_spec(spec), torch_device, batch_size,
                            tta_hflip=tta, cancel=cancel)
    return ScoredSet(bundle=bundle, labelled=labelled, logits=logits, tta=bool(tta))


def summarise(scored: ScoredSet, threshold: float | None = None) -> dict:
    """The `xrayview-eval` JSON of a scored set at the card's threshold (or `threshold`), plus `per_file`,
    `skipped`, `model`, `tta` and `set_sha256`."""
    bundle, labelled, logits = scored.bundle, scored.labelled, scored.logits
    positive_index = bundle.labels.index(bundle.positive_label) if bundle.positive_label else None
    chosen = bundle.threshold if threshold is None else float(threshold)
    labels = labelled.labels
    result = metrics_from_logits(logits, labels.numpy(), bundle.labels, positive_index, bundle.temperature, chosen)
    scaled = torch.softmax(torch.from_numpy(logits).float() / bundle.temperature, dim=1).numpy()
    result["per_file"] = [{"path": str(path), "truth": bundle.labels[int(labels[j])],
                           "probabilities": {label: float(scaled[j, k]) for k, label in enumerate(bundle.labels)}}
                          for j, path in enumerate(labelled.paths)]
    result["skipped"] = labelled.skipped
    result["model"] = bundle.identity()
    result["tta"] = scored.tta
    result["set_sha256"] = labelled.sha256
    return result


def evaluate_bundle(bundle_dir: Path | None, data_dir: Path, threshold: float | None = None, tta: bool = False,
                    device: str = "auto", batch_size: int = 64,
                    progress: ProgressCallback | None = None,
                    cancel: threading.Event | None = None) -> dict:
    """Metrics of a bundle (default: the bundled default model) on a `DIR/CLASS/*` folder."""
    return summarise(score_bundle(bundle_dir, data_dir, tta, device, batch_size, progress, cancel), threshold)
