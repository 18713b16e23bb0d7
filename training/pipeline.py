"""End-to-end training run, Qt-free: folders -> report -> splits -> train -> calibrate/threshold on val ->
test metrics -> model card -> bundle. `xrayview-train` and the desktop wizard both call `run_training`."""
from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from inference.errors import DatasetError, TrainingError
from inference.preprocess import InputSpec
from training import distributed
from training.cache import DecodedImages, decode_images
from training.datasets import DatasetInventory, ImageFile, discover
from training.evaluate import (bootstrap_auc_interval, choose_operating_point, metrics_from_logits,
                               positive_probs, wilson_interval)
from training.export import (GENERIC_LIMITATIONS, KERMANY_DATA, KERMANY_LIMITATIONS, KERMANY_POPULATION, CardInputs,
                             build_card, choose_positive_label, looks_like_kermany, manifest_csv, package_versions,
                             sha256_bytes)
from training.jpeg_source import source_jpeg_quality
from training.lung_focus import LungPrior, build_lung_prior
from training.output_dir import aside_path, check_output_dir
from training.metrics import DEFAULT_TABLE_THRESHOLDS, roc_points, threshold_table, with_operating_point
from training.report import DatasetReport, ReportEntry, build_report
from training.splits import DEFAULT_FRACTIONS, SPLIT_NAMES, SplitItem, compile_group_regex, make_splits
from training.trainer import Normalisation, TensorSplit, TrainConfig, TrainResult, predict_logits, train

ProgressCallback = Callable[[dict], None]

# ImageNet statistics of a gray image (mean/std of the RGB means) for pretrained backbones; a centred
# spread for models trained from scratch.
PRETRAINED_NORMALISATION = ((0.449,), (0.226,))
SCRATCH_NORMALISATION = ((0.5,), (0.25,))
LUNG_PRIOR_IMAGES = 400  # candidates for the lung atlas; about a third are outlined, and the mean settles by then


@dataclass
class DataOptions:
    data: Path
    val: Path | None = None
    test: Path | None = None
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    group_regex: str | None = None
    limit_per_class: int | None = None
    img_size: int = 224
    resize_mode: str = "squash"
    per_image_norm: bool = False  # InputSpec.per_image
    low_pass_sigma: float = 0.0  # InputSpec.low_pass_sigma
    dataset_name: str | None = None
    licence: str | None = None
    attribution: str | None = None
    decode_workers: int | None = None
    # labelled sets from elsewhere (name, DIR/CLASS/*): measured after every epoch and on the final model, reported
    # in the history and the card's external_validation; never used for the weights, threshold or temperature
    external: list[tuple[str, Path]] = field(default_factory=list)
    external_selected_on: str | None = None  # what was chosen by looking at the external sets (external_section)


@dataclass
class ExportOptions:
    out: Path
    name: str | None = None
    version: str = "1.0.0"
    description: str | None = None
    positive_label: str | None = None
    target_sensitivity: float | None = None
    miss_cost: float | None = None  # threshold 1 / (1 + miss_cost) on the calibrated P(positive) instead
    limitations: list[str] = field(default_factory=list)
    experimental: bool = False
    card_extra: dict = field(default_factory=dict)
    command: str = ""
    tta_report: bool = False  # also report test metrics with horizontal-flip TTA (the card stays plain)
    overwrite: bool = False  # an existing `out` is moved aside (kept) instead of refusing the run


@dataclass
class PreparedData:
    classes: list[str]
    positive_label: str | None
    spec: InputSpec
    report: DatasetReport
    splits: dict[str, TensorSplit]
    split_files: dict[str, list[ImageFile]]
    manifest: bytes
    kermany: bool
    test_given: bool
    split_seed: int = 0


def _limit_per_class(files: list[ImageFile], limit: int, seed: int) -> list[ImageFile]:
    by_class: dict[str, list[ImageFile]] = {}
    for item in files:
        by_class.setdefault(item.label, []).append(item)
    kept: list[ImageFile] = []
    for label in sorted(by_class):
        items = sorted(by_class[label], key=lambda f: str(f.path))
        random.Random(seed).shuffle(items)
        kept.extend(items[:limit])
    return sorted(kept, key=lambda f: (f.label, str(f.path)))


def _carve(train_files: list[ImageFile], fractions: tuple[float, float, float], seed: int,
           group_regex) -> dict[str, list[ImageFile]]:
    by_path = {f.path: f for f in train_files}
    parts = make_splits([SplitItem(f.path, f.label, f.sha256) for f in train_files], fractions, seed, group_regex)
    return {name: [by_path[i.path] for i in items] for name, items in parts.items()}


