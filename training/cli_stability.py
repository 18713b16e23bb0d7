"""`python -m training.cli_stability --bundle DIR --set NAME=DIR [--set NAME=DIR ...] [--write-card]`: measures
how much the bundle's P(positive) moves under noise, JPEG, 8-bit rounding and the resampling filter on each set
(training.stability; the same measurement as bench/bench_perturbation.py) and prints JSON; `--write-card` stores
it as the card's `stability` block, so the card says how stable its answers are and on which films.

`--copies NAME=DIR` compares the films of set NAME with their resized copies under DIR (CLASS/<stem>.jpg).
Exit status: 0 done, 2 bad arguments or an unusable bundle/data (the reason on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from inference.errors import XRayViewError

PROG = "python -m training.cli_stability"


def _named(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name.strip(), Path(folder.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--set", dest="sets", type=_named, action="append", required=True, metavar="NAME=DIR",
                        help="a folder of films (searched recursively), named for the card (repeatable)")
    parser.add_argument("--copies", type=_named, action="append", default=[], metavar="NAME=DIR",
                        help="the resized copies of set NAME's films, as DIR/CLASS/<stem>.jpg")
    parser.add_argument("--limit", type=int, default=None, help="at most N films per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-card", action="store_true", help="store the result as the card's stability block")
    return parser


UNMARKED = ("calls_flipped_unmarked",)  # with a call margin in the card: flips of calls not marked near


def card_block(sets: list[dict], command: str, seed: int) -> dict:
    """The card's `stability` block: per set, each perturbation's |dp| statistics and flips, compact."""
    keep = ("median_abs_dp", "mean_abs_dp", "max_abs_dp", "calls_flipped", "expected_calls_flipped")
    out = []
    for entry in sets:
        row = {"dataset": entry["dataset"], "folder": entry["folder"], "n": entry["films"],
               "threshold": round(float(entry["threshold"]), 6),
               "changes": {name: {k: change[k] for k in keep + UNMARKED if k in change}
                           for name, change in entry["changes"].items()},
               "meets_targets": entry["meets_targets"]}
        if entry.get("near_threshold"):  # the card's call margin: films marked near the threshold
            row["near_threshold"] = entry["near_threshold"]["films"]
        if entry.get("full_resolution_vs_copy"):
            copy = entry["full_resolution_vs_copy"]
            row["full_resolution_vs_copy"] = {"n": copy["n"], **{k: copy[k] for k in keep}}
        if entry.get("ood_warned") is not None:
            row["ood_warned"] = entry["ood_warned"]["n"]
        out.append(row)
    return {"measured_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "command": command,
            "seed": seed, "targets": sets[0]["targets"] if sets else {}, "sets": out}


def main(argv: list[str] | None = None) -> int:
    from training.export import command_line

    args = build_parser().parse_args(argv)
    copies = dict(args.copies)
    unknown = sorted(set(copies) - {name for name, _ in args.sets})
    if unknown:
        print(f"{PROG}: error: --copies names no --set: {', '.join(unknown)}", file=sys.stderr)
        return 2
    try:
        from inference.bundle import store_card_block
        from inference.predictor import Predictor
        from training.stability import measure_folder

        predictor = Predictor(args.bundle, device="cpu")
        if predictor.bundle.positive_label is None:
            raise XRayViewError(f"{args.bundle}: the stability check needs a two-class model with a positive label")
        measured = []
        for name, folder in args.sets:
            if not folder.is_dir():
                raise XRayViewError(f"{folder}: not a folder")
            try:
                result = measure_folder(predictor, folder, copies.get(name), limit=args.limit, seed=args.seed)
            except ValueError as exc:
                raise XRayViewError(str(exc)) from None
            measured.append({"dataset": name, "folder": folder.name, **result})
        block = card_block(measured, command_line(argv, PROG), args.seed)
        if args.write_card:
            store_card_block(args.bundle, "stability", block)
    except XRayViewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"stability": block, "details": measured}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
