"""Full-resolution vs 224 px consistency of the bundled chest model. Prints JSON.

The 20 full-resolution samples (shared/data/samples/chest-xray-fullres) are the originals of 224 px training
copies. For each one this compares P(PNEUMONIA) on the original (resized by the core) with P on its own 224 px
copy, with the card's JPEG round trip (input.jpeg_quality) and without it, and counts OOD guard warnings both
ways. Not a speed benchmark: a quality check with a measured answer.

    .venv/bin/python bench/bench_fullres_consistency.py [--model DIR] [--shared-data DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "resources" / "models" / "chest-xray-pneumonia")
    parser.add_argument("--shared-data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    from inference.image_io import load_image
    from inference.predictor import Predictor

    with_round_trip = Predictor(args.model, device="cpu")
    without = Predictor(args.model, device="cpu")
    without.spec = dataclasses.replace(without.spec, jpeg_quality=None)
    originals = sorted((args.shared_data / "samples" / "chest-xray-fullres").rglob("*.jpeg"))
    copies = [args.shared_data / "chest-xray-pneumonia" / "train" / p.parent.name / (p.stem + ".jpg")
              for p in originals]
    result = {"model": str(args.model), "jpeg_quality": with_round_trip.spec.jpeg_quality, "n": len(originals)}
    reference = [with_round_trip.predict(load_image(c), cam_method=None).probabilities["PNEUMONIA"] for c in copies]
    for name, predictor in (("with_round_trip", with_round_trip), ("without_round_trip", without)):
        predictions = [predictor.predict(load_image(p), cam_method=None) for p in originals]
        gaps = [abs(p.probabilities["PNEUMONIA"] - r) for p, r in zip(predictions, reference)]
        result[name] = {"mean_abs_p_gap": round(statistics.mean(gaps), 4), "max_abs_p_gap": round(max(gaps), 4),
                        "ood_warned": sum(p.ood.warning for p in predictions),
                        "calls_agree_with_copy": sum((p.label == "PNEUMONIA") == (r >= predictor.threshold)
                                                     for p, r in zip(predictions, reference))}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
