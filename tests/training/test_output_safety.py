"""Issue 17, items 3 and 5: a planted checkpoint never runs code on --resume, and xrayview-train never deletes
what the user had at --out (refused before training unless --overwrite, which moves it aside)."""
from __future__ import annotations

import os
import pickle
import shutil
import time
from pathlib import Path

import pytest
import torch

from inference.bundle import load_bundle
from training.checkpoint import load_checkpoint, save_checkpoint
from training.cli_train import main as train_main

TINY_ARGS = ["--arch", "compact_cnn", "--img-size", "32", "--batch-size", "8", "--quiet"]


class _RunsCodeWhenUnpickled:
    """A pickle payload that creates `marker` when unpickled (what a planted checkpoint would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_planted_checkpoint_is_refused_without_running_code(small_kermany, tmp_path, capsys):
    out = tmp_path / "bundle"
    marker = tmp_path / "code-ran"
    partial = tmp_path / "bundle.partial"
    partial.mkdir()
    writers = (("pickle", lambda fh, obj: pickle.dump(obj, fh)), ("torch.save", lambda fh, obj: torch.save(obj, fh)))
    for name, writer in writers:
        with open(partial / "checkpoint.pt", "wb") as handle:
            writer(handle, {"fingerprint": "x", "epoch": 1, "payload": _RunsCodeWhenUnpickled(marker)})
        rc = train_main(["--data", str(small_kermany), "--out", str(out), "--epochs", "2", "--resume", *TINY_ARGS])
        err = capsys.readouterr().err
        assert rc == 2, name
        assert not marker.exists(), f"a {name} checkpoint ran code on --resume"
        assert "checkpoint cannot be read" in err and "never unpickled" in err and "Traceback" not in err
    assert not out.exists()


def test_checkpoint_round_trip_is_plain_values_and_checked(tmp_path):
    import random

    import numpy as np

    payload = {"fingerprint": "abc", "epoch": 2, "model": {"w": torch.ones(2)}, "optimizer": {}, "scheduler": {},
               "rng": [{"numpy": np.random.get_state(), "python": random.getstate()}], "history": [{"epoch": 1}],
               "best_state": {"w": torch.zeros(2)}, "best_epoch": 1, "stale_epochs": 0}
    save_checkpoint(tmp_path, payload)
    # the file needs no allow-list: weights_only reads it as is
    raw = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert raw["rng"][0]["numpy"][0] == "MT19937" and len(raw["rng"][0]["numpy"][1]) == 624
    state = load_checkpoint(tmp_path, fingerprint="abc")
    np.random.set_state(state["rng"][0]["numpy"])
    assert torch.equal(state["best_state"]["w"], torch.zeros(2))
    from inference.errors import TrainingError

    with pytest.raises(TrainingError, match="different dataset split"):
        load_checkpoint(tmp_path, fingerprint="other")
    torch.save({"fingerprint": "abc", "epoch": 2}, tmp_path / "checkpoint.pt")
    with pytest.raises(TrainingError, match="not a complete training checkpoint"):
        load_checkpoint(tmp_path)


def test_existing_bundle_is_refused_before_training(trained_bundle, small_kermany, tmp_path, capsys):
    out = tmp_path / "bundle"
    shutil.copytree(trained_bundle[0], out)
    (out / "notes.txt").write_text("my notes about this model")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    started = time.monotonic()
    rc = train_main(["--data", str(small_kermany), "--out", str(out), "--epochs", "1", *TINY_ARGS])
    err = capsys.readouterr().err
    assert rc == 2 and "already exists (a model bundle)" in err and "--overwrite" in err
    assert time.monotonic() - started < 5  # refused up front, not after a training run
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not (tmp_path / "bundle.partial").exists()


def test_non_bundle_folder_is_refused_before_training_and_leaves_nothing(small_kermany, tmp_path, capsys):
    out = tmp_path / "my-documents"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"important")
    rc = train_main(["--data", str(small_kermany), "--out", str(out), "--epochs", "1", *TINY_ARGS])
    assert rc == 2 and "a folder with other files" in capsys.readouterr().err
    assert (out / "thesis.docx").read_bytes() == b"important"
    assert not (tmp_path / "my-documents.partial").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-documents"]


def test_overwrite_moves_the_old_output_aside(trained_bundle, small_kermany, tmp_path, capsys):
    out = tmp_path / "bundle"
    shutil.copytree(trained_bundle[0], out)
    (out / "notes.txt").write_text("my notes about this model")
    os.mkdir(out / "screenshots")
    (out / "screenshots" / "a.png").write_bytes(b"png")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    rc = train_main(["--data", str(small_kermany), "--out", str(out), "--epochs", "1", "--overwrite", *TINY_ARGS])
    assert rc == 0
    import json

    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    moved = Path(summary["previous_output_moved_to"])
    assert moved.name.startswith("bundle.previous-") and moved.parent == tmp_path
    assert {p.relative_to(moved): p.read_bytes() for p in moved.rglob("*") if p.is_file()} == before
    assert not (out / "notes.txt").exists()
    assert load_bundle(out).card["training"]["epochs_run"] == 1


def test_zero_byte_files_are_unreadable_not_conflicting_duplicates(small_kermany, tmp_path):
    """Two empty files (one per class) share one SHA-256: reported as unreadable, not as a duplicate group with
    conflicting labels (or leakage)."""
    from training.stages.prepare import DataOptions, inspect_dataset

    root = tmp_path / "data"
    for label in ("NORMAL", "PNEUMONIA"):
        (root / label).mkdir(parents=True)
        for source in sorted((small_kermany / label).iterdir()):
            (root / label / source.name).symlink_to(source.resolve())
        (root / label / "empty.jpeg").write_bytes(b"")
    report = inspect_dataset(DataOptions(data=root, img_size=32), pretrained=False, seed=1).report
    assert sorted(Path(u["path"]).parent.name for u in report.unreadable) == ["NORMAL", "PNEUMONIA"]
    assert all("empty" in u["reason"] for u in report.unreadable)
    assert not any(g["labels_conflict"] for g in report.duplicates_within_split + report.duplicates_across_splits)
    assert not any("different class labels" in w for w in report.warnings)
