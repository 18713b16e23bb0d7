"""`xrayview-calibrate`: fit a model's temperature and threshold on a site's own labelled films DIR/CLASS/*.

Writes a NEW bundle version at --out (which must not exist; the original is never changed) whose card records
which films it was fitted on (the set's sha256, n, date) and the sensitivity/specificity measured there, with
Wilson 95% CIs, in-sample and 5-fold cross-validated. Warns when a class has fewer than 50 films.

Prints one JSON summary on stdout; warnings and expected failures go to stderr; expected failures exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.errors import XRayViewError

EXIT_EXPECTED_FAILURE = 2


def _sensitivity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.5 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0.5, 1), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from training.site_calibration import DEFAULT_TARGET_SENSITIVITY

    p = argparse.ArgumentParser(prog="xrayview-calibrate", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="the model bundle folder to calibrate")
    p.add_argument("--data", type=Path, required=True,
                   help="the site's labelled films, DIR/CLASS/* with class folders named after the model's labels")
    p.add_argument("--out", type=Path, required=True, help="folder for the new bundle version (must not exist)")
    p.add_argument("--target-sensitivity", type=_sensitivity, default=DEFAULT_TARGET_SENSITIVITY,
                   help="the threshold is the most specific one keeping this sensitivity on the site set")
    p.add_argument("--name", help="name of the site set for the card (default: the folder name)")
    p.add_argument("--model-version", help="version of the new bundle (default: ORIGINAL+site.YYYYMMDD)")
    p.add_argument("--device", default="auto")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from training.export import command_line
        from training.site_calibration import calibrate_bundle

        result = calibrate_bundle(args.model, args.data, args.out, target_sensitivity=args.target_sensitivity,
                                  set_name=args.name, version=args.model_version, device=args.device,
                                  command=command_line(argv, program="xrayview-calibrate"))
    except (XRayViewError, OSError) as exc:
        print(f"xrayview-calibrate: error: {exc}", file=sys.stderr)
        return EXIT_EXPECTED_FAILURE
    for warning in result.warnings:
        print(f"xrayview-calibrate: warning: {warning}", file=sys.stderr)
    print(json.dumps(result.summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
