"""View > Overlay Planes: the DICOM overlay planes (60xx) of the image in each viewport, drawn over the picture in
yellow as dcmtk and Weasis draw them (inference.overlay_planes decodes them). On by default; the choice is kept
in the settings. A part of the View menu (desktop.view_menus); the window tells it when an image is shown."""
from __future__ import annotations

from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem

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
    import numpy as np  # here, not at the top: the window starts without numpy (tests/desktop/test_startup.py)

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
    def __init__(self, grid, settings, messages):
        """`grid`: the viewports; `settings`: desktop.settings.AppSettings (keeps the choice); `messages`:
        desktop.status_messages.StatusMessages (says which planes were left out, and why)."""
        self._grid, self._settings, self._messages = grid, settings, messages

    @property
    def visible(self) -> bool:
        return self._settings.overlay_planes_visible

    def set_visible(self, visible: bool) -> None:
        self._settings.overlay_planes_visible = bool(visible)
        self._show(self._grid.all_viewports())

    def image_shown(self, viewport) -> None:
        self._show([viewport])

    def _show(self, viewports) -> None:
        problems = [problem for viewport in viewports
                    for problem in show_overlay_planes(viewport.view, self.visible)]
        if problems:
            self._messages.info("; ".join(problems))
