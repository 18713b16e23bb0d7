"""Out-of-distribution guard: warns when an image is unlike the model's training data.

Two layers, because each catches what the other misses:
- header/content rules (cheap, certain): a DICOM modality that is not projection radiography (CT, MR, US...),
  a body part the model was not trained on, a colour photograph;
- a feature-space distance: the Mahalanobis distance of the classifier's pooled features (the input of its
  final linear layer, or a named layer's output averaged over a grid of image regions) to the training
  features, in a PCA subspace plus a scaled residual term. The warning
  threshold is a quantile of the distances of held-in calibration images (the validation split), so the
  false-warning rate on in-distribution images is set by design and then measured on the test split.

The fitted statistics travel inside the model bundle (`ood_guard.safetensors`, described by the card's `ood`
block); `inference.bundle` writes and verifies them like the weights.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from inference.errors import BundleError, WeightsHashMismatchError
from inference.model_card import OODSettings
from inference.results import OODResult
from inference.xray_image import colourfulness  # noqa: F401  (re-exported for callers)

OOD_FILE = "ood_guard.safetensors"
METHOD = "mahalanobis-pca"

# Projection radiography and the generic codes converted images carry; anything else is not what we trained on.
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR", "RG", "OT", "SC", "XC", ""})
# Mean chroma (0..1 scale) above which an image counts as a colour photograph rather than a gray radiograph
# that happens to be stored as RGB (JPEG chroma noise stays well below 0.02).
COLOURFULNESS_LIMIT = 0.06


def final_linear(model: nn.Module) -> nn.Linear:
    """The classifier's last linear layer; its input is the pooled feature vector the guard models."""
    last = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            last = module
    if last is None:
        raise ValueError("the model has no linear classifier layer to take features from")
    return last


def pool_regions(output: torch.Tensor, grid: int = 1) -> torch.Tensor:
    """[N, C, H, W] feature maps -> [N, C * grid * grid]: each channel averaged over a grid x grid split of the
    image (grid 1: over the whole image). A grid keeps the layout: a whole-image mean cannot tell a frontal chest
    film from a lateral spine film whose textures occur in the same amounts but in other places."""
    output = output.detach().float()
    if output.ndim != 4:
        if grid != 1:
            raise ValueError(f"a {grid}x{grid} region grid needs 4-D feature maps, got shape {tuple(output.shape)}")
        return output.flatten(1)
    if grid == 1:
        return output.mean(dim=(2, 3))
    return nn.functional.adaptive_avg_pool2d(output, grid).flatten(1)


@contextmanager
def capture_features(model: nn.Module, layer: str | None = None, grid: int = 1) -> Iterator[list[torch.Tensor]]:
    """Collects the pooled features of every forward pass run inside the block (one tensor per pass): the input
    of the final linear layer, or, when `layer` names a module, that module's output averaged over each region
    of a grid x grid split of the image (see pool_regions)."""
    captured: list[torch.Tensor] = []
    if grid != 1 and not layer:
        raise ValueError("a region grid needs a named layer: the classifier's input is already pooled")

    def pre_hook(_module, inputs):
        captured.append(inputs[0].detach().flatten(1).float().cpu())

    def hook(_module, _inputs, output):
        captured.append(pool_regions(output, grid).cpu())

    if layer:
        handle = model.get_submodule(layer).register_forward_hook(hook)
    else:
        handle = final_linear(model).register_forward_pre_hook(pre_hook)
    try:
        yield captured
    finally:
        handle.remove()


def guard_layer(card: dict[str, Any]) -> str | None:
    """The module whose pooled output the bundle's guard models (None: the classifier's input features)."""
    return OODSettings.from_card(card).layer


def guard_grid(card: dict[str, Any]) -> int:
    """The region grid the guard's layer output is averaged over (1: the whole image; older cards have none)."""
    return OODSettings.from_card(card).grid


