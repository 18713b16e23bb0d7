"""Lung-focus objective: trains a chest model whose Grad-CAM lies in the lung fields.

For a network whose CAM layer feeds global average pooling and one linear layer (EfficientNet-Lite0,
ResNet-18), Grad-CAM of the log-odds of class c (the viewer's target, `inference.cam.log_odds`) is
ReLU(sum_k v_k A_k) up to a constant, with v = w_c minus the softmax-weighted other rows: a class activation map
that the forward pass already computes. (Penalising the map of the raw logit z_c instead is gamed: softmax ignores
a shared shift, so a model trained that way made z_c's map empty and kept the evidence in the other logit.)
The penalty is the share of that map outside a lung-field prior, with the map min-subtracted and bilinearly
upsampled the way pytorch-grad-cam renders it, so it optimises what the viewer shows. The prior is warped with
each image's augmentation (`augment_batch(masks=)`).

The prior is an atlas: the mean of the lung fields that the classical segmenter (`training.lung_fields`)
outlines on the training split's non-finding images, never validation or test images.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inference.errors import TrainingError
from inference.ood import final_linear
from training.lung_fields import atlas_mask, build_atlas, lung_field_mask

# An all-zero map would otherwise score a perfect 0 outside: this makes "no map at all" cost like "all outside".
EMPTY_MAP_GUARD = 1e-4


@dataclass(frozen=True)
class LungPrior:
    mask: torch.Tensor  # float [1, 1, H, W], 1 = lung field, in the squashed frame the model sees
    atlas_images: int  # images the segmenter outlined
    candidates: int  # images it was given
    area_share: float  # fraction of the frame inside the prior

    def describe(self) -> dict:
        return {"prior": "lung-field atlas: mean of the classical segmenter's outlines (training.lung_fields) on "
                         "the training split's non-finding images, thresholded at 0.5",
                "atlas_images": self.atlas_images, "atlas_candidates": self.candidates,
                "area_share": round(self.area_share, 4)}


def build_lung_prior(images: torch.Tensor, limit: int | None = None) -> LungPrior:
    """The atlas prior from uint8 display images [N, C, H, W] at the model input size."""
    candidates = images[:limit] if limit else images
    masks = []
    for image in candidates:
        result = lung_field_mask(image.float().mean(dim=0).numpy())
        if result.ok:
            masks.append(result.mask)
    if not masks:
        raise TrainingError(f"the lung-focus prior needs outlined lungs, but none of {len(candidates)} training "
                            "images could be outlined; is this a frontal chest X-ray data set?")
    height, width = int(images.shape[-2]), int(images.shape[-1])
    mask = atlas_mask(build_atlas(masks), (height, width)).astype(np.float32)
    return LungPrior(mask=torch.from_numpy(mask).view(1, 1, height, width), atlas_images=len(masks),
                     candidates=len(candidates), area_share=float(mask.mean()))


def classifier_head(model: nn.Module) -> nn.Linear:
    """The final linear layer (the CAM's class weights); the objective assumes GAP followed by it."""
    try:
        return final_linear(model)
    except ValueError:
        raise TrainingError("the lung-focus objective needs a model that ends in a linear classifier") from None


class FeatureTap:
    """Keeps the latest output of one layer during training forwards."""

    def __init__(self, model: nn.Module, layer: str):
        try:
            module = model.get_submodule(layer)
        except AttributeError:
            raise TrainingError(f"the model has no layer {layer!r} for the lung-focus objective") from None
        self.output: torch.Tensor | None = None
        self._handle = module.register_forward_hook(self._keep)

    def _keep(self, _module, _inputs, output) -> None:
        self.output = output if torch.is_grad_enabled() else None

    def take(self) -> torch.Tensor:
        """The captured output, released here: a module holding a graph tensor cannot be deep-copied (the
        trainer copies the model for validation)."""
        output, self.output = self.output, None
        if output is None:
            raise TrainingError("the lung-focus layer produced no output in this forward pass")
        return output

    def remove(self) -> None:
        self._handle.remove()
        self.output = None


def log_odds_weights(class_weights: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[B, K]: the gradient of each sample's target log-odds (inference.cam.log_odds) with respect to the pooled
    features, i.e. Grad-CAM's channel weights up to 1/(h*w): w_t minus the softmax-weighted mean of the other
    classes' rows (w_1 - w_0 for two classes). Detached logits: Grad-CAM treats these weights as constants."""
    probs = torch.softmax(logits.detach().float(), dim=1)
    others = probs.scatter(1, targets.view(-1, 1), 0.0)
    others = others / others.sum(dim=1, keepdim=True).clamp_min(1e-12)
    weights = class_weights.float()
    return weights[targets] - others @ weights


def outside_share(features: torch.Tensor, channel_weights: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per sample: the share of the activation map sum_k channel_weights[b, k] * features[b, k] (as Grad-CAM
    renders it: ReLU, min subtracted, bilinear upsampling) that lies outside `masks`.

    features [B, K, h, w] (the CAM layer), channel_weights [B, K] (`log_odds_weights`), masks [B, 1, H, W].
    """
    if features.dim() != 4 or features.shape[1] != channel_weights.shape[1]:
        raise TrainingError(f"the CAM layer gives {tuple(features.shape)} but the classifier takes "
                            f"{channel_weights.shape[1]} features: the lung-focus objective needs GAP + linear")
    cam = torch.einsum("bkhw,bk->bhw", features.float(), channel_weights.float()).clamp(min=0)
    cam = cam - cam.amin(dim=(1, 2), keepdim=True)
    cam = F.interpolate(cam.unsqueeze(1), size=masks.shape[-2:], mode="bilinear", align_corners=False)
    total = cam.sum(dim=(1, 2, 3))
    outside = (cam * (1.0 - masks.to(cam.dtype))).sum(dim=(1, 2, 3))
    return (outside + EMPTY_MAP_GUARD) / (total + EMPTY_MAP_GUARD)


def rendered_maps(features: torch.Tensor, channel_weights: torch.Tensor) -> torch.Tensor:
    """[B, h*w]: the CAM at the layer's own resolution as Grad-CAM renders it (ReLU, min subtracted)."""
    cam = torch.einsum("bkhw,bk->bhw", features.float(), channel_weights.float()).clamp(min=0)
    return (cam - cam.amin(dim=(1, 2), keepdim=True)).flatten(1)


# The un-augmented frame is cut into this many bins per side to compare the maps of different films: finer than
# the 7 x 7 CAM grid, so a spot that the augmentation moved by part of a cell lands in its own bin.
CANONICAL_BINS = 14


def canonical_coordinates(height: int, width: int) -> torch.Tensor:
    """[1, 3, H, W]: each pixel's x and y in [-1, 1] (grid_sample's frame, pixel centres) and a ones channel.
    Warped by the augmentation together with the image (`augment_batch(masks=)`), they say for every pixel of
    the augmented film where it came from in the film as stored; the ones channel says which pixels came from
    inside the film at all (the warp pads with zeros)."""
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y, torch.ones_like(grid_x)]).unsqueeze(0)


def canonical_maps(maps: torch.Tensor, coordinates: torch.Tensor, bins: int = CANONICAL_BINS) -> torch.Tensor:
    """[B, bins * bins]: maps [B, h, w] of augmented films moved back into the films' own frame.

    `coordinates` [B, 3, H, W] are `canonical_coordinates` after the films' augmentation. The map is sampled at 4x
    its grid, each sample is put into the bin of the stored film it came from, and each bin keeps the mean of its
    samples (0 where none landed). Differentiable in `maps`."""
    batch, height, width = maps.shape
    size = (4 * height, 4 * width)
    samples = F.interpolate(maps.unsqueeze(1), size=size, mode="bilinear", align_corners=False).flatten(1)
    where = F.adaptive_avg_pool2d(coordinates.to(samples.dtype), size)
    inside = where[:, 2]
    valid = (inside > 0.99).to(samples.dtype).flatten(1)  # samples that mix in the zero padding are left out
    x = where[:, 0] / inside.clamp_min(1e-6)
    y = where[:, 1] / inside.clamp_min(1e-6)
    column = ((x + 1) / 2 * bins).floor().clamp(0, bins - 1).long()
    row = ((y + 1) / 2 * bins).floor().clamp(0, bins - 1).long()
    index = (row * bins + column).flatten(1)
    sums = samples.new_zeros(batch, bins * bins).scatter_add(1, index, samples * valid)
    counts = samples.new_zeros(batch, bins * bins).scatter_add(1, index, valid)
    return sums / counts.clamp_min(1e-6)


def shared_map_correlation(features: torch.Tensor, channel_weights: torch.Tensor, chosen: torch.Tensor,
                           prior: torch.Tensor | None = None,
                           coordinates: torch.Tensor | None = None) -> torch.Tensor | None:
    """Mean Pearson correlation between the maps of different films among the `chosen` samples (bool [B]).

    A map that shows the same spot on every film explains no film: this is the share of the heatmap that does not
    depend on the film in front of the reader (`training.cam_faithfulness.mean_pairwise_correlation` measures it
    on held-out films, un-augmented).

    `coordinates` ([B, 3, H, W], `canonical_coordinates` warped with each film's augmentation) compare the maps
    in the films' own frame (`canonical_maps`): compared where the augmentation put them, maps that share a spot
    look different merely because each film was shifted and rotated differently (run c6: 0.17 in training, 0.42
    on the test films).

    `prior` ([1 or B, 1, H, W], the lung prior in the frame the maps are compared in) weights the maps first:
    measured over the whole frame, the cheapest way to decorrelate was to move the map out of the lungs onto each
    film's background (run c5: 65% outside after most of an epoch), which the lung-focus term then fought.
    None when fewer than two films are chosen.
    """
    if int(chosen.sum()) < 2:
        return None
    maps = rendered_maps(features[chosen], channel_weights[chosen])
    grid = tuple(features.shape[-2:])
    if coordinates is not None:
        maps = canonical_maps(maps.view(-1, *grid), coordinates[chosen])
        grid = (CANONICAL_BINS, CANONICAL_BINS)
    if prior is not None:
        prior = prior if prior.shape[0] == 1 else prior[chosen]
        maps = maps * F.adaptive_avg_pool2d(prior.to(maps.dtype), grid).flatten(1)
    centred = maps - maps.mean(dim=1, keepdim=True)
    unit = centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-6)
    pairs = ~torch.eye(unit.shape[0], dtype=torch.bool, device=unit.device)
    if coordinates is not None:
        # Only films mirrored alike are compared: across a mirror, a map fixed in the image frame lands on
        # opposite sides of the films' own frame and looks film-specific (run c8 learned exactly that: its maps
        # ignored mirroring, flip check -0.13, and correlated 0.76 on the test films).
        mirrored = mirror_state(coordinates[chosen])
        pairs &= mirrored.unsqueeze(0) == mirrored.unsqueeze(1)
        if not bool(pairs.any()):
            return None
    gram = unit @ unit.T
    return gram[pairs].mean()


def mirror_state(coordinates: torch.Tensor) -> torch.Tensor:
    """[B] int: which way the augmentation mirrored each film (bit 0: left-right, bit 1: up-down), read from its
    warped `canonical_coordinates` across the central half of the frame."""
    height, width = coordinates.shape[-2:]
    inside = coordinates[:, 2].clamp_min(1e-6)
    x, y = coordinates[:, 0] / inside, coordinates[:, 1] / inside
    rows, cols = slice(height // 4, height - height // 4), slice(width // 4, width - width // 4)
    across = (x[:, rows, cols.stop - 1] - x[:, rows, cols.start]).mean(dim=1)
    down = (y[:, rows.stop - 1, cols] - y[:, rows.start, cols]).mean(dim=1)
    return (across < 0).long() + 2 * (down < 0).long()
