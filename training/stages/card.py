"""Stage "write card": the model card and the documents beside it (evaluation, dataset report, data manifest,
plots), from what the earlier stages measured. Nothing here measures anything."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from inference.preprocess import InputSpec
from training import distributed
from training.consistency import MEASURE_WORDS
from training.data_manifest import MANIFEST_FILE
from training.export import (HELD_OUT_LIMITATION, KERMANY_DATA, KERMANY_LABEL_NOISE_LIMITATION, KERMANY_LIMITATIONS,
                             KERMANY_POPULATION, CardInputs, build_card, operating_point_limitation, package_versions,
                             sha256_bytes)
from training.jpeg_source import source_jpeg_quality
from training.metrics import roc_points
from training.ood_fit import GuardFit
from training.stages.calibrate import Calibration, test_metric_entries
from training.stages.evaluate import Evaluation
from training.stages.prepare import DataOptions, PreparedData
from training.stages.train import TrainedWeights
from training.trainer import TrainConfig


@dataclass
class CardFacts:
    """Everything the card is written from."""
    config: TrainConfig
    data: DataOptions
    export: Any  # training.run_options.ExportOptions
    prepared: PreparedData
    trained: TrainedWeights
    evaluation: Evaluation
    calibration: Calibration
    device: torch.device
    started: float  # time.monotonic() at the start of the run
    recipe: Any = None  # training.recipe.RecipeRecord: the recipe file the run replays (None: not recorded)


@dataclass
class WrittenCard:
    card: dict
    files: dict[str, bytes]  # the bundle's files beside the card and the weights


def card_input_spec(config: TrainConfig, prepared: PreparedData) -> InputSpec:
    """The card's model input. A model trained with JPEG-quality jitter needs no inference-time round trip to
    look like its training copies (the round trip amplifies small intensity differences: a 1% contrast change
    moved p by up to 0.05 with it); otherwise, JPEG copies of one quality at the input size get it."""
    spec = prepared.spec
    if config.augment.jpeg_quality_min:
        return spec
    return replace(spec, jpeg_quality=source_jpeg_quality([item.path for item in prepared.split_files["train"]],
                                                          spec.height, spec.width))


def dataset_name(data: DataOptions, prepared: PreparedData) -> str:
    return data.dataset_name or (KERMANY_DATA["name"] if prepared.kermany else Path(data.data).name)


def split_counts(prepared: PreparedData) -> dict[str, dict[str, int]]:
    classes = prepared.classes
    return {s: {c: int((t.labels == i).sum()) for i, c in enumerate(classes)} for s, t in prepared.splits.items()}


def _weights_description(config: TrainConfig) -> str:
    text = "exponential moving average of the weights" if config.ema_epochs > 0 else "raw weights"
    if config.linear_probe:
        text += ", fine-tuned from a linear-probe head on the frozen pretrained features"
    if config.wise_alpha != 1.0:
        text += (f", interpolated {config.wise_alpha:g} of the way from the fine-tuning start to the fine-tuned "
                 "weights (WiSE-FT)")
    return text


def _objectives(config: TrainConfig, trained: TrainedWeights) -> dict[str, Any]:
    """The card's description of the extra training objectives (None when off)."""
    lung_prior = trained.lung_prior
    return {
        "lung_focus": None if lung_prior is None else {"weight": config.lung_focus, **lung_prior.describe()},
        "map_specificity": None if not config.map_specificity else {
            "weight": config.map_specificity,
            "penalty": "mean Pearson correlation between the positive-class CAMs (7 x 7, as rendered) of different "
                       "films in each training batch that the augmentation mirrored alike, compared as augmented, each map "
                       "weighted by the film's lung prior (training.lung_focus.shared_map_correlation)"},
        "consistency": None if not config.consistency else {
            "weight": config.consistency, "views": config.consistency_views.to_dict(),
            "penalty": MEASURE_WORDS[config.consistency_views.measure]
                       + " of each training film (as augmented) and a second view of it with "
                       + ("a display window change, " if config.consistency_views.window else "")
                       + "Gaussian noise, a JPEG round trip and a down-and-up resampling with a random filter, rounded "
                         "to 8 bits; dropout and "
                         "drop-connect off, so both views are answered by one network (training.consistency)"},
        "map_focus": None if not config.map_focus else {
            "weight": config.map_focus,
            "penalty": "mean over the positive films of each training batch of mean / max of the positive-class "
                       "CAM (7 x 7, as rendered): the share of the grid the map fills "
                       "(training.lung_focus.map_fill_fraction)"},
    }


