"""The main window's docks (AI panel, DICOM tags, study browser) and its status bar labels."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QScrollArea

from desktop.ai_panel import AiPanel
from desktop.folder_panel import FolderPanel
from desktop.tag_tree import TagTree


@dataclass(frozen=True)
class Docks:
    ai_panel: AiPanel
    ai_dock: QDockWidget
    tag_tree: TagTree
    tags_dock: QDockWidget
    folder_panel: FolderPanel
    folder_dock: QDockWidget


@dataclass(frozen=True)
class StatusLabels:
    pixel: QLabel  # the value under the cursor
    spacing: QLabel  # which pixel spacing measurements use
    model: QLabel  # the model in use


def _dock(window: QMainWindow, title: str, name: str, widget, area) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(widget)
    window.addDockWidget(area, dock)
    return dock


def add_docks(window: QMainWindow) -> Docks:
    """AI and DICOM tags on the right (tabbed, AI in front); the study browser on the left, hidden until a folder
    or several files are opened."""
    ai_panel = AiPanel([])
    scroll = QScrollArea()
    scroll.setWidget(ai_panel)
    scroll.setWidgetResizable(True)
    scroll.setMinimumWidth(310)
    right, left = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.LeftDockWidgetArea
    ai_dock = _dock(window, "AI", "aiDock", scroll, right)
    tag_tree = TagTree()
    tags_dock = _dock(window, "DICOM tags", "tagsDock", tag_tree, right)
    window.tabifyDockWidget(ai_dock, tags_dock)
    ai_dock.raise_()
    folder_panel = FolderPanel()
    folder_dock = _dock(window, "Studies", "folderDock", folder_panel, left)
    folder_dock.hide()
    return Docks(ai_panel, ai_dock, tag_tree, tags_dock, folder_panel, folder_dock)


def add_status_labels(status_bar) -> StatusLabels:
    labels = StatusLabels(QLabel(""), QLabel(""), QLabel(""))
    for label, name in ((labels.pixel, "Pixel value under the cursor"), (labels.spacing, "Pixel spacing"),
                        (labels.model, "Model status")):
        label.setAccessibleName(name)
        status_bar.addPermanentWidget(label)
    return labels
