"""The model card, without torch: its schema, a typed view (`ModelCard`, `InputSpec`, `OODSettings` and the nested
blocks: `IntendedPopulation`, `Metric`, `ThresholdRow`, `TrainingData`, `ExternalValidation`, `SiteCalibration`),
strict reading and checking, the plain file names it may give, and the bundle's manifest hash.

Reading is strict: the JSON must be UTF-8, hold no NaN/Infinity and no key twice; every number the schema knows
is bounded to a sane range; every file the card names (`weights.file`, `ood.file`) is a plain file name inside
the bundle folder.

**Manifest hash.** A bundle's identity covers the card as well as its weights: `manifest_sha256(card)` is the
sha256 of the card's canonical JSON (sorted keys, without its own `manifest` block). The card pins the weights'
and the OOD guard's sha256, and loading checks both files against them, so the hash covers card + weights +
guard. `inference.bundle.write_bundle` records it in the card's `manifest` block; loading recomputes it and
refuses a card that no longer matches (swapped labels, another input size, any edit made outside the tools).
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from inference.errors import BundleError, ManifestMismatchError, ModelCardInvalidError
from inference.results import near_threshold_band
from inference.vocabulary import CAM_METHODS, is_known_architecture

CARD_FILE = "model_card.json"
SCHEMA_PATH = Path(__file__).with_name("model_card.schema.json")
MANIFEST_KEY = "manifest"
RESIZE_MODES = ("squash", "letterbox")
MAX_CARD_BYTES = 4 << 20  # the shipped cards are ~20 kB; a card this large is not a model card


# ============================================================================ the schema and its checks
@lru_cache(maxsize=1)
def card_schema() -> dict[str, Any]:
    """model_card.schema.json with the vocabularies filled in (declared once, in inference.vocabulary)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema["properties"]["cam"]["properties"]["default_method"]["enum"] = list(CAM_METHODS)
    schema["properties"]["input"]["properties"]["resize_mode"]["enum"] = list(RESIZE_MODES)
    return schema


@lru_cache(maxsize=1)
def _schema_validator():
    import jsonschema

    return jsonschema.Draft202012Validator(card_schema())


def validate_card(card: Any, where: str | Path | None = None) -> None:
    """Raise ModelCardInvalidError (naming the field) unless `card` satisfies the schema and its cross-checks."""
    from jsonschema.exceptions import best_match

    where = where if where is not None else "<model card>"
    if not isinstance(card, dict):
        raise ModelCardInvalidError(where, "the model card must be a JSON object")
    bad_number = _first_non_finite(card)
    if bad_number is not None:
        raise ModelCardInvalidError(where, f"model card field {bad_number} is not a finite number")
    errors = list(_schema_validator().iter_errors(card))
    if errors:
        err = best_match(errors)
        location = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        why = ""
        if list(err.schema_path)[:2] == ["allOf", 1]:
            why = " (a model not flagged experimental must list its measured metrics, threshold_table and " \
                  "training_data)"
        raise ModelCardInvalidError(where, f"model card field {location}: {err.message}{why}")
    labels = card["labels"]
    positive = card.get("positive_label")
    if positive is not None and positive not in labels:
        raise ModelCardInvalidError(where, f"positive_label {positive!r} is not one of the labels {labels}")
    spec = card["input"]
    for key in ("mean", "std"):
        n = len(spec["normalisation"][key])
        if n not in (1, spec["channels"]):
            raise ModelCardInvalidError(
                where, f"input.normalisation.{key} has {n} values; expected 1 or {spec['channels']} (channels)")
    if not is_known_architecture(card["architecture"]):
        raise ModelCardInvalidError(where, f"unknown architecture {card['architecture']!r}")
    for field_name, name in named_files(card).items():
        problem = plain_file_name_problem(name)
        if problem:
            raise ModelCardInvalidError(where, f"model card field {field_name} ({name!r}) {problem}")
    ages = (card.get("intended_population") or {}).get("age_years") or {}
    if ages.get("min") is not None and ages.get("max") is not None and ages["min"] > ages["max"]:
        raise ModelCardInvalidError(where, f"model card field intended_population/age_years: min {ages['min']} is "
                                           f"above max {ages['max']}")
    ood = card.get("ood") or {}
    if ood.get("file") and not ood.get("sha256"):
        raise ModelCardInvalidError(where, "model card field ood: names a guard file but not its sha256")
    if int(ood.get("grid") or 1) > 1 and not ood.get("layer"):
        raise ModelCardInvalidError(where, "model card field ood/grid: a region grid needs ood.layer (the "
                                           "classifier's input is already pooled over the whole image)")


