"""`python -m training.cli_call_margin --bundle DIR (--data ROOT [--split val] | --folder DIR) [--write-card]`:
measures how far the bundle's answer moves under changes no reader sees (noise of one grey level, JPEG quality
95/90/75 at the model's size; training.stability.MARGIN_CHANGES) on films it was not trained on, without their
labels, and prints the call margin: the 99th percentile of the films' moves in log-odds, the largest over the
changes. `--write-card` stores it as the card's `call_margin` block (and reseals the bundle); every path that
makes a call then marks one whose log-odds lie closer than that to the threshold's as near the threshold
(inference.results.decide_call): the same film re-saved could get the other call.

The films: the bundle's own `--split` of its data manifest (data_manifest.csv: SPLIT,LABEL,RELPATH,...; paths
under ROOT, the training data folder; the validation split by default, which the temperature was fitted on), or
every image under `--folder`. Exit status: 0 done, 2 bad arguments or an unusable bundle/data (the reason on
stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.errors import XRayViewError

PROG = "python -m training.cli_call_margin"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    films = parser.add_mutually_exclusive_group(required=True)
    films.add_argument("--data", type=Path, help="the training data folder the bundle's data_manifest.csv names")
    films.add_argument("--folder", type=Path, help="measure on every image under this folder instead")
    parser.add_argument("--split", default="val", help="the data manifest's split to measure on (default: val)")
    parser.add_argument("--limit", type=int, default=None, help="at most N films")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-card", action="store_true", help="store the margin as the card's call_margin block")
    return parser


def manifest_films(bundle: Path, data: Path, split: str) -> list[Path]:
    """The films of `split` in the bundle's data manifest, under `data`."""
    from training.data_manifest import paths_by_split, read_manifest

    paths = paths_by_split(read_manifest(bundle), data).get(split, [])
    if not paths:
        raise XRayViewError(f"{bundle}: its data manifest has no films in split {split!r}")
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise XRayViewError(f"{data}: {len(missing)} of the {split!r} split's {len(paths)} films are not there "
                            f"(first: {missing[0].name}); --data must be the folder the bundle was trained from")
    return paths


def main(argv: list[str] | None = None) -> int:
    from training.export import command_line

    args = build_parser().parse_args(argv)
    try:
        from inference.bundle import store_card_block
        from inference.image_io import load_image
        from inference.predictor import Predictor
        from training.stability import (MARGIN_CHANGES, ProbabilityOf, film_paths, log_odds_moves_of, margin_block,
                                        measure, spread)

        predictor = Predictor(args.bundle, device="cpu")
        if predictor.bundle.positive_label is None or predictor.threshold is None:
            raise XRayViewError(f"{args.bundle}: a call margin needs a two-class model with a threshold")
        if args.folder is not None:
            if not args.folder.is_dir():
                raise XRayViewError(f"{args.folder}: not a folder")
            paths, measured_on = film_paths(args.folder, args.limit), f"the films under {args.folder.name}"
        else:
            paths = spread(manifest_films(args.bundle, args.data, args.split), args.limit)
            seen = "films it was trained on" if args.split == "train" else "films it was not trained on"
            measured_on = f"the {args.split!r} split of the bundle's data manifest ({seen})"
        films, unreadable = [], []
        for path in paths:
            try:
                films.append((path.name, load_image(path).render()))
            except Exception as exc:  # noqa: BLE001 - reported per file; the measurement goes on
                unreadable.append({"file": str(path), "reason": str(exc)})
        if not films:
            raise XRayViewError("no readable films to measure on")
        probability = ProbabilityOf(predictor.model, predictor.bundle, predictor.spec, predictor.device)
        result = measure(probability, films, predictor.threshold, seed=args.seed, only=list(MARGIN_CHANGES))
        block = margin_block(log_odds_moves_of(result.probabilities, result.changed_probabilities),
                             predictor.bundle.temperature, measured_on, command_line(argv, PROG))
        if args.write_card:
            store_card_block(args.bundle, "call_margin", block)
    except XRayViewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    threshold = predictor.threshold
    from inference.model_card import CallMargin

    low, high = CallMargin.from_card(block).band(threshold, predictor.bundle.temperature)
    print(json.dumps({"call_margin": block, "band_p": [round(low, 4), round(high, 4)], "threshold": threshold,
                      "unreadable": unreadable}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
