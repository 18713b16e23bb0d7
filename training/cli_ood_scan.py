"""`python -m training.cli_ood_scan --bundle DIR --data ROOT --layer NAME [...]`: compares OOD guard settings
(training.ood_scan: every region grid x principal-component count, fitted as training.ood_fit fits the shipped
guard) on one pass over the images. Prints one JSON object per setting.

    python -m training.cli_ood_scan --bundle resources/models/chest-xray-pneumonia \\
        --data ../shared/data/chest-xray-pneumonia/train --layer _blocks.15 --grids 1 2 3 4 7 \\
        --components 16 32 64 96 128 192 256 --ood-set fracture=../shared/data/bone-fracture \\
        --held-in-set fullres=../shared/data/samples/chest-xray-fullres --set-limit 5000

Exit status: 0 done, 2 bad arguments or an unusable bundle/data (the reason on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.errors import XRayViewError

PROG = "python -m training.cli_ood_scan"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the training data root the manifest refers to")
    parser.add_argument("--layer", required=True)
    parser.add_argument("--grids", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--components", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--quantile", type=float, default=0.99)
    parser.add_argument("--ood-set", action="append", default=[], metavar="NAME=FOLDER",
                        help="images that must be warned")
    parser.add_argument("--held-in-set", action="append", default=[], metavar="NAME=FOLDER",
                        help="images like the training data (should not be warned)")
    parser.add_argument("--set-limit", type=int, default=200, help="images per set folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    from training.ood_fit import folder_set
    from training.ood_scan import run_scan

    args = build_parser().parse_args(argv)
    if any(g < 1 for g in args.grids) or any(k < 1 for k in args.components):
        print(f"{PROG}: error: grids and component counts must be at least 1", file=sys.stderr)
        return 2
    try:
        rows = run_scan(args.bundle, args.data, args.layer, args.grids, args.components, args.quantile,
                        dict(folder_set(s, args.set_limit) for s in args.ood_set),
                        dict(folder_set(s, args.set_limit) for s in args.held_in_set))
    except XRayViewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
