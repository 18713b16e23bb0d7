"""The training loop: AdamW, warm-up + cosine/one-cycle LR, class-imbalance handling, tensor augmentation,
weight EMA, best-by-validation-AUC, early stopping, per-epoch checkpoints with resume, cancel between
batches, `progress=` events, optional DDP (torchrun) and mixed precision on GPU.

Images come in already decoded as uint8 tensors at the model input size (`training.cache`), so an epoch
costs only the model's forward/backward.
"""
from __future__ import annotations

import copy
import math
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, WeightedRandomSampler

from inference.architectures import build_model
from inference.errors import TrainingError
from inference.model_card import InputSpec
from inference.preprocess import normalise_batch
from training import distributed
from training.augment import AugmentConfig, augment_batch
from training.checkpoint import load_checkpoint, save_checkpoint
from training.consistency import DegradeConfig, consistency_loss, degrade_views, without_random_layers
from training.ema import WeightEMA
from training.evaluate import positive_probs
from training.events import (BatchDone, EpochDone, ProgressCallback, Stage, Step, StepStarted, TrainingResumed,
                             TrainingStopped, no_progress)
from training.lung_focus import (FeatureTap, classifier_head, log_odds_weights, outside_share,
                                 map_fill_fraction, mirror_ramp, mirrored, shared_map_correlation)
from training.metrics import roc_auc


class TrainingCancelled(TrainingError):
    """Training stopped because the caller set the cancel event; the last epoch checkpoint is kept."""


@dataclass
class TrainConfig:
    arch: str = "efficientnet_lite0"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    schedule: str = "cosine"  # "cosine" | "onecycle"
    imbalance: str = "weighted_loss"  # "weighted_loss" | "sampler" | "none"
    label_smoothing: float = 0.0
    ema_epochs: float = 1.0  # averaging horizon of the weight EMA in epochs; 0 disables it
    early_stopping_patience: int = 5  # epochs without a better validation AUC; 0 disables
    seed: int = 0
    pretrained: bool = False
    pretrained_path: str | None = None
    # fine-tune a bundle's weights (pretrained_path in a bundle) on other input than its card says it learnt from
    allow_start_input_change: bool = False
    amp: bool = True  # mixed precision: float16/bf16 on CUDA, bf16 on CPUs with native bf16
    eval_batch_size: int = 64
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # weight of the lung-focus penalty (training.lung_focus): Grad-CAM share outside the lung prior; 0 = off
    lung_focus: float = 0.0
    lung_focus_layer: str | None = None  # default: the architecture's CAM layer
    # weight of the map-specificity penalty (training.lung_focus.shared_map_correlation): mean correlation between
    # the positive-class maps of different films in a batch; needs lung_focus > 0 (same layer tap); 0 = off
    map_specificity: float = 0.0
    # weight of the map-focus penalty (training.lung_focus.map_fill_fraction): how much of the grid the
    # positive-class maps fill; needs lung_focus > 0 (same layer tap); 0 = off
    map_focus: float = 0.0
    # robust fine-tuning (training.robust_finetune): start from a linear probe on the frozen pretrained features
    # (LP-FT), and export start + wise_alpha * (tuned - start) (WiSE-FT; 1.0 = the fine-tuned weights)
    linear_probe: bool = False
    wise_alpha: float = 1.0
    # CutMix (training.cutmix): share of batches that get another film's box pasted in; 0 = off
    cutmix: float = 0.0
    # consistency training (training.consistency): weight of the Jensen-Shannon divergence between the probabilities
    # of each film and a degraded second view of it (noise, JPEG, resampling, 8-bit rounding); 0 = off
    consistency: float = 0.0
    consistency_views: DegradeConfig = field(default_factory=DegradeConfig)
    # trained bundles whose networks are averaged instead of training one (training.ensemble); arch is then theirs
    ensemble_of: tuple[str, ...] = ()
    # with ensemble_of: fixed views of each film the network also answers, its logits averaged over them
    # (inference.architectures.ViewMean); arch then names them
    views: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["augment"] = self.augment.to_dict()
        data["consistency_views"] = self.consistency_views.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        data["augment"] = AugmentConfig(**data.get("augment", {}))
        data["consistency_views"] = DegradeConfig(**data.get("consistency_views", {}))
        data["ensemble_of"] = tuple(data.get("ensemble_of", ()))
        data["views"] = tuple(data.get("views", ()))
        return cls(**data)


