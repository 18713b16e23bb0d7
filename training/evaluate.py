"""Evaluation: metrics of a classifier's logits at a threshold, operating-point choice and calibration,
and `evaluate_bundle` (the core of `xrayview-eval`)."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from inference.errors import DatasetError
from training.calibration import fit_temperature
from training.metrics import (binary_metrics, expected_calibration_error, multiclass_metrics,
                              target_sensitivity_threshold, youden_threshold)


@dataclass
class OperatingPoint:
    temperature: float
    threshold: float | None
    method: str  # "youden" | "target_sensitivity=0.97" | "argmax" | "fixed"
    ece_before: float | None
    ece_after: float | None


def positive_probs(logits: np.ndarray, positive_index: int, temperature: float = 1.0) -> np.ndarray:
    z = torch.from_numpy(np.asarray(logits, dtype=np.float32)) / temperature
    return torch.softmax(z, dim=1)[:, positive_index].numpy().astype(np.float64)


def choose_operating_point(val_logits: np.ndarray, val_labels: np.ndarray, positive_index: int | None,
                           target_sensitivity: float | None = None) -> OperatingPoint:
    """Temperature scaling on validation, then the threshold on the calibrated P(positive)."""
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


def evaluate_bundle(bundle_dir: Path | None, data_dir: Path, threshold: float | None = None, tta: bool = False,
                    device: str = "auto", batch_size: int = 64,
                    progress: Callable[[dict], None] | None = None,
                    cancel: threading.Event | None = None) -> dict:
    """Metrics of a bundle (default: the bundled default model) on a `DIR/CLASS/*` folder."""
    from inference.bundle import load_bundle
    from inference.device import resolve_device
    from inference.preprocess import InputSpec
    from training.cache import decode_images
    from training.datasets import scan_class_folder
    from training.trainer import Normalisation, TensorSplit, predict_logits

    if bundle_dir is None:
        from inference.predictor import load_default_bundle

        bundle = load_default_bundle()
    else:
        bundle = load_bundle(bundle_dir)
    classes, files = scan_class_folder(Path(data_dir))
    mapping = match_class_folders(classes, bundle.labels, Path(data_dir))
    spec = InputSpec.from_card(bundle.card)
    decoded = decode_images([f.path for f in files], spec, progress=progress, cancel=cancel)
    keep = np.flatnonzero(decoded.ok)
    if keep.size == 0:
        raise DatasetError(data_dir, "none of the files could be read as images")
    labels = torch.tensor([mapping[files[i].label] for i in keep], dtype=torch.int64)
    split = TensorSplit(images=decoded.images[torch.from_numpy(keep)], labels=labels)
    torch_device = resolve_device(device)
    model = bundle.build(torch_device)
    logits = predict_logits(model, split, Normalisation(spec.mean, spec.std), torch_device, batch_size,
                            tta_hflip=tta, cancel=cancel)
    positive_index = bundle.labels.index(bundle.positive_label) if bundle.positive_label else None
    chosen = bundle.threshold if threshold is None else float(threshold)
    result = metrics_from_logits(logits, labels.numpy(), bundle.labels, positive_index, bundle.temperature, chosen)
    scaled = torch.softmax(torch.from_numpy(logits).float() / bundle.temperature, dim=1).numpy()
    result["per_file"] = [{"path": str(decoded.paths[i]), "truth": bundle.labels[int(labels[j])],
                           "probabilities": {label: float(scaled[j, k]) for k, label in enumerate(bundle.labels)}}
                          for j, i in enumerate(keep)]
    result["skipped"] = [{"path": str(decoded.paths[i]), "reason": decoded.errors[i]}
                         for i in np.flatnonzero(~decoded.ok)]
    result["model"] = bundle.identity()
    result["tta"] = bool(tta)
    return result