def assign_splits(inventory: DatasetInventory, readable: dict[str, list[ImageFile]], fractions, seed: int,
                  group_regex) -> dict[str, list[ImageFile]]:
    """Final train/val/test lists: given splits are kept; missing ones are carved out of train (grouped)."""
    if not inventory.presplit:
        return _carve(readable["unsplit"], fractions, seed, group_regex)
    has_val, has_test = "val" in readable, "test" in readable
    train_files = readable["train"]
    if has_val and has_test:
        return {"train": train_files, "val": readable["val"], "test": readable["test"]}
    if not has_val and not has_test:
        return _carve(train_files, fractions, seed, group_regex)
    if has_val:
        share = fractions[2] / (fractions[0] + fractions[2])
        carved = _carve(train_files, (1 - share, 0.0, share), seed, group_regex)
        return {"train": carved["train"], "val": readable["val"], "test": carved["test"]}
    share = fractions[1] / (fractions[0] + fractions[1])
    carved = _carve(train_files, (1 - share, share, 0.0), seed, group_regex)
    return {"train": carved["train"], "val": carved["val"], "test": readable["test"]}


def input_spec_for(options: DataOptions, pretrained: bool) -> InputSpec:
    """The model input block: gray, `img_size` square, the chosen resize mode, normalisation by start point."""
    mean, std = PRETRAINED_NORMALISATION if pretrained else SCRATCH_NORMALISATION
    return InputSpec(channels=1, height=options.img_size, width=options.img_size,
                     resize_mode=options.resize_mode, mean=mean, std=std, per_image=options.per_image_norm,
                     low_pass_sigma=options.low_pass_sigma)


def prepare_data(options: DataOptions, spec: InputSpec, seed: int, positive_label: str | None = None,
                 progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None) -> PreparedData:
    """Inventory, decode once into RAM, report, split. Raises DatasetError/TrainingError on unusable data."""
    emit = progress or (lambda event: None)
    inventory = discover(options.data, options.val, options.test)
    group_regex = compile_group_regex(options.group_regex)
    files = dict(inventory.files)
    if options.limit_per_class:
        files = {split: _limit_per_class(items, options.limit_per_class, seed) for split, items in files.items()}
    ordered = [(split, item) for split, items in files.items() for item in items]
    emit({"event": "stage", "stage": "decode", "total": len(ordered)})
    decoded: DecodedImages = decode_images([item.path for _, item in ordered], spec, options.decode_workers,
                                           progress=emit, cancel=cancel)
    index_of = {item.path: i for i, (_, item) in enumerate(ordered)}
    readable = {split: [item for item in items if decoded.ok[index_of[item.path]]] for split, items in files.items()}
    for split, items in readable.items():
        if not items:
            raise DatasetError(options.data, f"no readable images in split {split!r}")

    assigned = assign_splits(inventory, readable, options.fractions, seed, group_regex)
    for split in SPLIT_NAMES:
        present = {f.label for f in assigned[split]}
        if split != "test" and len(present) < len(inventory.classes):
            raise DatasetError(options.data, f"the {split} split would lack class(es) "
                                             f"{sorted(set(inventory.classes) - present)}: too few images or patients")
        if split == "test" and not assigned[split]:
            raise DatasetError(options.data, "the test split would be empty: too few images or patients")

    final_split_of = {f.path: split for split, items in assigned.items() for f in items}
    entries = []
    for split, item in ordered:
        i = index_of[item.path]
        entries.append(ReportEntry(path=item.path, split=final_split_of.get(item.path, split), label=item.label,
                                   sha256=item.sha256, readable=bool(decoded.ok[i]), error=decoded.errors[i],
                                   shape=decoded.original_shapes[i]))
    report = build_report(entries, inventory.classes)
    emit({"event": "report", "report": report.to_dict()})

    classes = inventory.classes
    label_index = {name: i for i, name in enumerate(classes)}
    splits = {}
    for split, items in assigned.items():
        rows = torch.tensor([index_of[f.path] for f in items], dtype=torch.int64)
        splits[split] = TensorSplit(images=decoded.images[rows].clone(),
                                    labels=torch.tensor([label_index[f.label] for f in items], dtype=torch.int64))
    rows = []
    for split, items in assigned.items():
        for f in items:
            try:
                rel = f.path.relative_to(options.data)
            except ValueError:
                rel = f.path
            rows.append((split, f.label, rel.as_posix(), f.sha256))
    all_paths = [f.path for items in assigned.values() for f in items]
    return PreparedData(classes=classes, positive_label=choose_positive_label(classes, positive_label),
                        spec=spec, report=report, splits=splits, split_files=assigned, manifest=manifest_csv(rows),
                        kermany=looks_like_kermany(all_paths, classes), test_given="test" in readable,
                        split_seed=seed)


