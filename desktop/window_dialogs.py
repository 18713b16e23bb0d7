"""The window's modal dialogs: Settings, the model card, Help > About, the tools and shortcuts list (F1) and
where the log file is. Each gets what it shows passed in."""
from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QDialog, QMessageBox


class WindowDialogs:
    def __init__(self, session, settings, colormaps: Callable[[], list[str]], messages,
                 apply_settings: Callable[[bool], None], dialog_parent):
        """`session`: the AI session (its model card); `colormaps()`: the names known so far ([] before the
        colormap module is loaded); `apply_settings(model_changed)`: what the window does after Settings > OK."""
        self._session, self._settings, self._colormaps, self._messages = session, settings, colormaps, messages
        self._apply_settings, self._parent = apply_settings, dialog_parent
        self.shortcuts_dialog = None  # the F1 list while it is open (tests read it)

    def open_settings(self) -> None:
        from desktop.heatmap_layer import colormap_names
        from desktop.settings_dialog import SettingsDialog

        settings = self._settings
        before = (settings.device, settings.model_path, settings.user_models_dir)
        dialog = SettingsDialog(settings, self._colormaps() or colormap_names(), self._parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        dialog.apply()
        self._apply_settings(before != (settings.device, settings.model_path, settings.user_models_dir))

    def show_model_card(self) -> None:
        if self._session.card is None:
            self._messages.error("No AI model is loaded.")
            return
        from desktop.model_card_dialog import ModelCardDialog

        ModelCardDialog(self._session.card, self._parent).exec()

    def show_about(self) -> None:
        from desktop.about_dialog import AboutDialog

        AboutDialog(self._session.card, self._parent).exec()

    def show_shortcuts(self) -> None:
        from desktop.about_dialog import ShortcutsDialog

        self.shortcuts_dialog = ShortcutsDialog(self._parent)
        self.shortcuts_dialog.exec()

    def show_log_location(self) -> None:
        from desktop.paths import log_file_path

        QMessageBox.information(self._parent, "Log file", f"Unexpected errors are logged to:\n{log_file_path()}")
