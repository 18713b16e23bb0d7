"""Every keyboard shortcut in one table: main_window binds them (desktop.window_actions), Help > Tools and
Keyboard Shortcuts (F1) lists them, with every tool of desktop.tools.TOOLS and its key."""
from __future__ import annotations

SHORTCUTS: dict[str, tuple[str, str]] = {
    # action id: (key sequence, description)
    "open": ("Ctrl+O", "Open image files (DICOM, PNG, JPEG, TIFF) or a presentation state"),
    "open_folder": ("Ctrl+Shift+O", "Open a folder (recursive): its studies in the study browser"),
    "save_gsps": ("Ctrl+S", "Save the annotations, measurements and window as a DICOM presentation state"),
    "export_png": ("Ctrl+E", "Export the current view as PNG"),
    "export_pdf": ("Ctrl+P", "Export a PDF report"),
    "analyze_folder": ("Ctrl+Shift+A", "Analyze a folder with the AI model"),
    "run_ai": ("Ctrl+R", "Run the AI model on this image"),
    "settings": ("Ctrl+,", "Settings"),
    "quit": ("Ctrl+Q", "Quit"),
    "undo": ("Ctrl+Z", "Undo the last annotation change"),
    "redo": ("Ctrl+Shift+Z", "Redo"),
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
    "delete_annotation": ("Del", "Delete the selected measurement or annotation (select it with the Select tool)"),
    "clear_measurements": ("Shift+D", "Clear the measurements and annotations of this image"),
    "next_image": ("PgDown", "Next image (in the folder or study)"),
    "previous_image": ("PgUp", "Previous image"),
    "layout_1x1": ("Alt+1", "One viewport"),
    "layout_1x2": ("Alt+2", "Two viewports side by side"),
    "layout_2x1": ("Alt+3", "Two viewports, one above the other"),
    "layout_2x2": ("Alt+4", "Four viewports"),
    "compare_prior": ("Ctrl+Shift+C", "Compare with prior: the patient's most recent earlier study beside this one"),
    "sync_window": ("Ctrl+Alt+W", "Synchronise window/level between viewports"),
    "sync_zoom_pan": ("Ctrl+Alt+Z", "Synchronise zoom and pan between viewports"),
    "shortcuts": ("F1", "This list of tools and shortcuts"),
}

EXTRA_KEYS = (
    ("Ctrl+1 … Ctrl+9", "Window/level presets: the file's own, chest lung / mediastinum / bone, then yours "
                        "(View > Window/Level Presets)"),
    ("Z (hold)", "Magnifier lens under the cursor, with any tool"),
    ("Escape", "Cancel the measurement being drawn; again: back to Pan"),
)

MOUSE_HELP = (
    ("Wheel", "Zoom around the cursor"),
    ("Left drag", "What the active tool does (Pan by default)"),
    ("Right drag", "Window/level: horizontal = width, vertical = level"),
    ("Drag a file or study", "Onto a viewport: opens it there"),
)


def _rows(items) -> str:
    return "".join(f"<tr><td><b>{key}</b></td><td>{text}</td></tr>" for key, text in items)


def shortcuts_html() -> str:
    from desktop.tools import TOOLS

    tools = "".join(f"<tr><td><b>{spec.shortcut}</b></td><td><b>{spec.title}</b></td><td>{spec.help}</td></tr>"
                    for spec in TOOLS)
    return (f"<h3>Tools</h3><table cellpadding='3'>{tools}</table>"
            f"<h3>Keyboard</h3><table cellpadding='3'>{_rows(list(SHORTCUTS.values()) + list(EXTRA_KEYS))}</table>"
            f"<h3>Mouse</h3><table cellpadding='3'>{_rows(MOUSE_HELP)}</table>")
