"""One film, one answer: P(positive) under noise, JPEG, 8-bit rounding and the resampling filter. Prints JSON.

For every film of a folder (default: the 20 full-resolution samples) it measures, per perturbation
(training/stability.py): median, mean and max |dp| and the calls that flip at the card's threshold, against
issue 24's targets (noise of 1 grey level and JPEG q >= 75: median <= 0.01, max <= 0.05, no flip). For the
full-resolution samples it also compares each original with its own 224 px copy in the training folder
(mean <= 0.02, max <= 0.05) and counts the OOD guard's warnings on the originals. Seeded; not a speed benchmark.

    .venv/bin/python bench/bench_perturbation.py [--model DIR] [--data DIR] [--copies DIR|none] [--limit N]
        [--only noise_1,jpeg_75_model] [--seed S] [--low-pass-sigma S] [--no-guard] [--band W[,W...]]
        [--out FILE]

A labelled folder (DIR/CLASS/*, e.g. external-a) works the same; its films are taken in sorted order, and
"unperturbed" then gives the AUC and the call's accuracy / sensitivity / specificity on them (what the stability
costs in ranking), and `--band` what an "undecided" call within W log-odds of the threshold would withhold and
which calls would still turn into the opposite one under noise_1 (`training.stability.undecided_band`; a
measurement for a product decision). `--low-pass-sigma` measures what the card's input low-pass would change
(inference only). For a bundle whose card has a call margin, "near_threshold" says how many films' calls the
product marks as near the threshold, and each perturbation's "calls_flipped_unmarked" the flips of calls it did
not mark (the margin's promise: 0).
`python -m training.cli_stability --write-card` records the same measurement in a bundle's card.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
FULLRES = SHARED / "samples" / "chest-xray-fullres"
TRAIN_COPIES = SHARED / "chest-xray-pneumonia" / "train"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="bundle folder (default: the bundled default)")
    parser.add_argument("--data", type=Path, default=FULLRES, help="folder of films (searched recursively)")
    parser.add_argument("--copies", default=None,
                        help="folder holding each film's resized copy as CLASS/<stem>.jpg (default: the Kermany "
                             "train folder when --data is the full-resolution samples; 'none' to skip)")
    parser.add_argument("--limit", type=int, default=None, help="at most N films, spread over the sorted list")
    parser.add_argument("--only", default=None, help="comma-separated perturbation names (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--low-pass-sigma", type=float, default=None,
                        help="what-if: measure with the card's low-pass replaced by this sigma (pixels; the model "
                             "was not trained with it, so its card's numbers no longer apply)")
    parser.add_argument("--no-guard", action="store_true", help="skip counting the OOD guard's warnings")
    parser.add_argument("--band", default=None, metavar="W[,W...]",
                        help="labelled folders: what an 'undecided' band of these half-widths (log-odds about the "
                             "threshold) would withhold and which calls would still cross under noise_1")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    args = parser.parse_args(argv)

    import torch

    from inference.bundle_catalog import default_bundle_dir
    from inference.predictor import Predictor
    from training.stability import measure_folder

    torch.manual_seed(args.seed)
    started = time.perf_counter()
    predictor = Predictor(args.model or default_bundle_dir(), device="cpu")
    if args.low_pass_sigma is not None:
        predictor.spec = dataclasses.replace(predictor.spec, low_pass_sigma=args.low_pass_sigma)
    copies_root = None
    if args.copies is None and args.data.resolve() == FULLRES.resolve():
        copies_root = TRAIN_COPIES
    elif args.copies not in (None, "none"):
        copies_root = Path(args.copies)
    result = measure_folder(predictor, args.data, copies_root, limit=args.limit, seed=args.seed,
                            only=args.only.split(",") if args.only else None, guard=not args.no_guard,
                            bands=[float(w) for w in args.band.split(",")] if args.band else ())
    report = {"model": predictor.bundle.identity(), "data": str(args.data), "seed": args.seed,
              "command": " ".join(["bench/bench_perturbation.py", *(argv if argv is not None else sys.argv[1:])]),
              **result, "seconds": round(time.perf_counter() - started, 1)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
