"""One film, one answer: how much P(positive) moves under changes no radiologist would call a different film.

Each perturbation maps a film to a changed model input; the film's P on that input is compared with its P on
the plain input (`inference.preprocess.model_input_u8`, the pipeline every path uses):
- Gaussian noise of 0.5, 1 and 2 grey levels (of 255) on the 8-bit model input, rounded to 8 bits again (a noisy
  8-bit file at the model's size);
- a JPEG round trip at quality 95, 90 and 75 of the model input, and of the full-size film (8-bit) before the
  pipeline resizes it;
- the 8-bit rounding of the model input (P of the unrounded resize vs the rounded one);
- the whole film 2 grey levels brighter, 1% more contrast, or its 8 bits stored x16 in a 12-bit DICOM shown
  through window 2048/4096;
- the resampling filter that reaches the model size: area (box) and Lanczos instead of the pipeline's antialiased
  bilinear (no change for films already at the model size);
- with copies given: the full-resolution original vs its own resized copy (the training data are such copies).

Noise is seeded per film (`seed` + film index), so a run repeats exactly. Used by bench/bench_perturbation.py and
the model card's stability block; the targets are issue 24's.
"""
from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inference.preprocess import InputSpec, model_geometry, model_input_u8, normalise, placement

NOISE_LEVELS = (0.5, 1.0, 2.0)  # grey levels of 255
JPEG_QUALITIES = (95, 90, 75)
RESAMPLE_FILTERS = {"area": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS}
# issue 24.3: noise of 1 grey level and JPEG q >= 75 at most 0.01 median and 0.05 max |dp|, no call flip;
# a full-resolution original within 0.02 mean and 0.05 max of its 224 px copy
TARGET_MEDIAN, TARGET_MAX = 0.01, 0.05
COPY_TARGET_MEAN, COPY_TARGET_MAX = 0.02, 0.05
TARGETED = ("noise_1", "jpeg_95_model", "jpeg_90_model", "jpeg_75_model", "jpeg_95_full", "jpeg_90_full",
            "jpeg_75_full")


def _jpeg(array_u8: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(array_u8, mode="L").save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("L"), dtype=np.uint8)


