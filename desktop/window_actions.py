"""The main window's actions, menus and toolbar, made from tables: ACTIONS (id, text, slot, icon, checkable),
the keyboard shortcuts (desktop.shortcuts.SHORTCUTS) and the tools (desktop.tools.TOOLS). Slots are names on
the main window or on one of its parts ("view.fit" acts on the active viewport's view when triggered), so every
action follows the active viewport."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from desktop.icons import icon
from desktop.shortcuts import SHORTCUTS
from desktop.tools import TOOLS
from desktop.viewport_grid import LAYOUT_TITLES

# id: (menu text, slot, icon or "", checkable)
ACTIONS: dict[str, tuple[str, str, str, bool]] = {
    "open": ("&Open…", "opener.ask_open_files", "open", False),
    "open_folder": ("Open &Folder…", "opener.ask_open_folder", "folder", False),
    "open_dicomdir": ("Open &DICOMDIR…", "opener.ask_open_dicomdir", "", False),
    "export_png": ("Export View as &PNG…", "exports.ask_export_png", "", False),
    "export_pdf": ("Export PDF &Report…", "exports.ask_export_pdf", "report", False),
    "save_gsps": ("&Save Presentation State (GSPS)…", "exports.ask_save_presentation_state", "save", False),
    "send_gsps": ("Send Presentation State to PA&CS…", "exports.send_presentation_state", "", False),
    "analyze_folder": ("&Analyze Folder…", "ask_analyze_folder", "batch", False),
    "run_ai": ("&Run AI on This Image", "run_prediction", "run_ai", False),
    "settings": ("&Settings…", "open_settings", "", False),
    "quit": ("&Quit", "close", "", False),
    "fit": ("&Fit to Window", "view.fit", "fit", False),
    "actual_size": ("Actual Size (&1:1)", "view.actual_size", "actual_size", False),
    "zoom_in": ("Zoom &In", "view.zoom_in", "", False),
    "zoom_out": ("Zoom &Out", "view.zoom_out", "", False),
    "rotate_cw": ("Rotate 90° &Clockwise", "view.rotate_cw", "rotate", False),
    "rotate_ccw": ("Rotate 90° Counter-clockwise", "view.rotate_ccw", "", False),
    "flip_h": ("Flip &Horizontal", "view.flip_horizontal", "flip", False),
    "flip_v": ("Flip &Vertical", "view.flip_vertical", "", False),
    "invert": ("&Invert", "view.toggle_invert", "invert", False),
    "reset": ("&Reset View", "view.reset", "reset", False),
    "heatmap": ("Show &Heatmap", "set_heatmap_visible", "heatmap", True),
    "corner_text": ("Corner &Information", "set_corner_text_visible", "corner_text", True),
    "corner_layout": ("Corner Information &Layout…", "menus_view.edit_corner_layout", "", False),
    "undo": ("&Undo", "view.annotations.undo", "undo", False),
    "redo": ("&Redo", "view.annotations.redo", "redo", False),
    "delete_annotation": ("&Delete Selected Annotation", "view.delete_selected", "", False),
    "clear_measurements": ("Clear &Measurements and Annotations", "view.clear_measurements", "", False),
    "save_window_preset": ("Save Current Window as Preset…", "menus_view.ask_save_window_preset", "", False),
    "next_image": ("&Next Image", "next_image", "", False),
    "previous_image": ("&Previous Image", "previous_image", "", False),
    "compare_prior": ("&Compare with Prior", "opener.compare_with_prior", "compare", False),
    "sync_window": ("Sync &Window/Level", "grid.set_sync_window", "sync", True),
    "sync_zoom_pan": ("Sync &Zoom and Pan", "grid.set_sync_zoom_pan", "", True),
    "toolbar_text": ("Toolbar &Text Labels", "set_toolbar_text", "", True),
    "shortcuts": ("&Tools and Keyboard Shortcuts", "show_shortcuts", "", False),
    "save_ai_dicom": ("Save AI Result as &DICOM (SC + SR)…", "exports.ask_save_ai_dicom", "", False),
    "send_ai_pacs": ("Send AI Result to &PACS…", "send_ai_result_to_pacs", "", False),
    "deidentify_exports": ("De-&identify Exports", "set_deidentify_exports", "", True),
    "open_sample": ("Open &Sample Image", "opener.open_sample", "", False),
    "model_card": ("&Model Card…", "show_model_card", "", False),
    "about": ("&About XRayView", "show_about", "", False),
    "log_file": ("Show &Log File Location", "show_log_location", "", False),
    **{f"layout_{name}": (title, f"layout:{name}", f"layout_{name}", True) for name, title in LAYOUT_TITLES.items()},
}
TOOLBAR = ("open", "open_folder", None, "fit", "actual_size", "rotate_cw", "flip_h", "invert", "reset", None,
           "TOOLS", None, "undo", "redo", None, "layout_1x1", "layout_1x2", "layout_2x2", "compare_prior",
           "sync_window", None, "corner_text", "heatmap", None, "run_ai", "analyze_folder", "export_pdf", "save_gsps")
ICON_TEXT = {"open": "Open", "open_folder": "Folder", "fit": "Fit", "actual_size": "1:1", "rotate_cw": "Rotate",
             "flip_h": "Flip", "invert": "Invert", "reset": "Reset", "corner_text": "Info", "heatmap": "Heatmap",
             "run_ai": "Analyze", "analyze_folder": "Batch", "export_pdf": "Report", "undo": "Undo", "redo": "Redo",
             "compare_prior": "Prior", "sync_window": "Sync", "save_gsps": "Save PR", "layout_1x1": "1x1",
             "layout_1x2": "1x2", "layout_2x1": "2x1", "layout_2x2": "2x2"}


def _slot(window, slot: str):
    """"name" is window.name; "part.name" is window.part.name, looked up when triggered (window.view is the
    active viewport's view at that moment); "layout:NAME" sets that layout."""
    if slot.startswith("layout:"):
        name = slot[len("layout:"):]
        return lambda *_: window.set_layout(name)
    def target():
        obj = window
        for part in slot.split("."):
            obj = getattr(obj, part)
        return obj

    if ACTIONS_BY_SLOT_CHECKABLE.get(slot):
        return lambda checked: target()(checked)
    return lambda *_: target()()


ACTIONS_BY_SLOT_CHECKABLE = {slot: checkable for _, slot, _, checkable in ACTIONS.values()}


def build_actions(window) -> dict[str, QAction]:
    actions: dict[str, QAction] = {}
    for name, (text, slot, icon_name, checkable) in ACTIONS.items():
        action = QAction(text, window)
        action.setObjectName(name)
        action.setCheckable(checkable)
        if icon_name:
            action.setIcon(icon(icon_name))
        if name in SHORTCUTS:
            key, description = SHORTCUTS[name]
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{description} ({key})")
        action.setIconText(ICON_TEXT.get(name, text.replace("&", "").rstrip("…")))
        action.triggered.connect(_slot(window, slot))
        window.addAction(action)  # shortcuts work even when the toolbar is hidden
        actions[name] = action
    layouts = QActionGroup(window)
    for name in LAYOUT_TITLES:
        layouts.addAction(actions[f"layout_{name}"])
    window.tool_group = QActionGroup(window)
    window.tool_group.setExclusive(True)
    for spec in TOOLS:
        action = QAction(spec.title, window)
        action.setObjectName(spec.action_name)
        action.setCheckable(True)
        action.setIcon(icon(spec.icon))
        action.setShortcut(QKeySequence(spec.shortcut))
        action.setToolTip(f"{spec.title} ({spec.shortcut}): {spec.help}")
        action.setStatusTip(spec.help)
        action.setIconText(spec.title.split(" ")[0])
        action.triggered.connect(lambda _checked=False, tool=spec.id: window.toggle_tool(tool))
        window.tool_group.addAction(action)
        window.addAction(action)
        actions[spec.action_name] = action
    actions["deidentify_exports"].setToolTip(
        "PNG/PDF/CSV exports and AI DICOM results leave out the patient's name, ID and dates")
    return actions


def build_menus(window, actions: dict[str, QAction], docks) -> dict[str, QMenu]:
    bar = window.menuBar()
    menus: dict[str, QMenu] = {}

    def add(menu: QMenu, *names) -> None:
        for name in names:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(actions[name])

    file_menu = menus["file"] = bar.addMenu("&File")
    add(file_menu, "open", "open_folder", "open_dicomdir")
    window.recent_menu = QMenu("Open &Recent", window)
    window.recent_menu.aboutToShow.connect(window.opener.fill_recent_menu)
    file_menu.addMenu(window.recent_menu)
    add(file_menu, None, "save_gsps", "send_gsps", None, "export_png", "export_pdf", "deidentify_exports", None,
        "settings", "quit")

    edit_menu = menus["edit"] = bar.addMenu("&Edit")
    add(edit_menu, "undo", "redo", None, "delete_annotation", "clear_measurements")

    view_menu = menus["view"] = bar.addMenu("&View")
    add(view_menu, "fit", "actual_size", "zoom_in", "zoom_out", None, "rotate_cw", "rotate_ccw", "flip_h", "flip_v",
        "invert", "reset", None)
    window.window_menu = QMenu("&Window/Level Presets", window)
    window.window_menu.setEnabled(False)
    view_menu.addMenu(window.window_menu)
    add(view_menu, "save_window_preset", None, "heatmap", "corner_text", "corner_layout", None, "next_image",
        "previous_image", None, "toolbar_text")
    view_menu.addSeparator()
    for dock in docks:
        view_menu.addAction(dock.toggleViewAction())

    tools_menu = menus["measure"] = bar.addMenu("&Measure")
    for spec in TOOLS:
        tools_menu.addAction(actions[spec.action_name])

    layout_menu = menus["layout"] = bar.addMenu("&Layout")
    add(layout_menu, *[f"layout_{name}" for name in LAYOUT_TITLES], None, "compare_prior", None, "sync_window",
        "sync_zoom_pan")

    ai_menu = menus["ai"] = bar.addMenu("&AI")
    add(ai_menu, "run_ai", "analyze_folder", "model_card", None, "save_ai_dicom", "send_ai_pacs")

    window.tools_menu = menus["tools"] = bar.addMenu("&Tools")
    window.tools_menu.menuAction().setVisible(False)  # shown once a tool (e.g. PACS) adds an action

    help_menu = menus["help"] = bar.addMenu("&Help")
    add(help_menu, "open_sample", "shortcuts", "log_file", "about")
    return menus


def build_toolbar(window, actions: dict[str, QAction], show_text: bool) -> QToolBar:
    toolbar = QToolBar("Toolbar", window)
    toolbar.setObjectName("viewToolbar")
    toolbar.setMovable(False)
    for name in TOOLBAR:
        if name is None:
            toolbar.addSeparator()
        elif name == "TOOLS":
            for spec in TOOLS:
                toolbar.addAction(actions[spec.action_name])
        else:
            toolbar.addAction(actions[name])
    set_toolbar_text(toolbar, show_text)
    window.addToolBar(toolbar)
    return toolbar


def set_toolbar_text(toolbar: QToolBar, show_text: bool) -> None:
    icons = any(not action.icon().isNull() for action in toolbar.actions())
    if not icons:  # a build that cannot draw them: words instead
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon if show_text
                               else Qt.ToolButtonStyle.ToolButtonIconOnly)