def _first_non_finite(value: Any, path: str = "") -> str | None:
    """The path of the first NaN or infinite number in a parsed card (None when there is none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(top level)"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_non_finite(item, f"{path}/{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_non_finite(item, f"{path}/{index}")
            if found:
                return found
    return None


# ============================================================================ files the card names
def named_files(card: Mapping[str, Any]) -> dict[str, str]:
    """Every file the card names, by field ("weights.file", "ood.file"); all must be plain names in the bundle."""
    files: dict[str, str] = {}
    weights = card.get("weights") or {}
    if isinstance(weights, Mapping) and weights.get("file") is not None:
        files["weights.file"] = str(weights["file"])
    ood = card.get("ood") or {}
    if isinstance(ood, Mapping) and ood.get("file") is not None:
        files["ood.file"] = str(ood["file"])
    return files


def plain_file_name_problem(name: str) -> str:
    """"" when `name` is a plain file name (no folder part, not "." or "..", not absolute), else what is wrong."""
    if not name or name in (".", ".."):
        return "is not a file name"
    if "\x00" in name:
        return "contains a NUL character"
    if PurePosixPath(name).name != name or PureWindowsPath(name).name != name or "/" in name or "\\" in name:
        return "must be a plain file name inside the bundle folder, without a folder part"
    return ""


def bundle_file(folder: str | Path, name: str, what: str) -> Path:
    """The file `name` inside the bundle `folder`; BundleError unless it is a plain name of a regular file there
    (a symbolic link leading out of the folder is refused too)."""
    folder = Path(folder)
    problem = plain_file_name_problem(name)
    if problem:
        raise ModelCardInvalidError(folder / CARD_FILE, f"{what} {name!r} {problem}")
    path = folder / name
    try:
        inside = path.resolve(strict=True).parent == folder.resolve(strict=True)
    except OSError:
        raise BundleError(path, f"the {what} named in the model card is missing") from None
    if not inside:
        raise BundleError(path, f"the {what} named in the model card lies outside the bundle folder")
    if not path.is_file():
        raise BundleError(path, f"the {what} named in the model card is not a regular file")
    return path


# ============================================================================ manifest hash
def canonical_card_bytes(card: Mapping[str, Any]) -> bytes:
    """The card's content as canonical JSON (sorted keys, no whitespace, UTF-8), without its manifest block."""
    content = {key: value for key, value in card.items() if key != MANIFEST_KEY}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def manifest_sha256(card: Mapping[str, Any]) -> str:
    """The bundle identity that covers the card: see the module docstring."""
    return hashlib.sha256(canonical_card_bytes(card)).hexdigest()


def manifest_block(card: Mapping[str, Any]) -> dict[str, Any]:
    """The `manifest` block write_bundle stores in a card it writes."""
    covers = [CARD_FILE] + sorted(named_files(card).values())
    return {"sha256": manifest_sha256(card), "covers": covers,
            "method": "sha256 of the card's canonical JSON without this block (sorted keys, no whitespace); the "
                      "card holds the sha256 of each other file it covers"}