@dataclass
class TensorSplit:
    """Decoded images of one split: uint8 [N, C, H, W] in display space (0 = black, 255 = white)."""
    images: torch.Tensor
    labels: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class Normalisation:
    mean: tuple[float, ...]
    std: tuple[float, ...]
    per_image: bool = False  # see InputSpec.per_image
    low_pass_sigma: float = 0.0  # see InputSpec.low_pass_sigma

    @classmethod
    def from_spec(cls, spec: InputSpec) -> Normalisation:
        return cls(tuple(spec.mean), tuple(spec.std), spec.per_image, spec.low_pass_sigma)

    def apply(self, images01: torch.Tensor) -> torch.Tensor:
        return normalise_batch(images01, self.mean, self.std, self.per_image, self.low_pass_sigma)


@dataclass
class TrainResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_val_auc: float | None
    history: list[dict]
    epochs_run: int
    stopped_early: bool
    resumed_from_epoch: int | None
    linear_probe: dict | None = None


class _IndexDataset(Dataset):
    """Yields indices only: the batch is gathered from the in-RAM uint8 tensor in one indexing op."""

    def __init__(self, length: int):
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> int:
        return index


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, normalised so a balanced set gets weight 1 per class."""
    counts = torch.bincount(labels, minlength=num_classes).float()
    if (counts == 0).any():
        raise TrainingError(f"the training split has no images of class index {int((counts == 0).nonzero()[0])}")
    return counts.sum() / (num_classes * counts)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _lr_lambda(config: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    total = max(1, config.epochs * steps_per_epoch)
    warmup = min(total - 1, int(round(config.warmup_epochs * steps_per_epoch)))

    def cosine(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def onecycle(step: int) -> float:
        # linear warm-up from lr/25 to lr, then cosine annealing to lr/1e4 (torch OneCycleLR's shape)
        start, end = 1 / 25, 1e-4
        if step < warmup:
            return start + (1 - start) * step / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return end + (1 - end) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    if config.schedule == "cosine":
        return cosine
    if config.schedule == "onecycle":
        return onecycle
    raise TrainingError(f"unknown LR schedule {config.schedule!r}; use cosine or onecycle")


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX512-BF16 / AMX): there bf16 autocast trains about
    1.8x faster than float32 (measured: EfficientNet-Lite0 at 224 px, 10.4 -> 18.9 images/s on 2 cores)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # private helpers moved: fall back to float32, which is always correct
        return False


def amp_available(device: torch.device) -> bool:
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    if enabled and device.type == "cpu" and cpu_has_fast_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CPU: oneDNN runs the depthwise and pointwise convolutions of mobile CNNs faster so
    (measured: EfficientNet-Lite0 forward + backward at 224 px, 1 thread, 4.4 -> 6.4 images/s); same results."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


@torch.no_grad()
def predict_logits(model: nn.Module, split: TensorSplit, normalisation: Normalisation, device: torch.device,
                   batch_size: int = 64, tta_hflip: bool = False, amp: bool = False,
                   cancel: threading.Event | None = None) -> np.ndarray:
    """Logits [N, K] of `model` over a split (eval mode). TTA averages the logits of the image and its mirror."""
    model.eval()
    outputs = []
    for start in range(0, len(split), batch_size):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("evaluation cancelled")
        batch = split.images[start:start + batch_size].to(device, non_blocking=True).float().div_(255.0)
        batch = normalisation.apply(batch).contiguous(memory_format=memory_format(device))
        with _autocast(device, amp):
            logits = model(batch).float()
            if tta_hflip:
                logits = 0.5 * (logits + model(batch.flip(-1)).float())
        outputs.append(logits.cpu())
    if not outputs:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(outputs).numpy()


class _EtaClock:
    """Remaining time from the recent pace (not the run average, which a slow first epoch or a busy machine
    would skew): smoothed seconds per batch times the batches left, plus the last validation time per epoch."""

    def __init__(self, batches_per_epoch: int, epochs_left: int):
        self.batches_left = batches_per_epoch * epochs_left
        self.validations_left = epochs_left
        self.batch_s: float | None = None
        self.validation_s = 0.0
        self.last = time.monotonic()

    def batch_done(self) -> float:
        now = time.monotonic()
        step, self.last = now - self.last, now
        self.batch_s = step if self.batch_s is None else 0.9 * self.batch_s + 0.1 * step
        self.batches_left -= 1
        return self.eta()

    def validation_done(self, seconds: float) -> float:
        self.validation_s = seconds
        self.validations_left -= 1
        self.last = time.monotonic()
        return self.eta()

    def eta(self) -> float:
        return max(0, self.batches_left) * (self.batch_s or 0.0) + max(0, self.validations_left) * self.validation_s


def _rng_state(generator: torch.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "generator": generator.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _restore_rng(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    generator.set_state(state["generator"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _check_config(config: TrainConfig, train_split: TensorSplit, val_split: TensorSplit,
                  lung_prior: torch.Tensor | None) -> None:
    if config.epochs < 1:
        raise TrainingError("epochs must be at least 1")
    if config.map_specificity > 0 and config.lung_focus <= 0:
        raise TrainingError("the map-specificity penalty uses the lung-focus layer tap: give --lung-focus too")
    if config.map_focus > 0 and config.lung_focus <= 0:
        raise TrainingError("the map-focus penalty uses the lung-focus layer tap: give --lung-focus too")
    if config.consistency > 0 and config.cutmix > 0:
        raise TrainingError("consistency training compares two views of the same film; it cannot be combined with "
                            "CutMix, which pastes other films in")
    if config.lung_focus > 0 and lung_prior is None:
        raise TrainingError("the lung-focus objective needs a lung prior")
    if len(train_split) == 0 or len(val_split) == 0:
        raise TrainingError("the training and validation splits must both contain images")
    if not 0.0 < config.wise_alpha <= 1.0:
        raise TrainingError(f"wise_alpha must be in (0, 1], got {config.wise_alpha}")


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


@dataclass
class _StartPoint:
    """Where fine-tuning starts, for LP-FT (the linear-probe head) and WiSE-FT (the weights to interpolate from)."""
    state: dict[str, torch.Tensor] | None = None
    probe_info: dict | None = None

    def exported(self, config: TrainConfig, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The weights a bundle would get from `state`: WiSE-interpolated towards the start when asked."""
        if config.wise_alpha == 1.0 or self.state is None:
            return state
        from training.robust_finetune import interpolate_states

        return interpolate_states(self.state, state, config.wise_alpha)


