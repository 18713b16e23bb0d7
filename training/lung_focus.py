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


def shared_map_correlation(features: torch.Tensor, channel_weights: torch.Tensor,
                           chosen: torch.Tensor, masks: torch.Tensor | None = None,
                           groups: torch.Tensor | None = None) -> torch.Tensor | None:
    """Mean Pearson correlation between the maps of different films among the `chosen` samples (bool [B]).

    A map that shows the same spot on every film explains no film: this is the share of the heatmap that does not
    depend on the film in front of the reader (`training.cam_faithfulness.mean_pairwise_correlation` measures it
    on held-out films). With `masks` ([B, 1, H, W], each film's warped lung prior) the maps are weighted by the
    prior (area-averaged to the map's grid) first: measured over the whole frame, the cheapest way to decorrelate
    was to move the map out of the lungs onto each film's background (run c5: 65% outside after most of an
    epoch), which the lung-focus term then fought. Inside the lungs only the map's place in the lungs can vary.
    With `groups` ([B] int) only films of the same group are compared: the trainer passes each film's mirror
    state, because across a mirror a map fixed on one side of the patient lands on opposite sides of the frame
    and looks film-specific (c6/c11: 0.17 in training, 0.42-0.48 on test films). The maps are still compared as
    augmented, never moved back to the film's own frame (c8/c9 gamed that resampling).
    None when fewer than two films (of one group) are chosen.
    """
    if int(chosen.sum()) < 2:
        return None
    maps = rendered_maps(features[chosen], channel_weights[chosen])
    if masks is not None:
        grid = features.shape[-2:]
        weights = F.adaptive_avg_pool2d(masks[chosen].to(maps.dtype), grid).flatten(1)
        maps = maps * weights
    centred = maps - maps.mean(dim=1, keepdim=True)
    unit = centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-6)
    pairs = ~torch.eye(unit.shape[0], dtype=torch.bool, device=unit.device)
    if groups is not None:
        group = groups[chosen]
        pairs &= group.unsqueeze(0) == group.unsqueeze(1)
        if not bool(pairs.any()):
            return None
    return (unit @ unit.T)[pairs].mean()


def mirror_ramp(like: torch.Tensor) -> torch.Tensor:
    """[1, 1, H, W] horizontal ramp -1..1: warped with the film (augment_batch(masks=)) it shows the mirror state."""
    width = like.shape[-1]
    return torch.linspace(-1.0, 1.0, width, dtype=like.dtype, device=like.device).view(1, 1, 1, width).expand(
        1, 1, like.shape[-2], width).contiguous()


def mirrored(warped_ramp: torch.Tensor) -> torch.Tensor:
    """[B] int, 1 where the augmentation mirrored the film left-right: its warped ramp falls across the frame's
    central band (rotation <= 90 degrees keeps the sign; zero padding at the borders is left out)."""
    height, width = warped_ramp.shape[-2:]
    band = warped_ramp[:, 0, height // 4: height - height // 4]
    left, right = band[..., width // 4: width // 2].mean(dim=(1, 2)), band[..., width // 2: 3 * width // 4].mean(dim=(1, 2))
    return (right < left).long()


def map_fill_fraction(features: torch.Tensor, channel_weights: torch.Tensor,
                      chosen: torch.Tensor) -> torch.Tensor | None:
    """Mean over the `chosen` films (bool [B]) of how much of its grid the rendered map fills: mean / max of the
    CAM as Grad-CAM renders it (ReLU, min subtracted), 1 for a flat map, 1/(h*w) for a single hot cell.

    Broad maps are what keeps maps of different films alike (c6: most maps cover the whole of one lung, mean
    correlation 0.42) and what spills them over the lung border at 7 x 7; a map that fills less of the frame
    must choose the part of the film that carries the evidence. An empty map counts as flat (1), so it is never
    the cheap way out. None when no film is chosen.
    """
    if int(chosen.sum()) < 1:
        return None
    maps = rendered_maps(features[chosen], channel_weights[chosen])
    return ((maps.mean(dim=1) + EMPTY_MAP_GUARD) / (maps.amax(dim=1) + EMPTY_MAP_GUARD)).mean()
