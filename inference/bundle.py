"""The one module that reads and writes model bundles.

A bundle is a directory holding the weights (`model.safetensors`, or a torch file read with weights_only=True)
and `model_card.json`, validated against `model_card.schema.json`. Loading checks the weights' sha256 and
refuses a mismatch. `write_bundle` is the only writer: it builds the new bundle in a temporary sibling
directory, validates it by loading it back, and only then swaps it in, so a failure never leaves a
half-written bundle and never destroys the previous one.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inference.errors import BundleError, ModelCardInvalidError, WeightsHashMismatchError

CARD_FILE = "model_card.json"
DEFAULT_WEIGHTS_FILE = "model.safetensors"
SCHEMA_PATH = Path(__file__).with_name("model_card.schema.json")
_HASH_CHUNK = 1 << 20


@lru_cache(maxsize=1)
def card_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _schema_validator():
    import jsonschema

    schema = card_schema()
    return jsonschema.Draft202012Validator(schema)


def validate_card(card: dict[str, Any], where: str | Path | None = None) -> None:
    """Raise ModelCardInvalidError (naming the field) unless `card` satisfies the schema and its cross-checks."""
    from jsonschema.exceptions import best_match

    where = where if where is not None else "<model card>"
    if not isinstance(card, dict):
        raise ModelCardInvalidError(where, "the model card must be a JSON object")
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
    from inference.vocabulary import is_known_architecture

    if not is_known_architecture(card["architecture"]):
        raise ModelCardInvalidError(where, f"unknown architecture {card['architecture']!r}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure means the weights are unusable
        raise BundleError(path, f"cannot read the weights file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BundleError(path, "the weights file does not hold a state dict of tensors")
    return state


@dataclass
class ModelBundle:
    """A validated bundle on disk. The state dict is read lazily (and cached) on first use."""

    path: Path
    card: dict[str, Any]
    weights_path: Path
    _state: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    # ---- identity and card accessors
    @property
    def name(self) -> str:
        return self.card["name"]

    @property
    def version(self) -> str:
        return self.card["version"]

    @property
    def sha256(self) -> str:
        return self.card["weights"]["sha256"]

    @property
    def architecture(self) -> str:
        return self.card["architecture"]

    @property
    def labels(self) -> list[str]:
        return list(self.card["labels"])

    @property
    def positive_label(self) -> str | None:
        return self.card.get("positive_label")

    @property
    def threshold(self) -> float | None:
        value = self.card.get("threshold")
        return float(value) if value is not None else None

    @property
    def temperature(self) -> float:
        return float(self.card.get("calibration", {}).get("temperature", 1.0))

    @property
    def cam_target_layer(self) -> str:
        return self.card["cam"]["target_layer"]

    @property
    def experimental(self) -> bool:
        return bool(self.card.get("experimental", False))

    def identity(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}

    # ---- weights and model
    def state_dict(self) -> dict[str, torch.Tensor]:
        if self._state is None:
            self._state = _read_weights(self.weights_path)
        return self._state

    def build(self, device: torch.device | str | None = None) -> nn.Module:
        """The model with the bundle's weights, in eval mode (on `device` if given)."""
        from inference.architectures import build_model

        model = build_model(self.architecture, len(self.labels), in_channels=self.card["input"]["channels"])
        try:
            model.load_state_dict(self.state_dict(), strict=True)
        except RuntimeError as exc:
            first_line = str(exc).strip().splitlines()[0]
            raise BundleError(self.weights_path,
                              f"weights do not fit architecture {self.architecture!r}: {first_line}") from exc
        try:
            model.get_submodule(self.cam_target_layer)
        except AttributeError:
            raise ModelCardInvalidError(self.path / CARD_FILE,
                                        f"cam.target_layer {self.cam_target_layer!r} is not a layer of "
                                        f"{self.architecture}") from None
        model.eval()
        if device is not None:
            model.to(device)
        return model

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities: softmax(logits / temperature) over the last dimension."""
        return torch.softmax(logits.float() / self.temperature, dim=-1)


def load_bundle(path: str | Path, verify_hash: bool = True) -> ModelBundle:
    """Read and check a bundle: the card against the schema, the weights file against its sha256 and size."""
    path = Path(path)
    if not path.exists():
        raise BundleError(path, "model bundle folder not found")
    if not path.is_dir():
        raise BundleError(path, "a model bundle is a folder holding model_card.json and the weights; this is a file")
    card_path = path / CARD_FILE
    if not card_path.is_file():
        raise BundleError(path, f"not a model bundle: {CARD_FILE} is missing")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ModelCardInvalidError(card_path, "the model card is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ModelCardInvalidError(card_path, f"the model card is not valid JSON (line {exc.lineno}: {exc.msg})") \
            from None
    except OSError as exc:
        raise BundleError(card_path, f"cannot read the model card ({exc.strerror or exc})") from None
    validate_card(card, card_path)
    weights_path = path / card["weights"]["file"]
    if not weights_path.is_file():
        raise BundleError(weights_path, "the weights file named in the model card is missing")
    if verify_hash:
        size = weights_path.stat().st_size
        if size != card["weights"]["bytes"]:
            raise WeightsHashMismatchError(
                weights_path, f"weights file is {size} bytes, the model card says {card['weights']['bytes']}: "
                              f"the file was changed or damaged; refusing to load it")
        actual = sha256_file(weights_path)
        if actual != card["weights"]["sha256"]:
            raise WeightsHashMismatchError(
                weights_path, f"weights sha256 {actual[:12]}... does not match the model card's "
                              f"{card['weights']['sha256'][:12]}...: the file was changed or damaged; refusing to load it")
    return ModelBundle(path=path, card=card, weights_path=weights_path)


def _save_weights(state_dict: dict[str, torch.Tensor], target: Path) -> None:
    # Clone to contiguous CPU tensors: safetensors refuses shared or non-contiguous storage.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    if target.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(tensors, str(target))
    else:
        torch.save(tensors, target)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bundle(out_dir: str | Path, state_dict: dict[str, torch.Tensor], card: dict[str, Any],
                 weights_file: str = DEFAULT_WEIGHTS_FILE, extra_files: dict[str, bytes] | None = None,
                 keep_previous: str | Path | None = None) -> Path:
    """Write a bundle atomically and return its path.

    Fills `card["weights"]` (file, sha256, bytes) and `created_utc` (if absent), validates the result by
    loading it back and building the model with the weights, then swaps it into `out_dir`. An existing
    bundle at `out_dir` is replaced only after the new one validated, and survives any failure.
    `extra_files` (name -> bytes) are written beside the card (e.g. a dataset report).
    `keep_previous`: move whatever was at `out_dir` (any folder or file, untouched) to this path instead of
    deleting it; without it only an existing bundle (or an empty folder) may be replaced.
    """
    out_dir = Path(out_dir)
    keep_previous = Path(keep_previous) if keep_previous is not None else None
    if keep_previous is not None and keep_previous.exists():
        raise BundleError(keep_previous, "already exists; refusing to move the previous output onto it")
    if out_dir.exists() and keep_previous is None:
        if not out_dir.is_dir():
            raise BundleError(out_dir, "exists and is a file; refusing to replace it with a model bundle")
        if any(out_dir.iterdir()) and not (out_dir / CARD_FILE).exists():
            raise BundleError(out_dir, "exists, is not empty and is not a model bundle; refusing to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staging = out_dir.parent / f".{out_dir.name}.writing-{token}"
    backup = out_dir.parent / f".{out_dir.name}.previous-{token}"
    staging.mkdir()
    try:
        weights_path = staging / weights_file
        _save_weights(state_dict, weights_path)
        os.chmod(weights_path, 0o644)  # safetensors creates 0600; an installed model must be readable by all
        new_card = copy.deepcopy(card)
        new_card["weights"] = {"file": weights_file, "sha256": sha256_file(weights_path),
                               "bytes": weights_path.stat().st_size}
        new_card.setdefault("created_utc", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        validate_card(new_card, out_dir / CARD_FILE)
        for name, data in (extra_files or {}).items():
            if Path(name).name != name or name in (CARD_FILE, weights_file):
                raise BundleError(out_dir, f"invalid extra file name {name!r}")
            (staging / name).write_bytes(data)
        card_tmp = staging / (CARD_FILE + ".tmp")
        card_tmp.write_text(json.dumps(new_card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        with open(card_tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        card_tmp.replace(staging / CARD_FILE)
        # Validate exactly what a reader will see: schema, hash, and that the weights fit the architecture.
        load_bundle(staging).build()
        _fsync_dir(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if keep_previous is not None:
        backup = keep_previous
    try:
        if out_dir.exists() or out_dir.is_symlink():
            out_dir.rename(backup)
        try:
            staging.rename(out_dir)
        except BaseException:
            if backup.exists() and not out_dir.exists():
                backup.rename(out_dir)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(out_dir.parent)
    if keep_previous is None:
        shutil.rmtree(backup, ignore_errors=True)
    return out_dir


def rewrite_bundle(bundle: ModelBundle, card: dict[str, Any], out_dir: str | Path | None = None,
                   replace_files: dict[str, bytes] | None = None) -> Path:
    """Write `bundle` again (to `out_dir`, default in place) with a changed card, keeping its weights and every
    extra file except those in `replace_files` (name -> new bytes). Used by tools that annotate an existing
    model: a new operating point, an OOD guard, an explanation check."""
    replace_files = dict(replace_files or {})
    source = Path(bundle.path)
    extras = {p.name: p.read_bytes() for p in source.iterdir()
              if p.is_file() and p.name not in (CARD_FILE, bundle.weights_path.name) and p.name not in replace_files}
    extras.update(replace_files)
    return write_bundle(out_dir or source, bundle.state_dict(), card, weights_file=bundle.weights_path.name,
                        extra_files=extras)
