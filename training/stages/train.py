"""Stage "train": the lung prior (for --lung-focus), the run fingerprint --resume checks, the external sets'
per-epoch report, and the training loop (`training.trainer.train`). Every DDP rank runs it."""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from training import distributed
from training.evaluate import choose_operating_point
from training.events import ProgressCallback, Stage, Step, StepStarted, no_progress
from training.lung_focus import LungPrior, build_lung_prior
from training.stages.prepare import PreparedData
from training.trainer import Normalisation, TrainConfig, TrainResult, predict_logits, train

LUNG_PRIOR_IMAGES = 400  # candidates for the lung atlas; about a third are outlined, and the mean settles by then


@dataclass
class TrainedWeights:
    result: TrainResult  # best_state: the weights the bundle gets
    lung_prior: LungPrior | None
    fingerprint: str


def run_fingerprint(prepared: PreparedData, config: TrainConfig) -> str:
    """Identifies a run for --resume: same images in the same splits, same spec and options."""
    payload = json.dumps({"config": config.to_dict(), "spec": asdict(prepared.spec)}, sort_keys=True).encode()
    return hashlib.sha256(prepared.manifest + payload).hexdigest()


def lung_prior_for(prepared: PreparedData, positive_index: int | None) -> LungPrior:
    """The lung-focus prior from the training split's non-finding images (all of them for multi-class data)."""
    train_split = prepared.splits["train"]
    keep = train_split.labels != positive_index if positive_index is not None \
        else torch.ones_like(train_split.labels, dtype=torch.bool)
    return build_lung_prior(train_split.images[keep], limit=LUNG_PRIOR_IMAGES)


def external_epoch_report(prepared: PreparedData, external_sets: list, device: torch.device, eval_batch_size: int,
                          target_sensitivity: float | None, miss_cost: float | None, amp: bool = False):
    """After each epoch: the external sets scored at that epoch's validation operating point (reported only), every
    logit at the evaluate stage's precision (`amp`: `training.stages.evaluate.evaluation_amp`), so the best epoch's
    numbers are the card's. Training validates under autocast where it trains under it (bf16 on CPUs that have it);
    a temperature fitted on those logits moved c26's from 3.00 to 3.98, and half A's sensitivity at the card's
    threshold from 94.4% to 98.5% in the wizard's report."""
    positive_index = prepared.positive_index
    if not external_sets or positive_index is None:
        return None
    normalisation = Normalisation.from_spec(prepared.spec)

    def epoch_report(epoch: int, eval_model, val_logits: np.ndarray) -> dict:
        from training.external import quick_binary_scores

        val_logits = predict_logits(eval_model, prepared.splits["val"], normalisation, device, eval_batch_size,
                                    amp=amp)  # not the training loop's: those may be bf16
        point = choose_operating_point(val_logits, prepared.splits["val"].labels.numpy(), positive_index,
                                       target_sensitivity, miss_cost)
        scores = {}
        for labelled in external_sets:
            logits = predict_logits(eval_model, labelled, normalisation, device, eval_batch_size, amp=amp)
            scores[labelled.name] = quick_binary_scores(logits, labelled.labels.numpy(), positive_index,
                                                        point.temperature, point.threshold)
        return {"external": scores}

    return epoch_report


def train_stage(config: TrainConfig, prepared: PreparedData, device: torch.device, work_dir: Path,
                resume: bool = False, epoch_report=None, progress: ProgressCallback | None = None,
                cancel: threading.Event | None = None, stop: threading.Event | None = None) -> TrainedWeights:
    """Train on the prepared splits, checkpointing into `work_dir` (with the dataset report, on rank 0)."""
    emit = progress or no_progress
    if distributed.rank() == 0:
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "dataset_report.json").write_text(json.dumps(prepared.report.to_dict(), indent=2))
    fingerprint = run_fingerprint(prepared, config)
    positive_index = prepared.positive_index
    lung_prior = None
    if config.lung_focus > 0:
        emit(StepStarted(Stage.TRAIN, Step.LUNG_PRIOR))
        lung_prior = lung_prior_for(prepared, positive_index)
    emit(StepStarted(Stage.TRAIN, Step.EPOCHS))
    result = train(config, prepared.splits["train"], prepared.splits["val"], len(prepared.classes),
                   positive_index if positive_index is not None else 0, Normalisation.from_spec(prepared.spec),
                   device, work_dir=work_dir, resume=resume, progress=emit, cancel=cancel, run_fingerprint=fingerprint,
                   lung_prior=None if lung_prior is None else lung_prior.mask, epoch_report=epoch_report, stop=stop)
    return TrainedWeights(result=result, lung_prior=lung_prior, fingerprint=fingerprint)