def check_manifest(card: Mapping[str, Any], where: str | Path) -> str:
    """The card's manifest hash; ManifestMismatchError when the card records another one (it was edited after
    the bundle was written). Cards written before manifests existed have none: their hash is computed only."""
    actual = manifest_sha256(card)
    recorded = (card.get(MANIFEST_KEY) or {}).get("sha256")
    if recorded is not None and recorded != actual:
        raise ManifestMismatchError(
            where, f"the model card was changed after the bundle was written (manifest sha256 {actual[:12]}... "
                   f"does not match the recorded {str(recorded)[:12]}...): labels, input size, threshold or "
                   f"another field may no longer fit the weights; refusing to load it. Change a bundle only "
                   f"with XRayView's tools, which record a new manifest")
    return actual


# ============================================================================ reading
def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_card_bytes(data: bytes, where: str | Path) -> dict[str, Any]:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys (a second "labels" would silently win)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelCardInvalidError(where, "the model card is not UTF-8 text") from None
    try:
        card = json.loads(text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ModelCardInvalidError(where, f"the model card is not valid JSON (line {exc.lineno}: {exc.msg})") \
            from None
    except ValueError as exc:
        raise ModelCardInvalidError(where, f"the model card is not valid JSON ({exc})") from None
    except RecursionError:
        raise ModelCardInvalidError(where, "the model card is nested too deeply") from None
    if not isinstance(card, dict):
        raise ModelCardInvalidError(where, "the model card must be a JSON object")
    return card


def read_card_dict(folder: str | Path) -> dict[str, Any]:
    """The parsed (not yet validated) card of the bundle `folder`; BundleError when there is none to read."""
    folder = Path(folder)
    if not folder.exists():
        raise BundleError(folder, "model bundle folder not found")
    if not folder.is_dir():
        raise BundleError(folder, "a model bundle is a folder holding model_card.json and the weights; this is a "
                                  "file")
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise BundleError(folder, f"not a model bundle: {CARD_FILE} is missing")
    try:
        with open(card_path, "rb") as handle:
            data = handle.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        raise BundleError(card_path, f"cannot read the model card ({exc.strerror or exc})") from None
    if len(data) > MAX_CARD_BYTES:
        raise ModelCardInvalidError(card_path, f"the model card is larger than {MAX_CARD_BYTES >> 20} MiB")
    return parse_card_bytes(data, card_path)


def read_card(folder: str | Path, *, validate: bool = True) -> ModelCard:
    """The bundle's card, schema-checked and manifest-checked (unless validate=False: the catalog lists bundles
    quickly and leaves the checks to loading, which reports them)."""
    folder = Path(folder)
    card = read_card_dict(folder)
    if validate:
        validate_card(card, folder / CARD_FILE)
        check_manifest(card, folder / CARD_FILE)
    return ModelCard(card)


# ============================================================================ typed views
@dataclass(frozen=True)
class InputSpec:
    """The card's `input` block: what the model is fed."""

    channels: int
    height: int
    width: int
    resize_mode: str = "squash"
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.25,)
    window: str = "default"
    # The JPEG quality the training images were saved at after being resized (None: not JPEG, or unknown).
    # Images the inference pipeline resizes get the same round trip, so they carry the same compression texture
    # as the training copies; images already at the input size are left as they are.
    jpeg_quality: int | None = None
    # Each image standardised by its own mean and std (over all its input pixels) instead of `mean`/`std`: a
    # brightness offset or contrast scale of the whole film then leaves the model input unchanged.
    per_image: bool = False
    # A fixed Gaussian low-pass (sigma in model-input pixels) before the standardisation, in training and inference
    # alike: detail finer than this is where a full-resolution film and its 224 px copy, sensor noise and JPEG
    # compression differ, and none of it is what a radiologist calls a finding at this input size. 0: none.
    low_pass_sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {self.resize_mode!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if not 0.0 <= self.low_pass_sigma <= 8.0:
            raise ValueError(f"low_pass_sigma must be between 0 and 8 pixels, got {self.low_pass_sigma}")

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> InputSpec:
        """From a whole model card or just its `input` block."""
        block = card.get("input", card)
        norm = block["normalisation"]
        return cls(channels=int(block["channels"]), height=int(block["height"]), width=int(block["width"]),
                   resize_mode=block["resize_mode"], mean=tuple(float(v) for v in norm["mean"]),
                   std=tuple(float(v) for v in norm["std"]), window=block.get("window", "default"),
                   jpeg_quality=block.get("jpeg_quality"), per_image=bool(norm.get("per_image", False)),
                   low_pass_sigma=float(norm.get("low_pass_sigma", 0.0)))

    def to_card(self) -> dict[str, Any]:
        """The card's `input` block for this spec."""
        block = {"channels": self.channels, "height": self.height, "width": self.width,
                 "resize_mode": self.resize_mode,
                 "normalisation": {"mean": list(self.mean), "std": list(self.std)}, "window": self.window}
        if self.per_image:
            block["normalisation"]["per_image"] = True
        if self.low_pass_sigma:
            block["normalisation"]["low_pass_sigma"] = self.low_pass_sigma
        if self.jpeg_quality is not None:
            block["jpeg_quality"] = self.jpeg_quality
        return block


@dataclass(frozen=True)
class OODSettings:
    """The card's `ood` block: the guard's file and how it reads the model."""

    file: str | None
    sha256: str | None
    layer: str | None  # None: the classifier's input features
    grid: int  # the layer output is averaged over grid x grid regions (1: the whole image)
    threshold: float | None
    expected_body_parts: tuple[str, ...]

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> OODSettings:
        block = card.get("ood") or {}
        return cls(file=block.get("file") or None, sha256=block.get("sha256") or None,
                   layer=block.get("layer") or None, grid=int(block.get("grid") or 1),
                   threshold=None if block.get("threshold") is None else float(block["threshold"]),
                   expected_body_parts=tuple(str(p).upper() for p in block.get("expected_body_parts") or ()))


class ModelCard:
    """Typed, read-only access to a card's fields. `data` is the card as parsed (for the fields the typed view
    leaves out, e.g. the training record); treat it as read-only: `changed` gives a changed copy."""

    def __init__(self, data: Mapping[str, Any]):
        self.data: dict[str, Any] = dict(data)

    def __repr__(self) -> str:
        return f"ModelCard({self.name!r}, {self.version!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelCard) and self.data == other.data

    __hash__ = None  # a mutable mapping inside

    # ---- identity
    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def version(self) -> str:
        return str(self.data.get("version", ""))

    @property
    def title(self) -> str:
        """"name version", with "(experimental)" when the card says so."""
        title = f"{self.name or 'model'} {self.version}".strip()
        return title + (" (experimental)" if self.experimental else "")

    @property
    def description(self) -> str:
        return str(self.data.get("description", ""))

    @property
    def experimental(self) -> bool:
        return bool(self.data.get("experimental", False))

    @property
    def weights_file(self) -> str:
        return str((self.data.get("weights") or {}).get("file", ""))

    @property
    def weights_sha256(self) -> str:
        return str((self.data.get("weights") or {}).get("sha256", ""))

    @property
    def weights_bytes(self) -> int:
        return int((self.data.get("weights") or {}).get("bytes", 0))

    @property
    def manifest_sha256(self) -> str:
        """The identity covering card + weights + guard (computed from the card; see the module docstring)."""
        return manifest_sha256(self.data)

    @property
    def recorded_manifest_sha256(self) -> str | None:
        """What write_bundle recorded (None for cards written before manifests existed)."""
        return (self.data.get(MANIFEST_KEY) or {}).get("sha256")

    def identity(self) -> dict[str, str]:
        """What every result names its model by: name, version, weights sha256 and the manifest hash."""
        return {"name": self.name, "version": self.version, "sha256": self.weights_sha256,
                "manifest_sha256": self.manifest_sha256}

    # ---- the model
    @property
    def architecture(self) -> str:
        return str(self.data.get("architecture", ""))

    @property
    def ensemble_members(self) -> list[EnsembleMember]:
        """The bundles an ensemble averages (training.ensemble), in member order; [] for a single network."""
        training = self.data.get("training") or {}
        return [EnsembleMember.from_card(item) for item in training.get("ensemble") or []]

    @property
    def labels(self) -> list[str]:
        return [str(label) for label in self.data.get("labels") or []]

    @property
    def positive_label(self) -> str | None:
        return self.data.get("positive_label")

    @property
    def threshold(self) -> float | None:
        value = self.data.get("threshold")
        return float(value) if value is not None else None

    @property
    def temperature(self) -> float:
        return float((self.data.get("calibration") or {}).get("temperature", 1.0))

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec.from_card(self.data)

    @property
    def cam_target_layer(self) -> str:
        return str((self.data.get("cam") or {}).get("target_layer", ""))

    @property
    def cam_detail_layer(self) -> str | None:
        """The layer whose map multiplies the target layer's (inference.cam); None: the target layer alone."""
        return (self.data.get("cam") or {}).get("detail_layer") or None

    @property
    def cam_target_power(self) -> float:
        """With a detail layer: the power the target layer's map is raised to before the product."""
        return float((self.data.get("cam") or {}).get("target_power", 1.0))

    @property
    def cam_default_method(self) -> str | None:
        return (self.data.get("cam") or {}).get("default_method")

    @property
    def ood(self) -> OODSettings:
        return OODSettings.from_card(self.data)

    # ---- what the card says about the model
    @property
    def intended_use(self) -> str:
        return str(self.data.get("intended_use", ""))

    @property
    def intended_population(self) -> IntendedPopulation | None:
        """Whom the model is for (None: the card does not say)."""
        block = self.data.get("intended_population")
        return IntendedPopulation.from_card(block) if block else None

    @property
    def limitations(self) -> list[str]:
        return [str(item) for item in self.data.get("limitations") or []]

    @property
    def stability(self) -> tuple[StabilitySet, ...]:
        """How much the answer moves under noise, JPEG and resampling, per measured set (the `stability` block of
        `python -m training.cli_stability --write-card`; empty when never measured)."""
        block = self.data.get("stability") or {}
        return tuple(StabilitySet.from_card(entry, block.get("command", ""), block.get("measured_utc", ""))
                     for entry in block.get("sets") or [])

    @property
    def call_margin(self) -> CallMargin | None:
        """How near the threshold a call lies within the model's own measured moves (the `call_margin` block of
        `python -m training.cli_call_margin --write-card`; None when never measured)."""
        block = self.data.get("call_margin")
        return CallMargin.from_card(block) if block else None

    @property
    def created_utc(self) -> str:
        return str(self.data.get("created_utc", ""))

    @property
    def training_seed(self) -> int | None:
        """The training run's random seed (its bootstrap CIs were drawn with it); None when the card has none."""
        return _int((self.data.get("training") or {}).get("seed"))

    @property
    def metrics(self) -> list[Metric]:
        """The internal test metrics (the test split carved from the training data)."""
        return [Metric.from_card(metric) for metric in self.data.get("metrics") or []]

    @property
    def threshold_table(self) -> list[ThresholdRow]:
        return [ThresholdRow.from_card(row) for row in self.data.get("threshold_table") or [] if "threshold" in row]

    @property
    def training_data(self) -> list[TrainingData]:
        return [TrainingData.from_card(item) for item in self.data.get("training_data") or []]

    @property
    def external_validation(self) -> list[ExternalValidation]:
        return [ExternalValidation.from_card(entry) for entry in self.data.get("external_validation") or []]

    @property
    def site_calibration(self) -> SiteCalibration | None:
        """The site's operating point (xrayview-calibrate), or None for a bundle that was not site-calibrated."""
        block = self.data.get("site_calibration")
        return SiteCalibration.from_card(block) if block else None

    # ---- a changed copy (a tool that changes a card on purpose; inference.bundle.write_bundle validates and seals it)
    def changed(self, *, name: str | None = None, threshold: float | None = None,
                metrics: Sequence[Metric] | None = None, threshold_table: Sequence[ThresholdRow] | None = None,
                training: Mapping[str, Any] | None = None) -> ModelCard:
        """A copy with the given fields replaced (None: kept as they are); `training` entries are merged into the
        card's training record. This card is left unchanged."""
        data = copy.deepcopy(self.data)
        if name is not None:
            data["name"] = name
        if threshold is not None:
            data["threshold"] = float(threshold)
        if metrics is not None:
            data["metrics"] = [metric.to_card() for metric in metrics]
        if threshold_table is not None:
            data["threshold_table"] = [row.to_card() for row in threshold_table]
        if training is not None:
            data["training"] = {**(data.get("training") or {}), **copy.deepcopy(dict(training))}
        return ModelCard(data)


# The card's nested blocks, read leniently: the viewer also shows cards written before a field existed, so a
# missing value is None (printed as a dash), never an error. Validation (validate_card) is where a card is refused.
def _float(value: Any) -> float | None:
    return None if value is None or isinstance(value, bool) else float(value)


def _int(value: Any) -> int | None:
    return None if value is None or isinstance(value, bool) else int(value)


def _pair(value: Any) -> tuple[float, float] | None:
    return (float(value[0]), float(value[1])) if value else None


def _counts(value: Any) -> dict[str, int]:
    return {str(label): int(n) for label, n in (value or {}).items()}


@dataclass(frozen=True)
class IntendedPopulation:
    """The `intended_population` block: whom the model is for, and the age range (completed years, both ends
    included; None: open) a film's patient is checked against (inference.population)."""

    description: str
    min_age_years: float | None = None
    max_age_years: float | None = None

    @classmethod
    def from_card(cls, block: Mapping[str, Any]) -> IntendedPopulation:
        ages = block.get("age_years") or {}
        return cls(description=str(block.get("description", "")), min_age_years=_float(ages.get("min")),
                   max_age_years=_float(ages.get("max")))


@dataclass(frozen=True)
class Metric:
    """One measured number (`metrics` items, and each external set's metrics)."""

    name: str
    value: float | None
    dataset: str = ""
    split: str = ""
    n: int | None = None
    threshold: float | None = None
    ci95: tuple[float, float] | None = None

    @classmethod
    def from_card(cls, block: Mapping[str, Any]) -> Metric:
        return cls(name=str(block.get("name", "")), value=_float(block.get("value")),
                   dataset=str(block.get("dataset", "")), split=str(block.get("split", "")), n=_int(block.get("n")),
                   threshold=_float(block.get("threshold")), ci95=_pair(block.get("ci95")))

    def to_card(self) -> dict[str, Any]:
        """The card's entry for this metric (`threshold` null for a threshold-free metric such as AUC)."""
        entry: dict[str, Any] = {"name": self.name, "value": self.value, "dataset": self.dataset, "split": self.split,
                                 "threshold": self.threshold}
        if self.n is not None:
            entry["n"] = self.n
        if self.ci95 is not None:
            entry["ci95"] = [self.ci95[0], self.ci95[1]]
        return entry


@dataclass(frozen=True)
class ThresholdRow:
    """A `threshold_table` row: sensitivity and specificity at one threshold (`name`: e.g. "operating point")."""

    threshold: float
    sensitivity: float | None
    specificity: float | None
    name: str = ""

    @classmethod
    def from_card(cls, block: Mapping[str, Any]) -> ThresholdRow:
        return cls(threshold=float(block["threshold"]), sensitivity=_float(block.get("sensitivity")),
                   specificity=_float(block.get("specificity")), name=str(block.get("name") or ""))

    def to_card(self) -> dict[str, Any]:
        row: dict[str, Any] = {"threshold": self.threshold, "sensitivity": self.sensitivity,
                               "specificity": self.specificity}
        if self.name:
            row["name"] = self.name
        return row


@dataclass(frozen=True)
class EnsembleMember:
    """A `training.ensemble` entry: a bundle whose network an ensemble averages."""

    name: str
    version: str
    architecture: str
    weights_sha256: str

    @classmethod
    def from_card(cls, block: Mapping[str, Any]) -> EnsembleMember:
        return cls(name=str(block.get("name", "")), version=str(block.get("version", "")),
                   architecture=str(block.get("architecture", "")),
                   weights_sha256=str(block.get("weights_sha256", "")))


@dataclass(frozen=True)
class TrainingData:
    """A `training_data` entry: a data set the model was trained on, with its licence and attribution."""

    name: str
    n_images: int
    licence: str
    attribution: str

    @classmethod
    def from_card(cls, block: Mapping[str, Any]) -> TrainingData:
        return cls(name=str(block.get("name", "")), n_images=int(block.get("n_images") or 0),
                   licence=str(block.get("licence", "")), attribution=str(block.get("attribution", "")))


@dataclass(frozen=True)
class StabilityChange:
    """|dp| of P(positive) under one perturbation over a set's films, and the calls it flipped."""

    median_abs_dp: float | None
    max_abs_dp: float | None
    calls_flipped: int | None

    @classmethod
    def from_card(cls, block: Mapping[str, Any] | None) -> StabilityChange:
        block = block or {}
        return cls(median_abs_dp=_float(block.get("median_abs_dp")), max_abs_dp=_float(block.get("max_abs_dp")),
                   calls_flipped=_int(block.get("calls_flipped")))


@dataclass(frozen=True)
class StabilitySet:
    """One set of the card's `stability` block."""

    dataset: str
    n: int | None
    changes: dict[str, StabilityChange]
    copies: StabilityChange | None  # full-resolution originals against their own resized copies
    meets_targets: bool | None
    command: str = ""
    measured_utc: str = ""

    @classmethod
    def from_card(cls, block: Mapping[str, Any], command: str = "", measured_utc: str = "") -> StabilitySet:
        copies = block.get("full_resolution_vs_copy")
        meets = block.get("meets_targets")
        return cls(dataset=str(block.get("dataset") or "set"), n=_int(block.get("n")),
                   changes={str(k): StabilityChange.from_card(v) for k, v in (block.get("changes") or {}).items()},
                   copies=StabilityChange.from_card(copies) if copies else None,
                   meets_targets=None if meets is None else bool(meets), command=str(command or ""),
                   measured_utc=str(measured_utc or ""))


@dataclass(frozen=True)
class CallMargin:
    """How far (in log-odds of the calibrated P(positive)) the model's answer moves under changes no reader sees
    (noise of one grey level, JPEG re-saving), measured without labels on the films named in `measured_on`: a call
    whose log-odds lie closer than that to the threshold's can turn with the file's noise or compression, so it is
    shown as near the threshold. Measured at `temperature`; a site calibration that changes the temperature scales
    it (`half_width`)."""

    half_width_log_odds: float
    temperature: float
    quantile: float
    measured_on: str
    n: int | None
    changes: tuple[str, ...]
    command: str = ""
    measured_utc: str = ""

    @classmethod
    def from_card(cls, block: Mapping[str, Any]) -> CallMargin:
        return cls(half_width_log_odds=float(block["half_width_log_odds"]), temperature=float(block["temperature"]),
                   quantile=float(block.get("quantile", 1.0)), measured_on=str(block.get("measured_on") or ""),
                   n=_int(block.get("n")), changes=tuple(str(c) for c in block.get("changes") or ()),
                   command=str(block.get("command") or ""), measured_utc=str(block.get("measured_utc") or ""))

    def half_width(self, temperature: float) -> float:
        """The half-width in log-odds of P(positive) calibrated with `temperature` (the moves are the network's:
        dividing its logits by another temperature scales them)."""
        return self.half_width_log_odds * self.temperature / float(temperature)

    def band(self, threshold: float, temperature: float) -> tuple[float, float]:
        """The probabilities within the half-width of `threshold` (0 < threshold < 1)."""
        return near_threshold_band(threshold, self.half_width(temperature))


@dataclass(frozen=True)
class ExternalValidation:
    """An `external_validation` entry: a labelled set from elsewhere, measured at `threshold` and `temperature`.
    `selected_on` (empty: none) says what was chosen by looking at this set's numbers: it is then a selection set,
    whose numbers are not an independent estimate."""

    dataset: str
    n: int | None
    counts: dict[str, int]
    threshold: float | None
    temperature: float | None
    measured_utc: str
    set_sha256: str
    metrics: tuple[Metric, ...]
    selected_on: str = ""

    @classmethod
    def from_card(cls, block: Mapping[str, Any]) -> ExternalValidation:
        return cls(dataset=str(block.get("dataset") or "external set"), n=_int(block.get("n")),
                   counts=_counts(block.get("counts")), threshold=_float(block.get("threshold")),
                   temperature=_float(block.get("temperature")), measured_utc=str(block.get("measured_utc") or ""),
                   set_sha256=str(block.get("set_sha256", "")),
                   metrics=tuple(Metric.from_card(m) for m in block.get("metrics") or []),
                   selected_on=str(block.get("selected_on") or ""))

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)


