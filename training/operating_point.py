"""Re-choose the operating threshold of an existing bundle on its own validation split, without retraining.

A clinic may want a different operating point (a target sensitivity instead of Youden's J); the bundle's
data_manifest.csv says which images were validation and test, so the threshold is chosen on validation and every
threshold-dependent number of the card (metrics, threshold table, calibration, ROC plot) is measured again on
test exactly as `xrayview-train` does. Weights and every other file of the bundle are kept. Command line:
`python -m training.cli_operating_point`.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from inference.bundle import load_bundle, rewrite_bundle
from inference.errors import XRayViewError
from inference.preprocess import InputSpec
from training.data_manifest import read_manifest
from training.evaluate import choose_operating_point, metrics_from_logits, positive_probs
from training.stages.calibrate import operating_table, test_metric_entries
from training.stages.card import roc_test_png
from training.trainer import Normalisation, TensorSplit, predict_logits


def _manifest_split(bundle_dir: Path, data_root: Path, split: str, labels: list[str], spec: InputSpec) -> TensorSplit:
    from training.cache import decode_images

    rows = [row for row in read_manifest(bundle_dir) if row.split == split]
    decoded = decode_images([row.path(data_root) for row in rows], spec)
    if not decoded.ok.all():
        missing = [str(p) for p, ok in zip(decoded.paths, decoded.ok) if not ok][:3]
        raise XRayViewError(f"{data_root}: {split} images of the manifest cannot be read: {missing}")
    return TensorSplit(decoded.images, torch.tensor([labels.index(row.label) for row in rows], dtype=torch.int64))


def rechoose(bundle_dir: Path, data_root: Path, target_sensitivity: float | None, out: Path | None = None,
             command: str = "") -> dict:
    """The new operating point written into the bundle (or `out`); `command` is recorded in the card."""
    bundle = load_bundle(bundle_dir)
    card = json.loads(json.dumps(bundle.card))
    labels, spec = card["labels"], InputSpec.from_card(card)
    positive_index = labels.index(card["positive_label"])
    model = bundle.build("cpu")
    normalisation = Normalisation.from_spec(spec)
    val = _manifest_split(bundle_dir, data_root, "val", labels, spec)
    test = _manifest_split(bundle_dir, data_root, "test", labels, spec)
    val_logits = predict_logits(model, val, normalisation, torch.device("cpu"))
    test_logits = predict_logits(model, test, normalisation, torch.device("cpu"))
    operating = choose_operating_point(val_logits, val.labels.numpy(), positive_index, target_sensitivity)
    test_metrics = metrics_from_logits(test_logits, test.labels.numpy(), labels, positive_index,
                                       operating.temperature, operating.threshold)
    val_metrics = metrics_from_logits(val_logits, val.labels.numpy(), labels, positive_index,
                                      operating.temperature, operating.threshold)
    is_positive = (test.labels.numpy() == positive_index).astype(int)
    probs = positive_probs(test_logits, positive_index, operating.temperature)
    previous = {"threshold": card["threshold"], "method": card["training"].get("threshold_method")}
    dataset = card["metrics"][0]["dataset"]
    split_name = card["metrics"][0]["split"]
    card["threshold"] = operating.threshold
    card["threshold_table"] = operating_table(is_positive, probs, operating)
    card["metrics"] = test_metric_entries(test_metrics, dataset, split_name, operating.threshold, is_positive,
                                          probs, card["training"].get("seed", 0))
    card["calibration"].update(temperature=round(operating.temperature, 6),
                               ece=None if operating.ece_after is None else round(operating.ece_after, 6),
                               ece_before=None if operating.ece_before is None else round(operating.ece_before, 6))
    card["training"]["threshold_method"] = operating.method
    card["training"]["validation_metrics"] = val_metrics
    card["training"]["operating_point_rechosen"] = {
        "command": command,
        "previous": previous}
    evaluation_path = bundle_dir / "evaluation.json"
    evaluation = json.loads(evaluation_path.read_text(encoding="utf-8") or "{}") if evaluation_path.is_file() else {}
    evaluation.update(test=test_metrics, validation=val_metrics, temperature=operating.temperature,
                      threshold=operating.threshold, threshold_method=operating.method)
    roc_png = roc_test_png(test_metrics, is_positive, probs)
    rewrite_bundle(bundle, card, out, replace_files={"evaluation.json": json.dumps(evaluation, indent=2).encode(),
                                                     "roc_test.png": roc_png})
    return {"threshold": operating.threshold, "method": operating.method, "previous": previous,
            "test": {k: test_metrics[k] for k in ("n", "auc", "accuracy", "sensitivity", "specificity", "ece")},
            "validation": {k: val_metrics[k] for k in ("sensitivity", "specificity")}}