def inspect_dataset(data: DataOptions, pretrained: bool = True, seed: int = 0, positive_label: str | None = None,
                    progress: ProgressCallback | None = None,
                    cancel: threading.Event | None = None) -> PreparedData:
    """Read every image once and make the splits: `.report` (DatasetReport: `.to_text()`, `.to_dict()`,
    `.warnings`, `.has_leakage`) is what to show before training; pass the result to `run_training(prepared=)`."""
    return prepare_data(data, input_spec_for(data, pretrained), seed, positive_label, progress, cancel)


def operating_table(is_positive: np.ndarray, probs: np.ndarray, operating) -> list[dict]:
    """The card's threshold table on the test split: the operating point first, then the standard thresholds."""
    table = threshold_table(is_positive, probs, DEFAULT_TABLE_THRESHOLDS)
    chosen = threshold_table(is_positive, probs, [operating.threshold])[0]
    how = ("threshold 1/(1+cost) on P calibrated on validation" if operating.method.startswith("miss_cost")
           else "chosen on validation")
    chosen["name"] = f"operating point ({operating.method}, {how})"
    return with_operating_point(chosen, table)


def lung_prior_for(prepared: PreparedData, positive_index: int | None) -> LungPrior:
    """The lung-focus prior from the training split's non-finding images (all of them for multi-class data)."""
    train_split = prepared.splits["train"]
    keep = train_split.labels != positive_index if positive_index is not None \
        else torch.ones_like(train_split.labels, dtype=torch.bool)
    return build_lung_prior(train_split.images[keep], limit=LUNG_PRIOR_IMAGES)


def run_fingerprint(prepared: PreparedData, config: TrainConfig) -> str:
    """Identifies a run for --resume: same images in the same splits, same spec and options."""
    payload = json.dumps({"config": config.to_dict(), "spec": asdict(prepared.spec)}, sort_keys=True).encode()
    return hashlib.sha256(prepared.manifest + payload).hexdigest()


@dataclass
class RunOutcome:
    bundle_dir: Path
    card: dict
    summary: dict


def _metric_entries(test_metrics: dict, dataset: str, split_name: str, threshold: float | None,
                    is_positive: np.ndarray | None, probs: np.ndarray | None, seed: int) -> list[dict]:
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