def _start_point(config: TrainConfig, model: nn.Module, saved: dict | None, train_split: TensorSplit,
                 val_split: TensorSplit, normalisation: Normalisation, device: torch.device, num_classes: int,
                 emit: ProgressCallback) -> _StartPoint:
    if config.linear_probe:
        if saved is not None and saved.get("start_state") is not None:
            return _StartPoint(saved["start_state"], saved.get("linear_probe"))
        from training.robust_finetune import fit_linear_probe

        emit(StepStarted(Stage.TRAIN, Step.LINEAR_PROBE))
        probe_info = fit_linear_probe(model, train_split.images, train_split.labels, val_split.images,
                                      val_split.labels, normalisation.apply, device, num_classes)
        return _StartPoint(_cpu_copy(model.state_dict()), probe_info)
    if config.wise_alpha != 1.0:
        return _StartPoint(_cpu_copy(model.state_dict()))
    return _StartPoint()


@dataclass
class _Batches:
    loader: DataLoader
    sampler: object
    class_weights: torch.Tensor

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.loader))


def _batches(config: TrainConfig, train_split: TensorSplit, num_classes: int, generator: torch.Generator,
             device: torch.device) -> _Batches:
    """Shuffled (or class-balanced) batches of indices into the in-RAM training split; one shard per DDP rank."""
    rank, world = distributed.rank(), distributed.world_size()
    weights = class_weights(train_split.labels, num_classes).to(device)
    dataset = _IndexDataset(len(train_split))
    if world > 1:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=config.seed,
                                     drop_last=False)
    elif config.imbalance == "sampler":
        sampler = WeightedRandomSampler(weights.cpu()[train_split.labels].double(), num_samples=len(dataset),
                                        replacement=True, generator=generator)
    else:
        sampler = RandomSampler(dataset, generator=generator)
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, num_workers=0,
                        drop_last=len(dataset) > config.batch_size)
    return _Batches(loader, sampler, weights)


