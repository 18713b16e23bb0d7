"""Scans the OOD guard's settings on one layer of a bundle: every region grid x principal-component count, each
fitted on the training split and thresholded at a quantile of the validation split, exactly as training.ood_fit
fits the shipped guard. It reports what each setting does on images that must be warned and on held-in images,
so a choice between settings is made on numbers anyone can re-run (`python -m training.cli_ood_scan`).

One row per setting: warning rates on validation and test and on every set, and the margins (the
lowest score of each must-warn set and the highest of each held-in set, as multiples of the threshold).
The layer's feature maps are computed once and pooled per grid, so a scan costs one pass over the images.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from inference.architectures import film_only
from inference.bundle import load_bundle
from inference.errors import XRayViewError
from inference.ood import FeatureGuard, pool_regions
from inference.preprocess import InputSpec
from training.data_manifest import paths_by_split, read_manifest
from training.ood_fit import decode_split, require_layer


@torch.no_grad()
def layer_maps(model: nn.Module, layer: str, batches: Iterable[torch.Tensor]) -> torch.Tensor:
    """The layer's output for every normalised input batch, concatenated (float16 to keep thousands in memory)."""
    maps: list[torch.Tensor] = []
    handle = model.get_submodule(layer).register_forward_hook(
        lambda _module, _inputs, output: maps.append(output.detach().to(torch.float16).cpu()))
    try:
        with film_only(model):
            for batch in batches:
                model(batch)
    finally:
        handle.remove()
    return torch.cat(maps) if maps else torch.zeros(0)


def _split_batches(images_uint8: torch.Tensor, spec: InputSpec, batch_size: int = 64) -> Iterable[torch.Tensor]:
    from inference.preprocess import normalise_spec_batch

    for start in range(0, images_uint8.shape[0], batch_size):
        yield normalise_spec_batch(images_uint8[start:start + batch_size].float() / 255.0, spec)


def _file_batches(paths: Sequence[Path], spec: InputSpec) -> Iterable[torch.Tensor]:
    """Images loaded and preprocessed the way the viewer does (the guard sees what the predictor feeds it)."""
    from inference.image_io import load_image
    from inference.preprocess import to_model_tensor

    for path in paths:
        try:
            image = load_image(path)
        except XRayViewError:
            continue
        yield to_model_tensor(image.render(), spec)


def scan(maps: dict[str, torch.Tensor], must_warn: Sequence[str], held_in: Sequence[str], grids: Sequence[int],
         components: Sequence[int], quantile: float) -> list[dict[str, Any]]:
    """One result per (grid, components): `maps` holds the layer output of 'train', 'val', 'test' and each set."""
    results = []
    for grid in grids:
        pooled = {name: pool_regions(m.float(), grid).numpy() for name, m in maps.items() if len(m)}
        for guard in FeatureGuard.fit_many(pooled["train"], components):
            threshold = guard.calibrate(pooled["val"], quantile)
            scores = {name: guard.score(x) for name, x in pooled.items() if name != "train"}
            row: dict[str, Any] = {"grid": grid, "components": int(guard.components.shape[0]),
                                   "threshold": round(threshold, 6), "rates": {}, "margins": {}}
            for name, s in scores.items():
                row["rates"][name] = round(float((s > threshold).mean()), 4)
                if name in must_warn:
                    row["margins"][f"{name} lowest"] = round(float(s.min() / threshold), 3)
                elif name in held_in:
                    row["margins"][f"{name} highest"] = round(float(s.max() / threshold), 3)
            results.append(row)
    return results


def run_scan(bundle_dir: Path, data_root: Path, layer: str, grids: Sequence[int], components: Sequence[int],
             quantile: float, must_warn_sets: dict[str, list[Path]],
             held_in_sets: dict[str, list[Path]]) -> list[dict[str, Any]]:
    bundle = load_bundle(bundle_dir)
    spec = InputSpec.from_card(bundle.card)
    model = bundle.build("cpu").eval()
    require_layer(model, layer, bundle_dir, bundle.card["architecture"])
    splits = paths_by_split(read_manifest(bundle_dir), data_root)
    maps = {name: layer_maps(model, layer, _split_batches(decode_split(splits[name], spec), spec))
            for name in ("train", "val", "test") if name in splits}
    for name, paths in {**must_warn_sets, **held_in_sets}.items():
        maps[name] = layer_maps(model, layer, _file_batches(paths, spec))
    return scan(maps, list(must_warn_sets), list(held_in_sets), grids, components, quantile)
