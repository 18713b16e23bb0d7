"""Fits a bundle's out-of-distribution guard (see inference/ood.py) on the training split's features,
sets its threshold on the validation split and measures its false-warning rate on the test split.

Used by the training export for every new model, and by `python -m training.cli_ood_fit` to add a guard to a
bundle that was trained before (its data_manifest.csv says which file was in which split).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from inference.architectures import film_only
from inference.bundle import load_bundle, rewrite_bundle
from inference.errors import XRayViewError
from inference.image_files import find_images
from inference.ood import METHOD, OOD_FILE, FeatureGuard, capture_features, guard_grid, guard_layer
from inference.preprocess import InputSpec, normalise_spec_batch
from training.data_manifest import paths_by_split, read_manifest
from training.events import GuardProgress, ProgressCallback, no_progress

DEFAULT_QUANTILE = 0.995
DEFAULT_COMPONENTS = 64


@torch.no_grad()
def split_features(model: nn.Module, images_uint8: torch.Tensor, spec: InputSpec,
                   device: torch.device | str = "cpu", batch_size: int = 64, layer: str | None = None,
                   blur_sigma: tuple[float, float] | None = None, seed: int = 0, grid: int = 1) -> np.ndarray:
    """Pooled features [N, D] of uint8 display-space images [N, C, H, W] (the training cache format).

    `blur_sigma=(low, high)` blurs each image with a Gaussian of a random sigma (pixels) in that range first: the
    224 px training copies carry JPEG detail that images resized here from full resolution lack, and a guard fit
    on the copies alone flags those smoother inputs (measured: full-resolution originals of training images)."""
    from torchvision.transforms.functional import gaussian_blur

    model.eval()
    generator = torch.Generator().manual_seed(seed)
    chunks = []
    with capture_features(model, layer, grid) as captured, film_only(model):
        for start in range(0, images_uint8.shape[0], batch_size):
            batch = images_uint8[start:start + batch_size].float().div_(255.0)
            if blur_sigma is not None:
                sigmas = torch.empty(batch.shape[0]).uniform_(blur_sigma[0], blur_sigma[1], generator=generator)
                batch = torch.cat([gaussian_blur(image[None], kernel_size=[5, 5], sigma=[float(s)] * 2)
                                   for image, s in zip(batch, sigmas)])
            batch = normalise_spec_batch(batch, spec).to(device)
            model(batch)
            chunks.append(captured.pop())
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(chunks).numpy()


def fit_guard(train_features: np.ndarray, val_features: np.ndarray, test_features: np.ndarray | None = None,
              quantile: float = DEFAULT_QUANTILE, n_components: int = DEFAULT_COMPONENTS,
              dataset: str = "") -> tuple[FeatureGuard, dict[str, Any]]:
    """The guard and the card's `ood` block (method, threshold and the rates it was measured at)."""
    guard = FeatureGuard.fit(train_features, n_components=n_components)
    guard.calibrate(val_features, quantile=quantile)
    rates = [{"dataset": dataset, "split": "validation", "n": int(len(val_features)), "kind": "in-distribution",
              "warning_rate": round(float((guard.score(val_features) > guard.threshold).mean()), 4)}]
    if test_features is not None and len(test_features):
        rates.append({"dataset": dataset, "split": "test", "n": int(len(test_features)), "kind": "in-distribution",
                      "warning_rate": round(float((guard.score(test_features) > guard.threshold).mean()), 4)})
    block = {
        "method": METHOD,
        "description": ("Warns when the Mahalanobis distance of the image's pooled classifier features to the "
                        "training features (top principal components plus scaled residual) exceeds the "
                        f"{quantile:.1%} quantile of the validation images' distances; also warns for non-"
                        "radiograph DICOM modalities, unexpected body parts and colour images."),
        "file": OOD_FILE,
        "n_components": int(guard.components.shape[0]),
        "feature_dim": int(guard.mean.shape[0]),
        "quantile": quantile,
        "threshold": round(float(guard.threshold), 6),
        "rates": rates,
    }
    return guard, block


def guard_file_bytes(guard: FeatureGuard) -> bytes:
    from safetensors.torch import save

    return save(guard.tensors())


def require_layer(model: nn.Module, layer: str, bundle_dir: Path | str, architecture: str) -> None:
    """A clear error, naming the bundle, when the model has no module called `layer`."""
    try:
        model.get_submodule(layer)
    except AttributeError:
        raise XRayViewError(f"{bundle_dir}: the {architecture} model has no layer {layer!r}") from None


def decode_split(paths: list[Path], spec: InputSpec, progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None) -> torch.Tensor:
    from training.cache import decode_images

    decoded = decode_images(paths, spec, progress=progress, cancel=cancel)
    return decoded.images[torch.from_numpy(decoded.ok)]


