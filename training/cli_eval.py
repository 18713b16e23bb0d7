"""`xrayview-eval`: metrics of a model bundle on a labelled folder DIR/CLASS/* (class names = model labels).

Prints one JSON object on stdout. Expected failures print one line on stderr and exit with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.errors import XRayViewError

EXIT_EXPECTED_FAILURE = 2
OUTPUT_KEYS = ("n", "auc", "accuracy", "sensitivity", "specificity", "precision", "f1", "kappa", "ece",
               "threshold", "confusion_matrix", "per_class")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xrayview-eval", description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="model bundle folder (default: the bundled default model)")
    p.add_argument("--data", type=Path, required=True, help="folder DIR/CLASS/* whose class names match the labels")
    p.add_argument("--threshold", type=float, help="override the card's threshold on P(positive)")
    p.add_argument("--tta", action="store_true", help="average with the horizontally flipped image")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--details", action="store_true",
                   help="also include the model identity, skipped files and per-file probabilities")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        print(f"xrayview-eval: error: --threshold must be in [0, 1], got {args.threshold}", file=sys.stderr)
        return EXIT_EXPECTED_FAILURE
    try:
        from training.evaluate import evaluate_bundle

        result = evaluate_bundle(args.model, args.data, threshold=args.threshold, tta=args.tta,
                                 device=args.device, batch_size=args.batch_size)
    except (XRayViewError, OSError) as exc:
        print(f"xrayview-eval: error: {exc}", file=sys.stderr)
        return EXIT_EXPECTED_FAILURE
    for skipped in result["skipped"]:
        print(f"xrayview-eval: skipped {skipped['path']}: {skipped['reason']}", file=sys.stderr)
    output = {key: result[key] for key in OUTPUT_KEYS}
    if args.details:
        output.update({key: result[key] for key in ("model", "tta", "skipped", "per_file")})
    print(json.dumps(output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
