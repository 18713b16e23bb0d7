"""`python -m training.cli_moves_alike --bundle A --bundle B [--bundle C ...] --data DIR [--change noise_1]
[--views mirror,shift_1_1,shift_3_0]`: how alike the bundles' answers move under the same imperceptible change
(training.stability.moves_alike), as JSON: for every pair, the correlation over the films of their changes in
log-odds, each film given the same seeded draw. What an ensemble (`xrayview-train --ensemble-of`) can average down
is what its members do not share. With --views, each bundle is also measured on those views of each film (the
same draw, viewed; named BUNDLE|VIEW): what answering over views (`--views` of xrayview-train) can average down.

Exit status: 0 done, 2 bad arguments or an unusable bundle/data (the reason on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.errors import XRayViewError

PROG = "python -m training.cli_moves_alike"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, action="append", required=True, help="a bundle (twice or more)")
    parser.add_argument("--data", type=Path, required=True, help="folder of films (searched recursively)")
    parser.add_argument("--change", default="noise_1", help="a perturbation of training.stability (default noise_1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--views", default="", metavar="VIEW,VIEW",
                        help="also measure each bundle on these views of each film (one bundle is then enough)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from inference.vocabulary import view_list_problem

    views = [view for view in args.views.split(",") if view]
    problem = view_list_problem(views)
    if problem:
        parser.error(f"--views {args.views!r}: {problem}")
    if len(args.bundle) < 2 and not views:
        parser.error("give --bundle at least twice (or once with --views)")
    from inference.image_io import load_image
    from inference.predictor import Predictor
    from training.stability import film_paths, log_odds_moves, moves_alike, perturbations

    if args.change not in perturbations():
        parser.error(f"unknown --change {args.change!r}; known: {', '.join(perturbations())}")
    films, unreadable = [], []
    try:
        for path in film_paths(args.data):
            try:
                films.append((path.relative_to(args.data).as_posix(), load_image(path).render()))
            except XRayViewError as exc:  # listed; every bundle is measured on the same readable films
                unreadable.append({"file": path.relative_to(args.data).as_posix(), "reason": str(exc)})
        if not films:
            raise XRayViewError(f"{args.data}: no image files")
        moves = []
        for bundle in args.bundle:
            predictor = Predictor(bundle, device="cpu")
            for view in [None, *views]:
                moves.append((str(bundle) + (f"|{view}" if view else ""),
                              log_odds_moves(predictor, films, args.change, args.seed, view)))
    except XRayViewError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"data": str(args.data), "films": len(films), "change": args.change, "seed": args.seed,
                      "views": views,
                      "pairs": moves_alike(moves), "unreadable": unreadable}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
