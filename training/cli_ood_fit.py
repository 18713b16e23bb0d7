"""`python -m training.cli_ood_fit --bundle DIR --data ROOT [...]`: fits a bundle's out-of-distribution guard
(training.ood_fit) on its training split, thresholds it on validation, measures it on test (and on the sets
given), and writes it into the bundle (or --out). Prints the card's new `ood` block as JSON.

    python -m training.cli_ood_fit --bundle resources/models/NAME --data ../shared/data/chest-xray-pneumonia/train \\
        --expected-body-part CHEST --measure-ood

Exit status: 0 done, 2 bad arguments or an unusable bundle/data (the reason on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.errors import XRayViewError

PROG = "python -m training.cli_ood_fit"


def build_parser() -> argparse.ArgumentParser:
    from training.option_table import GUARD_TOOL_OPTIONS, add_options

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the training data root the manifest refers to")
    parser.add_argument("--out", type=Path, default=None, help="write here instead of replacing --bundle")
    add_options(parser, GUARD_TOOL_OPTIONS, prefix="")
    return parser


def main(argv: list[str] | None = None) -> int:
    from training.export import command_line
    from training.ood_fit import add_guard_to_bundle
    from training.option_table import GUARD_TOOL_OPTIONS, given_values, guard_options

    args = build_parser().parse_args(argv)
    options = guard_options(given_values(args, GUARD_TOOL_OPTIONS, prefix=""))
    try:
        block = add_guard_to_bundle(args.bundle, args.data, options, args.out, command=command_line(argv, PROG))
    except XRayViewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(block))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