@dataclass
class _Optimisation:
    model: nn.Module  # what the batches go through (DDP-wrapped under torchrun)
    base_model: nn.Module  # the plain model: its weights are checkpointed, averaged and exported
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None
    ema: WeightEMA | None
    use_amp: bool

    def step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None and self.scaler.is_enabled():
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.base_model)

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def weights_to_validate(self) -> dict[str, torch.Tensor]:
        """The weights an epoch is judged by: the EMA when it is on."""
        return self.ema.state_dict_for(self.base_model) if self.ema is not None else self.base_model.state_dict()


def _optimisation(config: TrainConfig, model: nn.Module, base_model: nn.Module, batches: _Batches,
                  device: torch.device) -> _Optimisation:
    world = distributed.world_size()
    loss_weights = batches.class_weights if (config.imbalance == "weighted_loss"
                                             or (world > 1 and config.imbalance == "sampler")) else None
    criterion = nn.CrossEntropyLoss(weight=loss_weights, label_smoothing=config.label_smoothing)
    steps_per_epoch = batches.steps_per_epoch
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, steps_per_epoch))
    use_amp = config.amp and amp_available(device)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and not torch.cuda.is_bf16_supported()) \
        if device.type == "cuda" else None
    ema = WeightEMA(base_model, 1.0 - 1.0 / max(2.0, config.ema_epochs * steps_per_epoch)) \
        if config.ema_epochs > 0 else None
    return _Optimisation(model, base_model, criterion, optimizer, scheduler, scaler, ema, use_amp)


@dataclass
class _BestSoFar:
    """The best epoch by validation score (AUC, else accuracy), ties broken by the lower validation loss."""
    state: dict[str, torch.Tensor]
    score: float | None = None
    loss: float = math.inf
    epoch: int = 0
    stale_epochs: int = 0

    def is_improved_by(self, score: float, loss: float) -> bool:
        return self.score is None or score > self.score + 1e-6 or (abs(score - self.score) <= 1e-6 and loss < self.loss)

    def record(self, improved: bool, score: float, loss: float, epoch: int) -> None:
        if improved:
            self.score, self.loss, self.epoch, self.stale_epochs = score, loss, epoch, 0
        else:
            self.stale_epochs += 1


def _restore(saved: dict, optimisation: _Optimisation, best: _BestSoFar, generator: torch.Generator) -> list[dict]:
    """Continue a checkpointed run exactly: weights, optimiser, schedule, EMA, scaler, random state, best so far.
    Returns the history so far."""
    optimisation.base_model.load_state_dict(saved["model"])
    optimisation.optimizer.load_state_dict(saved["optimizer"])
    optimisation.scheduler.load_state_dict(saved["scheduler"])
    if optimisation.ema is not None and saved.get("ema") is not None:
        optimisation.ema.load_checkpoint(saved["ema"])
    if optimisation.scaler is not None and saved.get("scaler") is not None:
        optimisation.scaler.load_state_dict(saved["scaler"])
    rank = distributed.rank()
    _restore_rng(saved["rng"][min(rank, len(saved["rng"]) - 1)], generator)
    best.state, best.score, best.loss = saved["best_state"], saved["best_auc"], saved["best_loss"]
    best.epoch, best.stale_epochs = saved["best_epoch"], saved["stale_epochs"]
    return saved["history"]


