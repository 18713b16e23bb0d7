"""The radiograph view: zoom around the cursor, pan, fit, 1:1, rotate, flip, invert, window/level by right-drag,
pixel value under the cursor, scale bar, corner text, the heatmap overlay, and the annotations of its
AnnotationStore. Left-button and key events go to the active tool (desktop/tools); the view itself knows no
tool.

Geometry: the image item is a frame whose item coordinates are image pixels; the picture (a pixmap), the heatmap
and the annotations are its children, so they stay aligned whatever the view transform (zoom, rotation, flips)
is. While the window is being dragged on a large image, the picture is a decimated preview scaled back up to the
same frame; the full-resolution picture returns when the drag ends.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPainter, QPen, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene, QGraphicsView

from annotations.store import AnnotationStore
from desktop import view_overlays
from desktop.tools import DEFAULT_TOOL
from desktop.view_tools import ToolsMixin

if TYPE_CHECKING:
    import numpy as np

    from inference.windowing import WindowPreset

MIN_ZOOM = 0.02
MAX_ZOOM = 40.0
WHEEL_ZOOM_STEP = 1.15
PREVIEW_PIXELS = 1_500_000  # window/level drags on bigger images render a decimated preview of about this size


class ImageView(ToolsMixin, QGraphicsView):
    """Shows one XRayImage. Signals carry what the status bar and panels display."""

    pixel_info = Signal(str)  # "x, y: value" under the cursor, or "" when outside the image
    window_changed = Signal(float, float)  # center, width: set by the user (not by showing a new image)
    zoom_changed = Signal(float)
    view_moved = Signal()  # zoom or pan changed (viewport sync follows it)
    measurement_added = Signal(str, str)  # tool title, the label of the finished measurement
    tool_changed = Signal(str)
    annotations_changed = Signal()
    activated = Signal()  # clicked or focused: the viewport holding this view becomes the active one
    file_dropped = Signal(list)  # local paths dropped on this view

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Image view")
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QBrush(QColor("#000000")))
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setMouseTracking(True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)  # corner text/scale bar
        self.setMinimumSize(200, 200)
        # panning is by drag; scroll bars appearing mid-zoom would resize the viewport and shift the image
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self._image = None
        self._renderer = None
        self._image_item: QGraphicsRectItem | None = None
        self._picture_item: QGraphicsPixmapItem | None = None
        self._heatmap_item: QGraphicsPixmapItem | None = None
        self._heatmap_visible = True
        self._heatmap_opacity = 0.45
        self._window: WindowPreset | None = None
        self._invert = False
        self._zoom = 1.0
        self._rotation = 0
        self._flip_h = False
        self._flip_v = False
        self._fit_mode = True
        self._corner_text_visible = True
        self._empty_message = ""
        self._init_tools()
        self.horizontalScrollBar().valueChanged.connect(lambda _: self.view_moved.emit())
        self.verticalScrollBar().valueChanged.connect(lambda _: self.view_moved.emit())
        self._wl_drag_origin: QPointF | None = None
        self._wl_drag_start_window: WindowPreset | None = None
        self._value_range = (0.0, 1.0)
        self._pending_render = QTimer(self, singleShot=True, interval=15)  # coalesces W/L drags
        self._pending_render.timeout.connect(self._render_preview)

    # -- image ------------------------------------------------------------------------------------------------
    @property
    def image(self):
        return self._image

    @property
    def window(self) -> WindowPreset:
        return self._window

    @property
    def value_range(self) -> tuple[float, float]:
        """Lowest and highest finite modality value of the image shown."""
        return self._value_range

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def rotation(self) -> int:
        return self._rotation

    @property
    def inverted(self) -> bool:
        return self._invert

    @property
    def flips(self) -> tuple[bool, bool]:
        return self._flip_h, self._flip_v

    def set_image(self, image, window: WindowPreset | None = None, renderer=None) -> None:
        """Shows `image`. `renderer` (a DisplayRenderer for this image) may be prepared on a worker thread."""
        self.clear_heatmap()
        self._tool.cancel(self)
        self._selected = None
        self._layer.clear()
        self.scene().clear()
        self._image_item = None
        self._heatmap_item = None
        from desktop.display_renderer import DisplayRenderer

        self._image = image
        self._renderer = renderer if renderer is not None and renderer.image is image else DisplayRenderer(image)
        self._value_range = self._renderer.value_range
        self._window = window or self.default_window()
        self._invert = False
        self._rotation = 0
        self._flip_h = self._flip_v = False
        height, width = image.modality.shape
        self._image_item = QGraphicsRectItem(0, 0, width, height)
        self._image_item.setPen(QPen(Qt.PenStyle.NoPen))
        self._image_item.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self._picture_item = QGraphicsPixmapItem(self._image_item)
        self._picture_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._picture_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.scene().addItem(self._image_item)
        self._render_pixmap()
        # room around the image, so that zooming keeps the point under the cursor still and panning is free
        self.scene().setSceneRect(QRectF(-3 * width, -3 * height, 7 * width, 7 * height))
        self._empty_message = ""
        self.set_annotation_store(AnnotationStore())  # a fresh one: the previous image's stays with its owner
        self.fit()
        # no window_changed: a new image's own window is not one the user set, so synchronised viewports keep
        # theirs (desktop.viewport_grid gives the new image theirs instead)

    def clear(self, message: str = "") -> None:
        """No image any more (e.g. the file asked for could not be opened: `message` says why)."""
        self._tool.cancel(self)
        self._layer.clear()
        self.scene().clear()
        self._image = None
        self._renderer = None
        self._image_item = None
        self._picture_item = None
        self._heatmap_item = None
        self._selected = None
        self._empty_message = message
        self.set_annotation_store(AnnotationStore())
        self.viewport().update()

    def default_window(self) -> WindowPreset:
        from desktop.image_adapter import default_window_of

        return default_window_of(self._image)

    def image_item(self) -> QGraphicsRectItem | None:
        """The frame in image-pixel coordinates that carries the picture, heatmap and measurements."""
        return self._image_item

    def pixmap_item(self) -> QGraphicsPixmapItem | None:
        """The radiograph itself (full resolution except during a window/level drag on a large image)."""
        return self._picture_item

    def heatmap_item(self) -> QGraphicsPixmapItem | None:
        return self._heatmap_item

    def _render_pixmap(self, step: int = 1) -> None:
        if self._image is None or self._picture_item is None:
            return
        from desktop.qimage_convert import gray8_to_qimage

        gray = self._renderer.render8(self._window, self._invert, step)
        self._picture_item.setPixmap(QPixmap.fromImage(gray8_to_qimage(gray)))
        self._picture_item.setScale(step)
        self.viewport().update()

    def _render_preview(self) -> None:
        height, width = self._image.modality.shape if self._image is not None else (0, 0)
        self._render_pixmap(max(1, math.ceil(math.sqrt(height * width / PREVIEW_PIXELS))))

    # -- window / level -----------------------------------------------------------------------------------------
    def set_window(self, center: float, width: float, immediate: bool = True) -> None:
        from desktop.image_adapter import user_window

        self.set_window_preset(user_window(center, width), immediate)

    def set_window_preset(self, preset: WindowPreset, immediate: bool = True) -> None:
        self._window = preset
        if immediate:
            self._render_pixmap()
        else:
            self._pending_render.start()
        self.window_changed.emit(self._window.center, self._window.width)

    def set_inverted(self, inverted: bool) -> None:
        self._invert = bool(inverted)
        self._render_pixmap()

    def toggle_invert(self) -> None:
        self.set_inverted(not self._invert)

    # -- geometry -----------------------------------------------------------------------------------------------
    def _orientation(self) -> QTransform:
        orientation = QTransform().rotate(self._rotation)
        return orientation * QTransform.fromScale(-1 if self._flip_h else 1, -1 if self._flip_v else 1)

    def _apply_transform(self, anchor_view_pos: QPointF | None = None) -> None:
        anchor_scene = self.mapToScene(anchor_view_pos.toPoint()) if anchor_view_pos is not None else None
        centre = self.mapToScene(self.viewport().rect().center())
        self.setTransform(self._orientation() * QTransform.fromScale(self._zoom, self._zoom))
        if anchor_scene is None:
            self.centerOn(centre)  # rotations, flips, 1:1 and keyboard zoom turn about the middle of the view
        else:
            # keep the scene point that was under the cursor under it
            moved = self.mapFromScene(anchor_scene) - anchor_view_pos.toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self.zoom_changed.emit(self._zoom)
        self.viewport().update()

    def fit_zoom(self) -> float | None:
        """The zoom at which the whole image fits the view."""
        if self._image_item is None:
            return None
        bounds = self._orientation().mapRect(self._image_item.boundingRect())
        viewport = self.viewport().rect()
        if bounds.width() <= 0 or bounds.height() <= 0:
            return None
        return max(MIN_ZOOM, min(viewport.width() / bounds.width(), viewport.height() / bounds.height()))

    def fit(self) -> None:
        self._fit_mode = True
        zoom = self.fit_zoom()
        if zoom is None:
            return
        self._zoom = zoom
        self._apply_transform()
        self.centerOn(self._image_item)

    def actual_size(self) -> None:
        """1:1 — one image pixel per physical screen pixel (on a high-DPI screen, half a logical pixel at 200%)."""
        self._fit_mode = False
        self._zoom = 1.0 / max(self.devicePixelRatioF(), 1e-6)
        self._apply_transform()
        if self._image_item is not None:
            self.centerOn(self._image_item)

    def zoom_by(self, factor: float, anchor_view_pos: QPointF | None = None) -> None:
        self._fit_mode = False
        self._zoom = max(MIN_ZOOM, min(MAX_ZOOM, self._zoom * factor))
        self._apply_transform(anchor_view_pos)

    def zoom_in(self) -> None:
        self.zoom_by(1.25)

    def zoom_out(self) -> None:
        self.zoom_by(0.8)

    def rotate_cw(self) -> None:
        self.rotate_by(90)

    def rotate_ccw(self) -> None:
        self.rotate_by(-90)

    def rotate_by(self, degrees: int) -> None:
        self._rotation = (self._rotation + degrees) % 360
        self.fit() if self._fit_mode else self._apply_transform()

    def flip_horizontal(self) -> None:
        self._flip_h = not self._flip_h
        self._apply_transform()

    def flip_vertical(self) -> None:
        self._flip_v = not self._flip_v
        self._apply_transform()

    def set_orientation(self, rotation: int, flip_h: bool, flip_v: bool) -> None:
        self._rotation = int(rotation) % 360
        self._flip_h, self._flip_v = bool(flip_h), bool(flip_v)
        self.fit() if self._fit_mode else self._apply_transform()

    def set_zoom(self, zoom: float) -> None:
        self._fit_mode = False
        self._zoom = max(MIN_ZOOM, min(MAX_ZOOM, float(zoom)))
        self._apply_transform()

    def centre_fraction(self) -> tuple[float, float] | None:
        """The image point at the middle of the view, as fractions of the image's width and height."""
        if self._image is None:
            return None
        x, y = self.image_point(QPointF(self.viewport().rect().center()))
        height, width = self._image.modality.shape
        return x / width, y / height

    def centre_on_fraction(self, fx: float, fy: float) -> None:
        if self._image_item is None:
            return
        height, width = self._image.modality.shape
        self.centerOn(self._image_item.mapToScene(QPointF(fx * width, fy * height)))

    def reset(self) -> None:
        """Back to the opening state: default window, not inverted, not rotated or flipped, fitted."""
        self._rotation = 0
        self._flip_h = self._flip_v = False
        self._invert = False
        if self._image is not None:
            self._window = self.default_window()
            self._render_pixmap()
            self.window_changed.emit(self._window.center, self._window.width)
        self.fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    # -- heatmap ------------------------------------------------------------------------------------------------
    def set_heatmap_rgba(self, rgba: np.ndarray) -> None:
        """Shows a coloured heatmap (HxWx4 uint8, same size as the image) on top of the image."""
        if self._image_item is None:
            return
        from desktop.qimage_convert import rgba8_to_qimage

        if self._heatmap_item is None:
            self._heatmap_item = QGraphicsPixmapItem(self._image_item)
            self._heatmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._heatmap_item.setPixmap(QPixmap.fromImage(rgba8_to_qimage(rgba)))
        self._heatmap_item.setOpacity(self._heatmap_opacity)
        self._heatmap_item.setVisible(self._heatmap_visible)
        self.viewport().update()

    def clear_heatmap(self) -> None:
        if self._heatmap_item is not None and self._heatmap_item.scene() is not None:
            self.scene().removeItem(self._heatmap_item)
        self._heatmap_item = None
        self.viewport().update()

    def set_heatmap_visible(self, visible: bool) -> None:
        self._heatmap_visible = bool(visible)
        if self._heatmap_item is not None:
            self._heatmap_item.setVisible(self._heatmap_visible)
        self.viewport().update()

    def heatmap_visible(self) -> bool:
        return self._heatmap_visible

    def set_heatmap_opacity(self, opacity: float) -> None:
        self._heatmap_opacity = min(1.0, max(0.0, float(opacity)))
        if self._heatmap_item is not None:
            self._heatmap_item.setOpacity(self._heatmap_opacity)
        self.viewport().update()

    # -- corner text --------------------------------------------------------------------------------------------
    def set_corner_text_visible(self, visible: bool) -> None:
        self._corner_text_visible = bool(visible)
        self.viewport().update()

    def corner_text_visible(self) -> bool:
        return self._corner_text_visible

    # -- window drag (right button, or the window/level tool) -------------------------------------------------------
    def begin_window_drag(self, view_pos: QPointF) -> None:
        self._wl_drag_origin = QPointF(view_pos)
        self._wl_drag_start_window = self._window
        self.viewport().setCursor(Qt.CursorShape.SizeAllCursor)

    def drag_window(self, view_pos: QPointF) -> bool:
        if self._wl_drag_origin is None or self._wl_drag_start_window is None:
            return False
        delta = QPointF(view_pos) - self._wl_drag_origin
        span = max(self._value_range[1] - self._value_range[0], 1e-6)
        per_pixel = span / 400.0  # a 400-pixel drag covers the image's whole value range
        start = self._wl_drag_start_window
        self.set_window(start.center + delta.y() * per_pixel, max(span / 1000.0, start.width + delta.x() * per_pixel),
                        immediate=False)
        return True

    def end_window_drag(self) -> bool:
        if self._wl_drag_origin is None:
            return False
        self._wl_drag_origin = None
        self._wl_drag_start_window = None
        self._pending_render.stop()
        self._render_pixmap()
        self.viewport().setCursor(self._tool.cursor)
        return True

    # -- mouse and keys -------------------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self._image_item is None:
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(WHEEL_ZOOM_STEP ** steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.activated.emit()
        if self._image_item is not None and event.button() == Qt.MouseButton.RightButton:
            self.begin_window_drag(event.position())
            event.accept()
            return
        if self._tool.press(self, event):
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.drag_window(event.position()):
            event.accept()
            return
        self._emit_pixel_info(event.position().toPoint())
        if self._magnifier_pos is not None and self._tool.id != "magnifier":  # Z held
            self.show_magnifier(event.position())
        if self._tool.move(self, event):
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton and self.end_window_drag():
            event.accept()
            return
        if self._tool.release(self, event):
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._tool.double_click(self, event):
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if self._tool.key(self, event):
            event.accept()
            return
        plain = event.modifiers() == Qt.KeyboardModifier.NoModifier
        if event.key() == Qt.Key.Key_Z and not event.isAutoRepeat() and plain:
            self.show_magnifier(self.viewport().mapFromGlobal(self.cursor().pos()).toPointF())
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and self._tool.id != DEFAULT_TOOL:
            self.set_tool(DEFAULT_TOOL)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Z and not event.isAutoRepeat() and self._tool.id != "magnifier":
            self.show_magnifier(None)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusInEvent(self, event) -> None:  # noqa: N802
        self.activated.emit()
        super().focusInEvent(event)

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - right button is window/level here
        event.accept()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self.pixel_info.emit("")
        super().leaveEvent(event)

    # drops are the viewport's: a file or a study dragged from the browser opens here
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.activated.emit()
            self.file_dropped.emit(paths)
        else:
            super().dropEvent(event)

    def _image_point(self, view_pos) -> QPointF | None:
        if self._image_item is None:
            return None
        return self._image_item.mapFromScene(self.mapToScene(view_pos))

    def pixel_value_at(self, col: int, row: int) -> float | None:
        if self._image is None:
            return None
        modality = self._image.modality
        if 0 <= row < modality.shape[0] and 0 <= col < modality.shape[1]:
            return float(modality[row, col])
        return None

    def _emit_pixel_info(self, view_pos) -> None:
        point = self._image_point(view_pos)
        if point is None:
            return
        col, row = int(math.floor(point.x())), int(math.floor(point.y()))
        value = self.pixel_value_at(col, row)
        if value is None:
            self.pixel_info.emit("")
        else:
            self.pixel_info.emit(f"x {col}, y {row}: {value:.6g}")

    # -- foreground: corner text, scale bar, lens -------------------------------------------------------------------
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.save()
        painter.resetTransform()  # draw in viewport pixels
        viewport = self.viewport().rect()
        if self._image is None:
            view_overlays.draw_message(painter, viewport, self._empty_message, with_hint=True)
        else:
            if self._corner_text_visible:
                view_overlays.draw_corner_text(painter, viewport, self._corner_lines())
                view_overlays.draw_orientation(painter, viewport, self.edge_labels())
            view_overlays.draw_scale_bar(painter, viewport, self.scale_bar_mm())
            if self._magnifier_pos is not None:
                view_overlays.draw_magnifier(painter, self, self._magnifier_pos)
        painter.restore()

    def set_empty_message(self, message: str) -> None:
        """Text shown in the empty view (e.g. why the file could not be opened); "" restores the hint."""
        self._empty_message = message
        self.viewport().update()

    def empty_message(self) -> str:
        return self._empty_message

    corner_layout = None  # callable(image) -> {corner: [lines]}; None: desktop.image_adapter.corner_texts

    def _corner_lines(self) -> dict[str, list[str]]:
        from desktop.image_adapter import corner_texts

        texts = self.corner_layout(self._image) if self.corner_layout is not None else corner_texts(self._image)
        zoom_line = f"Zoom {self._zoom * 100:.0f}%" + (f"  Rot {self._rotation}°" if self._rotation else "")
        flips = " ".join(name for name, on in (("Flip H", self._flip_h), ("Flip V", self._flip_v)) if on)
        window_line = f"W {self._window.width:.6g}  L {self._window.center:.6g}" + ("  INV" if self._invert else "")
        texts["bottom_left"] = [window_line, zoom_line] + ([flips] if flips else []) + texts.get("bottom_left", [])
        return texts

    def edge_labels(self) -> dict[str, str]:
        """Patient direction shown at each screen edge ("left", "right", "top", "bottom"), following rotation
        and flips; empty when the file gives no Patient Orientation."""
        from desktop.image_adapter import orientation_labels

        labels = orientation_labels(self._image) if self._image is not None else None
        if not labels:
            return {}
        orientation = self._orientation()
        edges: dict[str, str] = {}
        for axis, (dx, dy) in (("+x", (1, 0)), ("-x", (-1, 0)), ("+y", (0, 1)), ("-y", (0, -1))):
            sx, sy = orientation.map(float(dx), float(dy))
            edge = ("right" if sx > 0.5 else "left") if abs(sx) > 0.5 else ("bottom" if sy > 0.5 else "top")
            edges[edge] = labels[axis]
        return edges

    def scale_bar_mm(self) -> tuple[float, float] | None:
        """(length in mm, length in viewport pixels) of the scale bar, or None when the spacing is unknown."""
        from desktop.image_adapter import spacing_mm

        spacing = spacing_mm(self._image) if self._image is not None else None
        if spacing is None:
            return None
        mm_per_screen_pixel = spacing[1] / self._zoom
        target_mm = 120 * mm_per_screen_pixel  # aim for a bar about 120 px long, then round to a nice length
        nice = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000]
        length_mm = max([n for n in nice if n <= target_mm] or [nice[0]])
        return float(length_mm), length_mm / mm_per_screen_pixel

    def grab_image(self) -> QImage:
        """What the user sees (image, heatmap, annotations, corner text, scale bar), for PNG export and tests."""
        return self.viewport().grab().toImage()
