"""The wizard's warning banner: white bold text on red, hidden until there is something to say."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel


def warning_banner(object_name: str, accessible_name: str) -> QLabel:
    label = QLabel("")
    label.setObjectName(object_name)
    label.setAccessibleName(accessible_name)
    label.setWordWrap(True)
    label.setStyleSheet(f"QLabel#{object_name} {{ color: #ffffff; background: #b00020; padding: 4px; "
                        "font-weight: bold; }")
    label.hide()
    return label
