"""Paths into `resources/` that work from a source checkout and from the frozen (PyInstaller) app.

Frozen builds unpack data under `sys._MEIPASS`; the installer puts `resources/` there. The environment
variable XRAYVIEW_RESOURCES_DIR overrides both (tests and portable installs).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

RESOURCES_ENV = "XRAYVIEW_RESOURCES_DIR"
MODELS_ENV = "XRAYVIEW_MODELS_DIR"


def resources_dir() -> Path:
    override = os.environ.get(RESOURCES_ENV)
    if override:
        return Path(override)
    frozen_root = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def models_dir() -> Path:
    """resources/models, or XRAYVIEW_MODELS_DIR when set (the self-test's tests, a site's own model folder)."""
    override = os.environ.get(MODELS_ENV)
    return Path(override) if override else resource_path("models")


def samples_dir() -> Path:
    return resource_path("samples")


def icons_dir() -> Path:
    return resource_path("icons")
