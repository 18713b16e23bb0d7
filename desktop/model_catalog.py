"""Finds installed model bundles (resources/models and the user's models folder) without importing torch: only
each bundle's model_card.json is read, so the settings dialog and startup stay fast."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CARD_FILE = "model_card.json"
DEFAULT_POINTER = "DEFAULT"  # same file name as inference.resources.DEFAULT_MODEL_POINTER


@dataclass(frozen=True)
class BundleEntry:
    path: Path
    name: str
    version: str
    experimental: bool
    source: str  # "bundled" or "user"

    @property
    def title(self) -> str:
        flag = " [experimental]" if self.experimental else ""
        return f"{self.name} {self.version}{flag} ({self.source})"


def _read_entry(folder: Path, source: str) -> BundleEntry | None:
    card_path = folder / CARD_FILE
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(card, dict) or "name" not in card:
        return None
    return BundleEntry(folder, str(card.get("name")), str(card.get("version", "")),
                       bool(card.get("experimental", False)), source)


def bundle_entry(folder: str | Path, source: str = "user") -> BundleEntry | None:
    """The entry for one bundle folder anywhere on disk (e.g. `xrayview --model DIR`), or None."""
    return _read_entry(Path(folder), source)


def find_bundles(bundled_dir: Path | None, user_dir: Path | None) -> list[BundleEntry]:
    """Bundled models first (in name order), then the user's. A folder is a bundle when it holds a model card."""
    entries: list[BundleEntry] = []
    for root, source in ((bundled_dir, "bundled"), (user_dir, "user")):
        if root is None or not Path(root).is_dir():
            continue
        candidates = [Path(root)] + sorted(p for p in Path(root).iterdir() if p.is_dir())
        for folder in candidates:
            entry = _read_entry(folder, source)
            if entry is not None:
                entries.append(entry)
    return entries


def default_bundle_name(bundled_dir: Path | None) -> str:
    """resources/models/DEFAULT names the shipped default bundle's folder."""
    if bundled_dir is None:
        return ""
    try:
        return (Path(bundled_dir) / DEFAULT_POINTER).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def choose_bundle(entries: list[BundleEntry], preferred: str, default_name: str = "") -> BundleEntry | None:
    """The bundle named in settings when still installed, else the shipped default, else the first
    non-experimental, else the first."""
    for wanted in (preferred, default_name):
        if not wanted:
            continue
        for entry in entries:
            if str(entry.path) == str(wanted) or (entry.source == "bundled" and entry.path.name == wanted):
                return entry
    stable = [entry for entry in entries if not entry.experimental]
    return (stable or entries or [None])[0]
