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

PROG = "python -m training.cli_cam_check"


def build_parser() -> argparse.ArgumentParser:
    from training.option_table import HEATMAP_TOOL_OPTIONS, add_options

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the training data root the manifest refers to")
    add_options(parser, HEATMAP_TOOL_OPTIONS, prefix="")
    parser.add_argument("--write-card", action="store_true",
                        help="store the result in the card's cam block (with the layers measured)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from training.cam_check import check, write_to_card
    from training.export import command_line
    from training.option_table import HEATMAP_TOOL_OPTIONS, OptionError, given_values, heatmap_options

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = heatmap_options(given_values(args, HEATMAP_TOOL_OPTIONS, prefix=""), prefix="")
    except OptionError as exc:
        parser.error(str(exc))
    try:
        result = check(args.bundle, args.data, options.split, options.method, options.limit, options.sheet,
                       detail_layer=options.detail_layer_to_measure(), target_power=options.target_power)
        if args.write_card:
            write_to_card(args.bundle, result, command=command_line(argv, PROG))
    except XRayViewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
