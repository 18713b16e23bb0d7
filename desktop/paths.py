"""Per-user folders (log file, user models) and the bundled resources, found the same way from a checkout and
from the frozen app."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths


def user_data_dir() -> Path:
    """The user's data folder for XRayView (created on demand). `XRAYVIEW_DATA_DIR` overrides it (tests)."""
    override = os.environ.get("XRAYVIEW_DATA_DIR")
    if override:
        folder = Path(override)
    else:
        location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
        folder = Path(location) if location else Path.home() / ".xrayview"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_file_path() -> Path:
    return user_data_dir() / "xrayview.log"


def default_user_models_dir() -> Path:
    return user_data_dir() / "models"


def resources_dir() -> Path:
    from inference.resources import resources_dir as core_resources_dir

    return core_resources_dir()


def bundled_models_dir() -> Path:
    return resources_dir() / "models"


def sample_image_path() -> Path:
    return resources_dir() / "samples" / "chest-pa-sample.png"
