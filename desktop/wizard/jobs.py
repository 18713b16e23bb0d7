"""The wizard's long-running steps as plain functions `fn(..., progress=, cancel=)` for `desktop.workers.Job`.

No widgets here: each function wraps the Qt-free training API (`training.pipeline`, the same stages the command
line runs) and forwards its typed events (training.events) to the Job's `progress(done, total, event)` callback,
so the pages only ever see signals.
"""
from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from desktop.wizard.metric_intervals import Measured, TestIntervals, binary_measured, multiclass_measured
from inference.model_card import Metric, ModelCard, ThresholdRow
from training import events

# The report reads every file once; decoding to a small array is enough to learn which files are readable,
# their sizes and the split assignment. Training decodes again at the chosen input size.
REPORT_IMAGE_SIZE = 32
# A forward pass costs about a third of a training step (forward + backward + optimiser).
FORWARD_SHARE_OF_STEP = 1.0 / 3.0
WIZARD_COMMAND = "XRayView training wizard (desktop)"

JobProgress = Callable[[int, int, object], None]


def forward_events(progress: JobProgress | None) -> events.ProgressCallback:
    """Turns the pipeline's events into Job progress calls with a (done, total) pair for the bar."""

    def emit(event: events.TrainingEvent) -> None:
        if progress is None:
            return
        if isinstance(event, (events.DecodeProgress, events.GuardProgress)):
            done, total = event.done, event.total
        elif isinstance(event, events.BatchDone):
            done = (event.epoch - 1) * event.batches + event.batch
            total = event.epochs * event.batches
        else:
            done, total = 0, 0
        progress(int(done), int(total), event)

    return emit


# ==================================================================================== dataset report
@dataclass
class DatasetScan:
    data: object  # training.stages.prepare.DataOptions: the folders the report was made for
    report: object  # training.report.DatasetReport
    classes: list[str]
    decode_seconds: float
    images_read: int

    @property
    def split_totals(self) -> dict[str, int]:
        return {split: sum(per_class.values()) for split, per_class in self.report.counts.items()}

    @property
    def decode_rate(self) -> float:
        """Files read per second while making the report (the training run reads them once more)."""
        return self.images_read / self.decode_seconds if self.decode_seconds > 0 else 0.0


def scan_dataset(data_dir: Path, val_dir: Path | None = None, test_dir: Path | None = None, seed: int = 0, *,
                 progress: JobProgress | None = None, cancel: threading.Event | None = None) -> DatasetScan:
    """The dataset report exactly as training will see it: same discovery, decoding and split assignment."""
    from inference.preprocess import InputSpec
    from training.stages.prepare import DataOptions, prepare_data

    options = DataOptions(data=Path(data_dir), val=Path(val_dir) if val_dir else None,
                          test=Path(test_dir) if test_dir else None, img_size=REPORT_IMAGE_SIZE)
    spec = InputSpec(channels=1, height=REPORT_IMAGE_SIZE, width=REPORT_IMAGE_SIZE)
    started = time.monotonic()
    prepared = prepare_data(options, spec, seed, progress=forward_events(progress), cancel=cancel)
    seconds = time.monotonic() - started
    read = len(prepared.report.unreadable) + sum(len(split) for split in prepared.splits.values())
    return DatasetScan(data=options, report=prepared.report, classes=list(prepared.classes),
                       decode_seconds=seconds, images_read=read)


# ==================================================================================== time estimate
@dataclass
class Throughput:
    arch: str
    img_size: int
    batch_size: int
    device: str
    images_per_s: float  # training images per second (forward + backward + step, augmentation included)


def measure_throughput(arch: str, img_size: int, batch_size: int, pretrained: bool, device: str = "auto",
                       num_classes: int = 2, *, progress: JobProgress | None = None,
                       cancel: threading.Event | None = None) -> Throughput:
    """Times real training steps of `arch` (the trainer's own loop on random images): three batches, the
    first one discarded as warm-up."""
    import torch

    from inference.device import resolve_device
    from training.trainer import Normalisation, TensorSplit, TrainConfig, train

    torch_device = resolve_device(device)
    steps = 3
    count = batch_size * steps
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (count, 1, img_size, img_size), dtype=torch.uint8, generator=generator)
    labels = torch.arange(count) % num_classes
    config = TrainConfig(arch=arch, epochs=1, batch_size=batch_size, pretrained=pretrained, ema_epochs=0,
                         early_stopping_patience=0, warmup_epochs=0)
    stamps: list[float] = []

    def on_event(event: events.TrainingEvent) -> None:
        if isinstance(event, events.BatchDone):
            stamps.append(float(event.elapsed_s))
            if progress is not None:
                progress(len(stamps), steps, event)

    tiny_val = TensorSplit(images=images[:num_classes], labels=labels[:num_classes])
    train(config, TensorSplit(images=images, labels=labels), tiny_val, num_classes, 1 if num_classes == 2 else 0,
          Normalisation((0.5,), (0.25,)), torch_device, progress=on_event, cancel=cancel)
    timed = stamps[-1] - stamps[0]
    rate = (len(stamps) - 1) * batch_size / timed if timed > 0 else float("inf")
    return Throughput(arch, img_size, batch_size, str(torch_device), rate)


