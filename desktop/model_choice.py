"""Picks the model for an image's body part (DICOM BodyPartExamined) among the installed bundles, from each
bundle's model card `ood.expected_body_parts`. Qt-free; only the cards are read (no torch)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from desktop.model_catalog import CARD_FILE, BundleEntry


@dataclass(frozen=True)
class ModelChoice:
    entry: BundleEntry
    reason: str  # for the status bar: why this model was chosen


def expected_body_parts(entry: BundleEntry) -> list[str]:
    try:
        card = json.loads((Path(entry.path) / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    parts = ((card.get("ood") or {}) if isinstance(card, dict) else {}).get("expected_body_parts") or []
    return [str(part).upper() for part in parts]


def choose_for_body_part(entries: list[BundleEntry], body_part: str) -> ModelChoice | None:
    """The bundle whose card lists `body_part`; for a body part no card lists, a bundle not made for the chest
    (chest models are the ones that warn on other body parts). None when there is nothing to choose."""
    body_part = (body_part or "").strip().upper()
    if not body_part or len(entries) < 2:
        return None
    parts = {entry.path: expected_body_parts(entry) for entry in entries}
    for entry in entries:
        if body_part in parts[entry.path]:
            return ModelChoice(entry, f"{entry.name} chosen: its model card lists body part {body_part}")
    for entry in entries:
        if "CHEST" not in parts[entry.path]:
            return ModelChoice(entry, f"{entry.name} chosen: body part {body_part} is not chest")
    return None
