"""The one adapter around pytorch-grad-cam (grad-cam==1.5.7): Grad-CAM, Grad-CAM++, Eigen-CAM, XGrad-CAM, Layer-CAM.

A card may name a detail layer next to the target layer: the heatmap is then the product of the two layers'
maps (each scaled to [0, 1] at the input size; the target layer's map raised to the card's cam.target_power,
default 1; the product scaled again). The coarse map (7 x 7 for EfficientNet-Lite0's head) says which region
carries the evidence; the finer one (14 x 14) says where inside it this film differs. Alone, the coarse map looked
the same on every film (mean correlation 0.74 across films for 2.0.0) and the fine map fell outside the lungs
(17-22% lung mass, candidates c6-c10); their product keeps what each gets right (`training.cam_check` measures
it). pytorch-grad-cam's own multi-layer mode averages the maps instead.

One forward pass serves both the CAM and the probabilities: the logits of the CAM's forward are returned,
so callers need not run the model twice. Gradients are only needed from the target layer onwards: when the
model's parameters are frozen, the target layer's output is made the autograd leaf, so the backward pass
covers the classifier head only instead of the whole network.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from inference.vocabulary import CAM_METHOD_INFO, CAM_METHODS


TargetChoice = int | Sequence[int] | Callable[[torch.Tensor], int] | None


class UnknownCamMethodError(ValueError):
    pass


def cam_class(method: str) -> type:
    """The pytorch-grad-cam class of a method named in inference.vocabulary."""
    import pytorch_grad_cam

    info = CAM_METHOD_INFO.get(method.lower())
    if info is None:
        raise UnknownCamMethodError(f"unknown CAM method {method!r}; choose one of {', '.join(CAM_METHODS)}")
    return getattr(pytorch_grad_cam, info.library_class)


def _product_of_layers(cam, cam_per_target_layer: list[np.ndarray]) -> np.ndarray:
    from pytorch_grad_cam.utils.image import scale_cam_image

    # pytorch-grad-cam pairs its i-th map with the i-th activation the forward pass recorded, i.e. the layers in
    # the order the network runs them, not the order they were passed in: `fired` says which was which
    maps = {role: np.maximum(layer_map[:, 0], 0) for role, layer_map in zip(cam.fired, cam_per_target_layer)}
    return scale_cam_image(maps["target"] ** cam.target_power * maps["detail"])


def fused_cam_class(cam_type: type, target_power: float = 1.0) -> type:
    """`cam_type` for [target layer, detail layer], their maps multiplied instead of averaged (module docstring)."""
    return type(f"{cam_type.__name__}LayerProduct", (cam_type,),
                {"aggregate_multi_layers": _product_of_layers, "target_power": float(target_power)})


@dataclass
class CamResult:
    heatmaps: np.ndarray  # float32 [N, H, W] in [0, 1], at the model-input size
    logits: torch.Tensor  # [N, num_labels], detached, from the same forward pass
    target_indices: list[int]  # the class each heatmap explains (Eigen-CAM is class-agnostic: the chosen class)
    method: str
    forward_ms: float
    total_ms: float


def log_odds(logits_row: torch.Tensor, index: int) -> torch.Tensor:
    """log P(class) / P(any other class) under softmax: z_c - logsumexp(other logits).

    The CAM explains this rather than the raw logit z_c: softmax ignores a shift shared by all logits, so z_c
    alone can be large or small (and its map empty) whatever the call; the log-odds is what decides the call.
    For two classes it is the logit margin.
    """
    if logits_row.shape[-1] < 2:
        return logits_row[..., index]
    others = torch.cat([logits_row[..., :index], logits_row[..., index + 1:]], dim=-1)
    return logits_row[..., index] - torch.logsumexp(others, dim=-1)


class _ChosenClassTarget:
    """pytorch-grad-cam target: the log-odds of a class decided from this sample's own logits at call time."""

    def __init__(self, choose: Callable[[torch.Tensor], int]):
        self.choose = choose
        self.index: int | None = None

    def __call__(self, logits_row: torch.Tensor) -> torch.Tensor:
        self.index = int(self.choose(logits_row.detach()))
        return log_odds(logits_row, self.index)


