"""The central area: 1x1, 1x2, 2x1 or 2x2 viewports, the active one (clicked last; the AI panel, the tag dock
and the menus follow it), and optional synchronisation of window/level and of zoom and pan from the view being
worked in to the others that show an image (zoom relative to each one's fitted size, so two films of different
pixel counts show the anatomy alike; pan as the same fraction of the image at the centre of the view)."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from desktop.viewport import Viewport

LAYOUTS = {"1x1": (1, 1), "1x2": (1, 2), "2x1": (2, 1), "2x2": (2, 2)}  # rows x columns
LAYOUT_TITLES = {"1x1": "1 Viewport", "1x2": "2 Side by Side (1x2)", "2x1": "2 Stacked (2x1)",
                 "2x2": "4 Viewports (2x2)"}
MAX_VIEWPORTS = 4


class ViewportGrid(QWidget):
    active_changed = Signal(object)  # the Viewport
    layout_changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Viewports")
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self._all = [Viewport(index, self) for index in range(MAX_VIEWPORTS)]
        self._layout = "1x1"
        self._active = self._all[0]
        self._sync_window = False
        self._sync_zoom_pan = False
        self._syncing = False
        for viewport in self._all:
            viewport.activated.connect(self.set_active)
            view = viewport.view
            view.window_changed.connect(lambda c, w, v=viewport: self._window_moved(v, c, w))
            viewport.image_shown.connect(lambda v, _image: self._image_arrived(v))
            view.view_moved.connect(lambda v=viewport: self._view_moved(v))
            view.zoom_changed.connect(lambda _z, v=viewport: self._view_moved(v))
        self._place()
        self._active.set_active(True)

    # -- layout ---------------------------------------------------------------------------------------------
    @property
    def layout_name(self) -> str:
        return self._layout

    def set_layout(self, name: str) -> None:
        if name not in LAYOUTS:
            raise KeyError(f"unknown layout {name!r}; choose one of {', '.join(LAYOUTS)}")
        self._layout = name
        self._place()
        if self._active not in self.viewports():
            self.set_active(self.viewports()[0])
        self.layout_changed.emit(name)

    def _place(self) -> None:
        rows, columns = LAYOUTS[self._layout]
        shown = rows * columns
        for viewport in self._all:
            self._grid.removeWidget(viewport)
        for index, viewport in enumerate(self._all):
            if index < shown:
                self._grid.addWidget(viewport, index // columns, index % columns)
                viewport.show()
            else:
                viewport.hide()

    def viewports(self) -> list[Viewport]:
        """The viewports the layout shows, in reading order."""
        rows, columns = LAYOUTS[self._layout]
        return self._all[: rows * columns]

    def all_viewports(self) -> list[Viewport]:
        return list(self._all)

    # -- active viewport ------------------------------------------------------------------------------------------
    @property
    def active(self) -> Viewport:
        return self._active

    def set_active(self, viewport: Viewport) -> None:
        if viewport is self._active:
            return
        self._active.set_active(False)
        self._active = viewport
        viewport.set_active(True)
        self.active_changed.emit(viewport)

    def other_viewport(self, viewport: Viewport) -> Viewport:
        """Where a comparison goes: the next viewport shown (the layout becomes 1x2 when only one is shown)."""
        if len(self.viewports()) < 2:
            self.set_layout("1x2")
        shown = self.viewports()
        return shown[(shown.index(viewport) + 1) % len(shown)] if viewport in shown else shown[1]

    # -- synchronisation --------------------------------------------------------------------------------------
    def set_sync(self, window: bool | None = None, zoom_pan: bool | None = None) -> None:
        if window is not None:
            self._sync_window = bool(window)
        if zoom_pan is not None:
            self._sync_zoom_pan = bool(zoom_pan)
        if self._sync_window:
            self._window_moved(self._active, self._active.view.window.center, self._active.view.window.width) \
                if self._active.image is not None else None
        if self._sync_zoom_pan:
            self._view_moved(self._active)

    def set_sync_window(self, on: bool) -> None:
        self.set_sync(window=on)

    def set_sync_zoom_pan(self, on: bool) -> None:
        self.set_sync(zoom_pan=on)

    def sync_state(self) -> tuple[bool, bool]:
        return self._sync_window, self._sync_zoom_pan

    def _others(self, source: Viewport) -> list[Viewport]:
        return [v for v in self.viewports() if v is not source and v.image is not None]

    def _window_moved(self, source: Viewport, center: float, width: float) -> None:
        if not self._sync_window or self._syncing or source is not self._active:
            return
        self._syncing = True
        try:
            for other in self._others(source):
                other.view.set_window(center, width)
        finally:
            self._syncing = False

    def _image_arrived(self, viewport: Viewport) -> None:
        """A viewport shows a new image: with window/level synchronised it joins the others' window, which
        its own default window never replaces (a study dropped into one viewport leaves the others as they were)."""
        others = self._others(viewport)
        if not self._sync_window or not others:
            return
        window = others[0].view.window
        self._syncing = True
        try:
            viewport.view.set_window(window.center, window.width)
        finally:
            self._syncing = False

    def _view_moved(self, source: Viewport) -> None:
        if not self._sync_zoom_pan or self._syncing or source is not self._active or source.image is None:
            return
        centre = source.view.centre_fraction()
        relative = source.view.zoom / (source.view.fit_zoom() or source.view.zoom)  # films differ in pixels
        self._syncing = True
        try:
            for other in self._others(source):
                other.view.set_zoom(relative * (other.view.fit_zoom() or 1.0))
                if centre is not None:
                    other.view.centre_on_fraction(*centre)
        finally:
            self._syncing = False
