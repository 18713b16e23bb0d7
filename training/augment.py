"""Batch augmentation on tensors (cheap on CPU: one affine grid_sample per batch).

Works on images in display space [0, 1] (before the model's normalisation), shape [B, C, H, W].
Chest defaults: small rotations/shifts/zoom/shear, mild brightness/contrast, horizontal flip allowed
(lungs are roughly symmetric; the heart side is not what the classifier should key on), no vertical flip.

The acquisition jitter (aspect, resolution, blur/sharpness, gamma, noise, JPEG quality; all off by default) is
there to take away shortcuts that tell the classes apart at one site but not at the next. In the Kermany train
split, for one, the PNEUMONIA originals are wider (aspect about 1.5 vs 1.25) and smaller (about 1,000 vs 1,500
px) than the NORMAL ones, so after the squash to 224 x 224 the class shows in the anatomy's proportions and in
the sharpness of the downscaled film.
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
    # acquisition jitter (0 = off; the random draws of the options above do not depend on these)
    aspect: float = 0.0  # width/height stretched by a factor drawn log-uniformly from [1/(1+a), 1+a]
    downscale: float = 0.0  # resolution loss: down by a factor drawn from [1, 1+d], then back up (bilinear)
    blur_sigma: float = 0.0  # Gaussian blur, sigma drawn from [0, s] pixels, on half of the images
    sharpen: float = 0.0  # unsharp mask, amount drawn from [0, s], on the other half
    gamma: float = 0.0  # gamma drawn log-uniformly from [1/(1+g), 1+g]
    noise: float = 0.0  # additive Gaussian noise, std drawn from [0, n] (image range 0..1)
    jpeg_quality_min: int = 0  # JPEG round trip at a quality drawn from [q, 95] on half of the images; 0 = off

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, enabled=False)

    @property
    def acquisition_jitter(self) -> bool:
        return any(v > 0 for v in (self.aspect, self.downscale, self.blur_sigma, self.sharpen, self.gamma,
                                   self.noise, self.jpeg_quality_min))


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def _log_uniform(n: int, spread: float, generator: torch.Generator | None) -> torch.Tensor:
    """Factors in [1/(1+spread), 1+spread], symmetric in log space (stretching and squeezing equally likely)."""
    bound = math.log1p(spread)
    return torch.exp(_uniform(n, -bound, bound, generator))


def _gaussian_kernels(sigmas: torch.Tensor) -> torch.Tensor:
    """One normalised 1-D Gaussian per sigma, [B, K]; sigma 0 gives the identity kernel."""
    radius = max(1, int(math.ceil(3.0 * float(sigmas.max()))))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    safe = sigmas.clamp_min(1e-3).view(-1, 1)
    kernels = torch.exp(-0.5 * (offsets.view(1, -1) / safe) ** 2)
    return kernels / kernels.sum(dim=1, keepdim=True)


def _blur(images: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a sigma per image (grouped convolution, reflect padding)."""
    batch, channels, height, width = images.shape
    kernels = _gaussian_kernels(sigmas).to(images).repeat_interleave(channels, dim=0)  # [B*C, K]
    radius = kernels.shape[1] // 2
    flat = images.reshape(1, batch * channels, height, width)
    flat = F.pad(flat, (radius, radius, 0, 0), mode="reflect")
    flat = F.conv2d(flat, kernels.view(batch * channels, 1, 1, -1), groups=batch * channels)
    flat = F.pad(flat, (0, 0, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernels.view(batch * channels, 1, -1, 1), groups=batch * channels)
    return flat.view(batch, channels, height, width)


def _jpeg_round_trip(image: torch.Tensor, quality: int) -> torch.Tensor:
    from torchvision.io import decode_jpeg, encode_jpeg

    as_bytes = (image.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).cpu()
    decoded = decode_jpeg(encode_jpeg(as_bytes, quality=quality))
    return decoded.to(image.device, image.dtype) / 255.0


def _acquisition_jitter(out: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None) -> torch.Tensor:
    """Resolution, sharpness, gamma, noise and JPEG jitter of a batch in [0, 1] (after the geometric warp)."""
    batch, _, height, width = out.shape
    if config.downscale > 0:
        factors = _uniform(batch, 1.0, 1.0 + config.downscale, generator)
        rows = []
        for image, factor in zip(out, factors.tolist()):
            small = (max(8, round(height / factor)), max(8, round(width / factor)))
            if small != (height, width):
                image = F.interpolate(image[None], size=small, mode="bilinear", antialias=True, align_corners=False)
                image = F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False)[0]
            rows.append(image)
        out = torch.stack(rows)
    if config.blur_sigma > 0 or config.sharpen > 0:
        blur_half = torch.rand(batch, generator=generator) < 0.5
        sigmas = _uniform(batch, 0.0, config.blur_sigma, generator) if config.blur_sigma > 0 \
            else torch.zeros(batch)
        amounts = _uniform(batch, 0.0, config.sharpen, generator) if config.sharpen > 0 else torch.zeros(batch)
        if config.blur_sigma > 0:
            blurred = _blur(out, torch.where(blur_half, sigmas, torch.zeros_like(sigmas)))
        else:
            blurred = out
        if config.sharpen > 0:
            # unsharp mask against a 1-pixel blur, on the images that were not blurred
            soft = _blur(out, torch.ones(batch))
            sharpened = out + amounts.view(-1, 1, 1, 1).to(out) * (out - soft)
            out = torch.where(blur_half.view(-1, 1, 1, 1).to(out.device), blurred, sharpened)
        else:
            out = blurred
    if config.gamma > 0:
        gammas = _log_uniform(batch, config.gamma, generator).view(-1, 1, 1, 1).to(out)
        out = out.clamp(0.0, 1.0).pow(gammas)
    if config.noise > 0:
        stds = _uniform(batch, 0.0, config.noise, generator).view(-1, 1, 1, 1).to(out)
        noise = torch.randn(out.shape, generator=generator).to(out)
        out = out + stds * noise
    if config.jpeg_quality_min > 0:
        chosen = torch.rand(batch, generator=generator) < 0.5
        qualities = torch.randint(int(config.jpeg_quality_min), 96, (batch,), generator=generator)
        rows = [(_jpeg_round_trip(image, int(q)) if c else image.clamp(0.0, 1.0))
                for image, q, c in zip(out, qualities.tolist(), chosen.tolist())]
        out = torch.stack(rows)
    return out


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

    aspect = _log_uniform(batch, config.aspect, generator) if config.aspect > 0 else None
    geometric = any(v > 0 for v in (config.rotation_deg, config.shift_frac, config.zoom_range, config.shear_deg,
                                    config.aspect))
    if geometric:
        cos, sin = torch.cos(angle), torch.sin(angle)
        tan_shear = torch.tan(shear)
        # output->input sampling: x_in = (rotation @ shear / zoom) @ flips @ x_out + shift
        linear = torch.stack([
            torch.stack([cos, cos * tan_shear - sin], dim=1),
            torch.stack([sin, sin * tan_shear + cos], dim=1),
        ], dim=1) / scale.view(-1, 1, 1)
        if aspect is not None:
            # the output is `aspect` times wider than the input for the same height (area kept): sample the
            # input at x / sqrt(aspect), y * sqrt(aspect)
            stretch = torch.diag_embed(torch.stack([aspect.rsqrt(), aspect.sqrt()], dim=1))
            linear = linear @ stretch
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
    if config.acquisition_jitter:
        out = _acquisition_jitter(out, config, generator)
    out = out.clamp_(0.0, 1.0)
    return out if masks is None else (out, masks)
