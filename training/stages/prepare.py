"""Stage "prepare data": read every image once into RAM at the model input size, report on the data set, make the
splits (given ones kept, missing ones carved out of train, grouped by patient), write the manifest rows; and read
the external sets the run will be measured on."""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from inference.errors import DatasetError, TrainingError
from inference.preprocess import InputSpec
from training.cache import DecodedImages, decode_images
from training.data_manifest import ManifestRow, manifest_bytes, relative_path
from training.datasets import DatasetInventory, ImageFile, discover
from training.events import (DatasetReported, ProgressCallback, Stage, Step, StepStarted, no_progress)
from training.export import choose_positive_label, looks_like_kermany
from training.report import DatasetReport, ReportEntry, build_report
from training.splits import DEFAULT_FRACTIONS, SPLIT_NAMES, SplitItem, compile_group_regex, make_splits
from training.trainer import TensorSplit

# ImageNet statistics of a gray image (mean/std of the RGB means) for pretrained backbones; a centred
# spread for models trained from scratch.
PRETRAINED_NORMALISATION = ((0.449,), (0.226,))
SCRATCH_NORMALISATION = ((0.5,), (0.25,))


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
    # the split's own seed (None: the run's seed), so runs that differ in their seed can share one split
    split_seed: int | None = None
    # labelled sets from elsewhere (name, DIR/CLASS/*): measured after every epoch and on the final model, reported
    # in the history and the card's external_validation; never used for the weights, threshold or temperature
    external: list[tuple[str, Path]] = field(default_factory=list)
    external_selected_on: str | None = None  # what was chosen by looking at the external sets (external_section)


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
    manifest_rows: dict[str, list[ManifestRow]] = field(default_factory=dict)  # per split, in split_files order

    @property
    def positive_index(self) -> int | None:
        return self.classes.index(self.positive_label) if self.positive_label else None

    def counts(self) -> dict[str, int]:
        return {split: len(tensors) for split, tensors in self.splits.items()}


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


def _check_splits(assigned: dict[str, list[ImageFile]], classes: list[str], data: Path) -> None:
    for split in SPLIT_NAMES:
        present = {f.label for f in assigned[split]}
        if split != "test" and len(present) < len(classes):
            raise DatasetError(data, f"the {split} split would lack class(es) "
                                     f"{sorted(set(classes) - present)}: too few images or patients")
        if split == "test" and not assigned[split]:
            raise DatasetError(data, "the test split would be empty: too few images or patients")


def prepare_data(options: DataOptions, spec: InputSpec, seed: int, positive_label: str | None = None,
                 progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None) -> PreparedData:
    """Inventory, decode once into RAM, report, split. Raises DatasetError/TrainingError on unusable data."""
    emit = progress or no_progress
    seed = seed if options.split_seed is None else options.split_seed  # which films go where, and nothing else
    inventory = discover(options.data, options.val, options.test)
    group_regex = compile_group_regex(options.group_regex)
    files = dict(inventory.files)
    if options.limit_per_class:
        files = {split: _limit_per_class(items, options.limit_per_class, seed) for split, items in files.items()}
    ordered = [(split, item) for split, items in files.items() for item in items]
    emit(StepStarted(Stage.PREPARE_DATA, Step.READ_IMAGES))
    decoded: DecodedImages = decode_images([item.path for _, item in ordered], spec, options.decode_workers,
                                           progress=emit, cancel=cancel)
    index_of = {item.path: i for i, (_, item) in enumerate(ordered)}
    readable = {split: [item for item in items if decoded.ok[index_of[item.path]]] for split, items in files.items()}
    for split, items in readable.items():
        if not items:
            raise DatasetError(options.data, f"no readable images in split {split!r}")

    assigned = assign_splits(inventory, readable, options.fractions, seed, group_regex)
    _check_splits(assigned, inventory.classes, options.data)
    final_split_of = {f.path: split for split, items in assigned.items() for f in items}
    entries = []
    for split, item in ordered:
        i = index_of[item.path]
        entries.append(ReportEntry(path=item.path, split=final_split_of.get(item.path, split), label=item.label,
                                   sha256=item.sha256, readable=bool(decoded.ok[i]), error=decoded.errors[i],
                                   shape=decoded.original_shapes[i]))
    report = build_report(entries, inventory.classes)
    emit(DatasetReported(report))

    classes = inventory.classes
    label_index = {name: i for i, name in enumerate(classes)}
    splits = {}
    for split, items in assigned.items():
        rows = torch.tensor([index_of[f.path] for f in items], dtype=torch.int64)
        splits[split] = TensorSplit(images=decoded.images[rows].clone(),
                                    labels=torch.tensor([label_index[f.label] for f in items], dtype=torch.int64))
    manifest_rows = {split: [ManifestRow(split, f.label, relative_path(f.path, options.data), f.sha256)
                             for f in items] for split, items in assigned.items()}
    all_paths = [f.path for items in assigned.values() for f in items]
    return PreparedData(classes=classes, positive_label=choose_positive_label(classes, positive_label),
                        spec=spec, report=report, splits=splits, split_files=assigned,
                        manifest=manifest_bytes(row for rows in manifest_rows.values() for row in rows),
                        kermany=looks_like_kermany(all_paths, classes), test_given="test" in readable,
                        split_seed=seed, manifest_rows=manifest_rows)


def inspect_dataset(data: DataOptions, pretrained: bool = True, seed: int = 0, positive_label: str | None = None,
                    progress: ProgressCallback | None = None,
                    cancel: threading.Event | None = None) -> PreparedData:
    """Read every image once and make the splits: `.report` (DatasetReport: `.to_text()`, `.to_dict()`,
    `.warnings`, `.has_leakage`) is what to show before training; pass the result to `run_training(prepared=)`."""
    return prepare_data(data, input_spec_for(data, pretrained), seed, positive_label, progress, cancel)


def reuse_prepared(prepared: PreparedData, spec: InputSpec, positive_label: str | None) -> PreparedData:
    """Data inspected before the run (the same images, splits and geometry) with the run's normalisation."""
    same_geometry = (prepared.spec.height, prepared.spec.width, prepared.spec.resize_mode,
                     prepared.spec.channels) == (spec.height, spec.width, spec.resize_mode, spec.channels)
    if not same_geometry:
        raise TrainingError("the inspected dataset was decoded at another input size or resize mode; "
                            "inspect it again with the training options")
    # the cache holds display values; only the batch-time normalisation follows the new spec
    return replace(prepared, spec=spec, positive_label=choose_positive_label(prepared.classes, positive_label))


def check_positive_label(prepared: PreparedData, positive_label: str | None) -> None:
    """The requested finding class must be one of the two classes found."""
    classes = prepared.classes
    if positive_label is not None and positive_label not in classes:
        raise TrainingError(f"--positive-label {positive_label!r} is not one of the classes {classes}")
    if positive_label is not None and len(classes) != 2:
        raise TrainingError("--positive-label applies to two-class models only; "
                            f"this data set has {len(classes)} classes")


def load_external_sets(data: DataOptions, spec: InputSpec, classes: list[str],
                       progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> list:
    """The labelled sets from elsewhere (training.external.LabelledSet), read as the predictor reads them."""
    if not data.external:
        return []
    from training.external import load_labelled_set

    (progress or no_progress)(StepStarted(Stage.PREPARE_DATA, Step.EXTERNAL_SETS))
    return [load_labelled_set(folder, spec, classes, name=name, cancel=cancel) for name, folder in data.external]
