"""Typed access to the persisted user settings (QSettings). Tests pass their own QSettings (an INI file in a temp
folder) so they never touch the user's real settings."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from inference.vocabulary import DEFAULT_CAM_METHOD, DEFAULT_DEVICE, DEVICE_CHOICES

ORGANIZATION = "XRayView"
APPLICATION = "XRayView"

THEMES = ("dark", "light")
MAX_RECENT_FILES = 10
AUDIT_SOURCE_PATH_CHOICES = ("auto", "full", "folder")


class AppSettings:
    def __init__(self, qsettings: QSettings | None = None):
        self._s = qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)

    @property
    def qsettings(self) -> QSettings:
        return self._s

    def sync(self) -> None:
        self._s.sync()

    # -- helpers ----------------------------------------------------------------------------------------------
    def _get_str(self, key: str, default: str) -> str:
        value = self._s.value(key, default)
        return str(value) if value is not None else default

    def _get_bool(self, key: str, default: bool) -> bool:
        value = self._s.value(key, default)
        if isinstance(value, str):  # INI files give strings back
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)

    def _get_float(self, key: str, default: float | None) -> float | None:
        value = self._s.value(key, default)
        if value in (None, ""):
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            return default

    # -- model and device -------------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        value = self._get_str("ai/device", DEFAULT_DEVICE)
        return value if value in DEVICE_CHOICES else DEFAULT_DEVICE

    @device.setter
    def device(self, value: str) -> None:
        if value not in DEVICE_CHOICES:
            raise ValueError(f"unknown device {value!r}; choose one of {', '.join(DEVICE_CHOICES)}")
        self._s.setValue("ai/device", value)

    @property
    def model_path(self) -> str:
        """The chosen bundle folder; empty means the first bundle found."""
        return self._get_str("ai/model_path", "")

    @model_path.setter
    def model_path(self, value: str) -> None:
        self._s.setValue("ai/model_path", str(value))

    @property
    def user_models_dir(self) -> str:
        return self._get_str("ai/user_models_dir", "")

    @user_models_dir.setter
    def user_models_dir(self, value: str) -> None:
        self._s.setValue("ai/user_models_dir", str(value))

    @property
    def threshold_override(self) -> float | None:
        """None means "use the model card's operating threshold"."""
        value = self._get_float("ai/threshold_override", None)
        return value if value is None or 0.0 <= value <= 1.0 else None

    @threshold_override.setter
    def threshold_override(self, value: float | None) -> None:
        if value is None:
            self._s.remove("ai/threshold_override")
        else:
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError("threshold must be between 0 and 1")
            self._s.setValue("ai/threshold_override", float(value))

    @property
    def show_call_when_ood(self) -> bool:
        """Expert override: show the model's call even when the out-of-distribution guard warns (inference.results
        show_anyway). Off by default; every output then marks the call as shown anyway."""
        return self._get_bool("ai/show_call_when_ood", False)

    @show_call_when_ood.setter
    def show_call_when_ood(self, value: bool) -> None:
        self._s.setValue("ai/show_call_when_ood", bool(value))

    @property
    def auto_run(self) -> bool:
        return self._get_bool("ai/auto_run", True)

    @auto_run.setter
    def auto_run(self, value: bool) -> None:
        self._s.setValue("ai/auto_run", bool(value))

    @property
    def cam_method(self) -> str:
        return self._get_str("overlay/cam_method", DEFAULT_CAM_METHOD)

    @cam_method.setter
    def cam_method(self, value: str) -> None:
        self._s.setValue("overlay/cam_method", str(value))

    # -- appearance -------------------------------------------------------------------------------------------
    @property
    def theme(self) -> str:
        value = self._get_str("ui/theme", "dark")
        return value if value in THEMES else "dark"

    @theme.setter
    def theme(self, value: str) -> None:
        if value not in THEMES:
            raise ValueError(f"unknown theme {value!r}")
        self._s.setValue("ui/theme", value)

    @property
    def deidentify_exports(self) -> bool:
        """PNG/PDF/CSV exports and AI DICOM results leave out patient identifiers (inference.deid)."""
        return self._get_bool("export/deidentify", False)

    @deidentify_exports.setter
    def deidentify_exports(self, value: bool) -> None:
        self._s.setValue("export/deidentify", bool(value))

    @property
    def audit_source_path(self) -> str:
        """What the AI audit log keeps of a source file's name: "auto" (the folder only while exports are
        de-identified, else the full path), "full", or "folder" (the file is identified by its SHA-256)."""
        value = self._get_str("audit/source_path", "auto")
        return value if value in AUDIT_SOURCE_PATH_CHOICES else "auto"

    @audit_source_path.setter
    def audit_source_path(self, value: str) -> None:
        if value not in AUDIT_SOURCE_PATH_CHOICES:
            raise ValueError(f"unknown audit source path setting {value!r}")
        self._s.setValue("audit/source_path", value)

    @property
    def audit_source_path_policy(self) -> str:
        """The policy inference.audit applies now: "full" or "folder"."""
        choice = self.audit_source_path
        if choice == "auto":
            return "folder" if self.deidentify_exports else "full"
        return choice

    @property
    def overlay_visible(self) -> bool:
        return self._get_bool("overlay/visible", True)

    @overlay_visible.setter
    def overlay_visible(self, value: bool) -> None:
        self._s.setValue("overlay/visible", bool(value))

    @property
    def overlay_opacity(self) -> float:
        value = self._get_float("overlay/opacity", 0.45)
        return min(1.0, max(0.0, value if value is not None else 0.45))

    @overlay_opacity.setter
    def overlay_opacity(self, value: float) -> None:
        self._s.setValue("overlay/opacity", min(1.0, max(0.0, float(value))))

    @property
    def overlay_colormap(self) -> str:
        return self._get_str("overlay/colormap", "jet")

    @overlay_colormap.setter
    def overlay_colormap(self, value: str) -> None:
        self._s.setValue("overlay/colormap", str(value))

    @property
    def corner_text_visible(self) -> bool:
        return self._get_bool("view/corner_text", True)

    @corner_text_visible.setter
    def corner_text_visible(self, value: bool) -> None:
        self._s.setValue("view/corner_text", bool(value))

    @property
    def overlay_planes_visible(self) -> bool:
        """View > Overlay Planes: the image's DICOM overlay planes (60xx) drawn over it."""
        return self._get_bool("view/overlay_planes", True)

    @overlay_planes_visible.setter
    def overlay_planes_visible(self, value: bool) -> None:
        self._s.setValue("view/overlay_planes", bool(value))

    # -- files ------------------------------------------------------------------------------------------------
    @property
    def recent_files(self) -> list[str]:
        value = self._s.value("files/recent", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or [])][:MAX_RECENT_FILES]

    def add_recent_file(self, path: str) -> None:
        paths = [p for p in self.recent_files if p != str(path)]
        self._s.setValue("files/recent", [str(path)] + paths[: MAX_RECENT_FILES - 1])

    def clear_recent_files(self) -> None:
        self._s.setValue("files/recent", [])

    @property
    def last_directory(self) -> str:
        return self._get_str("files/last_directory", "")

    @last_directory.setter
    def last_directory(self, value: str) -> None:
        self._s.setValue("files/last_directory", str(value))

    # -- viewer -----------------------------------------------------------------------------------------------
    @property
    def user_window_presets(self) -> list:
        """The user's saved window/level presets (desktop.window_presets.UserPreset), in menu order."""
        import json

        from desktop.window_presets import UserPreset

        try:
            rows = json.loads(self._get_str("view/window_presets", "[]"))
            return [UserPreset(str(r["name"]), float(r["center"]), float(r["width"])) for r in rows]
        except (ValueError, TypeError, KeyError):
            return []

    @user_window_presets.setter
    def user_window_presets(self, presets) -> None:
        import json

        self._s.setValue("view/window_presets", json.dumps(
            [{"name": p.name, "center": p.center, "width": p.width} for p in presets]))

    def corner_layout(self, modality: str) -> dict[str, list[str]] | None:
        """The corner-information layout saved for `modality` ("*" = every other modality), or None."""
        import json

        text = self._get_str(f"view/corner_layout/{modality or '*'}", "")
        try:
            layout = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(layout, dict):
            return None
        return {str(corner): [str(field) for field in fields] for corner, fields in layout.items()
                if isinstance(fields, list)}

    def set_corner_layout(self, modality: str, layout: dict[str, list[str]] | None) -> None:
        import json

        key = f"view/corner_layout/{modality or '*'}"
        if layout is None:
            self._s.remove(key)
        else:
            self._s.setValue(key, json.dumps(layout))

    @property
    def toolbar_text(self) -> bool:
        """Text under the toolbar icons (off: icons with tooltips only)."""
        return self._get_bool("ui/toolbar_text", False)

    @toolbar_text.setter
    def toolbar_text(self, value: bool) -> None:
        self._s.setValue("ui/toolbar_text", bool(value))

    @property
    def viewport_layout(self) -> str:
        return self._get_str("view/layout", "1x1")

    @viewport_layout.setter
    def viewport_layout(self, value: str) -> None:
        self._s.setValue("view/layout", str(value))