@dataclass
class FeatureGuard:
    """Mahalanobis distance in the top-k PCA subspace of the training features, plus the residual energy
    outside it (scaled by its mean variance), so images whose features leave the training subspace score high
    even when their projection looks ordinary."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (K, D), orthonormal rows
    eigenvalues: np.ndarray  # (K,)
    residual_variance: float  # mean variance per dimension outside the subspace
    threshold: float = float("inf")
    quantile: float | None = None

    @classmethod
    def fit(cls, features: np.ndarray, n_components: int = 64) -> FeatureGuard:
        return cls.fit_many(features, [n_components])[0]

    @classmethod
    def fit_many(cls, features: np.ndarray, component_counts: Sequence[int]) -> list[FeatureGuard]:
        """One guard per component count, from a single SVD (comparing settings costs one decomposition)."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] < 4:
            raise ValueError("the guard needs a 2-D array of at least 4 feature vectors")
        n, dim = features.shape
        mean = features.mean(axis=0)
        centred = features - mean
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        variances = singular ** 2 / max(n - 1, 1)
        floor = max(float(variances[0]) * 1e-6, 1e-12)  # keeps near-zero directions from dominating
        guards = []
        for n_components in component_counts:
            k = int(min(n_components, len(variances) - 1, dim - 1)) or 1
            eigenvalues = np.maximum(variances[:k], floor)
            residual_variance = max(float(variances[k:].sum()) / max(dim - k, 1), floor)
            guards.append(cls(mean=mean.astype(np.float32), components=vt[:k].astype(np.float32),
                              eigenvalues=eigenvalues.astype(np.float32), residual_variance=residual_variance))
        return guards

    def score(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Distance per row (higher = less like the training data); normalised by the dimension count so the
        numbers stay readable (about 1 for typical training images)."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        centred = x - self.mean.astype(np.float64)
        projected = centred @ self.components.T.astype(np.float64)
        inside = (projected ** 2 / self.eigenvalues.astype(np.float64)).sum(axis=1)
        residual = (centred ** 2).sum(axis=1) - (projected ** 2).sum(axis=1)
        outside = np.maximum(residual, 0.0) / self.residual_variance
        return (inside + outside) / self.mean.shape[0]

    def calibrate(self, features: np.ndarray, quantile: float = 0.99) -> float:
        """Sets the warning threshold at `quantile` of held-in images' scores (so about 1 - quantile of such
        images are warned) and returns it."""
        scores = self.score(features)
        self.threshold = float(np.quantile(scores, quantile))
        self.quantile = quantile
        return self.threshold

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "mean": torch.from_numpy(np.ascontiguousarray(self.mean, dtype=np.float32)),
            "components": torch.from_numpy(np.ascontiguousarray(self.components, dtype=np.float32)),
            "eigenvalues": torch.from_numpy(np.ascontiguousarray(self.eigenvalues, dtype=np.float32)),
            "residual_variance": torch.tensor([self.residual_variance], dtype=torch.float64),
            "threshold": torch.tensor([self.threshold], dtype=torch.float64),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> FeatureGuard:
        """The guard from its stored tensors; ValueError (saying what is wrong) unless they form a usable guard."""
        missing = [key for key in ("mean", "components", "eigenvalues", "residual_variance", "threshold")
                   if key not in tensors]
        if missing:
            raise ValueError(f"it lacks the tensor(s) {', '.join(missing)}")
        arrays = {key: tensors[key].detach().cpu().double().numpy() for key in
                  ("mean", "components", "eigenvalues", "residual_variance", "threshold")}
        mean, components, eigenvalues = arrays["mean"], arrays["components"], arrays["eigenvalues"]
        if mean.ndim != 1 or components.ndim != 2 or eigenvalues.ndim != 1 \
                or components.shape != (eigenvalues.shape[0], mean.shape[0]) or not 1 <= components.shape[0] \
                or arrays["residual_variance"].shape != (1,) or arrays["threshold"].shape != (1,):
            raise ValueError(f"its tensor shapes do not fit together (mean {mean.shape}, components "
                             f"{components.shape}, eigenvalues {eigenvalues.shape})")
        if not all(np.isfinite(a).all() for a in arrays.values()):
            raise ValueError("it holds NaN or infinite values")
        if (eigenvalues <= 0).any() or arrays["residual_variance"][0] <= 0 or arrays["threshold"][0] <= 0:
            raise ValueError("its variances and threshold must be positive")
        return cls(mean=tensors["mean"].numpy(), components=tensors["components"].numpy(),
                   eigenvalues=tensors["eigenvalues"].numpy(),
                   residual_variance=float(arrays["residual_variance"][0]),
                   threshold=float(arrays["threshold"][0]))

    @classmethod
    def load(cls, path: Path) -> FeatureGuard:
        from safetensors.torch import load_file

        return cls.from_tensors(load_file(str(path)))


def header_reasons(image: Any, card: dict[str, Any]) -> list[str]:
    """Rule-based reasons an image is outside what the model was trained on (empty when none apply)."""
    reasons: list[str] = []
    metadata = getattr(image, "metadata", {}) or {}
    modality = str(metadata.get("Modality") or "").upper()
    if modality not in RADIOGRAPH_MODALITIES:
        reasons.append(f"modality {modality} is not a projection radiograph")
    expected = [part.upper() for part in (card.get("ood") or {}).get("expected_body_parts", [])]
    body_part = str(metadata.get("BodyPartExamined") or "").upper()
    if expected and body_part and body_part not in expected:
        reasons.append(f"body part {body_part} (the model was trained on {', '.join(expected)})")
    chroma = getattr(image, "colourfulness", None)
    if chroma is not None and chroma > COLOURFULNESS_LIMIT:
        reasons.append("a colour image (radiographs are grayscale)")
    return reasons


def assess(image: Any, features: np.ndarray | torch.Tensor | None, guard: FeatureGuard | None,
           card: dict[str, Any]) -> OODResult:
    """The guard's verdict for one image given its pooled features (None skips the feature check)."""
    reasons = header_reasons(image, card)
    score = None
    threshold = None
    if guard is not None and features is not None:
        score = float(guard.score(features)[0])
        threshold = guard.threshold
        if score > threshold:
            reasons.append(f"unlike the training images (distance {score:.2f} > {threshold:.2f})")
    return OODResult(warning=bool(reasons), reasons=reasons, score=score, threshold=threshold)


def load_guard(bundle: Any) -> FeatureGuard | None:
    """The bundle's fitted guard (None when its card names no guard file), checked against the card: sha256,
    a safetensors file (never a pickle), tensors that form a guard, the card's threshold and dimensions.
    Every failure is a BundleError naming the file."""
    settings = OODSettings.from_card(bundle.card)
    if not settings.file:
        return None
    payload = bundle.read_file(settings.file, "OOD guard file")
    path = Path(bundle.path) / settings.file
    import hashlib

    if hashlib.sha256(payload).hexdigest() != settings.sha256:
        raise WeightsHashMismatchError(path, "the OOD guard file does not match the model card's sha256; "
                                             "the bundle was changed or damaged")
    from safetensors.torch import load

    try:
        tensors = load(payload)
    except Exception as exc:  # noqa: BLE001 - safetensors parses without running code; any failure = damaged
        raise BundleError(path, f"the OOD guard file is not a readable safetensors file ({type(exc).__name__}); "
                                f"the bundle is damaged") from None
    try:
        guard = FeatureGuard.from_tensors(tensors)
    except ValueError as exc:
        raise BundleError(path, f"the OOD guard file is not a usable guard: {exc}") from None
    block = bundle.card.get("ood") or {}
    if settings.threshold is not None and not np.isclose(guard.threshold, settings.threshold, rtol=1e-4, atol=1e-6):
        raise BundleError(path, f"the OOD guard's threshold {guard.threshold:.6g} is not the model card's "
                                f"{settings.threshold:.6g}; the card and the guard do not belong together")
    for key, actual in (("feature_dim", guard.mean.shape[0]), ("n_components", guard.components.shape[0])):
        if block.get(key) is not None and int(block[key]) != int(actual):
            raise BundleError(path, f"the OOD guard has {key} {actual}, the model card says {block[key]}")
    return guard


def check_guard_fits(guard: FeatureGuard, model: nn.Module, bundle: Any) -> None:
    """One forward of a blank input at the card's size: the features the guard would read must have its
    dimension. Done at load, so a guard that does not fit its model is a BundleError, not a per-image failure."""
    from inference.model_card import InputSpec

    spec = InputSpec.from_card(bundle.card)
    settings = OODSettings.from_card(bundle.card)
    device = next(model.parameters()).device
    blank = torch.zeros(1, spec.channels, spec.height, spec.width, device=device)
    try:
        with torch.inference_mode(), capture_features(model, settings.layer, settings.grid) as captured:
            model(blank)
    except (ValueError, AttributeError, RuntimeError) as exc:
        raise BundleError(Path(bundle.path) / str(settings.file),
                          f"the OOD guard cannot read this model (ood.layer {settings.layer!r}, grid "
                          f"{settings.grid}): {exc}") from None
    dim = int(captured[0].shape[1]) if captured else -1
    if dim != guard.mean.shape[0]:
        raise BundleError(Path(bundle.path) / str(settings.file),
                          f"the OOD guard models {guard.mean.shape[0]} features but ood.layer {settings.layer!r} "
                          f"with grid {settings.grid} gives {dim}: the card and the guard do not belong together")
