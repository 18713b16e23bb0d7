"""Installed model bundles, found without torch: the bundled ones (resources/models, or XRAYVIEW_MODELS_DIR) and
the user's models folder, the DEFAULT pointer that names the shipped default, and the choice of a bundle (the
user's, the default, or the one made for an image's body part). Only each bundle's model card is read, so the
viewer's start-up and settings dialog stay fast; loading (inference.bundle) checks everything else."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inference.errors import BundleError, XRayViewError
from inference.model_card import ModelCard, read_card
from inference.resources import models_dir

DEFAULT_POINTER = "DEFAULT"  # resources/models/DEFAULT holds the folder name of the default bundle
BUNDLED, USER = "bundled", "user"


def bundled_models_dir() -> Path:
    """resources/models (XRAYVIEW_MODELS_DIR overrides it)."""
    return models_dir()


def default_bundle_name(bundled_dir: Path | None = None) -> str:
    """The folder name the DEFAULT pointer holds ("" when there is none or it names no plain folder name)."""
    root = Path(bundled_dir) if bundled_dir is not None else bundled_models_dir()
    try:
        name = (root / DEFAULT_POINTER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return name if name and Path(name).name == name and name not in (".", "..") else ""


def default_bundle_dir(bundled_dir: Path | None = None) -> Path:
    """The bundled default model's folder: resources/models/<name>, where resources/models/DEFAULT holds <name>."""
    root = Path(bundled_dir) if bundled_dir is not None else bundled_models_dir()
    pointer = root / DEFAULT_POINTER
    if not pointer.is_file():
        raise BundleError(root, "no bundled model is installed (resources/models/DEFAULT is missing); "
                                "pass a model bundle folder with --model")
    name = default_bundle_name(root)
    if not name:
        raise BundleError(pointer, "names no valid model folder")
    bundle_dir = root / name
    if not bundle_dir.is_dir():
        raise BundleError(bundle_dir, "the default model named in resources/models/DEFAULT is not installed")
    return bundle_dir


@dataclass(frozen=True)
class BundleEntry:
    """An installed bundle as the catalog knows it: its folder, its card (not yet checked against the files)
    and where it was found."""

    path: Path
    card: ModelCard
    source: str  # BUNDLED or USER

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def experimental(self) -> bool:
        return self.card.experimental

    @property
    def title(self) -> str:
        flag = " [experimental]" if self.experimental else ""
        return f"{self.name} {self.version}{flag} ({self.source})"


def bundle_entry(folder: str | Path, source: str = USER) -> BundleEntry | None:
    """The entry for one bundle folder anywhere on disk (e.g. `xrayview --model DIR`); None when the folder holds
    no readable model card. The card's full checks run when the bundle is loaded, which reports them."""
    try:
        card = read_card(folder, validate=False)
    except XRayViewError:
        return None
    if not card.name:
        return None
    return BundleEntry(Path(folder), card, source)


def find_bundles(bundled_dir: Path | None, user_dir: Path | None) -> list[BundleEntry]:
    """Bundled models first (in folder-name order), then the user's. A folder is a bundle when it holds a model
    card (the folder itself counts too, for a models folder that is one bundle)."""
    entries: list[BundleEntry] = []
    for root, source in ((bundled_dir, BUNDLED), (user_dir, USER)):
        if root is None or not Path(root).is_dir():
            continue
        candidates = [Path(root)] + sorted(p for p in Path(root).iterdir() if p.is_dir())
        for folder in candidates:
            entry = bundle_entry(folder, source)
            if entry is not None:
                entries.append(entry)
    return entries


def choose_bundle(entries: list[BundleEntry], preferred: str, default_name: str = "") -> BundleEntry | None:
    """The bundle named in settings when still installed, else the shipped default, else the first
    non-experimental, else the first."""
    for wanted in (preferred, default_name):
        if not wanted:
            continue
        for entry in entries:
            if str(entry.path) == str(wanted) or (entry.source == BUNDLED and entry.path.name == wanted):
                return entry
    stable = [entry for entry in entries if not entry.experimental]
    return (stable or entries or [None])[0]


def _expected_body_parts(entry: BundleEntry) -> tuple[str, ...]:
    try:
        return entry.card.ood.expected_body_parts
    except (AttributeError, TypeError, ValueError):  # a card the catalog did not check: loading will say why
        return ()


@dataclass(frozen=True)
class ModelChoice:
    entry: BundleEntry
    reason: str  # for the status bar: why this model was chosen


def choose_for_body_part(entries: list[BundleEntry], body_part: str) -> ModelChoice | None:
    """The bundle whose card's `ood.expected_body_parts` lists `body_part` (a DICOM's BodyPartExamined); for a
    body part no card lists, a bundle not made for the chest (chest models are the ones that warn on other body
    parts). None when there is nothing to choose."""
    body_part = (body_part or "").strip().upper()
    if not body_part or len(entries) < 2:
        return None
    parts = {entry.path: _expected_body_parts(entry) for entry in entries}
    for entry in entries:
        if body_part in parts[entry.path]:
            return ModelChoice(entry, f"{entry.name} chosen: its model card lists body part {body_part}")
    for entry in entries:
        if "CHEST" not in parts[entry.path]:
            return ModelChoice(entry, f"{entry.name} chosen: body part {body_part} is not chest")
    return None