def run_training(config: TrainConfig, data: DataOptions, export: ExportOptions, device: torch.device,
                 work_dir: Path | None = None, resume: bool = False,
                 progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None,
                 prepared: PreparedData | None = None,
                 stop: threading.Event | None = None) -> RunOutcome | None:
    """The whole run. Returns the outcome on rank 0 (None on other DDP ranks).

    `prepared` (from `inspect_dataset`, e.g. after the wizard showed its report) skips reading the images again.

    `work_dir` (default OUT.partial beside the bundle) holds the per-epoch checkpoint; it is removed after
    the bundle is written. Raises TrainingCancelled when `cancel` is set (the checkpoint stays for --resume).
    `stop` ends training early with the best epoch so far; evaluation and export then run as usual.
    """
    emit = progress or (lambda event: None)
    started = time.monotonic()
    out = Path(export.out)
    work_dir = Path(work_dir) if work_dir is not None else out.parent / (out.name + ".partial")
    is_main = distributed.rank() == 0
    check_output_dir(out, export.overwrite)  # before any image is read: never after an hour of training
    pretrained = bool(config.pretrained or config.pretrained_path)
    spec = input_spec_for(data, pretrained)
    if prepared is None:
        prepared = prepare_data(data, spec, config.seed, export.positive_label, progress=emit, cancel=cancel)
    else:
        same_geometry = (prepared.spec.height, prepared.spec.width, prepared.spec.resize_mode,
                         prepared.spec.channels) == (spec.height, spec.width, spec.resize_mode, spec.channels)
        if not same_geometry:
            raise TrainingError("the inspected dataset was decoded at another input size or resize mode; "
                                "inspect it again with the training options")
        # the cache holds display values; only the batch-time normalisation follows the new spec
        prepared = replace(prepared, spec=spec,
                           positive_label=choose_positive_label(prepared.classes, export.positive_label))
    classes = prepared.classes
    if export.positive_label is not None and export.positive_label not in classes:
        raise TrainingError(f"--positive-label {export.positive_label!r} is not one of the classes {classes}")
    if export.positive_label is not None and len(classes) != 2:
        raise TrainingError("--positive-label applies to two-class models only; "
                            f"this data set has {len(classes)} classes")
    positive_index = classes.index(prepared.positive_label) if prepared.positive_label else None
    if is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "dataset_report.json").write_text(json.dumps(prepared.report.to_dict(), indent=2))
    fingerprint = run_fingerprint(prepared, config)
    normalisation = Normalisation.from_spec(spec)
    external_sets = []
    if is_main and data.external:
        from training.external import load_labelled_set

        emit({"event": "stage", "stage": "external sets"})
        external_sets = [load_labelled_set(folder, spec, classes, name=name, cancel=cancel)
                         for name, folder in data.external]
    epoch_report = None
    if external_sets and positive_index is not None:
        def epoch_report(epoch: int, eval_model, val_logits: np.ndarray) -> dict:
            from training.external import quick_binary_scores

            point = choose_operating_point(val_logits, prepared.splits["val"].labels.numpy(), positive_index,
                                           export.target_sensitivity, export.miss_cost)
            scores = {}
            for labelled in external_sets:
                logits = predict_logits(eval_model, labelled, normalisation, device, config.eval_batch_size)
                scores[labelled.name] = quick_binary_scores(logits, labelled.labels.numpy(), positive_index,
                                                            point.temperature, point.threshold)
            return {"external": scores}

    lung_prior = None
    if config.lung_focus > 0:
        emit({"event": "stage", "stage": "lung prior"})
        lung_prior = lung_prior_for(prepared, positive_index)
    emit({"event": "stage", "stage": "train",
          "counts": {s: len(t) for s, t in prepared.splits.items()}})
    result: TrainResult = train(config, prepared.splits["train"], prepared.splits["val"], len(classes),
                                positive_index if positive_index is not None else 0, normalisation, device,
                                work_dir=work_dir, resume=resume, progress=emit, cancel=cancel,
                                run_fingerprint=fingerprint,
                                lung_prior=None if lung_prior is None else lung_prior.mask,
                                epoch_report=epoch_report, stop=stop)
    if not is_main:
        return None

    emit({"event": "stage", "stage": "evaluate"})
    from inference.architectures import build_model

    model = build_model(config.arch, len(classes), in_channels=spec.channels).to(device)
    model.load_state_dict(result.best_state)
    use_amp = config.amp and device.type == "cuda"
    val, test = prepared.splits["val"], prepared.splits["test"]
    val_logits = predict_logits(model, val, normalisation, device, config.eval_batch_size, amp=use_amp,
                                cancel=cancel)
    test_logits = predict_logits(model, test, normalisation, device, config.eval_batch_size, amp=use_amp,
                                 cancel=cancel)
    operating = choose_operating_point(val_logits, val.labels.numpy(), positive_index, export.target_sensitivity,
                                       export.miss_cost)
    test_metrics = metrics_from_logits(test_logits, test.labels.numpy(), classes, positive_index,
                                       operating.temperature, operating.threshold)
    val_metrics = metrics_from_logits(val_logits, val.labels.numpy(), classes, positive_index,
                                      operating.temperature, operating.threshold)
    tta_metrics = None
    if export.tta_report:
        tta_logits = predict_logits(model, test, normalisation, device, config.eval_batch_size, tta_hflip=True,
                                    amp=use_amp, cancel=cancel)
        tta_metrics = metrics_from_logits(tta_logits, test.labels.numpy(), classes, positive_index,
                                          operating.temperature, operating.threshold)

    dataset_name = data.dataset_name or (KERMANY_DATA["name"] if prepared.kermany else Path(data.data).name)
    test_split_name = ("test (the given test folder)" if prepared.test_given
                       else "test (patient-grouped hold-out carved from the training folder)")
    is_positive = probs = None
    table: list[dict] = []
    plots: dict[str, bytes] = {}
    from training import plots as plotting

    if positive_index is not None:
        is_positive = (test.labels.numpy() == positive_index).astype(int)
        probs = positive_probs(test_logits, positive_index, operating.temperature)
        table = operating_table(is_positive, probs, operating)
        roc = roc_points(is_positive, probs)
        plots["roc_test.png"] = plotting.roc_curve_png(
            roc["fpr"], roc["tpr"], test_metrics["auc"], f"ROC on the test split (n={test_metrics['n']})",
            (1 - test_metrics["specificity"], test_metrics["sensitivity"]))
    else:
        # multi-class: one-vs-rest sensitivity/specificity of P(class) >= t, per class
        scaled = torch.softmax(torch.from_numpy(test_logits).float() / operating.temperature, dim=1).numpy()
        for index, label in enumerate(classes):
            for row in threshold_table((test.labels.numpy() == index).astype(int), scaled[:, index],
                                       (0.3, 0.5, 0.7)):
                table.append({"name": f"{label} vs rest, P({label}) >= threshold", **row})
    plots["training_curves.png"] = plotting.training_curves_png(result.history)

    manifest_hash = sha256_bytes(prepared.manifest)
    n_images = sum(len(t) for t in prepared.splits.values())
    training_data = [{
        "name": dataset_name,
        "licence": data.licence or (KERMANY_DATA["licence"] if prepared.kermany else "not stated by the user"),
        "attribution": data.attribution or (KERMANY_DATA["attribution"] if prepared.kermany
                                            else f"local images from {Path(data.data).name}"),
        "n_images": n_images,
        "manifest_sha256": manifest_hash,
    }]
    counts = {s: {c: int((t.labels == i).sum()) for i, c in enumerate(classes)} for s, t in prepared.splits.items()}
    training_block = {
        "command": export.command,
        "seed": config.seed,
        "config": config.to_dict(),
        "device": str(device),
        "world_size": distributed.world_size(),
        "split_counts": counts,
        "split_method": "stratified, grouped by patient id from file names and by exact duplicates "
                        f"(fractions {list(data.fractions)}, seed {prepared.split_seed})",
        "group_regex": data.group_regex,
        "limit_per_class": data.limit_per_class,
        "best_epoch": result.best_epoch,
        "best_val_auc": result.best_val_auc,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "resumed_from_epoch": result.resumed_from_epoch,
        "weights": _weights_description(config),
        "linear_probe": result.linear_probe,
        "lung_focus": None if lung_prior is None else {"weight": config.lung_focus, **lung_prior.describe()},
        "map_specificity": None if not config.map_specificity else {
            "weight": config.map_specificity,
            "penalty": "mean Pearson correlation between the positive-class CAMs (7 x 7, as rendered) of different "
                       "films in each training batch that the augmentation mirrored alike, compared as augmented, each map "
                       "weighted by the film's lung prior (training.lung_focus.shared_map_correlation)"},
        "consistency": None if not config.consistency else {
            "weight": config.consistency, "views": config.consistency_views.to_dict(),
            "penalty": "squared log-odds difference between each training film (as augmented) and a second view of "
                       "it with Gaussian noise, a JPEG round trip and a down-and-up resampling with a random filter, "
                       "rounded to 8 bits (training.consistency)"},
        "map_focus": None if not config.map_focus else {
            "weight": config.map_focus,
            "penalty": "mean over the positive films of each training batch of mean / max of the positive-class "
                       "CAM (7 x 7, as rendered): the share of the grid the map fills "
                       "(training.lung_focus.map_fill_fraction)"},
        "history": result.history,
        "validation_metrics": val_metrics,
        "test_metrics_tta_hflip": tta_metrics,
        "threshold_method": operating.method,
        "duration_s": round(time.monotonic() - started, 1),
        "package_versions": package_versions(),
        "dataset_report": {"imbalance_ratio": prepared.report.imbalance_ratio,
                           "unreadable": len(prepared.report.unreadable),
                           "duplicate_groups_within_split": len(prepared.report.duplicates_within_split),
                           "duplicate_groups_across_splits": len(prepared.report.duplicates_across_splits),
                           "warnings": prepared.report.warnings},
    }
    limitations = list(export.limitations) or (KERMANY_LIMITATIONS if prepared.kermany else []) + GENERIC_LIMITATIONS
    calibration = {"temperature": round(operating.temperature, 6), "dataset": dataset_name, "split": "validation",
                   "ece": None if operating.ece_after is None else round(operating.ece_after, 6),
                   "ece_before": None if operating.ece_before is None else round(operating.ece_before, 6)}
    name = export.name or out.name
    description = export.description or (
        f"{config.arch} classifier ({', '.join(classes)}) trained with xrayview-train on {dataset_name}.")
    # A model trained with JPEG-quality jitter needs no inference-time round trip to look like its training copies
    # (the round trip amplifies small intensity differences: a 1% contrast change moved p by up to 0.05 with it).
    if not config.augment.jpeg_quality_min:
        spec = replace(spec, jpeg_quality=source_jpeg_quality([item.path for item in prepared.split_files["train"]],
                                                              spec.height, spec.width))
    card = build_card(CardInputs(
        name=name, version=export.version, description=description, arch=config.arch, labels=classes,
        positive_label=prepared.positive_label, input_block=spec.to_card(), threshold=operating.threshold,
        threshold_table=table,
        metrics=_metric_entries(test_metrics, dataset_name, test_split_name, operating.threshold, is_positive,
                                probs, config.seed),
        calibration=calibration, training_data=training_data, training=training_block, limitations=limitations,
        intended_population=KERMANY_POPULATION if prepared.kermany else None,
        experimental=export.experimental, extra=export.card_extra))
    if external_sets and prepared.positive_label is not None:
        from training.external import external_section, with_external_section

        for labelled in external_sets:
            logits = predict_logits(model, labelled, normalisation, device, config.eval_batch_size, amp=use_amp,
                                    cancel=cancel)
            card = with_external_section(card, external_section(
                labelled, logits, classes, prepared.positive_label, operating.temperature, operating.threshold,
                export.command, seed=config.seed, selected_on=data.external_selected_on))
    evaluation = {"test": test_metrics, "validation": val_metrics, "test_tta_hflip": tta_metrics,
                  "temperature": operating.temperature, "threshold": operating.threshold,
                  "threshold_method": operating.method}
    extra_files = {
        "dataset_report.json": json.dumps(prepared.report.to_dict(), indent=2).encode(),
        "dataset_report.txt": prepared.report.to_text().encode(),
        "data_manifest.csv": prepared.manifest,
        "evaluation.json": json.dumps(evaluation, indent=2).encode(),
        **plots,
    }
    emit({"event": "stage", "stage": "export"})
    from inference.bundle import load_bundle, write_bundle

    previous = aside_path(out) if export.overwrite else None
    bundle_dir = write_bundle(out, {k: v.detach().cpu() for k, v in result.best_state.items()}, card,
                              extra_files=extra_files, keep_previous=previous)
    written = load_bundle(bundle_dir)
    _remove_work_dir(work_dir)
    summary = {"bundle": str(bundle_dir), "arch": config.arch, "labels": classes,
               "positive_label": prepared.positive_label, "threshold": operating.threshold,
               "threshold_method": operating.method, "temperature": operating.temperature,
               "test": {k: test_metrics[k] for k in ("n", "auc", "accuracy", "sensitivity", "specificity",
                                                     "precision", "f1", "kappa", "ece", "confusion_matrix")},
               "test_tta_hflip": None if tta_metrics is None else {
                   k: tta_metrics[k] for k in ("auc", "accuracy", "sensitivity", "specificity")},
               "val_auc": result.best_val_auc, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
               "split_counts": counts, "duration_s": round(time.monotonic() - started, 1),
               "leakage_groups": len(prepared.report.duplicates_across_splits),
               "weights_sha256": written.sha256,
               "previous_output_moved_to": None if previous is None else str(previous)}
    emit({"event": "done", "summary": summary})
    return RunOutcome(bundle_dir=bundle_dir, card=written.card, summary=summary)


def _weights_description(config: TrainConfig) -> str:
    text = "exponential moving average of the weights" if config.ema_epochs > 0 else "raw weights"
    if config.linear_probe:
        text += ", fine-tuned from a linear-probe head on the frozen pretrained features"
    if config.wise_alpha != 1.0:
        text += (f", interpolated {config.wise_alpha:g} of the way from the fine-tuning start to the fine-tuned "
                 "weights (WiSE-FT)")
    return text


def _remove_work_dir(work_dir: Path) -> None:
    import shutil

    if work_dir.name.endswith(".partial"):
        shutil.rmtree(work_dir, ignore_errors=True)
    else:
        # a user-given --work-dir may hold other things: remove only what we wrote
        for name in ("checkpoint.pt", "checkpoint.pt.tmp", "dataset_report.json"):
            (work_dir / name).unlink(missing_ok=True)