def measure_ood_sets(model: nn.Module, spec: InputSpec, guard: FeatureGuard, card: dict[str, Any],
                     sets: dict[str, list[Path]]) -> list[dict[str, Any]]:
    """Warning rates of the full guard (rules + features) on sets of images that are NOT like the training data."""
    from inference.image_io import load_image
    from inference.ood import assess
    from inference.preprocess import to_model_tensor

    model.eval()
    results = []
    for name, paths in sets.items():
        warned = total = 0
        for path in paths:
            try:
                image = load_image(path)
            except XRayViewError:
                continue
            with torch.no_grad(), capture_features(model, guard_layer(card), guard_grid(card)) as captured, \
                    film_only(model):
                model(to_model_tensor(image.render(), spec))
            total += 1
            warned += assess(image, captured[0], guard, card).warning
        results.append({"dataset": name, "n": total, "kind": "out-of-distribution",
                        "warning_rate": round(warned / max(total, 1), 4)})
    return results


def default_ood_sets(shared_data: Path, limit: int = 200) -> dict[str, list[Path]]:
    """CT/MR slices shipped with pydicom, scikit-image's sample photographs, and bone-fracture radiographs."""
    from pydicom.data import get_testdata_file

    sets: dict[str, list[Path]] = {}
    ct_mr = [get_testdata_file(name, download=False) for name in ("CT_small.dcm", "MR_small.dcm")]
    sets["pydicom CT/MR test files"] = [Path(p) for p in ct_mr if p]
    try:
        import skimage

        photo_dir = Path(skimage.__file__).parent / "data"
        names = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg",
                 "camera.png", "text.png", "page.png", "coins.png", "moon.png", "brick.png", "grass.png",
                 "gravel.png", "horse.png", "hubble_deep_field.jpg", "ihc.png", "logo.png", "color.png", "cell.png")
        sets["scikit-image sample photographs"] = [photo_dir / n for n in names if (photo_dir / n).is_file()]
    except ImportError:
        pass
    fracture_val = shared_data / "bone-fracture" / "val"
    if fracture_val.is_dir():
        files = find_images(fracture_val)
        step = max(1, len(files) // limit)
        sets["bone-fracture radiographs (val)"] = files[::step][:limit]
    return sets


def folder_set(spec: str, limit: int = 200) -> tuple[str, list[Path]]:
    """'NAME=FOLDER' -> (NAME, up to `limit` image files spread evenly over FOLDER's sorted tree)."""
    name, _, folder = spec.partition("=")
    if not folder:
        raise XRayViewError(f"{spec!r}: expected NAME=FOLDER")
    files = find_images(folder)
    if not files:
        raise XRayViewError(f"{folder}: no images")
    return name, files[:: max(1, len(files) // limit)][:limit]


@dataclass(frozen=True)
class GuardOptions:
    """How to fit a guard: `python -m training.cli_ood_fit` flags and the recipe's [guard] table
    (training.option_table declares both)."""
    expected_body_parts: tuple[str, ...] = ()
    quantile: float = DEFAULT_QUANTILE
    components: int = DEFAULT_COMPONENTS
    layer: str | None = None  # model this module's pooled output (default: the classifier's input features)
    grid: int = 1  # average `layer`'s output over each region of a grid x grid split of the image
    reference_blur: tuple[float, float] | None = None
    measure_ood: bool = False  # also measure the default sets (CT/MR, photographs, bone-fracture radiographs)
    exclude_default_sets: tuple[str, ...] = ()
    ood_sets: tuple[str, ...] = ()  # "NAME=FOLDER": images that must be warned
    held_in_sets: tuple[str, ...] = ()  # "NAME=FOLDER": images like the training data
    set_limit: int = 200  # images per --ood-set / --held-in-set folder
    shared_data: Path | None = None  # where the default sets live (default: two folders above the data root)


@dataclass
class GuardFit:
    block: dict[str, Any]  # the card's `ood` block
    payload: bytes  # the guard file (safetensors)


@dataclass
class GuardSets:
    """The image sets a guard is measured on besides its own splits (name -> files)."""
    held_in: dict[str, list[Path]]
    must_warn: dict[str, list[Path]]


def guard_sets(options: GuardOptions, data_root: Path) -> GuardSets:
    """The sets the options name, resolved (and refused, naming the folder) before anything is fitted."""
    held_in = dict(folder_set(s, options.set_limit) for s in options.held_in_sets)
    must_warn = default_ood_sets(options.shared_data or data_root.parent.parent) if options.measure_ood else {}
    must_warn = {name: paths for name, paths in must_warn.items()
                 if not any(word.lower() in name.lower() for word in options.exclude_default_sets)}
    must_warn.update(dict(folder_set(s, options.set_limit) for s in options.ood_sets))
    return GuardSets(held_in=held_in, must_warn=must_warn)


def check_layer_and_grid(model: nn.Module, options: GuardOptions, where: Path | str, architecture: str) -> None:
    if options.layer:
        require_layer(model, options.layer, where, architecture)
    if options.grid < 1 or (options.grid > 1 and not options.layer):
        raise XRayViewError(f"--grid {options.grid}: the grid must be at least 1, and above 1 it needs --layer (the "
                            "classifier's input features are already pooled over the whole image)")


def fit_guard_on(model: nn.Module, card: dict[str, Any], splits: dict[str, torch.Tensor], sets: GuardSets,
                 options: GuardOptions, command: str | None = None, progress: ProgressCallback | None = None,
                 check_cancel: Callable[[], None] = lambda: None) -> GuardFit:
    """The guard of `model` (eval mode, CPU; its layer and grid checked) fitted on `splits` (uint8 model inputs of
    'train', 'val', optional 'test', in manifest order), with its card block measured on `sets`. `card` is the
    model's card (its input spec, training data name and header rules)."""
    emit = progress or no_progress
    spec = InputSpec.from_card(card)
    layer, grid = options.layer, options.grid
    features = {}
    for step, (name, images) in enumerate(splits.items(), start=len(splits)):
        emit(GuardProgress(phase="features", split=name, done=step, total=2 * len(splits)))
        features[name] = split_features(model, images, spec, layer=layer, grid=grid)
        check_cancel()
    reference = features["train"]
    if options.reference_blur is not None:
        blurred = split_features(model, splits["train"], spec, layer=layer, blur_sigma=options.reference_blur,
                                 grid=grid)
        reference = np.concatenate([reference, blurred])
    dataset = (card.get("training_data") or [{}])[0].get("name", "")
    guard, block = fit_guard(reference, features["val"], features.get("test"), quantile=options.quantile,
                             n_components=options.components, dataset=dataset)
    _describe(block, options)
    card = {**card, "ood": block}
    if sets.held_in:
        block["rates"].extend(dict(rate, kind="in-distribution")
                              for rate in measure_ood_sets(model, spec, guard, card, sets.held_in))
    if options.measure_ood or options.ood_sets:
        block["rates"].extend(measure_ood_sets(model, spec, guard, card, sets.must_warn))
    check_cancel()
    payload = guard_file_bytes(guard)
    block["sha256"] = hashlib.sha256(payload).hexdigest()
    if command:
        block["command"] = command
    return GuardFit(block=block, payload=payload)


def _describe(block: dict[str, Any], options: GuardOptions) -> None:
    layer, grid = options.layer, options.grid
    if layer:
        block["layer"] = layer
        block["description"] = block["description"].replace(
            "pooled classifier features", f"pooled features of layer {layer}")
    if grid > 1:
        block["grid"] = grid
        block["description"] = block["description"].replace(
            f"pooled features of layer {layer}",
            f"features of layer {layer}, averaged over each region of a {grid}x{grid} grid (so where the "
            f"image's textures lie counts, not only how much of each there is),")
    if options.reference_blur is not None:
        low, high = options.reference_blur
        block["reference"] = (f"training split, plus each training image blurred with a Gaussian of random sigma "
                              f"{low}-{high} px (images resized here from full "
                              f"resolution lack the 224 px copies' JPEG detail)")
    if options.expected_body_parts:
        block["expected_body_parts"] = [p.upper() for p in options.expected_body_parts]


def add_guard_to_bundle(bundle_dir: Path, data_root: Path, options: GuardOptions = GuardOptions(),
                        out_dir: Path | None = None, command: str | None = None,
                        progress: ProgressCallback | None = None,
                        cancel: threading.Event | None = None) -> dict[str, Any]:
    """Fits the guard on the bundle's own splits (data_manifest.csv) and rewrites the bundle with it (into
    `out_dir`, default in place); returns the card's new `ood` block. `progress` gets GuardProgress (and the
    decoder's DecodeProgress) events; `cancel` stops it between steps with nothing written."""
    emit = progress or no_progress

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise XRayViewError(f"{bundle_dir}: fitting the out-of-distribution guard was cancelled; the bundle "
                                "is unchanged")

    bundle = load_bundle(bundle_dir)
    card = json.loads(json.dumps(bundle.card))
    spec = InputSpec.from_card(card)
    model = bundle.build("cpu")
    check_layer_and_grid(model, options, bundle_dir, card["architecture"])
    sets = guard_sets(options, data_root)
    splits = paths_by_split(read_manifest(bundle_dir), data_root)
    decoded = {}
    for step, (name, paths) in enumerate(splits.items()):
        emit(GuardProgress(phase="reading", split=name, done=step, total=2 * len(splits)))
        decoded[name] = decode_split(paths, spec, progress=progress, cancel=cancel)
        check_cancel()
    fitted = fit_guard_on(model, card, decoded, sets, options, command, progress, check_cancel)
    card["ood"] = fitted.block
    rewrite_bundle(bundle, card, out_dir, replace_files={OOD_FILE: fitted.payload})
    return fitted.block
