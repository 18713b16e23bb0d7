"""An ensemble of trained bundles (`xrayview-train --ensemble-of A --ensemble-of B`): the members' weights side by
side in one network that averages their logits (`inference.architectures.LogitMean`). With `--views` the network
(one bundle's, or the ensemble) also answers fixed views of each film and averages over them
(`inference.architectures.ViewMean`); one bundle is then enough.

It stands in for the train stage: the later stages (evaluate, calibrate, guard, heatmap check, card, seal) then run
as for any trained network, so the ensemble gets its own temperature, threshold, guard and measured card. Why: two
networks that answer a film alike for different reasons move differently under noise that no reader sees, and their
mean moves less than either (docs/model-development.md, c33).

Its numbers are only honest when no member has seen a film the ensemble is measured on, so every member must come
from the same films in the same splits as the run (its data manifest) and be fed the run's model input (its card)."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import torch

from inference.errors import TrainingError
from inference.model_card import InputSpec, read_card_dict
from inference.vocabulary import ensemble_architecture, split_views
from training.data_manifest import parse_manifest, read_manifest
from training.events import ProgressCallback, Stage, Step, StepStarted, no_progress
from training.metrics import roc_auc
from training.stages.prepare import PreparedData
from training.stages.train import TrainedWeights
from training.start_input import input_differences
from training.trainer import Normalisation, TrainConfig, TrainResult, predict_logits


class EnsembleError(TrainingError):
    """The bundles named cannot be assembled into an ensemble for this run."""


def _member_cards(paths: list[str] | tuple[str, ...]) -> list[dict]:
    return [read_card_dict(path) for path in paths]


def ensemble_arch(paths: list[str] | tuple[str, ...], alone_allowed: bool = False) -> str:
    """The ensemble's architecture name from its members' cards (read without loading a network); one bundle
    (`alone_allowed`, with views) is its own network. Where the run's options are read: the only count check."""
    if len(paths) < (1 if alone_allowed else 2):
        raise EnsembleError(f"an ensemble needs at least two bundles (--ensemble-of given {len(paths)} time(s)); "
                            "one is enough with --views")
    names = [str(card["architecture"]) for card in _member_cards(paths)]
    if any(split_views(name)[1] for name in names):
        raise EnsembleError("a member already answers over views: give --views to the run instead")
    return ensemble_architecture(names) if len(names) > 1 else names[0]


def check_member_inputs(paths: list[str] | tuple[str, ...], spec: InputSpec) -> None:
    """Every member learnt from the input this run gives it (before any image is read)."""
    for path, card in zip(paths, _member_cards(paths)):
        differences = input_differences(InputSpec.from_card(card["input"]), spec)
        if differences:
            raise EnsembleError(f"{path}: its network learnt from other input than this run gives it "
                                f"({'; '.join(differences)}): give the run the member's input options")


def check_member_splits(paths: list[str] | tuple[str, ...], prepared: PreparedData) -> None:
    """Every member was trained on this run's films in this run's splits, so none has seen a validation or test
    film, and its labels are the run's."""
    ours = parse_manifest(prepared.manifest, "this run's split")
    for path, card in zip(paths, _member_cards(paths)):
        if list(card["labels"]) != list(prepared.classes):
            raise EnsembleError(f"{path}: its labels {card['labels']} are not this run's {prepared.classes}")
        theirs = read_manifest(path)  # BundleError naming the file when it is missing or unreadable
        if theirs != ours:
            differing = len(set(theirs) ^ set(ours))
            raise EnsembleError(f"{path}: trained on other films or other splits than this run ({differing} rows "
                                "of its data manifest and this run's differ); an ensemble is measured on its "
                                "members' own validation and test films, so they must share one split (same data, "
                                "--split, and --split-seed or --seed)")


def ensemble_state(paths: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The members' weights (each bundle's hash checked) under LogitMean's names, in member order; one bundle's
    under its own."""
    from inference.architectures import member_layer
    from inference.bundle import load_bundle

    if len(paths) == 1:
        return dict(load_bundle(paths[0]).state_dict())
    state: dict[str, torch.Tensor] = {}
    for index, path in enumerate(paths):
        for key, value in load_bundle(path).state_dict().items():
            state[member_layer(index, key)] = value
    return state


# what a member's card says trained its weights (training.stages.card): an assembly runs none of them itself
MEMBER_TRAINING_KEYS = ("weights", "lung_focus", "map_specificity", "consistency", "map_focus")


def members_block(paths: list[str] | tuple[str, ...]) -> list[dict]:
    """What the card says of each member: which bundle, which weights, how it was trained (its command and the
    objectives its card names), so an assembled bundle's card answers what trained the network it ships."""
    rows = []
    for path, card in zip(paths, _member_cards(paths)):
        training = card.get("training", {})
        rows.append({"name": card.get("name"), "version": card.get("version"),
                     "architecture": card.get("architecture"), "weights_sha256": card["weights"]["sha256"],
                     "temperature": card.get("calibration", {}).get("temperature"),
                     "command": training.get("command"),
                     "training": {key: training.get(key) for key in MEMBER_TRAINING_KEYS}})
    return rows


def assemble_stage(config: TrainConfig, prepared: PreparedData, device: torch.device,
                   progress: ProgressCallback | None = None,
                   cancel: threading.Event | None = None) -> TrainedWeights:
    """The ensemble's weights, checked against the run, and its validation AUC (no epochs are run)."""
    from inference.architectures import build_model

    emit = progress or no_progress
    emit(StepStarted(Stage.TRAIN, Step.EPOCHS))
    paths = list(config.ensemble_of)
    check_member_splits(paths, prepared)
    state = ensemble_state(paths)
    model = build_model(config.arch, len(prepared.classes), in_channels=prepared.spec.channels)
    model.load_state_dict(state, strict=True)
    model.to(device)
    val_auc = None
    if prepared.positive_index is not None:
        logits = predict_logits(model, prepared.splits["val"], Normalisation.from_spec(prepared.spec), device,
                                config.eval_batch_size, cancel=cancel)
        probs = torch.softmax(torch.from_numpy(logits).float(), dim=1)[:, prepared.positive_index].numpy()
        labels = (prepared.splits["val"].labels.numpy() == prepared.positive_index).astype(np.int64)
        val_auc = roc_auc(labels, probs)
    result = TrainResult(best_state=state, best_epoch=0, best_val_auc=val_auc, history=[], epochs_run=0,
                         stopped_early=False, resumed_from_epoch=None)
    fingerprint = hashlib.sha256(prepared.manifest + "+".join(paths).encode()).hexdigest()
    return TrainedWeights(result=result, lung_prior=None, fingerprint=fingerprint)
