"""Consistency training: the same film, degraded in ways no radiologist would call a different film, must get the
same answer.

Each training batch is paired with a second view of every film: the same augmented film after sensor noise, a JPEG
round trip at a random quality, a down-and-up resampling with a random filter (how a full-resolution film reaches
the model size by another resizer) and 8-bit rounding. The loss adds the weight times how differently the two views
are answered (`consistency_loss`: the Jensen-Shannon divergence of their probabilities, or their squared log-odds
difference), so the model is pushed to answer the same where it answered differently, not only to label both views
right (which plain augmentation already asks, and which left one grey level of noise moving p
by up to 0.55 on 2.1.0).

The two views are answered by one network: `without_random_layers` turns dropout and stochastic depth off while
the term is on. With them on, each view got its own random sub-network, and on 2.2.0's starting point that
difference was 95% of the term (squared log-odds 9.2 between two passes of the same films, 9.7 with the second
view degraded), so the earlier candidates (c16-c18) were mostly taught to agree across dropout masks.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import math

import torch
import torch.nn.functional as F
from torch import nn

# the filters a resizer may use between the film and the model input (the benchmark measures the same ones)
RESAMPLE_MODES = ("bilinear", "bicubic", "area")
# consistency_loss's measures, in the words the model card uses
MEASURE_WORDS = {"jsd": "Jensen-Shannon divergence of the class probabilities",
                 "log-odds": "squared difference of the log-odds",
                 "relative-log-odds": "squared difference of the log-odds over their variance in the batch"}
CONSISTENCY_MEASURES = tuple(MEASURE_WORDS)


@dataclass(frozen=True)
class DegradeConfig:
    noise: float = 2.0 / 255.0  # Gaussian noise, std drawn from [0, noise] (image range 0..1)
    jpeg_quality_min: int = 70  # JPEG round trip at a quality drawn from [q, 95] on half of the views; 0 = off
    rescale: float = 0.25  # down by a factor drawn from [1, 1 + r] with a random filter, back up, on half the views
    # a display window that maps the film's values to grey levels slightly differently (a 12-bit film through window
    # 2048/4096 renders 0.4% less contrast than its 8-bit copy): a gain drawn from [1 - w, 1 + w] about mid grey
    # and an offset of up to 255 w grey levels, on half of the views; what changes is where 8-bit rounding falls
    window: float = 0.0
    fraction: float = 1.0  # share of each batch's films that get a second view (the first ones; batches are shuffled)
    measure: str = "jsd"  # how the two views' answers are compared: one of CONSISTENCY_MEASURES (consistency_loss)

    def __post_init__(self) -> None:
        if self.measure not in CONSISTENCY_MEASURES:
            raise ValueError(f"unknown consistency measure {self.measure!r}; use one of "
                             f"{', '.join(CONSISTENCY_MEASURES)}")

    def views_for(self, films: int) -> int:
        return max(1, min(films, round(films * self.fraction)))

    def to_dict(self) -> dict:
        return asdict(self)


def without_random_layers(model: nn.Module) -> list[str]:
    """Turn off what answers the same input differently in training mode (dropout, stochastic depth, the
    EfficientNet package's drop-connect), so that two views' difference is the views'. Returns what was turned off.
    Batch norm stays: both views ride in one batch and share its statistics."""
    turned_off = []
    for name, module in model.named_modules():
        where = name or type(module).__name__
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            turned_off.append(f"{where}: dropout {module.p:g}")
            module.p = 0.0
        elif type(module).__name__ == "StochasticDepth" and getattr(module, "p", 0) > 0:
            turned_off.append(f"{where}: stochastic depth {module.p:g}")
            module.p = 0.0
        params = getattr(module, "_global_params", None)
        if params is not None and getattr(params, "drop_connect_rate", 0):
            turned_off.append(f"{where}: drop-connect {params.drop_connect_rate:g}")
            module._global_params = params._replace(drop_connect_rate=0.0)
    return turned_off


def _jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    from torchvision.io import decode_jpeg, encode_jpeg

    as_bytes = (image.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).cpu()
    return decode_jpeg(encode_jpeg(as_bytes, quality=quality)).to(image.device, image.dtype) / 255.0


def _resample(image: torch.Tensor, factor: float, down_mode: str, up_mode: str) -> torch.Tensor:
    height, width = image.shape[-2:]
    small = (max(8, round(height / factor)), max(8, round(width / factor)))
    if small == (height, width):
        return image

    def resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
        if mode == "area":
            return F.interpolate(x, size=size, mode=mode)
        return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=size[0] < x.shape[-2])

    return resize(resize(image[None], small, down_mode), (height, width), up_mode)[0]


def degrade_views(images: torch.Tensor, config: DegradeConfig, generator: torch.Generator | None = None
                  ) -> torch.Tensor:
    """A second view of each film of a [B, C, H, W] batch in [0, 1]: a window change, resampling, noise, JPEG,
    8-bit rounding."""
    batch = images.shape[0]
    out = images
    if config.window > 0:
        chosen = (torch.rand(batch, generator=generator) < 0.5).view(-1, 1, 1, 1).to(out)
        gains = 1.0 + (torch.rand(batch, generator=generator) * 2.0 - 1.0).view(-1, 1, 1, 1).to(out) * config.window
        offsets = (torch.rand(batch, generator=generator) * 2.0 - 1.0).view(-1, 1, 1, 1).to(out) * config.window
        windowed = torch.round(((out - 0.5) * gains + 0.5 + offsets).clamp(0.0, 1.0) * 255.0) / 255.0
        out = chosen * windowed + (1.0 - chosen) * out
    if config.rescale > 0:
        chosen = torch.rand(batch, generator=generator) < 0.5
        factors = 1.0 + torch.rand(batch, generator=generator) * config.rescale
        modes = torch.randint(len(RESAMPLE_MODES), (batch, 2), generator=generator)  # back up: bilinear or bicubic
        out = torch.stack([
            _resample(image, float(f), RESAMPLE_MODES[int(m[0])], RESAMPLE_MODES[int(m[1]) % 2]) if c else image
            for image, f, m, c in zip(out, factors, modes, chosen.tolist())])
    if config.noise > 0:
        stds = (torch.rand(batch, generator=generator) * config.noise).view(-1, 1, 1, 1).to(out)
        out = out + stds * torch.randn(out.shape, generator=generator).to(out)
    out = out.clamp(0.0, 1.0)
    if config.jpeg_quality_min > 0:
        chosen = torch.rand(batch, generator=generator) < 0.5
        qualities = torch.randint(int(config.jpeg_quality_min), 96, (batch,), generator=generator)
        out = torch.stack([_jpeg(image, int(q)) if c else image
                           for image, q, c in zip(out, qualities.tolist(), chosen.tolist())])
    return torch.round(out * 255.0) / 255.0  # the model input is always 8-bit (inference.preprocess.model_input_u8)


def consistency_loss(logits_a: torch.Tensor, logits_b: torch.Tensor, measure: str = "jsd") -> torch.Tensor:
    """How differently two views of the same films are answered, averaged over the batch.

    "jsd": the Jensen-Shannon divergence (nats) of the two views' class probabilities, as AugMix's consistency term:
    for two classes about (dp)^2 / (8 m (1 - m)) at mean probability m. It fades where both views are sure, so a
    model can satisfy it on its training films (where it is sure) and still move p on films it is unsure of: 2.2.0's
    first candidate with it moved the calibrated log-odds of external films by a std of 0.36 under one grey level of
    noise (2.1.0: 0.82).
    "log-odds": the squared difference of the centred logits, summed over classes and doubled (for two classes the
    squared log-odds difference): the same weight on every film, sure or not, so it shrinks the model's gain along
    the degradations themselves (softmax ignores a shared shift of the logits, so the shift is taken out first).
    "relative-log-odds": that squared difference over the variance of the first views' log-odds across the batch.
    The plain log-odds term can be lowered by shrinking every logit, and the temperature fitted afterwards undoes
    that (c21: temperature 0.97 against 2.15 without the term, and calibrated answers that moved as much as before);
    this ratio does not change with the logit scale, so only moving less relative to how far films stand apart
    lowers it."""
    if measure in ("log-odds", "relative-log-odds"):
        a = logits_a.float() - logits_a.float().mean(dim=1, keepdim=True)
        b = logits_b.float() - logits_b.float().mean(dim=1, keepdim=True)
        squared = 2.0 * ((a - b) ** 2).sum(dim=1).mean()
        if measure == "log-odds":
            return squared
        log_odds = a[:, -1] - a[:, 0]  # first views' log-odds (last class against the first)
        return squared / (log_odds.var() + 1e-6) if len(log_odds) > 1 else squared * 0.0
    if measure != "jsd":
        raise ValueError(f"unknown consistency measure {measure!r}; use one of {', '.join(CONSISTENCY_MEASURES)}")
    log_a, log_b = torch.log_softmax(logits_a.float(), dim=1), torch.log_softmax(logits_b.float(), dim=1)
    log_mix = torch.logsumexp(torch.stack([log_a, log_b]), dim=0) - math.log(2.0)
    kl_a = (log_a.exp() * (log_a - log_mix)).sum(dim=1)
    kl_b = (log_b.exp() * (log_b - log_mix)).sum(dim=1)
    return (0.5 * (kl_a + kl_b)).mean()
