"""Per-user folders (log file, user models) and the bundled resources, found the same way from a checkout and
from the frozen app."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths


APP_FOLDER = "XRayView"


def user_data_dir() -> Path:
    """The user's data folder for XRayView (created on demand): the platform's per-user data folder plus
    "XRayView" (~/.local/share/XRayView, %LOCALAPPDATA%\\XRayView, ~/Library/Application Support/XRayView), the
    same one the audit log uses. `XRAYVIEW_DATA_DIR` overrides it (tests)."""
    override = os.environ.get("XRAYVIEW_DATA_DIR")
    if override:
        folder = Path(override)
    else:
        location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        folder = Path(location) / APP_FOLDER if location else Path.home() / ".xrayview"
        _move_legacy_models(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _move_legacy_models(folder: Path) -> None:
    """Earlier versions kept user models in <data>/XRayView/XRayView/models (Qt's organisation/application
    folder); they move once to <data>/XRayView/models, never over an existing folder."""
    legacy = folder / APP_FOLDER / "models"
    target = folder / "models"
    if legacy.is_dir() and not target.exists():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            legacy.rename(target)
        except OSError:
            pass  # left where it is: Settings can still point at it


def log_file_path() -> Path:
    return user_data_dir() / "xrayview.log"


def default_user_models_dir() -> Path:
    return user_data_dir() / "models"


def resources_dir() -> Path:
    from inference.resources import resources_dir as core_resources_dir

    return core_resources_dir()


def sample_image_path() -> Path:
    return resources_dir() / "samples" / "chest-pa-sample.png"
