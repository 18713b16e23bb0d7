"""`python -m training.cli_cam_check --bundle DIR --data ROOT [--split test] [--sheet PNG] [--write-card]`:
measures where a chest model's Grad-CAM mass falls on its positive test cases against lung-field masks
(training.cam_check) and prints the result as JSON; `--write-card` stores it in the bundle's card.

Exit status: 0 done, 2 bad arguments or an unusable bundle/data (the reason on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.errors import XRayViewError
from inference.vocabulary import CAM_METHODS, DEFAULT_CAM_METHOD

PROG = "python -m training.cli_cam_check"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the training data root the manifest refers to")
    parser.add_argument("--split", default="test")
    parser.add_argument("--method", default=DEFAULT_CAM_METHOD, choices=CAM_METHODS)
    parser.add_argument("--limit", type=int, default=None, help="at most this many positive cases")
    parser.add_argument("--sheet", type=Path, default=None, help="write a contact sheet PNG of the first cases")
    layers = parser.add_mutually_exclusive_group()
    layers.add_argument("--detail-layer", default=None, metavar="LAYER",
                        help="measure the heatmap as the product of the card's target layer and LAYER "
                             "(e.g. _blocks.10); with --write-card the card then draws it so")
    layers.add_argument("--no-detail-layer", action="store_true",
                        help="measure the target layer's map alone (and drop the card's detail layer with "
                             "--write-card)")
    parser.add_argument("--target-power", type=float, default=None, metavar="P",
                        help="with --detail-layer: raise the target layer's map to P before the product (default 1)")
    parser.add_argument("--write-card", action="store_true",
                        help="store the result in the card's cam block (with the layers measured)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from training.cam_check import FROM_CARD, check, write_to_card
    from training.export import command_line

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.target_power is not None and not args.detail_layer:
        parser.error("--target-power needs --detail-layer")
    if args.target_power is not None and not 0.25 <= args.target_power <= 8:
        parser.error("--target-power must be between 0.25 and 8")
    try:
        detail = None if args.no_detail_layer else (args.detail_layer or FROM_CARD)
        result = check(args.bundle, args.data, args.split, args.method, args.limit, args.sheet,
                       detail_layer=detail, target_power=args.target_power)
        if args.write_card:
            write_to_card(args.bundle, result, command=command_line(argv, PROG))
    except XRayViewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
