"""Site calibration: fit a bundle's temperature and threshold on a clinic's own labelled films, as a new version.

The weights, the OOD guard and every other file are kept; the card gains a `site_calibration` block (which films:
the set's sha256, n per class, date; the fitted temperature and threshold; sensitivity/specificity with Wilson
95% CIs, both in-sample and cross-validated) and its threshold table is measured on the site set. Its limitation
about how the operating point was chosen is replaced by one that names the site set, and an external entry
measured on the same films (same set sha256) is marked as the set the operating point was fitted on. The original
bundle is never touched: the new version goes to a folder that must not exist yet.

Qt-free: `calibrate_bundle(..., progress=, cancel=)` is called by `xrayview-calibrate` and by the desktop.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from inference.errors import BundleError, DatasetError
from training.calibration import fit_temperature
from training.events import ProgressCallback
from training.export import is_operating_point_limitation, site_operating_point_limitation
from training.evaluate import positive_probs, wilson_interval
from training.metrics import (DEFAULT_TABLE_THRESHOLDS, expected_calibration_error, target_sensitivity_threshold,
                              threshold_table, with_operating_point)

DEFAULT_TARGET_SENSITIVITY = 0.97
# Below this many films of a class, the Wilson interval of that class's rate is wider than +-10 points at 90%:
# too wide to promise a sensitivity or a specificity.
MIN_PER_CLASS = 50
CROSS_VALIDATION_FOLDS = 5


@dataclass
class CalibrationResult:
    out: Path
    card: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict:
        block = self.card["site_calibration"]
        return {"bundle": str(self.out), "name": self.card["name"], "version": self.card["version"],
                "threshold": block["threshold"], "temperature": block["temperature"], "n": block["n"],
                "counts": block["counts"], "set_sha256": block["set_sha256"],
                "in_sample": block["in_sample"], "cross_validated": block["cross_validated"],
                "warnings": self.warnings}


def _rates(is_positive: np.ndarray, called: np.ndarray) -> dict:
    tp = int(np.sum(called & (is_positive == 1)))
    fn = int(np.sum(~called & (is_positive == 1)))
    tn = int(np.sum(~called & (is_positive == 0)))
    fp = int(np.sum(called & (is_positive == 0)))
    n = tp + fn + tn + fp

    def rate(k: int, total: int) -> dict:
        low, high = wilson_interval(k, total)
        return {"value": round(k / total, 6) if total else None, "ci95": [round(low, 6), round(high, 6)],
                "k": k, "n": total}

    return {"sensitivity": rate(tp, tp + fn), "specificity": rate(tn, tn + fp), "accuracy": rate(tp + tn, n)}


def fit_operating_point(logits: np.ndarray, labels: np.ndarray, positive_index: int,
                        target_sensitivity: float) -> tuple[float, float]:
    """(temperature, threshold): temperature by NLL, then the most specific threshold keeping the target."""
    temperature = fit_temperature(logits, labels)
    probs = positive_probs(logits, positive_index, temperature)
    is_positive = (np.asarray(labels) == positive_index).astype(int)
    return temperature, float(target_sensitivity_threshold(is_positive, probs, target_sensitivity))


def cross_validated_calls(logits: np.ndarray, labels: np.ndarray, positive_index: int, target_sensitivity: float,
                          folds: int = CROSS_VALIDATION_FOLDS, seed: int = 0) -> np.ndarray:
    """Each film called by an operating point fitted on the other folds (stratified): what a site can expect
    from a threshold fitted on films like these, instead of the optimistic in-sample rate."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=int)
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        rng.shuffle(members)
        fold_of[members] = np.arange(members.size) % folds
    called = np.zeros(len(labels), dtype=bool)
    for fold in range(folds):
        held = fold_of == fold
        temperature, threshold = fit_operating_point(logits[~held], labels[~held], positive_index, target_sensitivity)
        called[held] = positive_probs(logits[held], positive_index, temperature) >= threshold
    return called


def small_set_warnings(counts: dict[str, int]) -> list[str]:
    return [f"only {n} {label} film(s) in the site set (fewer than {MIN_PER_CLASS}): the "
            f"{'sensitivity' if i else 'specificity'} measured on it has a wide confidence interval; add films "
            "before relying on the promised operating point"
            for i, (label, n) in enumerate(counts.items()) if n < MIN_PER_CLASS]


CALIBRATION_SELECTION = "the site-calibrated threshold and temperature"
CALIBRATION_SPLIT = ("site calibration set: the threshold and temperature were fitted on it (not an independent "
                     "estimate)")


def as_calibration_set(entry: dict, site_sha256: str) -> dict:
    """An external entry measured on the very films the operating point is now fitted on is no longer independent:
    it says so (`selected_on`, and every metric's split), whatever it said before."""
    if entry.get("set_sha256") != site_sha256:
        return entry
    return {**entry, "selected_on": CALIBRATION_SELECTION,
            "metrics": [{**metric, "split": CALIBRATION_SPLIT} for metric in entry.get("metrics", [])]}


