"""The main window's actions, menus and toolbar, made from tables: ACTIONS (id, text, icon, checkable), the
keyboard shortcuts (desktop.shortcuts.SHORTCUTS) and the tools (desktop.tools.TOOLS). Each action is bound to a
callable the window gives for its id (`build_actions(owner, handlers, ...)`); the view actions act on the active
viewport's view, looked up when triggered (`view_handlers`), so every action follows the active viewport."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from desktop.icons import icon
from desktop.image_view import ImageView
from desktop.shortcuts import SHORTCUTS
from desktop.tools import TOOLS
from desktop.viewport_grid import LAYOUT_TITLES

# id: (menu text, icon or "", checkable); a checkable action's handler takes the new checked state
ACTIONS: dict[str, tuple[str, str, bool]] = {
    "open": ("&Open…", "open", False),
    "open_folder": ("Open &Folder…", "folder", False),
    "open_dicomdir": ("Open &DICOMDIR…", "", False),
    "export_png": ("Export View as &PNG…", "", False),
    "export_pdf": ("Export PDF &Report…", "report", False),
    "save_report_dicom": ("Save PDF Report as DI&COM…", "", False),
    "send_report_pacs": ("Send PDF Report to PAC&S…", "", False),
    "save_gsps": ("&Save Presentation State (GSPS)…", "save", False),
    "send_gsps": ("Send Presentation State to PA&CS…", "", False),
    "analyze_folder": ("&Analyze Folder…", "batch", False),
    "run_ai": ("&Run AI on This Image", "run_ai", False),
    "settings": ("&Settings…", "", False),
    "quit": ("&Quit", "", False),
    "fit": ("&Fit to Window", "fit", False),
    "actual_size": ("Actual Size (&1:1)", "actual_size", False),
    "zoom_in": ("Zoom &In", "", False),
    "zoom_out": ("Zoom &Out", "", False),
    "rotate_cw": ("Rotate 90° &Clockwise", "rotate", False),
    "rotate_ccw": ("Rotate 90° Counter-clockwise", "", False),
    "flip_h": ("Flip &Horizontal", "flip", False),
    "flip_v": ("Flip &Vertical", "", False),
    "invert": ("&Invert", "invert", False),
    "reset": ("&Reset View", "reset", False),
    "heatmap": ("Show &Heatmap", "heatmap", True),
    "corner_text": ("Corner &Information", "corner_text", True),
    "overlay_planes": ("Overlay &Planes", "", True),
    "corner_layout": ("Corner Information &Layout…", "", False),
    "undo": ("&Undo", "undo", False),
    "redo": ("&Redo", "redo", False),
    "delete_annotation": ("&Delete Selected Annotation", "", False),
    "clear_measurements": ("Clear &Measurements and Annotations", "", False),
    "save_window_preset": ("Save Current Window as Preset…", "", False),
    "next_image": ("&Next Image", "", False),
    "previous_image": ("&Previous Image", "", False),
    "compare_prior": ("&Compare with Prior", "compare", False),
    "sync_window": ("Sync &Window/Level", "sync", True),
    "sync_zoom_pan": ("Sync &Zoom and Pan", "", True),
    "toolbar_text": ("Toolbar &Text Labels", "", True),
    "shortcuts": ("&Tools and Keyboard Shortcuts", "", False),
    "save_ai_dicom": ("Save AI Result as &DICOM (SC + SR)…", "", False),
    "send_ai_pacs": ("Send AI Result to &PACS…", "", False),
    "deidentify_exports": ("De-&identify Exports", "", True),
    "open_sample": ("Open &Sample Image", "", False),
    "model_card": ("&Model Card…", "", False),
    "about": ("&About XRayView", "", False),
    "log_file": ("Show &Log File Location", "", False),
    **{f"layout_{name}": (title, f"layout_{name}", True) for name, title in LAYOUT_TITLES.items()},
}
# the actions on the active viewport's view
VIEW_ACTIONS: dict[str, Callable[[ImageView], object]] = {
    "fit": ImageView.fit, "actual_size": ImageView.actual_size, "zoom_in": ImageView.zoom_in,
    "zoom_out": ImageView.zoom_out, "rotate_cw": ImageView.rotate_cw, "rotate_ccw": ImageView.rotate_ccw,
    "flip_h": ImageView.flip_horizontal, "flip_v": ImageView.flip_vertical, "invert": ImageView.toggle_invert,
    "reset": ImageView.reset, "delete_annotation": ImageView.delete_selected,
    "clear_measurements": ImageView.clear_measurements,
    "undo": lambda view: view.annotations.undo(), "redo": lambda view: view.annotations.redo(),
}
STATUS_TIPS = {
    "save_report_dicom": "The PDF report as a DICOM Encapsulated PDF in the image's study",
    "overlay_planes": "Draw the DICOM overlay planes (60xx) stored with the image",
}
TOOLBAR = ("open", "open_folder", None, "fit", "actual_size", "rotate_cw", "flip_h", "invert", "reset", None,
           "TOOLS", None, "undo", "redo", None, "layout_1x1", "layout_1x2", "layout_2x2", "compare_prior",
           "sync_window", None, "corner_text", "heatmap", None, "run_ai", "analyze_folder", "export_pdf", "save_gsps")
ICON_TEXT = {"open": "Open", "open_folder": "Folder", "fit": "Fit", "actual_size": "1:1", "rotate_cw": "Rotate",
             "flip_h": "Flip", "invert": "Invert", "reset": "Reset", "corner_text": "Info", "heatmap": "Heatmap",
             "run_ai": "Analyze", "analyze_folder": "Batch", "export_pdf": "Report", "undo": "Undo", "redo": "Redo",
             "compare_prior": "Prior", "sync_window": "Sync", "save_gsps": "Save PR", "layout_1x1": "1x1",
             "layout_1x2": "1x2", "layout_2x1": "2x1", "layout_2x2": "2x2"}


def view_handlers(active_view: Callable[[], ImageView]) -> dict[str, Callable[[], object]]:
    """VIEW_ACTIONS bound to `active_view()`, called when the action is triggered."""
    return {name: (lambda method=method: method(active_view())) for name, method in VIEW_ACTIONS.items()}


def build_actions(owner, handlers: Mapping[str, Callable], toggle_tool: Callable[[str], None]) -> dict[str, QAction]:
    """One QAction per ACTIONS id, bound to `handlers[id]` (every id needs one), and one per tool, bound to
    `toggle_tool(tool id)`. They are added to `owner`, so their shortcuts work even when the toolbar is hidden."""
    missing = sorted(set(ACTIONS) - set(handlers))
    if missing:
        raise KeyError(f"no handler for the actions {', '.join(missing)}")
    actions: dict[str, QAction] = {}
    for name, (text, icon_name, checkable) in ACTIONS.items():
        action = QAction(text, owner)
        action.setObjectName(name)
        action.setCheckable(checkable)
        if icon_name:
            action.setIcon(icon(icon_name))
        if name in SHORTCUTS:
            key, description = SHORTCUTS[name]
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{description} ({key})")
        action.setIconText(ICON_TEXT.get(name, text.replace("&", "").rstrip("…")))
        if name in STATUS_TIPS:
            action.setStatusTip(STATUS_TIPS[name])
        handler = handlers[name]
        if checkable:
            action.triggered.connect(lambda checked, handler=handler: handler(checked))
        else:
            action.triggered.connect(lambda _checked=False, handler=handler: handler())
        owner.addAction(action)
        actions[name] = action
    layouts = QActionGroup(owner)
    for name in LAYOUT_TITLES:
        layouts.addAction(actions[f"layout_{name}"])
    tool_group = QActionGroup(owner)
    tool_group.setExclusive(True)
    for spec in TOOLS:
        action = QAction(spec.title, owner)
        action.setObjectName(spec.action_name)
        action.setCheckable(True)
        action.setIcon(icon(spec.icon))
        action.setShortcut(QKeySequence(spec.shortcut))
        action.setToolTip(f"{spec.title} ({spec.shortcut}): {spec.help}")
        action.setStatusTip(spec.help)
        action.setIconText(spec.title.split(" ")[0])
        action.triggered.connect(lambda _checked=False, tool=spec.id: toggle_tool(tool))
        tool_group.addAction(action)
        owner.addAction(action)
        actions[spec.action_name] = action
    actions["deidentify_exports"].setToolTip(
        "PNG/PDF/CSV exports and AI DICOM results leave out the patient's name, ID and dates")
    return actions


def build_menus(bar, actions: dict[str, QAction], docks, recent_menu: QMenu, presets_menu: QMenu) -> dict[str, QMenu]:
    """The menu bar's menus (File > Open Recent and View > Window/Level Presets are filled by their owners); the
    Tools menu stays hidden until a tool adds an action."""
    menus: dict[str, QMenu] = {}

    def add(menu: QMenu, *names) -> None:
        for name in names:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(actions[name])

    file_menu = menus["file"] = bar.addMenu("&File")
    add(file_menu, "open", "open_folder", "open_dicomdir")
    file_menu.addMenu(recent_menu)
    add(file_menu, None, "save_gsps", "send_gsps", None, "export_png", "export_pdf", "save_report_dicom",
        "send_report_pacs", "deidentify_exports", None, "settings", "quit")

    edit_menu = menus["edit"] = bar.addMenu("&Edit")
    add(edit_menu, "undo", "redo", None, "delete_annotation", "clear_measurements")

    view_menu = menus["view"] = bar.addMenu("&View")
    add(view_menu, "fit", "actual_size", "zoom_in", "zoom_out", None, "rotate_cw", "rotate_ccw", "flip_h", "flip_v",
        "invert", "reset", None)
    view_menu.addMenu(presets_menu)
    add(view_menu, "save_window_preset", None, "heatmap", "corner_text", "overlay_planes", "corner_layout", None,
        "next_image", "previous_image", None, "toolbar_text")
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

    menus["tools"] = bar.addMenu("&Tools")
    menus["tools"].menuAction().setVisible(False)  # shown once a tool (e.g. PACS) adds an action

    help_menu = menus["help"] = bar.addMenu("&Help")
    add(help_menu, "open_sample", "shortcuts", "log_file", "about")
    return menus


def build_toolbar(owner, actions: dict[str, QAction], show_text: bool) -> QToolBar:
    """The toolbar (the caller adds it to the window)."""
    toolbar = QToolBar("Toolbar", owner)
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
    return toolbar


def set_toolbar_text(toolbar: QToolBar, show_text: bool) -> None:
    icons = any(not action.icon().isNull() for action in toolbar.actions())
    if not icons:  # a build that cannot draw them: words instead
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon if show_text
                               else Qt.ToolButtonStyle.ToolButtonIconOnly)
