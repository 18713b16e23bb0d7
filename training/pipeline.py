"""A whole training run, Qt-free: the stages of `training.events.Stage` in order, each from `training.stages`.

`xrayview-train` (also under torchrun) and the desktop wizard both call `run_training`; a recipe file
(training.recipe) and the command line build the same `RunOptions`."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from inference.errors import TrainingError
from training import distributed
from training.ensemble import assemble_stage, check_member_inputs
from training.events import (ProgressCallback, RunFinished, Stage, StageSkipped, StageStarted, no_progress)
from training.output_dir import check_output_dir
from training.run_options import RunOptions
from training.stages.calibrate import Calibration, calibrate
from training.stages.card import CardFacts, card_input_spec, measured_card, split_counts, with_guard, write_card
from training.stages.evaluate import Evaluation, StabilityCheck, evaluate, evaluation_amp
from training.stages.guard import GuardOutcome, fit_guard_stage
from training.stages.heatmaps import check_heatmaps
from training.stages.prepare import (PreparedData, check_positive_label, input_spec_for, load_external_sets,
                                     prepare_data, reuse_prepared)
from training.stages.seal import SealedBundle, seal
from training.stages.train import external_epoch_report, train_stage
from training.start_input import check_start_input


@dataclass
class RunOutcome:
    bundle_dir: Path
    card: dict
    summary: dict
    evaluation: Evaluation  # the logits every number was computed from
    calibration: Calibration  # the operating point and the numbers at it
    guard_error: str = ""  # why the model has no guard, when it was optional and could not be fitted


def _summary(sealed: SealedBundle, run: RunOptions, prepared: PreparedData, trained, calibration: Calibration,
             started: float) -> dict:
    operating, test_metrics, tta_metrics = calibration.operating, calibration.test_metrics, calibration.tta_metrics
    result = trained.result
    return {"bundle": str(sealed.path), "arch": run.config.arch, "labels": prepared.classes,
            "positive_label": prepared.positive_label, "threshold": operating.threshold,
            "threshold_method": operating.method, "temperature": operating.temperature,
            "test": {k: test_metrics[k] for k in ("n", "auc", "accuracy", "sensitivity", "specificity",
                                                  "precision", "f1", "kappa", "ece", "confusion_matrix")},
            "test_tta_hflip": None if tta_metrics is None else {
                k: tta_metrics[k] for k in ("auc", "accuracy", "sensitivity", "specificity")},
            "val_auc": result.best_val_auc, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
            "split_counts": split_counts(prepared), "duration_s": round(time.monotonic() - started, 1),
            "leakage_groups": len(prepared.report.duplicates_across_splits),
            "weights_sha256": sealed.weights_sha256,
            "previous_output_moved_to": None if sealed.previous_moved_to is None else str(sealed.previous_moved_to)}


def check_stage_layers(run: RunOptions) -> None:
    """The layers the guard and the heatmap check name exist in the architecture (before any training: a typo
    must not cost an hour of training). The layer names do not depend on the number of labels."""
    if run.guard is None and (run.heatmaps is None or not run.heatmaps.detail_layer):
        return
    from inference.architectures import build_model
    from training.ood_fit import check_layer_and_grid, require_layer

    arch = run.config.arch
    model = build_model(arch, 2, in_channels=1)
    if run.guard is not None:
        check_layer_and_grid(model, run.guard, "--guard-layer", arch)
    if run.heatmaps is not None and run.heatmaps.detail_layer:
        require_layer(model, run.heatmaps.detail_layer, "--heatmap-detail-layer", arch)


def run_training(run: RunOptions, device: torch.device, progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None, prepared: PreparedData | None = None,
                 stop: threading.Event | None = None,
                 stability: StabilityCheck | None = None) -> RunOutcome | None:
    """The whole run. Returns the outcome on rank 0 (None on other DDP ranks).

    `prepared` (from `inspect_dataset`, e.g. after the wizard showed its report) skips reading the images again.
    `run.checkpoint_dir` holds the per-epoch checkpoint; it is removed after the bundle is sealed. Raises
    TrainingCancelled when `cancel` is set (the checkpoint stays for --resume). `stop` ends training early with the
    best epoch so far; the later stages then run as usual. `stability` (evaluate stage): a check of the trained
    model whose report goes into evaluation.json and the card.
    """
    emit = progress or no_progress
    started = time.monotonic()
    config, data, export = run.config, run.data, run.export
    out, work_dir = Path(export.out), run.checkpoint_dir
    is_main = distributed.rank() == 0
    check_output_dir(out, export.overwrite)  # before any image is read: never after an hour of training
    check_stage_layers(run)
    guard_sets = None
    if run.guard is not None and is_main:  # the guard's measurement sets are found (or refused) before training too
        from training.ood_fit import guard_sets as resolve_guard_sets

        guard_sets = resolve_guard_sets(run.guard, Path(data.data))

    emit(StageStarted(Stage.PREPARE_DATA))
    spec = input_spec_for(data, bool(config.pretrained or config.pretrained_path))
    check_start_input(config.pretrained_path, spec, config.allow_start_input_change)
    if config.ensemble_of:
        check_member_inputs(config.ensemble_of, spec)
    if prepared is None:
        prepared = prepare_data(data, spec, config.seed, export.positive_label, progress=emit, cancel=cancel)
    else:
        prepared = reuse_prepared(prepared, spec, export.positive_label)
    check_positive_label(prepared, export.positive_label)
    if run.heatmaps is not None and prepared.positive_label is None:
        raise TrainingError("the heatmap check measures the calls of a two-class model; this data set has "
                            f"{len(prepared.classes)} classes")
    external_sets = load_external_sets(data, spec, prepared.classes, emit, cancel) if is_main else []

    emit(StageStarted(Stage.TRAIN, counts=prepared.counts()))
    epoch_report = external_epoch_report(prepared, external_sets, device, config.eval_batch_size,
                                         export.target_sensitivity, export.miss_cost, evaluation_amp(config, device))
    if config.ensemble_of:  # the members are trained already: their weights are put side by side
        trained = assemble_stage(config, prepared, device, emit, cancel)
    else:
        trained = train_stage(config, prepared, device, work_dir, run.resume, epoch_report, emit, cancel, stop)
    if not is_main:
        return None
    state = trained.result.best_state

    emit(StageStarted(Stage.EVALUATE))
    evaluation = evaluate(config, prepared, state, device, external_sets, export.tta_report, stability, emit, cancel)
    emit(StageStarted(Stage.CALIBRATE))
    calibration = calibrate(evaluation, prepared, export.target_sensitivity, export.miss_cost, export.command,
                            config.seed, selected_on=data.external_selected_on)
    facts = CardFacts(config=config, data=data, export=export, prepared=prepared, trained=trained,
                      evaluation=evaluation, calibration=calibration, device=device, started=started,
                      recipe=run.recipe)
    card = measured_card(facts, card_input_spec(config, prepared))

    guard = GuardOutcome(fit=None)
    if run.guard is None:
        emit(StageSkipped(Stage.FIT_GUARD, "no guard asked for"))
    else:
        emit(StageStarted(Stage.FIT_GUARD))
        guard = fit_guard_stage(run.guard, guard_sets, run.guard_optional, config, prepared, state, card,
                                Path(data.data), out, export.command, emit, cancel)
    heatmap_check = None
    if run.heatmaps is None:
        emit(StageSkipped(Stage.CHECK_HEATMAPS, "no heatmap check asked for"))
    else:
        from inference.ood import OOD_FILE

        emit(StageStarted(Stage.CHECK_HEATMAPS))
        files = {} if guard.fit is None else {OOD_FILE: guard.fit.payload}
        heatmap_check = check_heatmaps(run.heatmaps, with_guard(card, guard.fit), state, files, prepared.manifest,
                                       Path(data.data), out, export.command)
    emit(StageStarted(Stage.WRITE_CARD))
    written = write_card(card, guard.fit, heatmap_check, facts)
    emit(StageStarted(Stage.SEAL))
    sealed = seal(out, state, written.card, written.files, export.overwrite, work_dir)
    summary = _summary(sealed, run, prepared, trained, calibration, started)
    emit(RunFinished(summary))
    return RunOutcome(bundle_dir=sealed.path, card=sealed.card, summary=summary, evaluation=evaluation,
                      calibration=calibration, guard_error=guard.error)