class _MapPenalties:
    """The lung-focus objective and the map terms that share its layer tap (map specificity, map focus)."""

    def __init__(self, config: TrainConfig, base_model: nn.Module, lung_prior: torch.Tensor, device: torch.device):
        from inference.architectures import default_cam_layer

        self.config = config
        self.tap = FeatureTap(base_model, config.lung_focus_layer or default_cam_layer(config.arch))
        self.head = classifier_head(base_model)
        lung_prior = lung_prior.to(device)
        # the ramp rides along with the prior so the map-specificity term knows which films were mirrored
        self.mask_channels = torch.cat([lung_prior, mirror_ramp(lung_prior)], dim=1)

    def add_to(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor,
               mirror_groups, positive_index: int, films: int, sums: _EpochSums) -> torch.Tensor:
        """`loss` plus the penalties of one batch, from the maps of the films (not their second views)."""
        config = self.config
        channel_weights = log_odds_weights(self.head.weight, logits, targets)
        features = self.tap.take()[:films]
        outside = outside_share(features, channel_weights, masks).mean()
        loss = loss + config.lung_focus * outside
        if config.map_specificity > 0:
            shared = shared_map_correlation(features, channel_weights, targets == positive_index, masks,
                                            groups=mirror_groups)
            if shared is not None:
                loss = loss + config.map_specificity * shared
                sums.shared_sum += shared.item()
                sums.shared_batches += 1
        if config.map_focus > 0:
            fill = map_fill_fraction(features, channel_weights, targets == positive_index)
            if fill is not None:
                loss = loss + config.map_focus * fill
                sums.fill_sum += fill.item()
                sums.fill_batches += 1
        sums.outside_sum += outside.item() * films
        sums.outside_seen += films
        return loss


@dataclass
class _EpochSums:
    """Running sums over one epoch's batches, for its history record."""
    loss_sum: float = 0.0
    seen: int = 0
    outside_sum: float = 0.0
    outside_seen: int = 0
    shared_sum: float = 0.0
    shared_batches: int = 0
    fill_sum: float = 0.0
    fill_batches: int = 0
    agreement_sum: float = 0.0
    agreement_batches: int = 0

    def record_entries(self, device: torch.device, has_map_terms: bool) -> dict:
        """The epoch record's training entries (losses averaged over the DDP ranks)."""
        entries = {"train_loss": distributed.mean_scalar(self.loss_sum / max(1, self.seen), device)}
        if has_map_terms:
            entries["train_cam_outside_lungs"] = distributed.mean_scalar(
                self.outside_sum / max(1, self.outside_seen), device)
        if self.shared_batches:
            entries["train_cam_map_correlation"] = round(self.shared_sum / self.shared_batches, 4)
        if self.fill_batches:
            entries["train_cam_map_fill"] = round(self.fill_sum / self.fill_batches, 4)
        if self.agreement_batches:
            entries["train_consistency"] = round(self.agreement_sum / self.agreement_batches, 5)
        return entries


