"""Does the operating point fitted on validation carry over to an external set? Prints JSON.

The card's threshold is 1/(1+miss cost) on P(positive) calibrated by one temperature fitted on the validation
split. This scores a bundle on its own validation and test splits (read back from its data manifest) and on an
external labelled folder (default: external-a), then reports per set and class the mean and spread of the
model's log-odds, and sensitivity / specificity / ECE at the card's threshold under two calibrations fitted on
validation only: the card's temperature, and a temperature plus a bias (Platt scaling). When validation's films
sit much further from the boundary than the external set's, no calibration fitted on validation gives the
external set the card's trade-off: that is a property of the data, and only a site's own films can fit it
(`xrayview-calibrate`). It also gives the temperature's 95% bootstrap interval over the validation films and every
set's rates at both ends of it (`temperature_ci95_low` / `_high`): how far the card's rates can move with the
validation draw alone. Not a speed benchmark.

    .venv/bin/python bench/bench_operating_point_transfer.py [--model DIR] [--data DIR] [--external DIR]
        [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data" / "chest-xray-pneumonia"


def split_folder(bundle_dir: Path, data_root: Path, split: str, into: Path) -> Path:
    """A DIR/CLASS/* folder of links to the films the bundle's data manifest puts in `split`."""
    from training.data_manifest import read_manifest

    folder = into / split
    for row in read_manifest(bundle_dir):
        if row.split == split:
            link = folder / row.label / Path(row.relpath).name
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(row.path(data_root).resolve(), link)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="bundle folder (default: the bundled default)")
    parser.add_argument("--data", type=Path, default=SHARED / "train",
                        help="the training folder the bundle's data_manifest.csv paths are relative to")
    parser.add_argument("--external", type=Path, default=SHARED / "external-a", help="labelled DIR/CLASS/* folder")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    args = parser.parse_args(argv)

    import numpy as np

    from inference.bundle_catalog import default_bundle_dir
    from training.calibration import bootstrap_temperature_interval, fit_scale_and_bias
    from training.evaluate import score_bundle
    from training.metrics import binary_metrics, expected_calibration_error

    bundle_dir = args.model or default_bundle_dir()
    with tempfile.TemporaryDirectory() as links:
        folders = {split: split_folder(bundle_dir, args.data, split, Path(links))
                   for split in ("val", "test")}
        folders["external"] = args.external
        scored = {name: score_bundle(bundle_dir, folder, device="cpu") for name, folder in folders.items()}
    bundle = scored["val"].bundle
    positive = bundle.labels.index(bundle.positive_label)
    negative_label = bundle.labels[1 - positive]

    def log_odds(name: str) -> tuple[np.ndarray, np.ndarray]:
        logits = scored[name].logits
        return logits[:, positive] - logits[:, 1 - positive], (scored[name].labelled.labels.numpy() == positive)

    val_d, val_y = log_odds("val")
    scale, bias = fit_scale_and_bias(val_d, val_y)
    low, high = bootstrap_temperature_interval(scored["val"].logits, scored["val"].labelled.labels.numpy())
    calibrations = {"temperature": (1.0 / bundle.temperature, 0.0), "temperature_and_bias": (scale, bias),
                    "temperature_ci95_low": (1.0 / low, 0.0), "temperature_ci95_high": (1.0 / high, 0.0)}
    sets = {}
    for name in folders:
        d, y = log_odds(name)
        entry = {"n": int(d.size), "log_odds": {
            label: {"n": int(mask.sum()), "mean": round(float(d[mask].mean()), 3), "sd": round(float(d[mask].std()), 3)}
            for label, mask in ((bundle.positive_label, y), (negative_label, ~y))}}
        for calibration, (a, b) in calibrations.items():
            probs = 1.0 / (1.0 + np.exp(-(a * d + b)))
            metrics = binary_metrics(y.astype(int), probs, bundle.threshold, [negative_label, bundle.positive_label])
            entry[calibration] = {key: round(float(metrics[key]), 4)
                                  for key in ("accuracy", "sensitivity", "specificity")}
            entry[calibration]["ece"] = round(float(expected_calibration_error(y.astype(int), probs)), 4)
        sets[name] = entry
    report = {"benchmark": "operating_point_transfer", "model": bundle.identity(), "threshold": bundle.threshold,
              "fitted_on_validation": {"temperature": round(bundle.temperature, 4), "scale": round(scale, 4),
                                       "bias": round(bias, 4),
                                       "temperature_ci95": [round(low, 4), round(high, 4)]},
              "external": str(args.external), "sets": sets}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
