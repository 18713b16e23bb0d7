"""The training wizard (issue 4). `install_tools(host)` adds Tools > Train a Model… to the viewer (`host`:
desktop.tool_host.ToolHost)."""
from __future__ import annotations


def open_wizard(host):
    """Shows the (modeless) wizard; a saved model marked active becomes the viewer's model at once, and its
    "Calibrate it to this site…" opens Tools > Calibrate model to this site… with that model."""
    from PySide6.QtCore import Qt

    from desktop.calibration_dialog import open_calibration_dialog
    from desktop.wizard.wizard import TrainingWizard

    wizard = TrainingWizard(host.settings, host)

    def on_saved(path: str, make_active: bool) -> None:
        if make_active:
            host.settings.model_path = path
            host.apply_settings(model_changed=True)

    wizard.model_saved.connect(on_saved)
    wizard.calibrate_requested.connect(lambda path: open_calibration_dialog(host, path))
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    wizard.show()
    return wizard


def install_tools(host) -> None:
    from PySide6.QtGui import QAction

    action = QAction("&Train a Model…", host)
    action.setObjectName("train_model")
    action.triggered.connect(lambda: open_wizard(host))
    host.add_tool_actions(action)
