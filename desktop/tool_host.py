"""Optional tools (the Tools menu: PACS, AI audit log, site calibration, training wizard) plug into the viewer
through `install_tools(host)`: a module that defines it gets a `ToolHost`, the window's narrow interface for them,
and adds its menu actions. A missing module is fine; a broken one is logged, never fatal."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

from desktop import error_reporting

OPTIONAL_TOOL_MODULES = ("desktop.pacs_dialog", "desktop.audit_log_dialog", "desktop.wizard",
                         "desktop.calibration_dialog")


class ToolHost(Protocol):
    """What a tool may use of the viewer. The host is also the QWidget its dialogs belong to."""

    settings: Any  # desktop.settings.AppSettings

    def add_tool_actions(self, *actions) -> None:
        """Adds QActions to the Tools menu (and shows the menu)."""

    def apply_settings(self, model_changed: bool = False) -> None:
        """The settings changed (with `model_changed`: the model to load, e.g. a new bundle is active)."""

    def open_paths(self, paths, viewport=None) -> None:
        """Opens files or folders in the viewer (the active viewport)."""

    def active_model_path(self) -> Path | None:
        """The folder of the model in use (None when none is loaded)."""

    def keep_tool_dialog(self, name: str, dialog) -> None:
        """Remembers a tool's dialog, e.g. to raise it again rather than open a second one."""

    def tool_dialog(self, name: str):
        """The dialog kept under `name`, or None."""


def install_optional_tools(host: ToolHost, module_names=OPTIONAL_TOOL_MODULES) -> None:
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                error_reporting.report_unexpected(error, f"loading {name}")
            continue
        except Exception as error:  # noqa: BLE001 - a broken optional tool must not stop the viewer
            error_reporting.report_unexpected(error, f"loading {name}")
            continue
        install = getattr(module, "install_tools", None)
        if callable(install):
            try:
                install(host)
            except Exception as error:  # noqa: BLE001
                error_reporting.report_unexpected(error, f"installing {name}")
