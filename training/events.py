"""What a training run tells its caller while it works: typed progress events, and the one vocabulary of stage names.

A run goes through the stages in `Stage` order, each announced by `StageStarted` (or `StageSkipped`, with the
reason, when the run's options leave it out); the longer ones say which step they are on (`StepStarted`) and how
far they are (`DecodeProgress`, `BatchDone`, `EpochDone`, `GuardProgress`). The command line draws these as
progress bars, the desktop wizard as its progress page; both see exactly what `training.pipeline.run_training`
emits. Standard library only: the desktop imports this without torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Union


class Stage(str, Enum):
    """The stages of a training run, in order (`training.pipeline` runs them; `training.stages.*` implement them)."""
    PREPARE_DATA = "prepare data"  # read every image once, report, split; load the external sets
    TRAIN = "train"  # epochs, checkpoints, the best epoch by validation AUC
    EVALUATE = "evaluate"  # logits on validation, test (and mirrored test), external sets; stability hook
    CALIBRATE = "calibrate"  # temperature and threshold on validation; every number at that operating point
    FIT_GUARD = "fit guard"  # the out-of-distribution guard on the training split's features
    CHECK_HEATMAPS = "check heatmaps"  # where the Grad-CAM mass falls on true-positive test films
    WRITE_CARD = "write card"  # the model card from what was measured
    SEAL = "seal"  # the bundle written atomically, its manifest hash recorded, loaded back and checked


class Step(str, Enum):
    """Named parts of a stage, announced by StepStarted."""
    READ_IMAGES = "read images"  # prepare data
    EXTERNAL_SETS = "external sets"  # prepare data
    LUNG_PRIOR = "lung prior"  # train (--lung-focus)
    LINEAR_PROBE = "linear probe"  # train (--linear-probe)
    EPOCHS = "epochs"  # train
    INTERNAL = "internal"  # evaluate: validation and test splits
    EXTERNAL = "external"  # evaluate: the external sets
    STABILITY = "stability"  # evaluate: the stability check, when one is given
    CALL_MARGIN = "call margin"  # evaluate: how far noise and JPEG move the validation films' answers


@dataclass(frozen=True)
class StageStarted:
    stage: Stage
    # split -> image count, once the splits are known (from "train" on)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StageSkipped:
    stage: Stage
    reason: str


@dataclass(frozen=True)
class StepStarted:
    stage: Stage
    step: Step


@dataclass(frozen=True)
class DecodeProgress:
    """Images read into memory so far (training data, external sets, a bundle's splits)."""
    done: int
    total: int


@dataclass(frozen=True)
class DatasetReported:
    report: Any  # training.report.DatasetReport (.to_text(), .to_dict(), .warnings, .has_leakage)


@dataclass(frozen=True)
class TrainingResumed:
    epoch: int  # epochs already done, continued after
    epochs: int


@dataclass(frozen=True)
class BatchDone:
    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based
    batches: int
    loss: float
    lr: float
    elapsed_s: float
    eta_s: float


@dataclass(frozen=True)
class EpochDone:
    """One validated epoch. `record` is the history entry stored in the card (with optional entries such as
    train_cam_outside_lungs or external scores); the typed fields are the ones every caller shows."""
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    val_score: float  # validation AUC for binary models, accuracy otherwise (`score_name` says which)
    score_name: str  # "val_auc" | "val_accuracy"
    best: bool
    stop: bool  # training ends after this epoch (early stopping, or the caller's stop)
    seconds: float
    elapsed_s: float
    eta_s: float
    # external set name -> {"auc", "accuracy", "sensitivity", "specificity", "threshold"}: reported only
    external: dict[str, dict[str, float]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingStopped:
    """The caller's stop ended training during an epoch; the best epoch so far is kept."""
    epoch: int  # epochs completed
    best_epoch: int


@dataclass(frozen=True)
class GuardProgress:
    """Fitting the OOD guard: `phase` is "reading" or "features", of the named split; done/total count the phases."""
    phase: str
    split: str
    done: int
    total: int


@dataclass(frozen=True)
class RunFinished:
    summary: dict[str, Any]  # the JSON summary xrayview-train prints


TrainingEvent = Union[StageStarted, StageSkipped, StepStarted, DecodeProgress, DatasetReported, TrainingResumed,
                      BatchDone, EpochDone, TrainingStopped, GuardProgress, RunFinished]
ProgressCallback = Callable[[TrainingEvent], None]


def no_progress(event: TrainingEvent) -> None:
    """The callback of a caller that does not listen."""
