"""Does the heatmap explain the film in front of it? Faithfulness and specificity measures of a CAM.

- Deletion: replace the hottest k% of the input's pixels by a baseline and measure the drop in log P(class);
  compare with deleting a random k%: random cells of the CAM's own grid (a region as blobby as the hot one: the
  fair control) and random scattered pixels. A heatmap that points at the evidence costs the model much more than
  a random region. Baselines: a heavy blur of the film (the local mean: deletes detail, keeps the film looking
  like a film) and the film's mean grey (deletes everything there; scattered grey pixels are a texture of their
  own, so that control is harsh).
- Specificity across films: the mean Pearson correlation between the maps of different films. A model that
  shows the same hot spot on every film scores near 1; maps that follow each film's findings score near 0.
- Flip check: the map of the mirrored film should be the mirror of the film's map (mean correlation of the two).
  A hot spot fixed in the image frame, whatever the film shows, fails it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DELETION_FRACTIONS = (0.1, 0.2)
BLUR_SIGMA_FRACTION = 8 / 224  # the blur baseline's sigma: 8 px at 224 px
CORRELATION_SIZE = 56  # maps are compared at this size (the CAM itself is a 7x7 grid upsampled)


def _gaussian_blur(batch: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=batch.dtype, device=batch.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = batch.shape[1]
    out = F.pad(batch, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def baselines(inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """What deleted pixels are replaced by, per film (same shape as `inputs`, model-normalised units)."""
    sigma = BLUR_SIGMA_FRACTION * inputs.shape[-1]
    return {"blur": _gaussian_blur(inputs, sigma),
            "mean": inputs.mean(dim=(2, 3), keepdim=True).expand_as(inputs)}


@torch.no_grad()
def log_probability(model: nn.Module, inputs: torch.Tensor, index: int, temperature: float) -> np.ndarray:
    logits = model(inputs).float() / temperature
    return torch.log_softmax(logits, dim=1)[:, index].cpu().numpy().astype(np.float64)


def top_masks(heatmaps: np.ndarray, fraction: float) -> torch.Tensor:
    """bool [N, 1, H, W]: the `fraction` of each map's pixels with the highest values (ties broken by position)."""
    n, height, width = heatmaps.shape
    count = int(round(fraction * height * width))
    flat = torch.from_numpy(np.ascontiguousarray(heatmaps.reshape(n, -1), dtype=np.float32))
    order = torch.argsort(flat, dim=1, descending=True, stable=True)[:, :count]
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask.scatter_(1, order, True)
    return mask.view(n, 1, height, width)


def random_masks(shape: tuple[int, int, int], fraction: float, generator: torch.Generator) -> torch.Tensor:
    n, height, width = shape
    count = int(round(fraction * height * width))
    order = torch.argsort(torch.rand(n, height * width, generator=generator), dim=1)[:, :count]
    mask = torch.zeros(n, height * width, dtype=torch.bool)
    mask.scatter_(1, order, True)
    return mask.view(n, 1, height, width)


def random_cell_masks(shape: tuple[int, int, int], fraction: float, grid: int,
                      generator: torch.Generator) -> torch.Tensor:
    """bool [N, 1, H, W]: round(fraction * grid^2) random cells of a grid x grid split of each image."""
    n, height, width = shape
    cells = max(1, int(round(fraction * grid * grid)))
    order = torch.argsort(torch.rand(n, grid * grid, generator=generator), dim=1)[:, :cells]
    coarse = torch.zeros(n, grid * grid)
    coarse.scatter_(1, order, 1.0)
    mask = F.interpolate(coarse.view(n, 1, grid, grid), size=(height, width), mode="nearest")
    return mask > 0.5


def deletion_drops(model: nn.Module, inputs: torch.Tensor, heatmaps: np.ndarray, index: int, temperature: float,
                   fractions: Sequence[float] = DELETION_FRACTIONS, seed: int = 0,
                   grid: int = 7) -> dict[str, np.ndarray]:
    """Drop of log P(class `index`) per film when the top / random cells / random pixels (`fraction` of the
    image) are replaced by each baseline: keys like "blur/top/0.2", "blur/cells/0.2", "mean/pixels/0.1".
    `inputs` [N, C, H, W] normalised; `heatmaps` [N, H, W] at the same size; `grid` the CAM layer's grid."""
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    inputs = inputs.to(device)
    original = log_probability(model, inputs, index, temperature)
    replaced = baselines(inputs)
    drops: dict[str, np.ndarray] = {}
    for fraction in fractions:
        masks = {"top": top_masks(heatmaps, fraction),
                 "cells": random_cell_masks(heatmaps.shape, fraction, grid, generator),
                 "pixels": random_masks(heatmaps.shape, fraction, generator)}
        for kind, mask in masks.items():
            mask = mask.to(device)
            for name, baseline in replaced.items():
                deleted = torch.where(mask, baseline, inputs)
                drops[f"{name}/{kind}/{fraction:g}"] = original - log_probability(model, deleted, index, temperature)
    return drops


def _flat_maps(heatmaps: np.ndarray) -> torch.Tensor:
    maps = torch.from_numpy(np.ascontiguousarray(heatmaps, dtype=np.float32))[:, None]
    maps = F.interpolate(maps, size=(CORRELATION_SIZE, CORRELATION_SIZE), mode="area")
    return maps.flatten(1).double()


def _centred_unit(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    centred = flat - flat.mean(dim=1, keepdim=True)
    norms = centred.norm(dim=1, keepdim=True)
    valid = norms[:, 0] > 1e-9  # a flat map has no correlation with anything: left out
    return centred / norms.clamp_min(1e-12), valid


def mean_pairwise_correlation(heatmaps: np.ndarray) -> float | None:
    """Mean Pearson correlation over all pairs of different films' maps (flat maps left out)."""
    unit, valid = _centred_unit(_flat_maps(heatmaps))
    unit = unit[valid]
    n = unit.shape[0]
    if n < 2:
        return None
    gram = unit @ unit.T
    return float((gram.sum() - gram.diagonal().sum()) / (n * (n - 1)))


def flip_correlations(heatmaps: np.ndarray, flipped_heatmaps: np.ndarray) -> np.ndarray:
    """Per film: correlation of the map of the mirrored film with the mirror of the film's map."""
    a, valid_a = _centred_unit(_flat_maps(heatmaps[:, :, ::-1]))
    b, valid_b = _centred_unit(_flat_maps(flipped_heatmaps))
    values = (a * b).sum(dim=1).numpy()
    return values[(valid_a & valid_b).numpy()]


def summarise_drops(drops: dict[str, np.ndarray]) -> dict:
    """Medians of the drops and, per baseline, control and fraction, the ratio of the top to the control median
    (None where the control's median drop is not positive: the ratio would mean nothing)."""
    medians = {key: round(float(np.median(values)), 4) for key, values in drops.items()}
    ratios = {}
    for key, value in medians.items():
        name, kind, fraction = key.split("/")
        if kind == "top":
            for control in ("cells", "pixels"):
                control_median = medians[f"{name}/{control}/{fraction}"]
                ratios[f"{name}/{control}/{fraction}"] = None if control_median <= 1e-6 \
                    else round(value / control_median, 3)
    return {"median_drop_log_p": medians, "top_vs_random_ratio": ratios}
