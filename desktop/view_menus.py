"""The View menu's per-image parts: the window/level presets (Ctrl+1..9: the file's default, chest lung /
mediastinum / bone, then the user's saved ones; see desktop.window_presets), saving the current window as a
preset, and the corner-information layout per modality (desktop.corner_overlay)."""
from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QInputDialog


class ViewMenus:
    def __init__(self, window):
        self.w = window

    def fill_window_menu(self) -> None:
        w = self.w
        menu = w.window_menu
        menu.clear()
        image = w.image
        if image is None:
            menu.setEnabled(False)
            return
        from desktop.image_adapter import window_presets
        from desktop.window_presets import SHORTCUT_SLOTS, menu_presets

        view = w.view
        presets = menu_presets(image, window_presets(image, view.value_range), w.settings.user_window_presets)
        for index, preset in enumerate(presets):
            label = preset.name + {"file": " (file)", "user": " (yours)"}.get(preset.source, "")
            action = menu.addAction(label, lambda p=preset, v=view: v.set_window_preset(p))
            if index < SHORTCUT_SLOTS:
                action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
        menu.setEnabled(bool(presets))

    def window_presets(self) -> list:
        """The presets of the active image, in menu (and Ctrl+N) order."""
        return [action.text() for action in self.w.window_menu.actions()]

    def ask_save_window_preset(self) -> None:
        if self.w.image is None:
            return
        window = self.w.view.window
        name, ok = QInputDialog.getText(self.w, "Save window preset", "Name:",
                                        text=f"W {window.width:.0f} L {window.center:.0f}")
        if ok and name.strip():
            self.save_window_preset(name.strip())

    def save_window_preset(self, name: str) -> None:
        from desktop.window_presets import UserPreset

        w = self.w
        window = w.view.window
        presets = [p for p in w.settings.user_window_presets if p.name != name]
        w.settings.user_window_presets = presets + [UserPreset(name, window.center, window.width)]
        self.fill_window_menu()
        w.statusBar().showMessage(f"Window preset {name!r} saved (View > Window/Level Presets)", 8000)

    def corner_lines(self, image) -> dict[str, list[str]]:
        from desktop.corner_overlay import corner_lines, layout_for

        return corner_lines(image, layout_for(self.w.settings, image))

    def edit_corner_layout(self) -> None:
        from desktop.corner_overlay_dialog import CornerLayoutDialog

        w = self.w
        modality = str((getattr(w.image, "metadata", None) or {}).get("Modality") or "*")
        if CornerLayoutDialog(w.settings, modality, w).exec() == QDialog.DialogCode.Accepted:
            for viewport in w.grid.all_viewports():
                viewport.view.viewport().update()