def _batch_loss(config: TrainConfig, optimisation: _Optimisation, penalties: _MapPenalties | None,
                train_split: TensorSplit, indices: torch.Tensor, normalisation: Normalisation,
                generator: torch.Generator, positive_index: int, device: torch.device,
                sums: _EpochSums) -> torch.Tensor:
    """The loss of one training batch: augmented films (+ their degraded second views), CutMix, the map terms."""
    images = train_split.images[indices].to(device, non_blocking=True).float().div_(255.0)
    targets = train_split.labels[indices].to(device, non_blocking=True)
    films = len(indices)
    if penalties is None:
        images = augment_batch(images, config.augment, generator)
    else:
        images, warped = augment_batch(images, config.augment, generator,
                                       masks=penalties.mask_channels.expand(films, -1, -1, -1))
        masks, mirror_groups = warped[:, :1], mirrored(warped[:, 1:])
    paired = config.consistency_views.views_for(films) if config.consistency > 0 else 0
    if paired:  # the second views ride in the same forward pass, after the films
        images = torch.cat([images, degrade_views(images[:paired], config.consistency_views, generator)])
    images = normalisation.apply(images).contiguous(memory_format=memory_format(images.device))
    mixed = None
    if config.cutmix > 0 and float(torch.rand(1, generator=generator)) < config.cutmix:
        from training.cutmix import cutmix_batch

        # normalisation is per pixel and affine, so pasting after it pastes the same film content
        images, perm, own = cutmix_batch(images, generator)
        mixed = (targets[perm.to(device)], own)
    criterion = optimisation.criterion
    with _autocast(device, optimisation.use_amp):
        all_logits = optimisation.model(images).float()
        logits = all_logits[:films]
        loss = criterion(logits, targets) if mixed is None else \
            mixed[1] * criterion(logits, targets) + (1.0 - mixed[1]) * criterion(logits, mixed[0])
        if paired:
            agreement = consistency_loss(logits[:paired], all_logits[films:], config.consistency_views.measure)
            loss = loss + config.consistency * agreement
            sums.agreement_sum += agreement.item()
            sums.agreement_batches += 1
    if penalties is not None and mixed is not None:
        penalties.tap.take()  # a mixed film has no single lung prior or class: no lung-focus term for this batch
    elif penalties is not None:
        loss = penalties.add_to(loss, logits, targets, masks, mirror_groups, positive_index, films, sums)
    return loss


@dataclass
class _EpochContext:
    """What every epoch of one run shares."""
    config: TrainConfig
    optimisation: _Optimisation
    penalties: _MapPenalties | None
    batches: _Batches
    train_split: TensorSplit
    normalisation: Normalisation
    generator: torch.Generator
    positive_index: int
    device: torch.device
    clock: _EtaClock
    started: float
    emit: ProgressCallback
    cancel: threading.Event
    stop: threading.Event


def _train_epoch(context: _EpochContext, epoch: int, best: _BestSoFar) -> _EpochSums | None:
    """One pass over the training batches; None when the caller's stop abandoned it (the best epoch is kept)."""
    config, optimisation = context.config, context.optimisation
    if hasattr(context.batches.sampler, "set_epoch"):
        context.batches.sampler.set_epoch(epoch)
    optimisation.model.train()
    sums = _EpochSums()
    for batch_index, indices in enumerate(context.batches.loader):
        if context.cancel.is_set():
            raise TrainingCancelled(f"training cancelled during epoch {epoch + 1}")
        if context.stop.is_set() and best.state is not None:
            return None
        loss = _batch_loss(config, optimisation, context.penalties, context.train_split, indices,
                           context.normalisation, context.generator, context.positive_index, context.device, sums)
        if not torch.isfinite(loss):
            raise TrainingError(f"the loss became {loss.item()} at epoch {epoch + 1}; lower --lr")
        optimisation.step(loss)
        sums.loss_sum += loss.item() * len(indices)
        sums.seen += len(indices)
        eta = context.clock.batch_done()
        context.emit(BatchDone(epoch=epoch + 1, epochs=config.epochs, batch=batch_index + 1,
                               batches=context.batches.steps_per_epoch, loss=loss.item(), lr=optimisation.lr,
                               elapsed_s=time.monotonic() - context.started, eta_s=eta))
    return sums


@dataclass
class _Validation:
    score: float  # AUC for binary models, else accuracy
    loss: float
    improved: bool
    accuracy: float
    extra_report: dict


