"""What `xrayview-train --out` may replace: nothing the user had is ever deleted.

An existing output is refused before training starts unless the user asked for `--overwrite`; then the old
folder (a bundle, or anything else) is moved aside intact, to `OUT.previous-<UTC time>`, once the new bundle
validated. An empty folder is not "something the user had" and is simply used.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from inference.errors import TrainingError
from inference.model_card import CARD_FILE


def has_previous_output(out: Path) -> bool:
    out = Path(out)
    if out.is_symlink() or out.is_file():
        return True
    return out.is_dir() and any(out.iterdir())


def check_output_dir(out: Path, overwrite: bool) -> None:
    """Raises TrainingError (before any image is read) when `out` holds something and `overwrite` is off."""
    out = Path(out)
    if has_previous_output(out) and not overwrite:
        kind = "a model bundle" if (out / CARD_FILE).is_file() else (
            "a folder with other files" if out.is_dir() else "a file")
        raise TrainingError(f"{out}: the output already exists ({kind}); choose another --out, or pass "
                            "--overwrite to move the existing one aside (it is kept, never deleted)")


def aside_path(out: Path) -> Path | None:
    """Where the existing output is moved (a name that does not exist yet), or None when there is none."""
    out = Path(out)
    if not has_previous_output(out):
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    candidate = out.parent / f"{out.name}.previous-{stamp}"
    counter = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = out.parent / f"{out.name}.previous-{stamp}-{counter}"
        counter += 1
    return candidate