def training_block(facts: CardFacts) -> dict[str, Any]:
    config, data, prepared, result = facts.config, facts.data, facts.prepared, facts.trained.result
    calibration = facts.calibration
    block = {
        "command": facts.export.command,
        "seed": config.seed,
        "config": config.to_dict(),
        "device": str(facts.device),
        "world_size": distributed.world_size(),
        "split_counts": split_counts(prepared),
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
        **_objectives(config, facts.trained),
        "history": result.history,
        "validation_metrics": calibration.val_metrics,
        "test_metrics_tta_hflip": calibration.tta_metrics,
        "threshold_method": calibration.operating.method,
        "duration_s": round(time.monotonic() - facts.started, 1),
        "package_versions": package_versions(),
        "dataset_report": {"imbalance_ratio": prepared.report.imbalance_ratio,
                           "unreadable": len(prepared.report.unreadable),
                           "duplicate_groups_within_split": len(prepared.report.duplicates_within_split),
                           "duplicate_groups_across_splits": len(prepared.report.duplicates_across_splits),
                           "warnings": prepared.report.warnings},
    }
    if config.ensemble_of:  # no objective of this run trained the weights: the members' cards say what did
        from training.ensemble import members_block

        block.update({name: None for name in _objectives(config, facts.trained)})
        block["linear_probe"] = None
        networks = (f"the mean of the logits of {len(config.ensemble_of)} trained networks, each with its own "
                    "weights as trained" if len(config.ensemble_of) > 1 else "a trained network's weights as trained")
        views = f", over the film and {len(config.views)} fixed views of it ({', '.join(config.views)})"
        block["weights"] = (f"{networks}{views if config.views else ''} (training.ensemble); how each was trained: "
                            "'ensemble'")
        block["ensemble"] = members_block(config.ensemble_of)
    if facts.evaluation.stability is not None:
        block["stability"] = facts.evaluation.stability
    if facts.recipe is not None:
        block["recipe"] = facts.recipe.to_card()
    return block


def measured_card(facts: CardFacts, spec: InputSpec) -> dict:
    """The card of the trained model at its operating point, with everything measured up to calibration."""
    config, data, export, prepared = facts.config, facts.data, facts.export, facts.prepared
    calibration, operating = facts.calibration, facts.calibration.operating
    classes = prepared.classes
    name_of_data = dataset_name(data, prepared)
    training_data = [{
        "name": name_of_data,
        "licence": data.licence or (KERMANY_DATA["licence"] if prepared.kermany else "not stated by the user"),
        "attribution": data.attribution or (KERMANY_DATA["attribution"] if prepared.kermany
                                            else f"local images from {Path(data.data).name}"),
        "n_images": sum(len(t) for t in prepared.splits.values()),
        "manifest_sha256": sha256_bytes(prepared.manifest),
    }]
    test_split_name = ("test (the given test folder)" if prepared.test_given
                       else "test (patient-grouped hold-out carved from the training folder)")
    limitations = list(export.limitations) or [
        *(KERMANY_LIMITATIONS if prepared.kermany else []), HELD_OUT_LIMITATION,
        operating_point_limitation(operating.method, prepared.positive_label),
        *([KERMANY_LABEL_NOISE_LIMITATION] if prepared.kermany else [])]
    calibration_block = {"temperature": round(operating.temperature, 6), "dataset": name_of_data,
                         "split": "validation",
                         "ece": None if operating.ece_after is None else round(operating.ece_after, 6),
                         "ece_before": None if operating.ece_before is None else round(operating.ece_before, 6)}
    description = export.description or (
        f"{config.arch} classifier ({', '.join(classes)}) trained with xrayview-train on {name_of_data}.")
    card = build_card(CardInputs(
        name=export.name or Path(export.out).name, version=export.version, description=description,
        arch=config.arch, labels=classes, positive_label=prepared.positive_label, input_block=spec.to_card(),
        threshold=operating.threshold, threshold_table=calibration.threshold_table,
        metrics=test_metric_entries(calibration.test_metrics, name_of_data, test_split_name, operating.threshold,
                                    calibration.test_is_positive, calibration.test_probs, config.seed),
        calibration=calibration_block, training_data=training_data, training=training_block(facts),
        limitations=limitations, experimental=export.experimental, extra=export.card_extra,
        intended_population=KERMANY_POPULATION if prepared.kermany else None))
    from training.external import with_external_section

    for section in calibration.external_sections:
        card = with_external_section(card, section)
    margin = call_margin_block(facts)
    if margin is not None:
        card["call_margin"] = margin
    return card