def _validate(context: _EpochContext, start_point: _StartPoint, val_split: TensorSplit, num_classes: int,
              best: _BestSoFar, epoch: int, epoch_report) -> _Validation:
    """Validation on rank 0 with the weights a bundle would get (the EMA when it is on); the other ranks follow
    its decision. Keeps the weights in `best` when they improved on it."""
    config, optimisation, device = context.config, context.optimisation, context.device
    decision = torch.zeros(4, dtype=torch.float64)
    extra_report: dict = {}
    if distributed.rank() == 0:
        eval_model = copy.deepcopy(optimisation.base_model)
        eval_model.load_state_dict(start_point.exported(config, optimisation.weights_to_validate()))
        logits = predict_logits(eval_model, val_split, context.normalisation, device, config.eval_batch_size,
                                amp=optimisation.use_amp)
        val_labels = val_split.labels.numpy()
        val_loss = float(F.cross_entropy(torch.from_numpy(logits), val_split.labels).item())
        probs = positive_probs(logits, context.positive_index)
        auc = roc_auc((val_labels == context.positive_index).astype(int), probs) if num_classes == 2 else None
        val_acc = float((logits.argmax(1) == val_labels).mean())
        score = auc if auc is not None else val_acc
        improved = best.is_improved_by(score, val_loss)
        decision = torch.tensor([score, val_loss, float(improved), val_acc], dtype=torch.float64)
        if improved:
            best.state = _cpu_copy(eval_model.state_dict())
        extra_report = epoch_report(epoch + 1, eval_model, logits) if epoch_report is not None else {}
        del eval_model
    decision = distributed.broadcast_tensor(decision, device)
    return _Validation(score=float(decision[0]), loss=float(decision[1]), improved=bool(decision[2]),
                       accuracy=float(decision[3]), extra_report=extra_report)


def _checkpoint(config: TrainConfig, optimisation: _Optimisation, start_point: _StartPoint, best: _BestSoFar,
                history: list[dict], epoch: int, run_fingerprint: str, rng_states: list) -> dict:
    """Everything --resume needs to continue after `epoch` as if never stopped (plain values only)."""
    return {
        "fingerprint": run_fingerprint, "epoch": epoch, "config": config.to_dict(),
        "model": optimisation.base_model.state_dict(), "optimizer": optimisation.optimizer.state_dict(),
        "scheduler": optimisation.scheduler.state_dict(),
        "ema": optimisation.ema.to_checkpoint() if optimisation.ema is not None else None,
        "scaler": optimisation.scaler.state_dict() if optimisation.scaler is not None else None,
        "rng": rng_states,
        "history": history, "best_state": best.state, "best_auc": best.score, "best_loss": best.loss,
        "best_epoch": best.epoch, "stale_epochs": best.stale_epochs,
        "start_state": start_point.state if config.linear_probe else None, "linear_probe": start_point.probe_info,
    }