def calibrate_bundle(bundle_dir: Path, data_dir: Path, out: Path, target_sensitivity: float =
                     DEFAULT_TARGET_SENSITIVITY, set_name: str | None = None, version: str | None = None,
                     command: str = "", device: str = "auto",
                     progress: ProgressCallback | None = None,
                     cancel: threading.Event | None = None) -> CalibrationResult:
    """Fit temperature and threshold of `bundle_dir` on the labelled films in `data_dir` (`DIR/CLASS/*`, class
    folders named after the model's labels) and write the result as a new bundle at `out`."""
    from inference.bundle import rewrite_bundle
    from training.evaluate import score_bundle

    bundle_dir, data_dir, out = Path(bundle_dir), Path(data_dir), Path(out)
    if not 0.5 <= target_sensitivity < 1.0:
        raise DatasetError(data_dir, f"the target sensitivity must be in [0.5, 1), got {target_sensitivity}")
    if out.exists():
        raise BundleError(out, "already exists; site calibration writes a new version and never replaces a "
                               "folder: choose a new --out")
    if out.resolve() == bundle_dir.resolve():
        raise BundleError(out, "is the original bundle; site calibration never overwrites it")
    scored = score_bundle(bundle_dir, data_dir, device=device, progress=progress, cancel=cancel, set_name=set_name)
    bundle = scored.bundle
    if bundle.positive_label is None or len(bundle.labels) != 2:
        raise BundleError(bundle.path, "site calibration supports two-class models with a positive label")
    labels = scored.labelled.labels.numpy()
    positive_index = bundle.labels.index(bundle.positive_label)
    counts = scored.labelled.counts(bundle.labels)
    if min(counts.values()) == 0:
        empty = [label for label, n in counts.items() if n == 0]
        raise DatasetError(data_dir, f"the site set has no readable films of {empty}: both classes are needed")
    warnings = small_set_warnings(counts)

    temperature, threshold = fit_operating_point(scored.logits, labels, positive_index, target_sensitivity)
    probs = positive_probs(scored.logits, positive_index, temperature)
    is_positive = (labels == positive_index).astype(int)
    in_sample = _rates(is_positive, probs >= threshold)
    cross_validated = _rates(is_positive, cross_validated_calls(scored.logits, labels, positive_index,
                                                                target_sensitivity))
    measured = datetime.now(timezone.utc)
    name = set_name or data_dir.name
    card = dict(bundle.card)
    previous = {"version": card["version"], "threshold": card.get("threshold"),
                "temperature": card.get("calibration", {}).get("temperature"),
                "weights_sha256": card["weights"]["sha256"]}
    card["version"] = version or f"{card['version']}+site.{measured:%Y%m%d}"
    card["threshold"] = threshold
    card["calibration"] = {**card.get("calibration", {}), "temperature": round(temperature, 6), "dataset": name,
                           "split": "site calibration set",
                           "ece": round(expected_calibration_error(is_positive, probs), 6),
                           "ece_before": round(expected_calibration_error(
                               is_positive, positive_probs(scored.logits, positive_index, bundle.temperature)), 6)}
    chosen = threshold_table(is_positive, probs, [threshold])[0]
    chosen["name"] = f"operating point (target_sensitivity={target_sensitivity:g}, fitted on the site set)"
    card["threshold_table"] = with_operating_point(chosen, threshold_table(is_positive, probs,
                                                                            DEFAULT_TABLE_THRESHOLDS))
    card["site_calibration"] = {
        "dataset": name,
        "folder": data_dir.name,
        "set_sha256": scored.labelled.sha256,
        "n": len(scored.labelled),
        "counts": counts,
        "measured_utc": measured.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target_sensitivity": target_sensitivity,
        "temperature": round(temperature, 6),
        "threshold": round(threshold, 6),
        "in_sample": in_sample,
        "cross_validated": {**cross_validated, "folds": CROSS_VALIDATION_FOLDS},
        "warnings": warnings,
        "previous": previous,
        "command": command,
    }
    card["limitations"] = [text for text in card.get("limitations", []) if not is_operating_point_limitation(text)]
    card["limitations"].append(site_operating_point_limitation(name, len(scored.labelled), f"{measured:%Y-%m-%d}",
                                                               target_sensitivity))
    card["external_validation"] = [as_calibration_set(entry, scored.labelled.sha256)
                                   for entry in card.get("external_validation", [])]
    if not card["external_validation"]:
        del card["external_validation"]
    if cancel is not None and cancel.is_set():
        from inference.errors import XRayViewError

        raise XRayViewError("site calibration cancelled; nothing was written")
    rewrite_bundle(bundle, card, out_dir=out)
    from inference.bundle import load_bundle

    return CalibrationResult(out=out, card=load_bundle(out).card, warnings=warnings)