@dataclass(frozen=True)
class Rate:
    """A site-calibration rate: k of n, with its 95% confidence interval."""

    value: float | None
    ci95: tuple[float, float] | None = None
    k: int | None = None
    n: int | None = None

    @classmethod
    def from_card(cls, block: Mapping[str, Any]) -> Rate:
        return cls(value=_float(block.get("value")), ci95=_pair(block.get("ci95")), k=_int(block.get("k")),
                   n=_int(block.get("n")))


@dataclass(frozen=True)
class SiteRates:
    """Sensitivity, specificity and accuracy of a site-calibrated operating point (None: not given);
    `folds` for the cross-validated ones."""

    rates: dict[str, Rate]
    folds: int | None = None

    @classmethod
    def from_card(cls, block: Mapping[str, Any] | None) -> SiteRates:
        block = block or {}
        return cls(rates={name: Rate.from_card(value) for name, value in block.items()
                          if name != "folds" and isinstance(value, Mapping)}, folds=_int(block.get("folds")))

    def rate(self, name: str) -> Rate | None:
        return self.rates.get(name)


@dataclass(frozen=True)
class PreviousOperatingPoint:
    """What a site calibration replaced."""

    version: str
    threshold: float | None
    temperature: float | None


@dataclass(frozen=True)
class SiteCalibration:
    """The `site_calibration` block: the operating point fitted on a site's own films."""

    dataset: str
    n: int | None
    counts: dict[str, int]
    measured_utc: str
    target_sensitivity: float | None
    temperature: float | None
    threshold: float | None
    set_sha256: str
    in_sample: SiteRates
    cross_validated: SiteRates
    warnings: tuple[str, ...]
    previous: PreviousOperatingPoint | None

    @classmethod
    def from_card(cls, block: Mapping[str, Any]) -> SiteCalibration:
        previous = block.get("previous") or {}
        return cls(dataset=str(block.get("dataset", "")), n=_int(block.get("n")), counts=_counts(block.get("counts")),
                   measured_utc=str(block.get("measured_utc") or ""),
                   target_sensitivity=_float(block.get("target_sensitivity")),
                   temperature=_float(block.get("temperature")), threshold=_float(block.get("threshold")),
                   set_sha256=str(block.get("set_sha256", "")), in_sample=SiteRates.from_card(block.get("in_sample")),
                   cross_validated=SiteRates.from_card(block.get("cross_validated")),
                   warnings=tuple(str(w) for w in block.get("warnings") or ()),
                   previous=PreviousOperatingPoint(version=str(previous.get("version")),
                                                   threshold=_float(previous.get("threshold")),
                                                   temperature=_float(previous.get("temperature")))
                   if previous else None)