def estimate_seconds(scan: DatasetScan, throughput: Throughput, epochs: int) -> float:
    """Reading the images once more + the epochs (train steps and validation) + the final evaluation."""
    totals = scan.split_totals
    n_train, n_val, n_test = totals.get("train", 0), totals.get("val", 0), totals.get("test", 0)
    step_s = 1.0 / throughput.images_per_s
    read_s = scan.decode_seconds
    epoch_s = n_train * step_s + n_val * step_s * FORWARD_SHARE_OF_STEP
    final_s = (n_val + n_test) * step_s * FORWARD_SHARE_OF_STEP
    return read_s + epochs * epoch_s + final_s


# ==================================================================================== training
@dataclass
class TestPredictions:
    """Calibrated per-image outputs of the trained model on the test split (for the threshold slider): the logits
    the run computed every test number from."""
    classes: list[str]
    positive_index: int | None
    logits: np.ndarray  # [N, K]
    labels: np.ndarray  # [N] class indices
    temperature: float
    threshold: float | None  # chosen on validation
    threshold_method: str
    seed: int = 0  # the run's seed: the card's bootstrap intervals were drawn with it
    intervals: TestIntervals | None = None  # drawn once (on the training worker); see measured()

    def positive_probabilities(self) -> np.ndarray:
        from training.evaluate import positive_probs

        return positive_probs(self.logits, self.positive_index, self.temperature)

    def class_probabilities(self) -> np.ndarray:
        import torch

        return torch.softmax(torch.from_numpy(np.asarray(self.logits, dtype=np.float32)) / self.temperature,
                             dim=1).numpy().astype(np.float64)

    def metrics_at(self, threshold: float | None) -> dict:
        from training.evaluate import metrics_from_logits

        return metrics_from_logits(self.logits, self.labels, self.classes, self.positive_index, self.temperature,
                                   threshold)

    def draw_intervals(self) -> TestIntervals:
        if self.intervals is None:
            binary = self.positive_index is not None
            self.intervals = TestIntervals.draw(
                self.labels, self.positive_probabilities() if binary else self.class_probabilities(), self.classes,
                self.positive_index, self.seed)
        return self.intervals

    def measured(self, metrics: dict) -> dict[str, Measured]:
        """Each number of `metrics` (from metrics_at) with its 95% CI and the films it is counted on."""
        intervals = self.draw_intervals()
        if self.positive_index is None:
            return multiclass_measured(metrics, intervals)
        return binary_measured(metrics, self.labels == self.positive_index, self.positive_probabilities(),
                               intervals, self.classes, self.positive_index)

    def class_counts(self) -> dict[str, int]:
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.classes)}

    def headline(self) -> tuple[str, Measured]:
        """The number a model is chosen by, at the operating threshold: AUC for a binary model (accuracy when the
        split lacks a class), else accuracy."""
        measured = self.measured(self.metrics_at(self.threshold))
        if self.positive_index is not None and measured["auc"].value is not None:
            return "AUC", measured["auc"]
        return "accuracy", measured["accuracy"]

    @classmethod
    def of_run(cls, outcome, split: str = "test") -> TestPredictions:
        """From a training.pipeline.RunOutcome: its test (or "val") split; the intervals are drawn here, on the
        worker."""
        card = ModelCard(outcome.card)
        classes, positive = card.labels, card.positive_label
        operating = outcome.calibration.operating
        scored = outcome.evaluation.test if split == "test" else outcome.evaluation.val
        predictions = cls(classes=classes, positive_index=classes.index(positive) if positive else None,
                          logits=scored.logits, labels=scored.labels, temperature=operating.temperature,
                          threshold=operating.threshold, threshold_method=operating.method,
                          seed=card.training_seed or 0)
        predictions.draw_intervals()
        return predictions


@dataclass
class TrainedModel:
    bundle_dir: Path  # the staged bundle (not yet in the user's models folder)
    card: ModelCard
    summary: dict
    test: TestPredictions
    ood_error: str = ""  # why no out-of-distribution guard could be fitted ("" when it was)
    validation: TestPredictions | None = None  # the same model on the validation split

    def test_counts(self) -> dict[str, int]:
        return self.test.class_counts()


