"""Batch augmentation on tensors (cheap on CPU: one affine grid_sample per batch).

Works on images in display space [0, 1] (before the model's normalisation), shape [B, C, H, W].
Chest defaults: small rotations/shifts/zoom/shear, mild brightness/contrast, horizontal flip allowed
(lungs are roughly symmetric; the heart side is not what the classifier should key on), no vertical flip.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    rotation_deg: float = 10.0
    shift_frac: float = 0.06
    zoom_range: float = 0.10  # scale drawn from [1 - z, 1 + z]
    shear_deg: float = 5.0
    brightness: float = 0.10  # additive offset drawn from [-b, b]
    contrast: float = 0.15  # multiplicative factor drawn from [1 - c, 1 + c] around the image mean
    hflip_prob: float = 0.5
    vflip_prob: float = 0.0
    enabled: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, enabled=False)


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def augment_batch(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None = None,
                  masks: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Random affine + photometric jitter of a float batch in [0, 1]; returns a new tensor in [0, 1].

    With `masks` ([B, M, H, W] float, e.g. lung-field priors in the image frame) it returns (images, masks):
    the masks get the same geometric warp as their images and no photometric jitter. The random draws do not
    depend on `masks`, so a run with masks sees the same images as one without.
    """
    if not config.enabled:
        return images if masks is None else (images, masks)
    batch = images.shape[0]
    angle = _uniform(batch, -config.rotation_deg, config.rotation_deg, generator) * math.pi / 180
    shear = _uniform(batch, -config.shear_deg, config.shear_deg, generator) * math.pi / 180
    scale = _uniform(batch, 1 - config.zoom_range, 1 + config.zoom_range, generator)
    shift_x = _uniform(batch, -config.shift_frac, config.shift_frac, generator) * 2  # grid units span 2
    shift_y = _uniform(batch, -config.shift_frac, config.shift_frac, generator) * 2
    hflip = torch.where(torch.rand(batch, generator=generator) < config.hflip_prob, -1.0, 1.0)
    vflip = torch.where(torch.rand(batch, generator=generator) < config.vflip_prob, -1.0, 1.0)

    geometric = any(v > 0 for v in (config.rotation_deg, config.shift_frac, config.zoom_range, config.shear_deg))
    if geometric:
        cos, sin = torch.cos(angle), torch.sin(angle)
        tan_shear = torch.tan(shear)
        # output->input sampling: x_in = (rotation @ shear / zoom) @ flips @ x_out + shift
        linear = torch.stack([
            torch.stack([cos, cos * tan_shear - sin], dim=1),
            torch.stack([sin, sin * tan_shear + cos], dim=1),
        ], dim=1) / scale.view(-1, 1, 1)
        flips = torch.diag_embed(torch.stack([hflip, vflip], dim=1))
        theta = torch.cat([linear @ flips, torch.stack([shift_x, shift_y], dim=1).unsqueeze(2)], dim=2)
        grid = F.affine_grid(theta.to(images.dtype).to(images.device), list(images.shape), align_corners=False)
        out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if masks is not None:
            masks = F.grid_sample(masks.to(grid.dtype), grid, mode="bilinear", padding_mode="zeros",
                                  align_corners=False)
    else:
        # flips only: exact pixel moves, no resampling
        h_mask = (hflip < 0).to(images.device).view(-1, 1, 1, 1)
        v_mask = (vflip < 0).to(images.device).view(-1, 1, 1, 1)
        out = torch.where(h_mask, images.flip(-1), images)
        out = torch.where(v_mask, out.flip(-2), out)
        if masks is not None:
            masks = torch.where(h_mask, masks.flip(-1), masks)
            masks = torch.where(v_mask, masks.flip(-2), masks)

    if config.contrast > 0 or config.brightness > 0:
        contrast = _uniform(batch, 1 - config.contrast, 1 + config.contrast, generator).view(-1, 1, 1, 1)
        brightness = _uniform(batch, -config.brightness, config.brightness, generator).view(-1, 1, 1, 1)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = (out - mean) * contrast.to(out) + mean + brightness.to(out)
    out = out.clamp_(0.0, 1.0)
    return out if masks is None else (out, masks)
