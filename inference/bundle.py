"""The one module that reads and writes model bundles (the torch side; the card itself is read without torch by
`inference.model_card`).

A bundle is a directory holding the weights (`model.safetensors`, or a torch file read with weights_only=True),
`model_card.json` (validated against `model_card.schema.json`) and optionally the OOD guard
(`ood_guard.safetensors`). Loading checks the weights' and the guard's sha256 and the card's manifest hash, and
refuses a mismatch. `write_bundle` is the only writer: it builds the new bundle in a temporary sibling directory,
records the manifest hash, validates it by loading it back, and only then swaps it in, so a failure never leaves
a half-written bundle and never destroys the previous one.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inference.errors import BundleError, ModelCardInvalidError, WeightsHashMismatchError
from inference.model_card import (  # noqa: F401  (card_schema, validate_card: part of this module's API)
    CARD_FILE,
    MANIFEST_KEY,
    ModelCard,
    bundle_file,
    card_schema,
    check_manifest,
    manifest_block,
    read_card_dict,
    validate_card,
)
from inference.file_hash import sha256_file

DEFAULT_WEIGHTS_FILE = "model.safetensors"
LEGACY_CARD_NOTICE = ("its model card carries no manifest hash (written before XRayView recorded one), so a change "
                      "to the card cannot be detected")


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
    notices: list[str] = field(default_factory=list)  # said with every result of this model
    # a draft's other files, held in memory (draft_bundle); None for a bundle on disk
    files: dict[str, bytes] | None = field(default=None, repr=False)

    # ---- identity and card accessors (the typed view: inference.model_card.ModelCard)
    @property
    def model_card(self) -> ModelCard:
        return ModelCard(self.card)

    @property
    def name(self) -> str:
        return self.model_card.name

    @property
    def version(self) -> str:
        return self.model_card.version

    @property
    def sha256(self) -> str:
        return self.model_card.weights_sha256

    @property
    def manifest_sha256(self) -> str:
        return self.model_card.manifest_sha256

    @property
    def architecture(self) -> str:
        return self.model_card.architecture

    @property
    def labels(self) -> list[str]:
        return self.model_card.labels

    @property
    def positive_label(self) -> str | None:
        return self.model_card.positive_label

    @property
    def threshold(self) -> float | None:
        return self.model_card.threshold

    @property
    def temperature(self) -> float:
        return self.model_card.temperature

    @property
    def cam_target_layer(self) -> str:
        return self.model_card.cam_target_layer

    @property
    def cam_detail_layer(self) -> str | None:
        return self.model_card.cam_detail_layer

    @property
    def cam_target_power(self) -> float:
        return self.model_card.cam_target_power

    @property
    def experimental(self) -> bool:
        return self.model_card.experimental

    def identity(self) -> dict[str, str]:
        """name, version, sha256 (the weights) and manifest_sha256 (card + weights + guard)."""
        return self.model_card.identity()

    def read_file(self, name: str, what: str) -> bytes:
        """The bytes of a file the card names (e.g. the OOD guard), as a plain name inside the bundle."""
        if self.files is not None:
            if name not in self.files:
                raise BundleError(self.path / name, f"the {what} named in the model card is not in the bundle")
            return self.files[name]
        path = bundle_file(self.path, name, what)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise BundleError(path, f"cannot read the {what} ({exc.strerror or exc})") from None

    # ---- weights and model
    def state_dict(self) -> dict[str, torch.Tensor]:
        if self._state is None:
            self._state = _read_weights(self.weights_path)
        return self._state

    def build(self, device: torch.device | str | None = None) -> nn.Module:
        """The model with the bundle's weights, in eval mode (on `device` if given). The weights must fit the
        card: as many outputs as labels, the card's input channels, and every layer the card names must exist."""
        from inference.architectures import build_model

        card_path = self.path / CARD_FILE
        state = self.state_dict()
        model = build_model(self.architecture, len(self.labels), in_channels=self.card["input"]["channels"])
        _check_weights_fit_card(model, state, self.labels, self.card["input"]["channels"], self.weights_path)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first_line = str(exc).strip().splitlines()[0]
            raise BundleError(self.weights_path,
                              f"weights do not fit architecture {self.architecture!r}: {first_line}") from exc
        for field_name, layer in (("cam.target_layer", self.cam_target_layer),
                                  ("cam.detail_layer", self.cam_detail_layer),
                                  ("ood.layer", self.model_card.ood.layer)):
            if layer is None:
                continue
            try:
                model.get_submodule(layer)
            except AttributeError:
                raise ModelCardInvalidError(card_path, f"{field_name} {layer!r} is not a layer of "
                                                       f"{self.architecture}") from None
        model.eval()
        if device is not None:
            model.to(device)
        return model

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities: softmax(logits / temperature) over the last dimension."""
        return torch.softmax(logits.float() / self.temperature, dim=-1)


def _check_weights_fit_card(model: nn.Module, state: dict[str, torch.Tensor], labels: list[str], channels: int,
                            weights_path: Path) -> None:
    """Say in the card's terms what a strict load would only call a size mismatch: outputs vs labels, input
    channels vs the first convolution."""
    from inference.ood import final_linear

    head = final_linear(model)
    head_name = next(name for name, module in model.named_modules() if module is head)
    head_weight = state.get(f"{head_name}.weight")
    if head_weight is not None and head_weight.ndim == 2 and head_weight.shape[0] != len(labels):
        raise BundleError(weights_path, f"the weights do not fit the model card: they have {head_weight.shape[0]} "
                                        f"outputs, the card names {len(labels)} labels {labels}")
    first_conv = next((name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)), None)
    conv_weight = state.get(f"{first_conv}.weight") if first_conv else None
    if conv_weight is not None and conv_weight.ndim == 4 and conv_weight.shape[1] != channels:
        raise BundleError(weights_path, f"the weights do not fit the model card: they take {conv_weight.shape[1]} "
                                        f"input channel(s), the card's input has {channels}")


def draft_bundle(path: str | Path, card: dict[str, Any], state_dict: dict[str, torch.Tensor],
                 files: dict[str, bytes]) -> ModelBundle:
    """A bundle not written yet, held in memory: what a tool measures before `write_bundle` seals it at `path`
    (the training pipeline's heatmap check). Unchecked: only write_bundle's result is a validated bundle."""
    path = Path(path)
    return ModelBundle(path=path, card=card, weights_path=path / card["weights"]["file"], _state=state_dict,
                       files=dict(files))


def load_bundle(path: str | Path, verify_hash: bool = True) -> ModelBundle:
    """Read and check a bundle: the card against the schema and its manifest hash, every file it names (plain
    names inside the folder), the weights' and the guard's size/sha256. Every failure is a BundleError."""
    path = Path(path)
    return _checked_bundle(path, read_card_dict(path), verify_hash)


def _checked_bundle(path: Path, card: dict[str, Any], verify_hash: bool = True) -> ModelBundle:
    """load_bundle's checks for `card` as if it were the card in the folder `path`."""
    card_path = path / CARD_FILE
    validate_card(card, card_path)
    weights_path = bundle_file(path, card["weights"]["file"], "weights file")
    guard_file = (card.get("ood") or {}).get("file")
    guard_path = bundle_file(path, guard_file, "OOD guard file") if guard_file else None
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
        if guard_path is not None and sha256_file(guard_path) != card["ood"]["sha256"]:
            raise WeightsHashMismatchError(guard_path, "the OOD guard file does not match the model card's sha256; "
                                                       "the bundle was changed or damaged; refusing to load it")
    check_manifest(card, card_path)
    notices = [] if card.get(MANIFEST_KEY) else [f"model {card['name']} {card['version']}: {LEGACY_CARD_NOTICE}"]
    return ModelBundle(path=path, card=card, weights_path=weights_path, notices=notices)


def seal_bundle(path: str | Path, *, record_file_hashes: bool = False) -> ModelBundle:
    """Record a fresh manifest hash in the card of the bundle `path`, in place, after its card was changed on
    purpose (by hand, or by a tool that does not go through write_bundle). The weights and every other file stay
    byte for byte as they are. `record_file_hashes=True` first records the weights' sha256 and size and the OOD
    guard's sha256 in the card as well: for a bundle whose weights or guard file were replaced on purpose.

    Before the card is replaced, everything load_bundle checks is checked against the new card, the model is
    built with the weights, and the guard (if any) is read and fitted to the model; on any failure a BundleError
    says why and the bundle is left as it was. The card is then replaced atomically. Returns the sealed bundle
    (its `manifest_sha256` is the new identity every result will report).
    `python -m training.cli_seal_bundle --bundle DIR [--record-file-hashes]` is the command-line form."""
    path = Path(path)
    card_path = path / CARD_FILE
    card = read_card_dict(path)
    card.pop(MANIFEST_KEY, None)
    if record_file_hashes:
        validate_card(card, card_path)  # the file names it gives must be plain names before any is opened
        weights_path = bundle_file(path, card["weights"]["file"], "weights file")
        card["weights"]["sha256"] = sha256_file(weights_path)
        card["weights"]["bytes"] = weights_path.stat().st_size
        guard_file = (card.get("ood") or {}).get("file")
        if guard_file:
            card["ood"]["sha256"] = sha256_file(bundle_file(path, guard_file, "OOD guard file"))
    validate_card(card, card_path)
    card[MANIFEST_KEY] = manifest_block(card)
    sealed = _checked_bundle(path, card)
    model = sealed.build()
    from inference.ood import check_guard_fits, load_guard

    guard = load_guard(sealed)
    if guard is not None:
        check_guard_fits(guard, model, sealed)
    mode = card_path.stat().st_mode & 0o777
    card_tmp = path / f".{CARD_FILE}.sealing-{uuid.uuid4().hex[:8]}"
    try:
        card_tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                            encoding="utf-8")
        os.chmod(card_tmp, mode)
        with open(card_tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        card_tmp.replace(card_path)
    except BaseException:
        card_tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path)
    return load_bundle(path)


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
        new_card.pop(MANIFEST_KEY, None)  # recomputed below for exactly this card
        new_card["weights"] = {"file": weights_file, "sha256": sha256_file(weights_path),
                               "bytes": weights_path.stat().st_size}
        new_card.setdefault("created_utc", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        validate_card(new_card, out_dir / CARD_FILE)
        new_card[MANIFEST_KEY] = manifest_block(new_card)
        for name, data in (extra_files or {}).items():
            if Path(name).name != name or name in (CARD_FILE, weights_file):
                raise BundleError(out_dir, f"invalid extra file name {name!r}")
            (staging / name).write_bytes(data)
        card_tmp = staging / (CARD_FILE + ".tmp")
        card_tmp.write_text(json.dumps(new_card, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                            encoding="utf-8")
        with open(card_tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        card_tmp.replace(staging / CARD_FILE)
        # Validate exactly what a reader will see: schema, hashes, manifest, that the weights fit the architecture
        # and the card, and that the OOD guard (if any) reads and fits the model.
        written = load_bundle(staging)
        model = written.build()
        from inference.ood import check_guard_fits, load_guard

        guard = load_guard(written)
        if guard is not None:
            check_guard_fits(guard, model, written)
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


def store_card_block(folder: str | Path, key: str, block: Any) -> Path:
    """Rewrites the bundle at `folder` in place with `block` as its card's `key` (what a measuring tool adds: the
    stability block, the call margin), resealed; the weights and the other files are kept."""
    bundle = load_bundle(folder)
    return rewrite_bundle(bundle, {**json.loads(json.dumps(bundle.card)), key: block})


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
