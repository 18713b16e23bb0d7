"""Is the heatmap looking at the lungs? Measures where a chest model's Grad-CAM mass falls on its positive
test cases, against approximate lung-field masks (training/lung_fields.py), and writes the result to the card.

    python -m training.cli_cam_check --bundle resources/models/chest-xray-pneumonia \
        --data ../shared/data/chest-xray-pneumonia/train [--split test] [--sheet cam_check.png] [--write-card]

For every test image of the positive label that the model calls positive (a true positive: the heatmap then
explains a correct call), it reports
- lung-field mass: the fraction of the heatmap's mass inside the lung fields, on the images whose lungs the
  classical segmenter could outline (the others are counted, not guessed); compared with the lung fields' share
  of the image, which is what a heatmap spread evenly would score;
- outside-patient mass: the fraction on the background outside the body (markers, text, borders: the shortcuts
  a model should not learn), on every true positive;
- faithfulness and specificity (training/cam_faithfulness.py): the drop in log P(positive) when the hottest 10% /
  20% of the input's pixels are deleted against deleting a random 10% / 20%, the mean correlation between the maps
  of different films, and the flip check (the map of the mirrored film against the mirrored map).
An empty heatmap (nothing to show) is counted and scored as the worst case: no mass inside, all outside.
The command line (`training/cli_cam_check.py`) prints JSON; `--sheet` writes a contact sheet of cases (heatmap,
lung outline) to look at.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inference.errors import XRayViewError
from inference.vocabulary import DEFAULT_CAM_METHOD
from training.data_manifest import ManifestRow, read_manifest
from training.lung_fields import atlas_mask, body_mask, build_atlas, lung_field_mask, mass_inside

SHEET_TILE = 192
ATLAS_SPLIT = "val"
FROM_CARD = object()  # check(detail_layer=): measure the heatmap the card configures


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "mean": None, "p10": None, "p90": None}
    arr = np.asarray(values, dtype=np.float64)
    return {"median": round(float(np.median(arr)), 4), "mean": round(float(arr.mean()), 4),
            "p10": round(float(np.quantile(arr, 0.1)), 4), "p90": round(float(np.quantile(arr, 0.9)), 4)}


def _tile(display: np.ndarray, heatmap: np.ndarray, lungs: np.ndarray | None) -> np.ndarray:
    from matplotlib import colormaps
    from PIL import Image
    from scipy import ndimage

    gray = np.asarray(display, dtype=np.float32)
    gray = (gray - gray.min()) / max(float(gray.max() - gray.min()), 1e-6)
    heat = colormaps["jet"](np.clip(heatmap, 0, 1))[..., :3]
    rgb = 0.6 * np.stack([gray] * 3, axis=-1) + 0.4 * heat
    if lungs is not None:
        edge = lungs ^ ndimage.binary_erosion(lungs, iterations=max(2, lungs.shape[0] // 100))
        rgb[edge] = (1.0, 1.0, 1.0)
    tile = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).resize((SHEET_TILE, SHEET_TILE))
    return np.asarray(tile)


@dataclass(frozen=True)
class HeatmapCheckOptions:
    """What to measure: `python -m training.cli_cam_check` flags and the recipe's [heatmap] table
    (training.option_table declares both)."""
    split: str = "test"
    method: str = DEFAULT_CAM_METHOD
    limit: int | None = None  # at most this many positive cases
    sheet: Path | None = None  # a contact sheet PNG of the first cases
    detail_layer: str | None = None  # measure the product of the target layer's map and this layer's
    no_detail_layer: bool = False  # measure the target layer's map alone (a card's detail layer dropped)
    target_power: float | None = None  # with detail_layer: the target map's power in the product

    def detail_layer_to_measure(self) -> Any:
        """check()'s detail_layer: the one given, none, or the card's own."""
        return None if self.no_detail_layer else (self.detail_layer or FROM_CARD)


def check_options_problem(options: HeatmapCheckOptions) -> str | None:
    """Why these options cannot be measured (None when they can), in flag terms."""
    if options.detail_layer and options.no_detail_layer:
        return "--detail-layer and --no-detail-layer exclude each other"
    if options.target_power is not None and not options.detail_layer:
        return "--target-power needs --detail-layer"
    if options.target_power is not None and not 0.25 <= options.target_power <= 8:
        return "--target-power must be between 0.25 and 8"
    return None


def check(bundle_dir: Path, data_root: Path, split: str = "test", cam_method: str = "gradcam",
          limit: int | None = None, sheet: Path | None = None, sheet_cases: int = 24,
          atlas_limit: int | None = None, detail_layer: Any = FROM_CARD,
          target_power: float | None = None) -> dict[str, Any]:
    """detail_layer: the CAM detail layer to measure with (inference.cam); None = the target layer alone; by
    default the card's own setting. target_power: the target map's power in the product (default: the card's
    when the layers are the card's, else 1). `write_to_card` stores the setting measured, so the card's numbers
    always describe the heatmap the viewer draws."""
    from inference.predictor import Predictor

    predictor = Predictor(bundle_dir, device="cpu")
    use_layers(predictor, detail_layer, target_power, bundle_dir)
    return check_predictor(predictor, read_manifest(bundle_dir), data_root, bundle_dir, split, cam_method, limit,
                           sheet, sheet_cases, atlas_limit)


def use_layers(predictor, detail_layer: Any = FROM_CARD, target_power: float | None = None,
               where: Path | str = "") -> None:
    """Make `predictor` draw the heatmap to measure: the card's (FROM_CARD), the target layer alone (None), or the
    product with `detail_layer`, the target map raised to `target_power`."""
    if detail_layer is not FROM_CARD:
        if detail_layer is not None:
            try:
                predictor.model.get_submodule(detail_layer)
            except AttributeError:
                raise XRayViewError(f"{where}: {detail_layer!r} is not a layer of "
                                    f"{predictor.bundle.architecture}") from None
        predictor.cam_detail_layer = detail_layer
        predictor.cam_target_power = 1.0
    if target_power is not None:
        predictor.cam_target_power = float(target_power)


def check_predictor(predictor, manifest_rows: list[ManifestRow], data_root: Path, where: Path | str,
                    split: str = "test", cam_method: str = "gradcam", limit: int | None = None,
                    sheet: Path | None = None, sheet_cases: int = 24,
                    atlas_limit: int | None = None) -> dict[str, Any]:
    """check() on a predictor whose heatmap layers are set (use_layers): a written bundle's, or the training run's
    model before it is sealed; `manifest_rows` are its data manifest's, `where` names the model in errors."""
    from inference.image_io import load_image

    card = predictor.bundle.card
    positive = card.get("positive_label")
    if not positive:
        raise XRayViewError(f"{where}: the card names no positive_label; the check needs one")
    rows = [r for r in manifest_rows if r.split == split and r.label == positive]
    if limit:
        rows = rows[:limit]
    # The atlas comes from the validation split's other-label (normal) images, never from the cases measured.
    atlas_sources = [r.path(data_root) for r in manifest_rows if r.split == ATLAS_SPLIT
                     and r.label != positive][:atlas_limit]
    outlined = [m for m in (lung_field_mask(load_image(p).render()) for p in atlas_sources) if m.ok]
    if not outlined:
        raise XRayViewError(f"{where}: no {ATLAS_SPLIT} image could be outlined to build the lung atlas")
    atlas = build_atlas([m.mask for m in outlined])
    lung_mass, lung_area, atlas_lung_mass, outside_mass, failures, tiles = [], [], [], [], {}, []
    model_inputs = []
    true_positives = empty = 0
    for row in rows:
        image = load_image(row.path(data_root))
        prediction = predictor.predict(image, cam_method=cam_method)
        if prediction.label != positive or prediction.heatmap is None:
            continue
        true_positives += 1
        model_inputs.append(predictor.preprocess(image))
        display = image.render()
        heatmap = prediction.heatmap
        if not float(heatmap.max()) > 0:
            # an empty heatmap shows the reader nothing: scored as the worst case, and counted
            empty += 1
            outside_mass.append(1.0)
            atlas_lung_mass.append(0.0)
            continue
        outside_mass.append(1.0 - mass_inside(heatmap, body_mask(display)))
        atlas_lungs = atlas_mask(atlas, heatmap.shape)
        atlas_lung_mass.append(mass_inside(heatmap, atlas_lungs))
        lungs = lung_field_mask(display)
        if lungs.ok:
            lung_mass.append(mass_inside(heatmap, lungs.mask))
            lung_area.append(float(lungs.mask.mean()))
        else:
            reason = lungs.reason.split(" (")[0].replace("left ", "").replace("right ", "")
            reason = "lung region too small or too large" if "covers" in reason else reason
            failures[reason] = failures.get(reason, 0) + 1
        if sheet is not None and len(tiles) < sheet_cases:
            tiles.append(_tile(display, heatmap, lungs.mask if lungs.ok else atlas_lungs))
    if sheet is not None and tiles:
        from PIL import Image

        columns = 6
        blank = np.zeros_like(tiles[0])
        tiles += [blank] * (-len(tiles) % columns)
        grid = np.concatenate([np.concatenate(tiles[i:i + columns], axis=1)
                               for i in range(0, len(tiles), columns)], axis=0)
        Image.fromarray(grid).save(sheet)
    inside = np.asarray(atlas_lung_mass)
    faithfulness = measure_faithfulness(predictor, model_inputs, card["labels"].index(positive), cam_method)
    power = predictor.cam_target_power
    layers = (f"layer {predictor.cam_layer}" if predictor.cam_detail_layer is None else
              f"product of the map of layer {predictor.cam_layer}" + (f" to the power {power:g}" if power != 1 else "")
              + f" and the map of layer {predictor.cam_detail_layer}")
    return {
        "target_layer": predictor.cam_layer,
        "detail_layer": predictor.cam_detail_layer,
        "target_power": power if predictor.cam_detail_layer is not None else None,
        "method": (f"{cam_method} heatmap ({layers}) of the positive call on true-positive {split} images. "
                   "Lung fields per "
                   "image from a classical intensity segmentation (three-class Otsu inside the body, one region "
                   "per side, convex hull, dilated; images it cannot outline are counted, not guessed), and for "
                   f"every image from an atlas: the mean of the {ATLAS_SPLIT} split's outlined "
                   f"{'/'.join(sorted(set(r.label for r in manifest_rows) - {positive}))} lungs, "
                   "thresholded at 0.5, in the squashed frame the model sees"),
        "split": split,
        "label": positive,
        "n_positive_cases": len(rows),
        "n_true_positives": true_positives,
        "n_empty_heatmaps": empty,
        "n_lungs_outlined": int(len(lung_mass)),
        "segmentation_failures": dict(sorted(failures.items())),
        "atlas_images": len(outlined),
        "atlas_lung_area_share": round(float(atlas_mask(atlas, atlas.shape).mean()), 4),
        "atlas_lung_field_mass": _quantiles(atlas_lung_mass),
        "share_mostly_inside_atlas": None if not len(inside) else round(float((inside > 0.5).mean()), 4),
        "outlined_lung_field_mass": _quantiles(lung_mass),
        "outlined_lung_area_share": _quantiles(lung_area),
        "outside_patient_mass": _quantiles(outside_mass),
        "faithfulness": faithfulness,
    }


FAITHFULNESS_BATCH = 16


def measure_faithfulness(predictor, model_inputs: list, positive_index: int, cam_method: str) -> dict[str, Any]:
    """Deletion test, cross-film correlation and flip check on the true positives' model inputs."""
    import torch

    from inference.cam import compute_cam
    from training import cam_faithfulness as faith

    if not model_inputs:
        return {"n": 0}
    layer, detail, power = predictor.cam_layer, predictor.cam_detail_layer, predictor.cam_target_power
    maps, flipped_maps, drops = [], [], {}
    for start in range(0, len(model_inputs), FAITHFULNESS_BATCH):
        batch = torch.cat(model_inputs[start:start + FAITHFULNESS_BATCH])
        heatmaps = compute_cam(predictor.model, batch, layer, cam_method, target=positive_index,
                               detail_layer=detail, target_power=power).heatmaps
        flipped = compute_cam(predictor.model, batch.flip(-1), layer, cam_method, target=positive_index,
                              detail_layer=detail, target_power=power).heatmaps
        maps.append(heatmaps)
        flipped_maps.append(flipped)
        for key, values in faith.deletion_drops(predictor.model, batch, heatmaps, positive_index,
                                                predictor.bundle.temperature, seed=start).items():
            drops.setdefault(key, []).append(values)
    maps_all, flipped_all = np.concatenate(maps), np.concatenate(flipped_maps)
    flip = faith.flip_correlations(maps_all, flipped_all)
    correlation = faith.mean_pairwise_correlation(maps_all)
    return {
        "n": len(model_inputs),
        "method": "log P(positive) drop when the hottest k% of the model input's pixels, random cells of the CAM "
                  "grid covering k%, or k% random pixels are replaced by a heavy blur of the film (sigma 8 px at "
                  "224) or by its mean grey; mean Pearson correlation of the maps of different films (at "
                  f"{faith.CORRELATION_SIZE} px); flip check: correlation of the map of the mirrored film with "
                  "the mirrored map",
        **faith.summarise_drops({key: np.concatenate(parts) for key, parts in drops.items()}),
        "mean_pairwise_correlation": None if correlation is None else round(correlation, 4),
        "flip_correlation": _quantiles(flip.tolist()),
    }


CAM_LIMITATION_PREFIX = "Grad-CAM heatmaps"


def limitation_text(result: dict[str, Any]) -> str:
    """The card's heatmap limitation, worded from the measured check (replaces the previous one)."""
    inside = result["atlas_lung_field_mass"]["median"]
    if inside is None:  # no true positive to measure: say so instead of a number
        return (f"{CAM_LIMITATION_PREFIX} were not checked against the lung fields: none of the "
                f"{result['n_positive_cases']} positive {result['split']} images was called positive "
                "(cam.lung_field_check). Read the heatmap as a coarse hint of where the evidence is, not as a "
                "localisation of the finding.")
    measured = (f"on the {result['n_true_positives']} true-positive {result['split']} images a median "
                f"{inside:.0%} of the heatmap's mass lies inside the lung fields, which cover "
                f"{result['atlas_lung_area_share']:.0%} of the image ({result['share_mostly_inside_atlas']:.0%} of "
                f"the images have more than half inside), and {result['outside_patient_mass']['median']:.0%} lies "
                "outside the patient (XRayView's heatmap check, recorded with its method in the model card)")
    grid = ("coarse (a 7x7 feature grid, upsampled)" if not result.get("detail_layer") else
            "coarse (the product of a 7x7 and a 14x14 feature grid, upsampled)")
    if inside is not None and inside > 0.5:
        return (f"{CAM_LIMITATION_PREFIX} are {grid}: {measured}. They show which "
                "part of the chest drove the call, not the outline of an opacity; the lung fields are measured "
                "with an atlas and a classical segmentation, not with expert masks.")
    return (f"{CAM_LIMITATION_PREFIX} are not lung-focused: {measured}. Read the heatmap as a coarse hint of where "
            "the evidence is, not as a localisation of the finding.")


def with_heatmap_check(card: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """A copy of `card` holding the check (`cam.lung_field_check`), drawing the layers it measured, with the heatmap
    limitation worded from it (replacing the previous one)."""
    card = json.loads(json.dumps(card))
    cam = card.setdefault("cam", {})
    cam["lung_field_check"] = result
    # the numbers describe the layers they were measured with: the viewer must draw the same heatmap
    cam.pop("detail_layer", None)
    cam.pop("target_power", None)
    if result.get("detail_layer"):
        cam["detail_layer"] = result["detail_layer"]
        if result.get("target_power") not in (None, 1, 1.0):
            cam["target_power"] = result["target_power"]
    card["limitations"] = [text for text in card.get("limitations", [])
                           if not text.startswith(CAM_LIMITATION_PREFIX)] + [limitation_text(result)]
    return card


def write_to_card(bundle_dir: Path, result: dict[str, Any], command: str = "") -> None:
    """Store the result in the bundle's card (with_heatmap_check); the bundle is rewritten through
    inference.bundle (new manifest)."""
    from inference.bundle import load_bundle, rewrite_bundle

    bundle = load_bundle(bundle_dir)
    if command:
        result["command"] = command
    rewrite_bundle(bundle, with_heatmap_check(bundle.card, result))