def call_margin_block(facts: CardFacts) -> dict | None:
    """The card's call margin: the validation films' moves under noise and JPEG (the evaluate stage's) in
    log-odds at the card's temperature (training.stability.margin_block); None for a model without a threshold
    or when nothing was measured."""
    from training.stability import margin_block

    moves, operating = facts.evaluation.val_moves, facts.calibration.operating
    if not moves or operating.threshold is None:
        return None
    temperature = float(operating.temperature)
    return margin_block({name: move / temperature for name, move in moves.items()}, temperature,
                        "the validation split of the training data (films the network was not trained on)",
                        facts.export.command)


def with_guard(card: dict, guard: GuardFit | None) -> dict:
    return card if guard is None else {**card, "ood": guard.block}


def roc_test_png(test_metrics: dict, is_positive, probs) -> bytes:
    """The ROC plot of the test split with the operating point marked."""
    from training import plots

    roc = roc_points(is_positive, probs)
    return plots.roc_curve_png(
        roc["fpr"], roc["tpr"], test_metrics["auc"], f"ROC on the test split (n={test_metrics['n']})",
        (1 - test_metrics["specificity"], test_metrics["sensitivity"]))


def card_documents(facts: CardFacts) -> dict[str, bytes]:
    """The files beside the card: dataset report, data manifest, evaluation, plots."""
    from training import plots

    calibration, operating, prepared = facts.calibration, facts.calibration.operating, facts.prepared
    evaluation = {"test": calibration.test_metrics, "validation": calibration.val_metrics,
                  "test_tta_hflip": calibration.tta_metrics, "temperature": operating.temperature,
                  "threshold": operating.threshold, "threshold_method": operating.method}
    if facts.evaluation.stability is not None:
        evaluation["stability"] = facts.evaluation.stability
    files = {
        "dataset_report.json": json.dumps(prepared.report.to_dict(), indent=2).encode(),
        "dataset_report.txt": prepared.report.to_text().encode(),
        MANIFEST_FILE: prepared.manifest,
        "evaluation.json": json.dumps(evaluation, indent=2).encode(),
    }
    if calibration.test_probs is not None:
        files["roc_test.png"] = roc_test_png(calibration.test_metrics, calibration.test_is_positive,
                                             calibration.test_probs)
    if facts.trained.result.history:  # an ensemble ran no epochs
        files["training_curves.png"] = plots.training_curves_png(facts.trained.result.history)
    return files


def write_card(measured: dict, guard: GuardFit | None, heatmap_check: dict | None, facts: CardFacts) -> WrittenCard:
    """The final card: the measured one with the guard's block and the heatmap check (which words the card's
    heatmap limitation and makes the card draw the layers it measured), and the files that go beside it."""
    from inference.ood import OOD_FILE
    from training.cam_check import with_heatmap_check

    card = with_guard(measured, guard)
    if heatmap_check is not None:
        card = with_heatmap_check(card, heatmap_check)
    files = card_documents(facts)
    if guard is not None:
        files[OOD_FILE] = guard.payload
    if facts.recipe is not None:
        files[facts.recipe.file_name] = facts.recipe.data
    return WrittenCard(card=card, files=files)
