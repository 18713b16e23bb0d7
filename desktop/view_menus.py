"""The View menu's per-image parts: the window/level presets (Ctrl+1..9: the file's default, chest lung /
mediastinum / bone, then the user's saved ones; see desktop.window_presets), saving the current window as a
preset, the corner-information layout per modality (desktop.corner_overlay) and the DICOM overlay planes
(`overlay_planes`, desktop.overlay_layer: the window tells it when an image is shown)."""
from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QInputDialog, QMenu

from desktop.overlay_layer import OverlayLayer


class ViewMenus:
    def __init__(self, grid, settings, messages, dialog_parent):
        """`grid`: the viewports (the menus act on the active one); `messages`:
        desktop.status_messages.StatusMessages; `dialog_parent`: the widget the menu and dialogs belong to."""
        self._grid, self._settings, self._messages, self._parent = grid, settings, messages, dialog_parent
        self.window_menu = QMenu("&Window/Level Presets", dialog_parent)
        self.window_menu.setEnabled(False)
        self.overlay_planes = OverlayLayer(grid, settings, messages)

    def fill_window_menu(self) -> None:
        menu = self.window_menu
        menu.clear()
        image = self._grid.active.image
        if image is None:
            menu.setEnabled(False)
            return
        from desktop.image_adapter import window_presets
        from desktop.window_presets import SHORTCUT_SLOTS, menu_presets

        view = self._grid.active.view
        presets = menu_presets(image, window_presets(image, view.value_range), self._settings.user_window_presets)
        for index, preset in enumerate(presets):
            label = preset.name + {"file": " (file)", "user": " (yours)"}.get(preset.source, "")
            action = menu.addAction(label, lambda p=preset, v=view: v.set_window_preset(p))
            if index < SHORTCUT_SLOTS:
                action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
        menu.setEnabled(bool(presets))

    def window_presets(self) -> list:
        """The presets of the active image, in menu (and Ctrl+N) order."""
        return [action.text() for action in self.window_menu.actions()]

    def ask_save_window_preset(self) -> None:
        if self._grid.active.image is None:
            return
        window = self._grid.active.view.window
        name, ok = QInputDialog.getText(self._parent, "Save window preset", "Name:",
                                        text=f"W {window.width:.0f} L {window.center:.0f}")
        if ok and name.strip():
            self.save_window_preset(name.strip())

    def save_window_preset(self, name: str) -> None:
        from desktop.window_presets import UserPreset

        window = self._grid.active.view.window
        presets = [p for p in self._settings.user_window_presets if p.name != name]
        self._settings.user_window_presets = presets + [UserPreset(name, window.center, window.width)]
        self.fill_window_menu()
        self._messages.info(f"Window preset {name!r} saved (View > Window/Level Presets)")

    def corner_lines(self, image) -> dict[str, list[str]]:
        from desktop.corner_overlay import corner_lines, layout_for

        return corner_lines(image, layout_for(self._settings, image))

    def edit_corner_layout(self) -> None:
        from desktop.corner_overlay_dialog import CornerLayoutDialog

        modality = str((getattr(self._grid.active.image, "metadata", None) or {}).get("Modality") or "*")
        if CornerLayoutDialog(self._settings, modality, self._parent).exec() == QDialog.DialogCode.Accepted:
            for viewport in self._grid.all_viewports():
                viewport.view.viewport().update()
