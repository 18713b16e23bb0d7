"""Fixtures for the installer and self-test tests: a models folder holding one tiny bundle named DEFAULT."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.tiny_models import make_tiny_bundle

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    make_tiny_bundle(root / "tiny-chest", name="tiny-chest", seed=3)
    (root / "DEFAULT").write_text("tiny-chest\n", encoding="utf-8")
    return root
