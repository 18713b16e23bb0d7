"""Labelled folders a model was not trained on: read them once, score them, and record the result in the card.

Used by `xrayview-eval --write-card` (external validation of a finished bundle), `xrayview-train --external`
(the same numbers per epoch, reported and never used to choose the weights) and `xrayview-calibrate` (a
site's own films). A set is identified by the sha256 of its file list (relative path, label, file sha256), so
a card says exactly which films its numbers come from.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from inference.errors import DatasetError
from inference.preprocess import InputSpec
from training.events import ProgressCallback
from training.evaluate import bootstrap_auc_interval, match_class_folders, positive_probs, wilson_interval
from training.metrics import binary_metrics, roc_auc


@dataclass
class LabelledSet:
    """The readable images of a `DIR/CLASS/*` folder, decoded at the model input size, labels as model indices."""
    name: str
    folder: Path
    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor  # int64 [N], indices into the model's labels
    paths: list[Path]
    skipped: list[dict]
    sha256: str  # of the sorted "relpath,label,file sha256" lines of the readable files

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def counts(self, model_labels: Sequence[str]) -> dict[str, int]:
        return {label: int((self.labels == i).sum()) for i, label in enumerate(model_labels)}


def set_fingerprint(rows: Sequence[tuple[str, str, str]]) -> str:
    """sha256 over sorted (relative path, label, file sha256) rows: the identity of a labelled set."""
    text = "".join(f"{path},{label},{digest}\n" for path, label, digest in sorted(rows))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_labelled_set(folder: Path, spec: InputSpec, model_labels: Sequence[str], name: str | None = None,
                      progress: ProgressCallback | None = None,
                      cancel: threading.Event | None = None) -> LabelledSet:
    """Read `folder/CLASS/*` (class folders named after the model's labels) exactly as the predictor would."""
    from training.cache import decode_images
    from training.datasets import scan_class_folder

    folder = Path(folder)
    classes, files = scan_class_folder(folder)
    mapping = match_class_folders(classes, list(model_labels), folder)
    decoded = decode_images([f.path for f in files], spec, progress=progress, cancel=cancel)
    keep = np.flatnonzero(decoded.ok)
    if keep.size == 0:
        raise DatasetError(folder, "none of the files could be read as images")
    labels = torch.tensor([mapping[files[i].label] for i in keep], dtype=torch.int64)
    rows = []
    for i in keep:
        try:
            relative = files[i].path.relative_to(folder).as_posix()
        except ValueError:
            relative = files[i].path.name
        rows.append((relative, model_labels[mapping[files[i].label]], files[i].sha256))
    skipped = [{"path": str(decoded.paths[i]), "reason": decoded.errors[i]} for i in np.flatnonzero(~decoded.ok)]
    return LabelledSet(name=name or folder.name, folder=folder, images=decoded.images[torch.from_numpy(keep)],
                       labels=labels, paths=[decoded.paths[i] for i in keep], skipped=skipped,
                       sha256=set_fingerprint(rows))


def metric_entries(is_positive: np.ndarray, probs: np.ndarray, threshold: float, dataset: str, split: str,
                   seed: int = 0) -> list[dict]:
    """The card's metric entries (AUC with a bootstrap 95% CI, accuracy/sensitivity/specificity with Wilson
    95% CIs at `threshold`, ECE) of a binary model's calibrated P(positive) on one set."""
    is_positive = np.asarray(is_positive, dtype=int)
    result = binary_metrics(is_positive, probs, threshold, ("negative", "positive"))
    (tn, fp), (fn, tp) = result["confusion_matrix"]
    n = int(is_positive.size)
    intervals = {"sensitivity": wilson_interval(tp, tp + fn), "specificity": wilson_interval(tn, tn + fp),
                 "accuracy": wilson_interval(tp + tn, n)}
    auc_ci = bootstrap_auc_interval(is_positive, probs, seed=seed)
    if auc_ci is not None:
        intervals["auc"] = auc_ci
    entries = []
    for name in ("auc", "accuracy", "sensitivity", "specificity", "ece"):
        value = result.get(name)
        if value is None:
            continue
        entry = {"name": name, "value": round(float(value), 6), "dataset": dataset, "split": split,
                 "threshold": None if name in ("auc", "ece") else round(float(threshold), 6), "n": n}
        if name in intervals:
            entry["ci95"] = [round(intervals[name][0], 6), round(intervals[name][1], 6)]
        entries.append(entry)
    return entries


def quick_binary_scores(logits: np.ndarray, labels: np.ndarray, positive_index: int, temperature: float,
                        threshold: float) -> dict:
    """AUC and the call's accuracy/sensitivity/specificity at `threshold` (no CIs): the per-epoch report."""
    probs = positive_probs(logits, positive_index, temperature)
    is_positive = (np.asarray(labels) == positive_index).astype(int)
    called = probs >= threshold
    return {"auc": roc_auc(is_positive, probs),
            "accuracy": float((called == is_positive.astype(bool)).mean()),
            "sensitivity": float(called[is_positive == 1].mean()) if (is_positive == 1).any() else None,
            "specificity": float((~called[is_positive == 0]).mean()) if (is_positive == 0).any() else None,
            "threshold": float(threshold), "temperature": float(temperature)}


def external_section(labelled: LabelledSet, logits: np.ndarray, model_labels: Sequence[str], positive_label: str,
                     temperature: float, threshold: float, command: str, tta: bool = False,
                     description: str | None = None, seed: int = 0, selected_on: str | None = None) -> dict:
    """One entry of the card's `external_validation` list: which films, how many, and the numbers with CIs
    at the card's own threshold and temperature. `selected_on` says what was chosen by looking at this set (the
    recipe among N candidates, a threshold rule): its numbers are then labelled a selection set's, never an
    independent estimate."""
    positive_index = list(model_labels).index(positive_label)
    probs = positive_probs(logits, positive_index, temperature)
    is_positive = (labelled.labels.numpy() == positive_index).astype(int)
    split = selection_split(selected_on) if selected_on else \
        "external validation (not used for training, threshold or calibration)"
    entry = {
        "dataset": labelled.name,
        "folder": labelled.folder.name,
        "set_sha256": labelled.sha256,
        "n": len(labelled),
        "counts": labelled.counts(model_labels),
        "threshold": round(float(threshold), 6),
        "temperature": round(float(temperature), 6),
        "tta_hflip": bool(tta),
        "measured_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "metrics": metric_entries(is_positive, probs, threshold, labelled.name, split, seed=seed),
    }
    if description:
        entry["description"] = description
    if selected_on:
        entry["selected_on"] = selected_on
    return entry


def selection_split(selected_on: str) -> str:
    """How a metric measured on a selection set names its split."""
    return f"selection set, not an independent estimate ({selected_on} chosen by looking at it)"


def with_external_section(card: dict, entry: dict) -> dict:
    """A copy of `card` whose `external_validation` holds `entry`, replacing an earlier entry of the same set
    name (a re-measurement), keeping the others."""
    kept = [e for e in card.get("external_validation", []) if e.get("dataset") != entry["dataset"]]
    return {**card, "external_validation": kept + [entry]}