# ==================================================================================== quality gate
MIN_TEST_PER_CLASS = 20  # below this, a class's measured rate has a 95% CI wider than about +-20 points


def split_warnings(counts: dict[str, dict[str, int]]) -> list[str]:
    """Before training: the splits too small to measure the model on (counts: split -> class -> films)."""
    warnings = []
    test = counts.get("test") or {}
    small = small_test_split(test)
    if small:
        listed = ", ".join(f"{n} {label}" for label, n in small.items())
        warnings.append(f"The test split has only {listed} film(s) (fewer than {MIN_TEST_PER_CLASS} per class): "
                        "the measured numbers will be too uncertain to trust, and the model will not be made the "
                        "active model without your confirmation. Add films or choose a larger test folder.")
    for split in ("train", "val"):
        empty = [label for label, n in (counts.get(split) or {}).items() if n < 2]
        if empty:
            warnings.append(f"The {split} split has fewer than 2 films of {', '.join(empty)}.")
    return warnings


def small_test_split(test_counts: dict[str, int]) -> dict[str, int]:
    """The classes with fewer than MIN_TEST_PER_CLASS test films ({} when none)."""
    return {label: n for label, n in test_counts.items() if n < MIN_TEST_PER_CLASS}


def activation_concerns(card: ModelCard, test_counts: dict[str, int], ood_error: str = "") -> list[str]:
    """Why a freshly trained model should not silently become the active model ([] when none): its test AUC's
    95% CI includes 0.5 (chance), its test split has fewer than MIN_TEST_PER_CLASS films of a class, or it has no
    out-of-distribution guard."""
    concerns = []
    auc = next((metric for metric in card.metrics if metric.name == "auc"), None)
    if len(card.labels) == 2:
        if auc is None or auc.value is None:
            concerns.append("its test AUC could not be measured")
        elif auc.ci95 is None:
            concerns.append(f"its test AUC {Measured(auc.value, None, auc.n, 'films').text()}: whether it is "
                            "better than chance is not known")
        elif auc.ci95[0] <= 0.5:
            concerns.append(f"its test AUC {Measured(auc.value, auc.ci95, auc.n, 'films').text()} includes 0.5: "
                            "it may be no better than chance")
    small = small_test_split(test_counts)
    if small:
        listed = ", ".join(f"{n} {label}" for label, n in small.items())
        concerns.append(f"its test split has only {listed} film(s), fewer than {MIN_TEST_PER_CLASS} per class")
    if card.ood.file is None:
        concerns.append("it has no out-of-distribution guard" + (f" ({ood_error})" if ood_error else "")
                        + ", so it would give a call for any image, even one unlike its training data")
    return concerns


def wizard_recipe(choices: dict, data_dir: Path, val_dir: Path | None = None, test_dir: Path | None = None) -> str:
    """The recipe file of a wizard run (training.recipe): the options page's keys, the folders, the model's name
    and description, and the out-of-distribution guard every wizard model gets (the guard tool's defaults; a model
    it cannot be fitted to is kept without one, and the save page says so)."""
    from training.option_table import defaults
    from training.recipe import render_recipe

    arch = choices["arch"]
    values = {**choices, "data": Path(data_dir), "val": Path(val_dir) if val_dir else None,
              "test": Path(test_dir) if test_dir else None, "name": f"{arch}-wizard",
              "description": f"{arch} classifier trained with the XRayView training wizard on {Path(data_dir).name}.",
              "guard-fit": True, "guard-optional": True}
    return render_recipe({**defaults(), **values},
                         "Written by the XRayView training wizard; the model was trained from this file.\n"
                         "Replay: xrayview-train --recipe recipe.toml --out DIR")


CHECKPOINT_FOLDER = "checkpoint"  # in a run's staging folder: the per-epoch checkpoint (xrayview-train's --work-dir)


def checkpoint_dir(staging_dir: Path) -> Path:
    return Path(staging_dir) / CHECKPOINT_FOLDER


def has_checkpoint(staging_dir: Path) -> bool:
    """Whether a run in `staging_dir` validated an epoch, so that a new run can continue from it."""
    from training.checkpoint import CHECKPOINT_NAME

    return (checkpoint_dir(staging_dir) / CHECKPOINT_NAME).is_file()


