"""XRayView training package (Qt-free). The API a GUI (the desktop wizard) or a script uses:

    from training.pipeline import DataOptions, ExportOptions, inspect_dataset, run_training
    from training.trainer import TrainConfig, TrainingCancelled
    from training.augment import AugmentConfig
    from training.evaluate import evaluate_bundle          # xrayview-eval's core (+ "per_file" probabilities)
    from training.external import load_labelled_set, external_section   # external validation in the card
    from training.site_calibration import calibrate_bundle  # xrayview-calibrate's core (progress=, cancel=)
    from inference.device import resolve_device

    data = DataOptions(data=Path(root), val=None, test=None, img_size=224, limit_per_class=None)
    prepared = inspect_dataset(data, pretrained=True, seed=0, progress=cb, cancel=event)
    prepared.report.to_text() / .to_dict() / .warnings / .has_leakage     # the dataset report page
    prepared.splits["train"|"val"|"test"]  (len() = image counts), prepared.classes, prepared.positive_label
    # a time estimate: time a few steps of training.trainer.train on random images of the chosen size (the
    # wizard's desktop/wizard/jobs.measure_throughput) and scale by the split sizes
    outcome = run_training(TrainConfig(arch=..., epochs=..., pretrained=...), data,
                           ExportOptions(out=Path(bundle_dir), name=..., target_sensitivity=None),
                           resolve_device("auto"), progress=cb, cancel=event, prepared=prepared)
    outcome.bundle_dir, outcome.card, outcome.summary   # summary["test"]: metrics at the chosen threshold
    # outcome.bundle_dir/evaluation.json holds test/val metrics; roc_test.png and training_curves.png beside it

`progress(event: dict)` events (all JSON-able), by "event":
    "stage"   {"stage": "decode"|"train"|"evaluate"|"export", ...}
    "decode"  {"done", "total"}                      reading images into the RAM cache
    "report"  {"report": DatasetReport.to_dict()}
    "resumed" {"epoch", "epochs"}
    "batch"   {"epoch", "epochs", "batch", "batches", "loss", "lr", "elapsed_s", "eta_s"}
    "epoch"   {"epoch", "epochs", "train_loss", "val_loss", "val_auc" (binary) | "val_accuracy", "val_acc",
               "lr", "seconds", "best", "stop", "elapsed_s", "eta_s",
               "external": {NAME: {"auc", "accuracy", "sensitivity", "specificity", "threshold"}} with
               DataOptions(external=[(NAME, DIR)]): reported only, never used to choose anything}
    "done"    {"summary": {...}}
`cancel.set()` stops between batches (raises TrainingCancelled, a TrainingError); the last epoch checkpoint stays
in OUT.partial/ and `run_training(..., resume=True)` continues from it. An existing `out` is refused before any
image is read unless `ExportOptions(overwrite=True)`; then it is moved aside intact (OUT.previous-<time>) once a
complete, validated new bundle replaces it (inference.bundle.write_bundle). Checkpoints are read with
`torch.load(weights_only=True)` and checked before use (training/checkpoint.py).
"""
