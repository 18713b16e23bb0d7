"""`xrayview-eval`: metrics of a model bundle on a labelled folder DIR/CLASS/* (class names = model labels).

Prints one JSON object on stdout (strict JSON: an undefined metric is null, never NaN). Exit status: 0 done
(unreadable images are listed as skipped), 2 expected failure (one line on stderr: no bundle, bad folder, ...),
3 internal error (a bug; traceback on stderr), 130 interrupted.
`--write-card --name NAME` records the result as the card's external validation on NAME (a new bundle version
written in place through the one bundle writer; the weights are unchanged).
"""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from inference.errors import XRayViewError
from inference.json_output import dumps

EXIT_EXPECTED_FAILURE, EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED = 2, 3, 130
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
    p.add_argument("--name", help="name of the labelled set (for --write-card; default: the folder name)")
    p.add_argument("--description", help="what the set is, for the card (with --write-card)")
    p.add_argument("--selected-on", metavar="TEXT",
                   help="with --write-card: what was chosen by looking at this set (e.g. 'the recipe among 17 "
                        "candidates and the threshold rule'); the card then calls it a selection set, not "
                        "independent external validation")
    p.add_argument("--write-card", action="store_true",
                   help="record the result in the bundle's card as external validation on --name (needs --model; "
                        "at the card's own threshold: --threshold is refused)")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("xrayview-eval: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug: distinct from an expected failure (2)
        print(f"xrayview-eval: internal error (this is a bug, please report it): {type(exc).__name__}: {exc}",
              file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        print(f"xrayview-eval: error: --threshold must be in [0, 1], got {args.threshold}", file=sys.stderr)
        return EXIT_EXPECTED_FAILURE
    if args.write_card and args.model is None:
        print("xrayview-eval: error: --write-card needs --model BUNDLE (the bundled models are not rewritten)",
              file=sys.stderr)
        return EXIT_EXPECTED_FAILURE
    if args.write_card and args.threshold is not None:
        print("xrayview-eval: error: --write-card records the card's own operating point; drop --threshold",
              file=sys.stderr)
        return EXIT_EXPECTED_FAILURE
    try:
        from training.evaluate import score_bundle, summarise

        scored = score_bundle(args.model, args.data, tta=args.tta, device=args.device, batch_size=args.batch_size,
                              set_name=args.name)
        result = summarise(scored, threshold=args.threshold)
        if args.write_card:
            result["card_section"] = _write_external_section(scored, args, argv)
    except (XRayViewError, OSError) as exc:
        print(f"xrayview-eval: error: {exc}", file=sys.stderr)
        return EXIT_EXPECTED_FAILURE
    for skipped in result["skipped"]:
        print(f"xrayview-eval: skipped {skipped['path']}: {skipped['reason']}", file=sys.stderr)
    output = {key: result[key] for key in OUTPUT_KEYS}
    if args.write_card:
        output["card_section"] = result["card_section"]
    if args.details:
        output.update({key: result[key] for key in ("model", "tta", "skipped", "per_file", "set_sha256")})
    print(dumps(output, ensure_ascii=True))
    return 0


def _write_external_section(scored, args, argv) -> dict:
    from inference.bundle import rewrite_bundle
    from inference.errors import BundleError
    from training.export import command_line
    from training.external import external_section, with_external_section

    bundle = scored.bundle
    if bundle.positive_label is None or bundle.threshold is None:
        raise BundleError(bundle.path, "--write-card supports two-class models with a threshold")
    entry = external_section(scored.labelled, scored.logits, bundle.labels, bundle.positive_label,
                             bundle.temperature, bundle.threshold, command_line(argv, program="xrayview-eval"),
                             tta=scored.tta, description=args.description, selected_on=args.selected_on)
    rewrite_bundle(bundle, with_external_section(bundle.card, entry))
    return entry


if __name__ == "__main__":
    sys.exit(main())
