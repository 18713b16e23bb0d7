"""One film, one answer: how much P(positive) moves under changes a reader would not call a different film.

On the 20 full-resolution chest samples (shared/data/samples/chest-xray-fullres) it compares P(PNEUMONIA) of the
film as loaded with P after
- a 1% contrast change (1.01 x around the film's mean grey),
- a +2/255 brightness change,
- the 0.4% rendering difference of the same pixels stored as a 12-bit DICOM (values x16, window 2048/4096),
and prints JSON: median and max |dp| per change, how many calls flip, and the card's targets
(issue 13: median <= 0.01, max <= 0.03). Not a speed benchmark.

    .venv/bin/python bench/bench_photometric_stability.py [--model DIR] [--shared-data DIR]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MEDIAN_TARGET, MAX_TARGET = 0.01, 0.03


def changes() -> dict:
    """Each change maps a rendered film (float [0, 1]) to the changed rendering."""
    return {
        "contrast_x1.01": lambda d: np.clip((d - d.mean()) * 1.01 + d.mean(), 0.0, 1.0),
        "brightness_+2/255": lambda d: np.clip(d + 2.0 / 255.0, 0.0, 1.0),
        # the same 8-bit pixels stored x16 in 12 bits and shown through window 2048/4096 (DICOM linear VOI:
        # (x - 2047.5) / 4095 + 0.5 = 16 v / 4095): 0.4% less contrast than v / 255
        "dicom_12bit_window_2048_4096": lambda d: np.clip(np.round(d * 255.0) * 16.0 / 4095.0, 0.0, 1.0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="bundle folder (default: the bundled default)")
    parser.add_argument("--shared-data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    import torch

    from inference.image_io import load_image
    from inference.bundle_catalog import default_bundle_dir
    from inference.predictor import Predictor
    from inference.preprocess import to_model_tensor

    predictor = Predictor(args.model or default_bundle_dir(), device="cpu")
    positive = predictor.bundle.positive_label
    index = predictor.bundle.labels.index(positive)
    films = sorted((args.shared_data / "samples" / "chest-xray-fullres").rglob("*.jpeg"))

    def probability(display: np.ndarray) -> float:
        with torch.no_grad():
            logits = predictor.model(to_model_tensor(display, predictor.spec).to(predictor.device))
        return float(predictor.bundle.probabilities(logits)[0, index])

    gaps: dict[str, list[float]] = {name: [] for name in changes()}
    worst: dict[str, dict] = {}
    flips = {name: 0 for name in changes()}
    threshold = predictor.bundle.threshold
    for film in films:
        display = load_image(film).render()
        base = probability(display)
        for name, change in changes().items():
            changed = probability(change(display).astype(np.float32))
            gaps[name].append(abs(changed - base))
            if abs(changed - base) >= max(gaps[name]):
                worst[name] = {"film": film.name, "p": round(base, 4), "p_changed": round(changed, 4)}
            flips[name] += (changed >= threshold) != (base >= threshold)
    result = {"model": predictor.bundle.identity(), "films": len(films),
              "jpeg_round_trip_quality": predictor.spec.jpeg_quality,
              "targets": {"median_abs_dp": MEDIAN_TARGET, "max_abs_dp": MAX_TARGET}}
    for name, values in gaps.items():
        result[name] = {"median_abs_dp": round(statistics.median(values), 4), "max_abs_dp": round(max(values), 4),
                        "calls_flipped": flips[name], "worst": worst[name],
                        "meets_targets": statistics.median(values) <= MEDIAN_TARGET and max(values) <= MAX_TARGET}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
