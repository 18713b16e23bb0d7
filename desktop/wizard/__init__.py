"""The training wizard (issue 4). `install_tools(main_window)` adds Tools > Train a Model… to the viewer."""
from __future__ import annotations


def open_wizard(main_window):
    """Shows the (modeless) wizard; a saved model marked active becomes the viewer's model at once."""
    from PySide6.QtCore import Qt

    from desktop.wizard.wizard import TrainingWizard

    wizard = TrainingWizard(main_window.settings, main_window)

    def on_saved(path: str, make_active: bool) -> None:
        if make_active:
            main_window.settings.model_path = path
            main_window.apply_settings(model_changed=True)

    wizard.model_saved.connect(on_saved)
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    wizard.show()
    return wizard


def install_tools(main_window) -> None:
    from PySide6.QtGui import QAction

    action = QAction("&Train a Model…", main_window)
    action.setObjectName("train_model")
    action.triggered.connect(lambda: open_wizard(main_window))
    main_window.add_tool_actions(action)