def train_model(recipe: str, device: str, staging_dir: Path, *, resume: bool = False,
                progress: JobProgress | None = None, cancel: threading.Event | None = None,
                stop: threading.Event | None = None) -> TrainedModel:
    """The whole training run of `recipe` (a recipe file's text, see wizard_recipe) into `staging_dir/bundle`,
    through every stage of `xrayview-train`: the file is written to `staging_dir/recipe.toml`, read back from
    there and trained from, and goes into the bundle as it is. `stop` ends training early with the best epoch so
    far (the run goes on to evaluate and seal it); `cancel` abandons the run and keeps its last epoch's checkpoint
    in `staging_dir/checkpoint`; `resume` continues from that checkpoint, as `xrayview-train --resume` (which
    refuses a checkpoint of other data or options). Sealing the bundle removes the checkpoint.

    Nothing is written to the user's models folder here: the save page copies the bundle there once the
    user has named it. The caller removes `staging_dir` when the run fails or is discarded.
    """
    from inference.device import resolve_device
    from training.option_table import run_options
    from training.pipeline import run_training
    from training.recipe import RECIPE_FILE, resolve

    recipe_path = Path(staging_dir) / RECIPE_FILE
    recipe_path.write_text(recipe, encoding="utf-8")
    run_settings = {"out": Path(staging_dir) / "bundle", "work-dir": checkpoint_dir(staging_dir), "resume": resume}
    values, record = resolve(recipe_path, run_settings, [], source=WIZARD_COMMAND)
    run = run_options(values, command=WIZARD_COMMAND, recipe=record)
    outcome = run_training(run, resolve_device(device), progress=forward_events(progress), cancel=cancel, stop=stop)
    return TrainedModel(bundle_dir=outcome.bundle_dir, card=ModelCard(outcome.card), summary=outcome.summary,
                        test=TestPredictions.of_run(outcome), ood_error=outcome.guard_error,
                        validation=TestPredictions.of_run(outcome, "val"))


# ==================================================================================== saving
def bundle_folder_name(name: str) -> str:
    from training.export import safe_model_name

    return safe_model_name(name)


def with_user_threshold(card: ModelCard, test: TestPredictions, threshold: float) -> ModelCard:
    """The card with the operating threshold the user chose on the evaluation page: the threshold-dependent test
    metrics (with Wilson CIs) and the table's operating row are re-measured at it, and the card says that the
    threshold was chosen on the test split itself (so these test numbers are optimistic)."""
    from training.external import metric_entries
    from training.metrics import DEFAULT_TABLE_THRESHOLDS, threshold_table, with_operating_point

    threshold = round(float(threshold), 6)
    probs = test.positive_probabilities()
    is_positive = (test.labels == test.positive_index).astype(int)
    old = {metric.name: metric for metric in card.metrics}
    first = next(iter(old.values()), Metric(name="", value=None, split="test"))
    split = f"{first.split or 'test'}; threshold chosen by the user on this split (optimistic)"
    fresh = {entry["name"]: Metric.from_card(entry)
             for entry in metric_entries(is_positive, probs, threshold, first.dataset, split,
                                         seed=card.training_seed or 0)}
    # numbers at the old threshold would be wrong now: re-measured where possible, dropped otherwise
    metrics = [fresh.get(name, metric) if metric.threshold is not None else metric
               for name, metric in old.items() if metric.threshold is None or name in fresh]
    chosen = threshold_table(is_positive, probs, [threshold])[0]
    chosen["name"] = "operating point (chosen by the user in the training wizard, on the test split)"
    table = with_operating_point(chosen, threshold_table(is_positive, probs, DEFAULT_TABLE_THRESHOLDS))
    return card.changed(threshold=threshold, metrics=metrics,
                        threshold_table=[ThresholdRow.from_card(row) for row in table],
                        training={"threshold_chosen_on_validation": card.threshold,
                                  "threshold_method": "chosen by the user in the training wizard (test split)"})


def save_bundle(staged_dir: Path, models_dir: Path, name: str, *, progress: JobProgress | None = None,
                cancel: threading.Event | None = None, threshold: float | None = None,
                test: TestPredictions | None = None) -> Path:
    """Writes the staged bundle into `models_dir/NAME` under the user's name (atomic, validated by
    `write_bundle`). Never replaces an existing model. `threshold` (with the run's `test` predictions): the
    operating threshold the user chose on the evaluation page (see with_user_threshold)."""
    from inference.bundle import CARD_FILE, load_bundle, write_bundle
    from inference.errors import BundleError

    card_name = bundle_folder_name(name)
    target = Path(models_dir) / card_name
    if target.exists():
        raise BundleError(target, "a model with this name already exists; choose another name")
    staged = load_bundle(staged_dir)
    card = staged.model_card
    if threshold is not None and test is not None and test.positive_index is not None:
        card = with_user_threshold(card, test, threshold)
    card = card.changed(name=card_name)
    weights_file = card.weights_file
    extra = {path.name: path.read_bytes() for path in sorted(Path(staged_dir).iterdir())
             if path.is_file() and path.name not in (CARD_FILE, weights_file)}
    return write_bundle(target, staged.state_dict(), card.data, weights_file=weights_file, extra_files=extra)


def remove_tree(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