def _chooser(target: TargetChoice, n: int) -> list[Callable[[torch.Tensor], int]]:
    if target is None:
        return [lambda row: int(torch.argmax(row))] * n
    if callable(target):
        return [target] * n
    if isinstance(target, int):
        return [lambda row, t=target: t] * n
    indices = list(target)
    if len(indices) != n:
        raise ValueError(f"{len(indices)} CAM targets for a batch of {n}")
    return [lambda row, t=int(t): t for t in indices]


def compute_cam(model: nn.Module, input_tensor: torch.Tensor, target_layer: str | nn.Module,
                method: str = "gradcam", target: TargetChoice = None,
                detail_layer: str | nn.Module | None = None, target_power: float = 1.0) -> CamResult:
    """CAM heatmaps for a batch [N, C, H, W] plus the logits of the same forward pass.

    target: None = each sample's top logit; an int = that class for all; a sequence = one class per sample;
    a callable(logits_row) -> class index, decided after the forward (e.g. "the call at the operating threshold").
    detail_layer: a second layer whose map multiplies the target layer's map raised to `target_power` (the card's
    cam.detail_layer and cam.target_power); both come from the same forward and backward pass.
    Must not run under torch.no_grad / inference_mode (both are lifted here for the CAM's own pass).
    """
    started = time.perf_counter()
    cam_type = cam_class(method)
    layer = model.get_submodule(target_layer) if isinstance(target_layer, str) else target_layer
    layers = [layer]
    fired: list[str] = []  # roles of the CAM layers in the order the forward pass reaches them
    if detail_layer is not None:
        layers.append(model.get_submodule(detail_layer) if isinstance(detail_layer, str) else detail_layer)
        if layers[1] is layer:
            raise ValueError(f"the CAM detail layer {detail_layer!r} is the target layer itself")
        cam_type = fused_cam_class(cam_type, target_power)
    device = next(model.parameters()).device
    model.eval()
    choosers = [_ChosenClassTarget(c) for c in _chooser(target, input_tensor.shape[0])]
    params_frozen = not any(p.requires_grad for p in model.parameters())
    forward_times: list[float] = []

    def make_leaf(_module: nn.Module, _inputs, output):
        # Frozen model: the target layer's output becomes the autograd leaf, so backward stops there.
        if torch.is_grad_enabled() and isinstance(output, torch.Tensor) and not output.requires_grad:
            output.requires_grad_(True)

    def forward_started(_module, _inputs):
        forward_times.append(time.perf_counter())

    def forward_finished(_module, _inputs, _output):
        forward_times.append(time.perf_counter())

    handles = [model.register_forward_pre_hook(forward_started), model.register_forward_hook(forward_finished)]
    if detail_layer is not None:
        for role, each in zip(("target", "detail"), layers):
            handles.append(each.register_forward_hook(lambda _m, _i, _o, role=role: fired.append(role)))
    if params_frozen:
        # registered before the CAM's own hooks; with a detail layer the earlier of the two becomes the leaf (the
        # later one's output then already requires grad)
        handles.extend(each.register_forward_hook(make_leaf) for each in layers)
    heatmaps = None
    try:
        with torch.inference_mode(False), torch.enable_grad():
            batch = input_tensor.detach().clone().to(device)
            with cam_type(model=model, target_layers=layers) as cam:
                cam.fired = fired
                heatmaps = cam(input_tensor=batch, targets=choosers)
                logits = cam.outputs.detach().clone()
    finally:
        for handle in handles:
            handle.remove()
        model.zero_grad(set_to_none=True)
    if heatmaps is None:  # pytorch-grad-cam's __exit__ swallows IndexError; never return a silent non-result
        raise RuntimeError(f"{method} failed inside pytorch-grad-cam (target layer {target_layer!r}"
                           + (f", detail layer {detail_layer!r})" if detail_layer is not None else ")"))
    indices = [c.index if c.index is not None else int(c.choose(row)) for c, row in zip(choosers, logits)]
    heatmaps = np.nan_to_num(np.asarray(heatmaps, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(heatmaps, 0.0, 1.0, out=heatmaps)
    forward_ms = (forward_times[1] - forward_times[0]) * 1000.0 if len(forward_times) >= 2 else 0.0
    return CamResult(heatmaps=heatmaps, logits=logits.cpu(), target_indices=indices, method=method.lower(),
                     forward_ms=forward_ms, total_ms=(time.perf_counter() - started) * 1000.0)
