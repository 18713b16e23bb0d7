"""CutMix (Yun et al., ICCV 2019) for localised evidence: a random box of another film of the batch is pasted
into each film, and the loss weights the two labels by the areas they cover.

Why here: with global average pooling, a chest model can add up one diffuse cue over both lungs, and its Grad-CAM
then shows the same hot spot on every film (the shipped 1.0.0 model's maps correlated 0.73 across films). A label
that follows a pasted region wherever it lands makes the model find the evidence where it is, so the heatmap
follows the film.
"""
from __future__ import annotations

import math

import torch


def cutmix_box(height: int, width: int, lam: float, generator: torch.Generator) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of a box covering about 1 - lam of the image, centred uniformly at random
    (clipped at the borders)."""
    ratio = math.sqrt(max(0.0, 1.0 - lam))
    box_h, box_w = int(round(height * ratio)), int(round(width * ratio))
    centre_y = int(torch.randint(height, (1,), generator=generator))
    centre_x = int(torch.randint(width, (1,), generator=generator))
    top, bottom = max(0, centre_y - box_h // 2), min(height, centre_y + box_h - box_h // 2)
    left, right = max(0, centre_x - box_w // 2), min(width, centre_x + box_w - box_w // 2)
    return top, bottom, left, right


def cutmix_batch(images: torch.Tensor, generator: torch.Generator,
                 alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(mixed images, the permutation whose films were pasted in, lam = the share of each film that is its own).
    One box and one lam (drawn from Beta(alpha, alpha)) per batch, as in the paper."""
    batch, _, height, width = images.shape
    lam = float(torch.distributions.Beta(alpha, alpha).sample().item()) if alpha != 1.0 \
        else float(torch.rand(1, generator=generator))
    perm = torch.randperm(batch, generator=generator)
    top, bottom, left, right = cutmix_box(height, width, lam, generator)
    mixed = images.clone()
    mixed[:, :, top:bottom, left:right] = images[perm.to(images.device), :, top:bottom, left:right]
    own = 1.0 - (bottom - top) * (right - left) / float(height * width)
    return mixed, perm, own