def _to_u8(display01: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(display01, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def _resized_with(display01: np.ndarray, spec: InputSpec, resample: Image.Resampling) -> np.ndarray:
    """`model_input_u8` with another resampling filter (squash or letterbox geometry as the card says)."""
    place = placement(spec, display01.shape)
    resized = Image.fromarray(np.ascontiguousarray(display01, dtype=np.float32), mode="F").resize(
        (place.width, place.height), resample)
    canvas = np.zeros((spec.height, spec.width), dtype=np.float32)
    canvas[place.top:place.top + place.height, place.left:place.left + place.width] = np.clip(
        np.asarray(resized), 0.0, 1.0)
    return _to_u8(canvas)


# name -> (film display [0, 1], plain 8-bit model input, spec, rng) -> model input (8-bit, or float for rounding)
Perturbation = Callable[[np.ndarray, np.ndarray, InputSpec, np.random.Generator], np.ndarray]


def perturbations() -> dict[str, Perturbation]:
    table: dict[str, Perturbation] = {}
    for level in NOISE_LEVELS:
        table[f"noise_{level:g}"] = lambda d, x, s, rng, level=level: _to_u8(
            x / 255.0 + rng.normal(0.0, level / 255.0, x.shape))
    for quality in JPEG_QUALITIES:
        table[f"jpeg_{quality}_model"] = lambda d, x, s, rng, q=quality: _jpeg(x, q)
        table[f"jpeg_{quality}_full"] = lambda d, x, s, rng, q=quality: model_input_u8(
            _jpeg(_to_u8(d), q).astype(np.float32) / 255.0, s)
    table["rounding_8bit"] = lambda d, x, s, rng: model_geometry(d, s)  # float: the input before rounding
    # photometric changes of the whole film (the card's per-image normalisation should make them no-ops)
    table["brightness_+2"] = lambda d, x, s, rng: model_input_u8(np.clip(d + 2.0 / 255.0, 0.0, 1.0), s)
    table["contrast_x1.01"] = lambda d, x, s, rng: model_input_u8(
        np.clip((d - d.mean()) * 1.01 + d.mean(), 0.0, 1.0).astype(np.float32), s)
    # the same 8-bit pixels stored x16 in 12 bits and shown through window 2048/4096 (DICOM linear VOI:
    # 16 v / 4095): 0.4% less contrast than v / 255
    table["dicom_12bit_window"] = lambda d, x, s, rng: model_input_u8(
        np.clip(np.round(d * 255.0) * 16.0 / 4095.0, 0.0, 1.0).astype(np.float32), s)
    for name, resample in RESAMPLE_FILTERS.items():
        table[f"resample_{name}"] = lambda d, x, s, rng, r=resample: _resized_with(d, s, r)
    return table


@dataclass
class StabilityResult:
    films: int
    threshold: float
    changes: dict[str, dict] = field(default_factory=dict)
    copies: dict | None = None
    probabilities: np.ndarray | None = None  # each film's unperturbed P(positive), in the order given
    # each perturbation's P(positive) per film, in the same order
    changed_probabilities: dict[str, np.ndarray] = field(default_factory=dict)
    near_threshold: dict | None = None  # with a call margin: the margin and how many films it marks

    def meets_targets(self) -> bool:
        targeted = [self.changes[name]["meets_target"] for name in TARGETED if name in self.changes]
        copies = self.copies["meets_target"] if self.copies else True
        return all(targeted) and copies

    def to_dict(self) -> dict:
        return {"films": self.films, "threshold": self.threshold,
                "targets": {"median_abs_dp": TARGET_MEDIAN, "max_abs_dp": TARGET_MAX, "calls_flipped": 0,
                            "applies_to": list(TARGETED), "copy_mean_abs_dp": COPY_TARGET_MEAN,
                            "copy_max_abs_dp": COPY_TARGET_MAX},
                "changes": self.changes, "full_resolution_vs_copy": self.copies,
                "near_threshold": self.near_threshold, "meets_targets": self.meets_targets()}


class ProbabilityOf:
    """P(positive) of a bundle's model for batches of model inputs (8-bit, or float in [0, 1] for the rounding check);
    with `view` (a name of inference.architectures.VIEW_TRANSFORMS), of that view of each input."""

    def __init__(self, model: torch.nn.Module, bundle, spec: InputSpec, device: torch.device | str = "cpu",
                 batch_size: int = 32, view: str | None = None):
        from inference.architectures import VIEW_TRANSFORMS

        self.model, self.bundle, self.spec, self.device = model.eval(), bundle, spec, torch.device(device)
        self.index = bundle.labels.index(bundle.positive_label)
        self.batch_size = batch_size
        self.view = VIEW_TRANSFORMS[view] if view else (lambda x: x)

    def __call__(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        out = []
        for start in range(0, len(inputs), self.batch_size):
            chunk = [np.asarray(a, dtype=np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)
                     for a in inputs[start:start + self.batch_size]]
            with torch.inference_mode():
                logits = self.model(self.view(normalise(np.stack(chunk), self.spec)).to(self.device)).float().cpu()
            out.append(self.bundle.probabilities(logits)[:, self.index].numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1.0 - 1e-7)
    return np.log(p) - np.log1p(-p)


def expected_flips(base: np.ndarray, changed: np.ndarray, threshold: float) -> float:
    """The call flips to expect from this model's moves on this set's films, whatever the one draw gave: each film
    flips when a move as large as one drawn from the set's moves (in log-odds, where a film's move does not shrink
    near 0 or 1) carries it across its own distance to the threshold, towards it for half of the moves.

    The count of one draw depends on where a few films happen to sit: a film 0.001 from the threshold flips under
    any model that moves at all. This estimate weighs every film's margin against every move, so two models with
    the same moves get the same number."""
    margins = np.abs(log_odds(base) - float(log_odds(np.array([threshold]))[0]))
    return _expected_crossings(np.abs(log_odds(changed) - log_odds(base)), margins)


def _expected_crossings(moves: np.ndarray, distances: np.ndarray) -> float:
    """Sum over films of the share of `moves` larger than the film's distance, halved (half the moves go the other
    way)."""
    moves = np.sort(moves)
    larger = len(moves) - np.searchsorted(moves, distances, side="right")
    return float(0.5 * larger.sum() / max(len(moves), 1))


def undecided_band(base: np.ndarray, changed: np.ndarray, is_positive: np.ndarray, threshold: float,
                   half_width: float) -> dict:
    """What a call that says "undecided" within `half_width` log-odds of the threshold would cost and buy on these
    films under one perturbation (`changed`): how many films it leaves undecided, how many calls still turn into
    the opposite call (drawn, and expected as in `expected_flips`: past the band's far edge), and sensitivity and
    specificity of the films it still calls. A measurement for the product decision, not the product's rule."""
    y = np.asarray(is_positive, dtype=bool)
    z, moved, edge = log_odds(base), log_odds(changed), float(log_odds(np.array([threshold]))[0])
    margins = np.abs(z - edge)
    decided = margins > half_width
    opposite = decided & (np.abs(moved - edge) > half_width) & (np.sign(moved - edge) != np.sign(z - edge))
    called = z >= edge

    def rate(hits: np.ndarray) -> float | None:
        return round(float(hits.mean()), 4) if hits.size else None

    return {"half_width_log_odds": half_width,
            "band_p": [round(float(1 / (1 + np.exp(-(edge - half_width)))), 3),
                       round(float(1 / (1 + np.exp(-(edge + half_width)))), 3)],
            "undecided": int((~decided).sum()), "undecided_positive": int((~decided & y).sum()),
            "opposite_calls_drawn": int(opposite.sum()),
            "opposite_calls_expected": round(_expected_crossings(np.abs(moved - z), margins[decided] + half_width), 2),
            "sensitivity_of_decided": rate(called[decided & y]), "specificity_of_decided": rate(~called[decided & ~y])}


# the changes no reader sees that a call must outlast (issue 24's: noise of 1 grey level, JPEG q >= 75 at the
# model's size), and the share of films' moves the card's call margin covers
MARGIN_CHANGES = ("noise_1", "jpeg_95_model", "jpeg_90_model", "jpeg_75_model")
MARGIN_QUANTILE = 0.99


def log_odds_moves_of(base: np.ndarray, changed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each change's per-film move in log-odds, from the films' P(positive) before and after it."""
    z = log_odds(base)
    return {name: log_odds(p) - z for name, p in changed.items()}


def call_margin(base: np.ndarray, changed: dict[str, np.ndarray], quantile: float = MARGIN_QUANTILE) -> dict:
    """The card's call margin from one set's P(positive) before and after each change (`margin_of_moves`)."""
    return margin_of_moves(log_odds_moves_of(base, changed), quantile)


def margin_block(moves: dict[str, np.ndarray], temperature: float, measured_on: str, command: str) -> dict:
    """The card's `call_margin` block from each change's per-film moves in log-odds at `temperature` (the tool's
    and the training run's alike)."""
    from datetime import datetime, timezone

    return {**margin_of_moves(moves), "temperature": round(float(temperature), 6), "measured_on": measured_on,
            "n": len(next(iter(moves.values()))),
            "measured_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "command": command}


def margin_of_moves(moves: dict[str, np.ndarray], quantile: float = MARGIN_QUANTILE) -> dict:
    """The call margin from each change's per-film moves in log-odds (label-free): per change, the `quantile` of
    the films' |move|; the margin is the largest, rounded up to a thousandth. A film whose log-odds lie further than
    that from the threshold's turns under one of these changes for fewer than (1 - quantile) / 2 of films like
    these."""
    if not moves:
        raise ValueError("no changes to measure a call margin from")
    per_change = {name: float(np.quantile(np.abs(np.asarray(move, dtype=np.float64)), quantile))
                  for name, move in moves.items()}
    # rounded up, so the stored band is never narrower than the moves (less float noise: 0.495000001 is 0.495)
    return {"half_width_log_odds": float(np.ceil(max(per_change.values()) * 1000.0 - 1e-6) / 1000.0),
            "quantile": float(quantile), "changes": list(moves),
            "per_change": {name: round(value, 4) for name, value in per_change.items()}}


def _summary(base: np.ndarray, changed: np.ndarray, threshold: float, names: Sequence[str],
             targeted: bool, near: np.ndarray | None = None) -> dict:
    gaps = np.abs(changed - base)
    flips = (changed >= threshold) != (base >= threshold)
    worst = int(np.argmax(gaps))
    row = {"median_abs_dp": round(float(np.median(gaps)), 5), "mean_abs_dp": round(float(gaps.mean()), 5),
           "max_abs_dp": round(float(gaps.max()), 5), "calls_flipped": int(flips.sum()),
           "expected_calls_flipped": round(expected_flips(base, changed, threshold), 2),
           "flipped_films": [names[i] for i in np.flatnonzero(flips)][:20],
           "worst": {"film": names[worst], "p": round(float(base[worst]), 4),
                     "p_changed": round(float(changed[worst]), 4)}}
    if near is not None:  # flips of calls the product did not mark as near the threshold (the margin's promise)
        row["calls_flipped_unmarked"] = int((flips & ~near).sum())
    if targeted:
        row["meets_target"] = bool(np.median(gaps) <= TARGET_MEDIAN and gaps.max() <= TARGET_MAX
                                   and not flips.any())
    return row


def perturbed_inputs(images_u8: np.ndarray, spec: InputSpec, changes: Sequence[str] = MARGIN_CHANGES,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """Each change of the model-size inputs `images_u8` (N x H x W, 8-bit, as the training cache holds them), film
    i seeded `seed + i` as `measure` draws it. Only changes of the model input itself (noise, JPEG at the model's
    size): the cache has no full-size film to change."""
    table = perturbations()
    unknown = [name for name in changes
               if name not in table or not (name.startswith("noise_") or name.endswith("_model"))]
    if unknown:
        raise ValueError(f"not a change of the model input: {', '.join(unknown)}")
    out = {name: np.empty_like(images_u8, dtype=np.uint8) for name in changes}
    for i, x in enumerate(np.asarray(images_u8, dtype=np.uint8)):
        rng = np.random.default_rng(seed + i)
        for name in changes:
            out[name][i] = table[name](None, x, spec, rng)
    return out


def marked_near(probabilities: np.ndarray, threshold: float, margin: float) -> np.ndarray:
    """Which films' calls the product marks as near the threshold (inference.results.near_threshold)."""
    return np.abs(log_odds(probabilities) - float(log_odds(np.array([threshold]))[0])) < margin


def measure(probability: ProbabilityOf, films: Sequence[tuple[str, np.ndarray]], threshold: float,
            seed: int = 0, only: Sequence[str] | None = None,
            copies: Sequence[np.ndarray | None] | None = None,
            progress: Callable[[int, int], None] | None = None, margin: float | None = None) -> StabilityResult:
    """`films`: (name, rendered display [0, 1]) pairs; `copies`: the same films' resized copies as rendered
    displays (None where a film has none). Returns every perturbation's |dp| statistics and call flips; with
    `margin` (the card's call margin in log-odds), also how many films' calls are marked near the threshold and,
    per perturbation, the flips of calls that were not."""
    table = perturbations()
    if only:
        unknown = sorted(set(only) - set(table))
        if unknown:
            raise ValueError(f"unknown perturbation(s) {', '.join(unknown)}; known: {', '.join(table)}")
        table = {name: table[name] for name in only}
    spec = probability.spec
    names = [name for name, _ in films]
    plain: list[np.ndarray] = []
    changed: dict[str, list[np.ndarray]] = {name: [] for name in table}
    for i, (_, display) in enumerate(films):
        x = model_input_u8(display, spec)
        plain.append(x)
        rng = np.random.default_rng(seed + i)
        for name, change in table.items():
            changed[name].append(change(display, x, spec, rng))
        if progress is not None:
            progress(i + 1, len(films))
    base = probability(plain)
    result = StabilityResult(films=len(films), threshold=threshold, probabilities=base)
    near = None
    if margin is not None:
        near = marked_near(base, threshold, margin)
        result.near_threshold = {"margin_log_odds": round(float(margin), 4), "films": int(near.sum())}
    for name, inputs in changed.items():
        result.changed_probabilities[name] = probability(inputs)
        result.changes[name] = _summary(base, result.changed_probabilities[name], threshold, names, name in TARGETED,
                                        near)
    if copies is not None:
        pairs = [(i, c) for i, c in enumerate(copies) if c is not None]
        if pairs:
            original = base[[i for i, _ in pairs]]
            copy_p = probability([model_input_u8(c, spec) for _, c in pairs])
            gaps = np.abs(original - copy_p)
            row = _summary(copy_p, original, threshold, [names[i] for i, _ in pairs], False)
            row["meets_target"] = bool(gaps.mean() <= COPY_TARGET_MEAN and gaps.max() <= COPY_TARGET_MAX)
            row["n"] = len(pairs)
            result.copies = row
    return result


def film_paths(folder: Path, limit: int | None = None) -> list[Path]:
    """The image files under `folder` (recursive, sorted); with `limit`, spread over the sorted list so every
    class folder is sampled."""
    from inference.image_files import find_images

    return spread(sorted(find_images(folder)), limit)


def spread(paths: list[Path], limit: int | None) -> list[Path]:
    """At most `limit` of `paths`, evenly spread over the list (so every class folder of a sorted list is sampled)."""
    if not limit or limit >= len(paths):
        return paths
    step = len(paths) / limit
    return [paths[int(i * step)] for i in range(limit)]


def measure_folder(predictor, folder: Path, copies_root: Path | None = None, limit: int | None = None,
                   seed: int = 0, only: Sequence[str] | None = None, guard: bool = True,
                   bands: Sequence[float] = ()) -> dict:
    """`measure` over the films of a folder with a `inference.predictor.Predictor`, plus (with `guard`) how many
    of them the OOD guard withholds. Unreadable files are listed, never fatal. With `bands` (log-odds half-widths)
    and a labelled folder: `undecided_band` under one grey level of noise for each."""
    from inference.image_io import load_image

    loaded, copies, unreadable, warned = [], [], [], []
    for path in film_paths(folder, limit):
        name = path.relative_to(folder).as_posix()
        try:
            image = load_image(path)
        except Exception as exc:  # noqa: BLE001 - reported per file; the measurement goes on
            unreadable.append({"file": name, "reason": str(exc)})
            continue
        loaded.append((name, image.render()))
        if guard and predictor.predict(image, cam_method=None).ood.warning:
            warned.append(name)
        if copies_root is not None:
            copy = copy_of(path, copies_root)
            copies.append(None if copy is None else load_image(copy).render())
    if not loaded:
        raise ValueError(f"{folder}: no readable image files")
    probability = ProbabilityOf(predictor.model, predictor.bundle, predictor.spec, predictor.device)
    result = measure(probability, loaded, predictor.threshold, seed=seed, only=only,
                     copies=copies if copies_root is not None else None,
                     margin=getattr(predictor, "call_margin", None))
    names = [name for name, _ in loaded]
    truth = labelled_truth(names, predictor.positive_label, predictor.labels)
    band_rows = None
    if bands and truth is not None and "noise_1" in result.changed_probabilities:
        band_rows = {"perturbation": "noise_1", "rows": [
            undecided_band(result.probabilities, result.changed_probabilities["noise_1"], truth, predictor.threshold,
                           half_width) for half_width in bands]}
    return {**result.to_dict(), "unperturbed": unperturbed_metrics(
                names, result.probabilities, predictor.threshold, predictor.positive_label, predictor.labels),
            "undecided_band": band_rows,
            "unreadable": unreadable,
            "ood_warned": {"n": len(warned), "of": len(loaded), "films": warned} if guard else None}


def labelled_truth(names: Sequence[str], positive: str, labels: Sequence[str]) -> np.ndarray | None:
    """Whether each film is positive, when every film sits in a folder named after a label (DIR/CLASS/film) and both
    classes are there; else None."""
    classes = [Path(name).parts[0] if len(Path(name).parts) > 1 else None for name in names]
    if any(c not in labels for c in classes):
        return None
    truth = np.array([c == positive for c in classes])
    return None if truth.all() or not truth.any() else truth


def unperturbed_metrics(names: Sequence[str], probabilities: np.ndarray, threshold: float, positive: str,
                        labels: Sequence[str]) -> dict | None:
    """AUC and the call's accuracy / sensitivity / specificity at `threshold` on the unperturbed films, when every
    film sits in a folder named after a label (DIR/CLASS/film) and both classes are there; else None. The same
    run then says what stability costs in ranking."""
    truth = labelled_truth(names, positive, labels)
    if truth is None:
        return None
    from training.metrics import binary_metrics

    measured = binary_metrics(truth.astype(int), probabilities, threshold, ("other", positive))
    return {"n": len(names), **{key: round(float(measured[key]), 4)
                                for key in ("auc", "accuracy", "sensitivity", "specificity")}}


def copy_of(original: Path, copies_root: Path) -> Path | None:
    """The resized copy of a full-resolution sample in the training folder: CLASS/<stem>.jpg (Kermany layout)."""
    for suffix in (".jpg", ".jpeg", ".png"):
        candidate = copies_root / original.parent.name / (original.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def moves_alike(moves: Sequence[tuple[str, np.ndarray]]) -> list[dict]:
    """For every pair of models: the correlation over the films of their changes in log-odds under one perturbation
    (each film given the same draw), the spread of each, and the spread of the pair's mean. Separately trained
    networks move nearly independently and an ensemble of them averages the moves down; fine-tunes of one start move
    together (docs/model-development.md, c33)."""
    rows = []
    for (a, move_a), (b, move_b) in itertools.combinations(moves, 2):
        rows.append({"models": [a, b], "correlation": round(float(np.corrcoef(move_a, move_b)[0, 1]), 3),
                     "sd_log_odds": [round(float(move_a.std()), 4), round(float(move_b.std()), 4)],
                     "sd_of_mean": round(float(((move_a + move_b) / 2).std()), 4)})
    return rows


def log_odds_moves(predictor, films: Sequence[tuple[str, np.ndarray]], change: str, seed: int = 0,
                   view: str | None = None) -> np.ndarray:
    """Each film's change in log-odds under `change` (a name of `perturbations()`), seeded as `measure` draws it;
    with `view`, of that view of the film and of the changed film (the same draw, viewed)."""
    probability = ProbabilityOf(predictor.model, predictor.bundle, predictor.spec, predictor.device, view=view)
    result = measure(probability, films, predictor.threshold, seed=seed, only=[change])
    return log_odds(result.changed_probabilities[change]) - log_odds(result.probabilities)
