"""Every keyboard shortcut in one table: main_window binds them, Help > Keyboard shortcuts lists them."""
from __future__ import annotations

SHORTCUTS: dict[str, tuple[str, str]] = {
    # action id: (key sequence, description)
    "open": ("Ctrl+O", "Open image files"),
    "open_folder": ("Ctrl+Shift+O", "Open a folder (recursive)"),
    "export_png": ("Ctrl+E", "Export the current view as PNG"),
    "export_pdf": ("Ctrl+P", "Export a PDF report"),
    "analyze_folder": ("Ctrl+Shift+A", "Analyze a folder with the AI model"),
    "run_ai": ("Ctrl+R", "Run the AI model on this image"),
    "settings": ("Ctrl+,", "Settings"),
    "quit": ("Ctrl+Q", "Quit"),
    "fit": ("F", "Fit image to window"),
    "actual_size": ("1", "Zoom 1:1 (one image pixel per screen pixel)"),
    "zoom_in": ("+", "Zoom in"),
    "zoom_out": ("-", "Zoom out"),
    "rotate_cw": ("]", "Rotate 90° clockwise"),
    "rotate_ccw": ("[", "Rotate 90° counter-clockwise"),
    "flip_h": ("Shift+H", "Flip horizontally"),
    "flip_v": ("Shift+V", "Flip vertically"),
    "invert": ("I", "Invert grey levels"),
    "reset": ("R", "Reset view (window, zoom, rotation, flips, inversion)"),
    "heatmap": ("H", "Show/hide the AI heatmap"),
    "corner_text": ("C", "Show/hide the corner information"),
    "measure": ("D", "Distance tool on/off"),
    "clear_measurements": ("Shift+D", "Clear measurements"),
    "next_image": ("PgDown", "Next image in the folder"),
    "previous_image": ("PgUp", "Previous image in the folder"),
    "shortcuts": ("F1", "This list of shortcuts"),
}

EXTRA_KEYS = (
    ("Ctrl+1 … Ctrl+9", "Window/level presets (the file's own first, then standard ones; View menu)"),
)

MOUSE_HELP = (
    ("Wheel", "Zoom around the cursor"),
    ("Left drag", "Pan (or measure, with the distance tool on)"),
    ("Right drag", "Window/level: horizontal = width, vertical = level"),
)


def shortcuts_html() -> str:
    rows = "".join(f"<tr><td><b>{key}</b></td><td>{text}</td></tr>"
                   for key, text in list(SHORTCUTS.values()) + list(EXTRA_KEYS))
    mouse = "".join(f"<tr><td><b>{key}</b></td><td>{text}</td></tr>" for key, text in MOUSE_HELP)
    return (f"<h3>Keyboard</h3><table cellpadding='3'>{rows}</table>"
            f"<h3>Mouse</h3><table cellpadding='3'>{mouse}</table>")
