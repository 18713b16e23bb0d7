"""Approximate lung-field masks for frontal chest X-rays, without a trained segmenter.

We have no lung masks for the training data, so the Grad-CAM plausibility check (training/cam_check.py) uses a
classical intensity method: the lungs are the two large dark (air-filled) regions enclosed by the brighter
chest wall and mediastinum. Steps, on a smoothed, contrast-stretched 256x256 copy of the display image:
  1. body: everything but the dark background connected to the image border (two-class Otsu);
  2. inside the body, the darkest of three intensity classes (lung air vs soft tissue vs bone/mediastinum),
     opened to drop specks and closed to join the pieces the ribs cut a lung into;
  3. on each side of the body's midline, the largest such region whose centre lies above the bowel gas;
  4. each region's convex hull: consolidation makes parts of a lung bright, and the hull puts them back into the
     field they belong to, instead of rewarding a heatmap for avoiding them;
  5. plausibility: lung-sized, nearly convex (solidity), clear of the top and bottom edges (no leak into the neck
     or abdomen); then a slight dilation (a 7x7 CAM cannot be sharper) and a resize back.
It fails on many images (consolidated or merged lungs, rotation, markers over the lungs): those are reported as
failures and left out of the statistics, never guessed; `build_atlas` covers them with a population mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import Delaunay

WORK_SIZE = 256
MIN_LUNG_FRACTION = 0.02  # of the image area, per lung (dark pixels, before the hull)
MAX_LUNG_FRACTION = 0.35
CLOSING_PX = 5
MIN_SOLIDITY = 0.6
EDGE_MARGIN_PX = 13  # 5% of WORK_SIZE: lung apices sit below the neck, bases above the abdomen's edge
LOWEST_LUNG_CENTRE = 0.8  # of the body's height: dark regions centred lower are bowel gas
DILATION_PX = 4  # at WORK_SIZE


@dataclass
class LungFieldResult:
    mask: np.ndarray | None  # bool [H, W] at the input size; None when segmentation failed
    reason: str = ""  # why it failed (empty on success)

    @property
    def ok(self) -> bool:
        return self.mask is not None


def _resize(array: np.ndarray, shape: tuple[int, int], order: int) -> np.ndarray:
    zoom = (shape[0] / array.shape[0], shape[1] / array.shape[1])
    out = ndimage.zoom(array.astype(np.float32), zoom, order=order, mode="nearest", grid_mode=True)
    return out[:shape[0], :shape[1]]


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins)
    hist = hist.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mean_low = np.cumsum(hist * centres) / np.maximum(weight_low, 1e-12)
    mean_high = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(weight_high, 1e-12)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[int(np.argmax(between[:-1]))])


def darkest_class_threshold(values: np.ndarray, bins: int = 64) -> float:
    """Upper bound of the darkest of three intensity classes (three-class Otsu: air-filled lung, soft tissue,
    bone and mediastinum), found by trying every pair of cuts on a coarse histogram."""
    hist, edges = np.histogram(values, bins=bins)
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    centres = (edges[:-1] + edges[1:]) / 2
    cum_p = np.concatenate([[0.0], np.cumsum(p)])
    cum_m = np.concatenate([[0.0], np.cumsum(p * centres)])
    best, best_cut = -1.0, 1
    for a in range(1, bins - 1):
        for b in range(a + 1, bins):
            score = 0.0
            for lo, hi in ((0, a), (a, b), (b, bins)):
                w = cum_p[hi] - cum_p[lo]
                if w > 0:
                    score += (cum_m[hi] - cum_m[lo]) ** 2 / w
            if score > best:
                best, best_cut = score, a
    return float(edges[best_cut])


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return x * x + y * y <= radius * radius


def _convex_hull(region: np.ndarray) -> np.ndarray:
    points = np.argwhere(region)
    if len(points) < 4:
        return region
    try:
        hull = Delaunay(points)
    except Exception:  # degenerate (collinear) regions: keep them as they are
        return region
    inside = hull.find_simplex(np.indices(region.shape).reshape(2, -1).T) >= 0
    return inside.reshape(region.shape) | region


def _gray(gray: np.ndarray) -> np.ndarray:
    image = np.asarray(gray, dtype=np.float32)
    return image.mean(axis=2) if image.ndim == 3 else image


def _working_copy(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The smoothed WORK_SIZE copy stretched so its 2nd-98th percentiles span [0, 1], and that span before."""
    small = ndimage.gaussian_filter(_resize(image, (WORK_SIZE, WORK_SIZE), order=1), sigma=2.0)
    low, high = np.percentile(small, [2, 98])
    return np.clip((small - low) / max(high - low, 1e-6), 0.0, 1.0), float(high - low)


