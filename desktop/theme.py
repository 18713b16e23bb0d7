"""Dark (default) and light themes: Fusion style, a palette and a small style sheet."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = "#3d8fd6"
POSITIVE = "#ef6c57"
NEGATIVE = "#4caf83"
NEAR_THRESHOLD = "#f0c674"  # the amber of the AI panel's notes: a call near the threshold reads as undecided

_DARK = {
    "window": "#1e2226", "base": "#15181b", "alt": "#23282d", "text": "#d8dee4", "button": "#2a3036",
    "mid": "#3a424a", "disabled": "#6b747c", "tooltip": "#2a3036",
}
_LIGHT = {
    "window": "#eef1f4", "base": "#ffffff", "alt": "#f4f6f8", "text": "#1c2227", "button": "#e2e6ea",
    "mid": "#b8c0c8", "disabled": "#8a939b", "tooltip": "#ffffff",
}


def _palette(colors: dict[str, str]) -> QPalette:
    palette = QPalette()
    role = QPalette.ColorRole
    palette.setColor(role.Window, QColor(colors["window"]))
    palette.setColor(role.WindowText, QColor(colors["text"]))
    palette.setColor(role.Base, QColor(colors["base"]))
    palette.setColor(role.AlternateBase, QColor(colors["alt"]))
    palette.setColor(role.Text, QColor(colors["text"]))
    palette.setColor(role.Button, QColor(colors["button"]))
    palette.setColor(role.ButtonText, QColor(colors["text"]))
    palette.setColor(role.ToolTipBase, QColor(colors["tooltip"]))
    palette.setColor(role.ToolTipText, QColor(colors["text"]))
    palette.setColor(role.Highlight, QColor(ACCENT))
    palette.setColor(role.HighlightedText, QColor("#ffffff"))
    palette.setColor(role.Mid, QColor(colors["mid"]))
    palette.setColor(role.PlaceholderText, QColor(colors["disabled"]))
    for group_role in (role.Text, role.WindowText, role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, group_role, QColor(colors["disabled"]))
    return palette


def _style_sheet(colors: dict[str, str]) -> str:
    return f"""
    QGroupBox {{ border: 1px solid {colors['mid']}; border-radius: 4px; margin-top: 14px; padding-top: 4px;
                 font-weight: 600; }}
    QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; color: {ACCENT}; }}
    QLabel#callLabel {{ font-size: 20px; font-weight: 700; padding: 6px; border-radius: 4px;
                        background: {colors['alt']}; }}
    QLabel#callLabel[call="negative"] {{ color: {NEGATIVE}; }}
    QLabel#callLabel[call="positive"] {{ color: {POSITIVE}; }}
    QLabel#callLabel[call="withheld"] {{ color: {colors['disabled']}; font-size: 15px; }}
    QLabel#callLabel[near="true"] {{ border: 2px dashed {NEAR_THRESHOLD}; }}
    QLabel#notice {{ color: {colors['disabled']}; font-size: 11px; }}
    QLabel#aiStatus {{ color: {colors['disabled']}; }}
    QProgressBar {{ border: 1px solid {colors['mid']}; border-radius: 3px; text-align: center; height: 18px;
                    background: {colors['base']}; }}
    QProgressBar::chunk {{ background: {NEGATIVE}; border-radius: 2px; }}
    QProgressBar[positive="true"]::chunk {{ background: {POSITIVE}; }}
    QProgressBar[applicable="false"]::chunk {{ background: {colors['mid']}; }}
    QProgressBar[applicable="false"] {{ color: {colors['disabled']}; }}
    QToolBar {{ border: none; spacing: 2px; padding: 2px; }}
    QDockWidget::title {{ padding: 4px; background: {colors['alt']}; }}
    QStatusBar {{ background: {colors['alt']}; }}
    """


def apply_theme(app: QApplication, name: str) -> None:
    colors = _LIGHT if name == "light" else _DARK
    app.setStyle("Fusion")
    app.setPalette(_palette(colors))
    app.setStyleSheet(_style_sheet(colors))
