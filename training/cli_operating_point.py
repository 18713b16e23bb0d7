"""`python -m training.cli_operating_point --bundle DIR --data ROOT [--target-sensitivity S] [--out DIR]`:
re-chooses an existing bundle's operating threshold on its own validation split (training.operating_point) and
measures every threshold-dependent number of the card again on test, without retraining. Prints a JSON summary.

Exit status: 0 done, 2 bad arguments or an unusable bundle/data (the reason on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.errors import XRayViewError

PROG = "python -m training.cli_operating_point"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the data root the bundle's manifest refers to")
    parser.add_argument("--target-sensitivity", type=float, default=None, help="default: Youden's J")
    parser.add_argument("--out", type=Path, default=None, help="write here instead of replacing --bundle")
    return parser


def main(argv: list[str] | None = None) -> int:
    from training.export import command_line
    from training.operating_point import rechoose

    args = build_parser().parse_args(argv)
    try:
        summary = rechoose(args.bundle, args.data, args.target_sensitivity, args.out,
                           command=command_line(argv, PROG))
    except XRayViewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