def lung_field_mask(gray: np.ndarray) -> LungFieldResult:
    """Lung fields of a frontal chest X-ray given as a 2-D display image (bright = dense, any dtype)."""
    image = _gray(gray)
    if image.ndim != 2 or min(image.shape) < 32:
        return LungFieldResult(None, "not a 2-D image of at least 32 px")
    small, span = _working_copy(image)
    if span < 1e-6:
        return LungFieldResult(None, "a flat image")
    body = _body_region(small)
    if body.sum() < 0.3 * small.size:
        return LungFieldResult(None, "no body region (the image is mostly background)")
    # Inside the body the lungs are the darkest class; a closing joins the pieces the ribs cut them into.
    dark = (small < darkest_class_threshold(small[body])) & body
    dark = ndimage.binary_opening(dark, structure=_disk(2))
    dark = ndimage.binary_closing(dark, structure=_disk(CLOSING_PX)) & body
    labels, count = ndimage.label(dark)
    rows, cols = np.nonzero(body)
    top, bottom = rows.min(), rows.max()
    midline = float(np.median(cols))
    total = float(small.size)
    best: dict[str, tuple[float, int]] = {}
    for index, (area, (row, col)) in enumerate(
            zip(ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1)),
                ndimage.center_of_mass(dark, labels, index=np.arange(1, count + 1))), start=1):
        if row > top + LOWEST_LUNG_CENTRE * (bottom - top):  # bowel gas below the lungs
            continue
        side = "left" if col < midline else "right"
        if side not in best or area > best[side][0]:
            best[side] = (float(area), index)
    mask = np.zeros_like(dark)
    for side in ("left", "right"):
        area, index = best.get(side, (0.0, 0))
        if not MIN_LUNG_FRACTION <= area / total <= MAX_LUNG_FRACTION:
            return LungFieldResult(None, f"the {side} lung region covers {area / total:.1%} of the image")
        region = ndimage.binary_fill_holes(labels == index)
        hull = _convex_hull(region)
        # A lung is nearly convex and stays below the neck; leaks into shoulders, neck or the other side are not.
        solidity = region.sum() / max(hull.sum(), 1)
        if solidity < MIN_SOLIDITY:
            return LungFieldResult(None, f"the {side} lung region is irregular (solidity {solidity:.2f})")
        if hull[:EDGE_MARGIN_PX].any() or hull[-EDGE_MARGIN_PX:].any():
            return LungFieldResult(None, f"the {side} lung region reaches the top or bottom edge (a leak)")
        mask |= hull
    mask = ndimage.binary_dilation(mask, structure=_disk(DILATION_PX)) & body
    full = _resize(mask.astype(np.float32), image.shape, order=1) >= 0.5
    return LungFieldResult(full)


def body_mask(gray: np.ndarray) -> np.ndarray:
    """The patient (everything but the border-connected dark background) at the input size; robust where the
    lung-field mask is not, so the check "heatmap mass outside the patient" runs on every image."""
    image = _gray(gray)
    small, _ = _working_copy(image)
    return _resize(_body_region(small).astype(np.float32), image.shape, order=1) >= 0.5


def _body_region(small: np.ndarray) -> np.ndarray:
    """Everything but the dark background connected to the image border (air outside the patient)."""
    dark = small < otsu_threshold(small)
    labels, _ = ndimage.label(dark)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, border[border > 0])
    return ndimage.binary_fill_holes(~background)


def mass_inside(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of a non-negative heatmap's total mass that falls inside the mask (same shape)."""
    heat = np.clip(np.asarray(heatmap, dtype=np.float64), 0.0, None)
    total = heat.sum()
    if total <= 0:
        return float("nan")
    return float(heat[mask].sum() / total)


def build_atlas(masks: list[np.ndarray]) -> np.ndarray:
    """Mean of lung-field masks resampled to WORK_SIZE x WORK_SIZE: the probability that a pixel position (in
    the squashed image frame the model sees) is lung. Built from images the segmenter outlined cleanly, it gives
    lung fields for images it cannot outline: consolidated pneumonia lungs, the cases that matter most."""
    if not masks:
        raise ValueError("the atlas needs at least one lung-field mask")
    stack = [_resize(m.astype(np.float32), (WORK_SIZE, WORK_SIZE), order=1) for m in masks]
    return np.clip(np.mean(stack, axis=0), 0.0, 1.0)


def atlas_mask(atlas: np.ndarray, shape: tuple[int, int], level: float = 0.5) -> np.ndarray:
    """The atlas's lung fields (probability >= level) at an image's size (squash frame, like the model input)."""
    return _resize(atlas, shape, order=1) >= level
