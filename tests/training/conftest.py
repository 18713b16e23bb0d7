"""Small real datasets for the training tests: symlinks to a few dozen Kermany images (never copies of the
data set in the repository; the links live in pytest's tmp folder)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PER_CLASS = 24


def kermany_train(shared_data: Path) -> Path:
    return shared_data / "chest-xray-pneumonia" / "train"


def _first_files(folder: Path, count: int) -> list[Path]:
    return sorted(folder.iterdir())[:count]


def link_files(files: list[Path], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        os.symlink(path, target / path.name)


@pytest.fixture(scope="session")
def small_kermany(shared_data: Path, tmp_path_factory) -> Path:
    """ROOT/CLASS/* with PER_CLASS real images per class (first files by name: several patients each)."""
    root = tmp_path_factory.mktemp("small_kermany")
    train = kermany_train(shared_data)
    for label in ("NORMAL", "PNEUMONIA"):
        link_files(_first_files(train / label, PER_CLASS), root / label)
    return root


@pytest.fixture(scope="session")
def trained_bundle(small_kermany: Path, tmp_path_factory) -> tuple[Path, dict]:
    """One real (tiny) training run shared by several tests: compact_cnn, 32 px, 3 epochs."""
    from training.cli_train import main

    out = tmp_path_factory.mktemp("trained") / "bundle"
    import contextlib
    import io
    import json

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["--data", str(small_kermany), "--arch", "compact_cnn", "--epochs", "3", "--img-size", "32",
                   "--batch-size", "8", "--out", str(out), "--quiet", "--seed", "3", "--tta"])
    assert rc == 0
    summary = json.loads(stdout.getvalue().strip().splitlines()[-1])
    return out, summary


def copy_files(files: list[Path], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, target / path.name)
