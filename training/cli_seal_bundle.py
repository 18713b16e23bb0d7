"""`python -m training.cli_seal_bundle --bundle DIR [--record-file-hashes]`: records a fresh manifest hash in a
bundle's card after the card was changed on purpose (inference.bundle.seal_bundle); with `--record-file-hashes`
it first records the sha256 (and size) of the weights and of the OOD guard, for a bundle whose weights or guard
file were replaced on purpose. The weights and the other files are left byte for byte as they are. Everything a
load checks is checked against the new card first; nothing is written when a check fails. Prints a JSON summary
(the previous and the new manifest hash).

Exit status: 0 sealed, 2 bad arguments or an unusable bundle (the reason on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.errors import XRayViewError

PROG = "python -m training.cli_seal_bundle"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--record-file-hashes", action="store_true",
                        help="also record the weights' and the OOD guard's sha256 (their files were replaced)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from inference.bundle import seal_bundle
    from inference.model_card import MANIFEST_KEY, read_card_dict

    args = build_parser().parse_args(argv)
    try:
        previous = (read_card_dict(args.bundle).get(MANIFEST_KEY) or {}).get("sha256")
        bundle = seal_bundle(args.bundle, record_file_hashes=args.record_file_hashes)
    except XRayViewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"bundle": str(bundle.path), "name": bundle.name, "version": bundle.version,
                      "previous_manifest_sha256": previous, "manifest_sha256": bundle.manifest_sha256,
                      "weights_sha256": bundle.sha256, "ood_sha256": (bundle.card.get("ood") or {}).get("sha256")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
