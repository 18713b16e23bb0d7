"""View > Overlay Planes: the DICOM overlay planes (60xx) of the image in each viewport, drawn over the picture in
yellow as dcmtk and Weasis draw them (inference.overlay_planes decodes them). On by default; the choice is kept
in the settings. Installed by the main window as an optional tool module."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem

SETTINGS_KEY = "view/overlay_planes"
ITEM_KEY = "overlay-planes"  # marks the scene item, a child of the image frame (it follows zoom, rotation, flips)
COLOUR = (255, 221, 0, 255)


def overlay_item(view) -> QGraphicsPixmapItem | None:
    frame = view.image_item()
    if frame is None:
        return None
    return next((child for child in frame.childItems() if child.data(0) == ITEM_KEY), None)


def show_overlay_planes(view, visible: bool) -> list[str]:
    """Draws (or hides) the overlay planes of the image in `view`; returns the reasons for planes left out."""
    frame, image = view.image_item(), view.image
    if frame is None or image is None:
        return []
    from desktop import libraries

    libraries.image_stack()  # pydicom's first import happens under the one lock (a loader may be importing it)
    from desktop.qimage_convert import rgba8_to_qimage
    from inference.overlay_planes import overlay_planes

    item = overlay_item(view)
    problems: list[str] = []
    if item is None:
        planes, problems = overlay_planes(getattr(image, "dataset", None), image.modality.shape)
        if not planes:
            return problems
        rgba = np.zeros((*image.modality.shape, 4), dtype=np.uint8)
        rgba[np.logical_or.reduce([plane.mask for plane in planes])] = COLOUR
        item = QGraphicsPixmapItem(QPixmap.fromImage(rgba8_to_qimage(rgba)), frame)
        item.setData(0, ITEM_KEY)
    item.setVisible(visible)
    return problems


class OverlayLayer:
    def __init__(self, window):
        self.window = window
        self.visible = str(window.settings.qsettings.value(SETTINGS_KEY, "true")).lower() == "true"
        window.image_shown.connect(lambda _image: self.refresh())

    def set_visible(self, visible: bool) -> None:
        self.visible = bool(visible)
        self.window.settings.qsettings.setValue(SETTINGS_KEY, "true" if self.visible else "false")
        self.refresh()

    def refresh(self) -> None:
        problems = [problem for viewport in self.window.grid.all_viewports()
                    for problem in show_overlay_planes(viewport.view, self.visible)]
        if problems:
            self.window.statusBar().showMessage("; ".join(problems), 8000)


def install_tools(main_window) -> None:
    """Adds the checkable View > Overlay Planes after the corner information toggle."""
    layer = OverlayLayer(main_window)
    action = QAction("Overlay &Planes", main_window)
    action.setObjectName("overlay_planes")
    action.setCheckable(True)
    action.setChecked(layer.visible)
    action.setStatusTip("Draw the DICOM overlay planes (60xx) stored with the image")
    action.toggled.connect(layer.set_visible)
    view_menu = main_window.menus["view"]
    actions = view_menu.actions()
    corner = main_window.actions_by_name.get("corner_text")
    if corner in actions[:-1]:
        view_menu.insertAction(actions[actions.index(corner) + 1], action)
    else:
        view_menu.addAction(action)
    main_window.actions_by_name["overlay_planes"] = action
    main_window.overlay_layer = layer
    layer.refresh()
