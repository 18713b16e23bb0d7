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
    from training.ood_fit import DEFAULT_COMPONENTS, DEFAULT_QUANTILE

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the training data root the manifest refers to")
    parser.add_argument("--out", type=Path, default=None, help="write here instead of replacing --bundle")
    parser.add_argument("--expected-body-part", action="append", default=[])
    parser.add_argument("--quantile", type=float, default=DEFAULT_QUANTILE)
    parser.add_argument("--components", type=int, default=DEFAULT_COMPONENTS)
    parser.add_argument("--layer", default=None,
                        help="model the pooled output of this module (default: the classifier's input features)")
    parser.add_argument("--grid", type=int, default=1,
                        help="average the --layer output over each region of a GRID x GRID split of the image "
                             "(default 1: over the whole image)")
    parser.add_argument("--reference-blur", type=float, nargs=2, metavar=("LOW", "HIGH"), default=None,
                        help="also fit on training images blurred with a random sigma in [LOW, HIGH] px")
    parser.add_argument("--measure-ood", action="store_true",
                        help="also measure warning rates on CT/MR, photographs and bone-fracture images")
    parser.add_argument("--exclude-default-set", action="append", default=[],
                        help="leave out default OOD sets whose name contains this word (e.g. fracture)")
    parser.add_argument("--ood-set", action="append", default=[], metavar="NAME=FOLDER",
                        help="measure the warning rate on images of FOLDER (images that must be warned)")
    parser.add_argument("--held-in-set", action="append", default=[], metavar="NAME=FOLDER",
                        help="measure the false-warning rate on images like the training data")
    parser.add_argument("--set-limit", type=int, default=200, help="images per --ood-set/--held-in-set folder")
    parser.add_argument("--shared-data", type=Path, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    from training.export import command_line
    from training.ood_fit import add_guard_to_bundle, folder_set

    args = build_parser().parse_args(argv)
    try:
        block = add_guard_to_bundle(args.bundle, args.data, args.out, args.expected_body_part, args.quantile,
                                    args.components, args.measure_ood, args.shared_data, args.layer,
                                    tuple(args.reference_blur) if args.reference_blur else None,
                                    dict(folder_set(s, args.set_limit) for s in args.ood_set),
                                    dict(folder_set(s, args.set_limit) for s in args.held_in_set),
                                    args.exclude_default_set, command=command_line(argv, PROG), grid=args.grid)
    except XRayViewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(block))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