def train(
    config: TrainConfig,
    train_split: TensorSplit,
    val_split: TensorSplit,
    num_classes: int,
    positive_index: int,
    normalisation: Normalisation,
    device: torch.device,
    work_dir: Path | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    run_fingerprint: str = "",
    lung_prior: torch.Tensor | None = None,
    epoch_report: Callable[[int, nn.Module, np.ndarray], dict] | None = None,
    stop: threading.Event | None = None,
) -> TrainResult:
    """Train `config.arch`; returns the best weights by validation AUC (EMA weights when EMA is on).

    With `work_dir`, a checkpoint is written after every epoch; `resume=True` continues from it (it must
    belong to the same `run_fingerprint`: same data split and options). Under torchrun every rank calls this;
    rank 0 evaluates and writes, and the others follow its decisions.

    `epoch_report(epoch, eval_model, val_logits)` (rank 0) returns extra entries for the epoch's history record,
    e.g. metrics on an external set; they are reported, never used to choose the weights.

    `stop` (unlike `cancel`) ends training early and keeps the best epoch so far, as early stopping does: the
    epoch under way is abandoned once one epoch has been validated (before that, the first epoch is finished).

    With `config.lung_focus` > 0, `lung_prior` ([1, 1, H, W] lung-field mask in the input frame) is required:
    the loss adds that weight times the Grad-CAM share (log-odds of each image's true class) outside the warped prior.
    """
    _check_config(config, train_split, val_split, lung_prior)
    emit = progress or no_progress
    rank, is_main = distributed.rank(), distributed.rank() == 0

    seed_everything(config.seed)
    generator = torch.Generator().manual_seed(config.seed + 1000 * rank)
    base_model = build_model(config.arch, num_classes, in_channels=int(train_split.images.shape[1]),
                             pretrained=config.pretrained, pretrained_path=config.pretrained_path).to(device)
    base_model = base_model.to(memory_format=memory_format(device))
    if config.consistency > 0:  # the two views must be answered by one network, not two dropout draws
        without_random_layers(base_model)
    # checked (structure and fingerprint) before anything of it is used
    saved = load_checkpoint(work_dir, fingerprint=run_fingerprint) if resume and work_dir is not None else None
    start_point = _start_point(config, base_model, saved, train_split, val_split, normalisation, device,
                               num_classes, emit)
    model = distributed.wrap_model(base_model, device) if distributed.world_size() > 1 else base_model
    batches = _batches(config, train_split, num_classes, generator, device)
    optimisation = _optimisation(config, model, base_model, batches, device)
    best = _BestSoFar(state=copy.deepcopy(base_model.state_dict()))
    history: list[dict] = []
    resumed_from = None
    if saved is not None:
        history = _restore(saved, optimisation, best, generator)
        resumed_from = saved["epoch"]
        emit(TrainingResumed(epoch=resumed_from, epochs=config.epochs))
    start_epoch = resumed_from or 0
    penalties = _MapPenalties(config, base_model, lung_prior, device) if config.lung_focus > 0 else None

    context = _EpochContext(config, optimisation, penalties, batches, train_split, normalisation, generator,
                            positive_index, device, _EtaClock(batches.steps_per_epoch, config.epochs - start_epoch),
                            time.monotonic(), emit, cancel or threading.Event(), stop or threading.Event())
    stopped_early = bool(history and history[-1].get("stop"))
    for epoch in range(start_epoch, config.epochs):
        if stopped_early:
            break
        epoch_started = time.monotonic()
        sums = _train_epoch(context, epoch, best)
        if sums is None:  # the best epoch so far is the result; this partial epoch is not validated
            stopped_early = True
            emit(TrainingStopped(epoch=epoch, best_epoch=best.epoch))
            break
        train_entries = sums.record_entries(device, penalties is not None)
        validation_started = time.monotonic()
        validation = _validate(context, start_point, val_split, num_classes, best, epoch, epoch_report)
        best.record(validation.improved, validation.score, validation.loss, epoch + 1)
        stop_now = (config.early_stopping_patience > 0 and best.stale_epochs >= config.early_stopping_patience) \
            or context.stop.is_set()
        score_name = "val_auc" if num_classes == 2 else "val_accuracy"
        record = {"epoch": epoch + 1, "train_loss": train_entries.pop("train_loss"), "val_loss": validation.loss,
                  score_name: validation.score, "val_acc": validation.accuracy, "lr": optimisation.lr,
                  "seconds": time.monotonic() - epoch_started, "best": validation.improved, "stop": stop_now,
                  **train_entries, **validation.extra_report}
        history.append(record)
        rng_states = distributed.gather_objects(_rng_state(generator))  # collective: every rank joins
        if work_dir is not None and is_main:
            save_checkpoint(work_dir, _checkpoint(config, optimisation, start_point, best, history, epoch + 1,
                                                  run_fingerprint, rng_states))
        eta = context.clock.validation_done(time.monotonic() - validation_started)
        emit(EpochDone(epoch=epoch + 1, epochs=config.epochs, train_loss=record["train_loss"],
                       val_loss=validation.loss, val_score=validation.score, score_name=score_name,
                       best=validation.improved, stop=stop_now, seconds=record["seconds"],
                       elapsed_s=time.monotonic() - context.started, eta_s=eta,
                       external=dict(validation.extra_report.get("external", {})), record=dict(record)))
        if stop_now:
            stopped_early = True
            break
    if penalties is not None:
        penalties.tap.remove()
    distributed.barrier()
    best_state = best.state
    if distributed.world_size() > 1:
        best_state = distributed.broadcast_state_dict(best_state if is_main else None, base_model)
    return TrainResult(best_state=best_state, best_epoch=best.epoch, best_val_auc=best.score, history=history,
                       epochs_run=len(history), stopped_early=stopped_early, resumed_from_epoch=resumed_from,
                       linear_probe=start_point.probe_info)
