"""Scans the OOD guard's settings on one layer of a bundle: every region grid x principal-component count, each
fitted on the training split and thresholded at a quantile of the validation split, exactly as training.ood_fit
fits the shipped guard. It reports what each setting does on images that must be warned and on held-in images,
so a choice between settings is made on numbers anyone can re-run:

    python -m training.ood_scan --bundle resources/models/chest-xray-pneumonia \
        --data ../shared/data/chest-xray-pneumonia/train --layer _blocks.15 --grids 1 2 3 4 7 \
        --components 16 32 64 96 128 192 256 --ood-set fracture=../shared/data/bone-fracture \
        --held-in-set fullres=../shared/data/samples/chest-xray-fullres --set-limit 5000

Prints one JSON object per setting: warning rates on validation and test and on every set, and the margins (the
lowest score of each must-warn set and the highest of each held-in set, as multiples of the threshold).
The layer's feature maps are computed once and pooled per grid, so a scan costs one pass over the images.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from inference.bundle import load_bundle
from inference.errors import XRayViewError
from inference.ood import FeatureGuard, pool_regions
from inference.preprocess import InputSpec
from training.ood_fit import decode_split, folder_set, manifest_splits, require_layer


@torch.no_grad()
def layer_maps(model: nn.Module, layer: str, batches: Iterable[torch.Tensor]) -> torch.Tensor:
    """The layer's output for every normalised input batch, concatenated (float16 to keep thousands in memory)."""
    maps: list[torch.Tensor] = []
    handle = model.get_submodule(layer).register_forward_hook(
        lambda _module, _inputs, output: maps.append(output.detach().to(torch.float16).cpu()))
    try:
        for batch in batches:
            model(batch)
    finally:
        handle.remove()
    return torch.cat(maps) if maps else torch.zeros(0)


def _split_batches(images_uint8: torch.Tensor, spec: InputSpec, batch_size: int = 64) -> Iterable[torch.Tensor]:
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
    for start in range(0, images_uint8.shape[0], batch_size):
        yield (images_uint8[start:start + batch_size].float() / 255.0 - mean) / std


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
    splits = manifest_splits(bundle_dir, data_root)
    maps = {name: layer_maps(model, layer, _split_batches(decode_split(splits[name], spec), spec))
            for name in ("train", "val", "test") if name in splits}
    for name, paths in {**must_warn_sets, **held_in_sets}.items():
        maps[name] = layer_maps(model, layer, _file_batches(paths, spec))
    return scan(maps, list(must_warn_sets), list(held_in_sets), grids, components, quantile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.ood_scan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the training data root the manifest refers to")
    parser.add_argument("--layer", required=True)
    parser.add_argument("--grids", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--components", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--quantile", type=float, default=0.99)
    parser.add_argument("--ood-set", action="append", default=[], metavar="NAME=FOLDER",
                        help="images that must be warned")
    parser.add_argument("--held-in-set", action="append", default=[], metavar="NAME=FOLDER",
                        help="images like the training data (should not be warned)")
    parser.add_argument("--set-limit", type=int, default=200, help="images per set folder")
    args = parser.parse_args(argv)
    if any(g < 1 for g in args.grids) or any(k < 1 for k in args.components):
        print("error: grids and component counts must be at least 1", file=sys.stderr)
        return 2
    try:
        rows = run_scan(args.bundle, args.data, args.layer, args.grids, args.components, args.quantile,
                        dict(folder_set(s, args.set_limit) for s in args.ood_set),
                        dict(folder_set(s, args.set_limit) for s in args.held_in_set))
    except XRayViewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
