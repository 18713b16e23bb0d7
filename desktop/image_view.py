"""The radiograph view: zoom around the cursor, pan, fit, 1:1, rotate, flip, invert, window/level by right-drag,
pixel value under the cursor, distance measurements, scale bar, corner text and the heatmap overlay.

Geometry: the image item is a frame whose item coordinates are image pixels; the picture (a pixmap), the heatmap
and the measurements are its children, so they stay aligned whatever the view transform (zoom, rotation, flips)
is. While the window is being dragged on a large image, the picture is a decimated preview scaled back up to the
same frame; the full-resolution picture returns when the drag ends.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)


if TYPE_CHECKING:
    import numpy as np

    from inference.windowing import WindowPreset

MIN_ZOOM = 0.02
MAX_ZOOM = 40.0
WHEEL_ZOOM_STEP = 1.15
PREVIEW_PIXELS = 1_500_000  # window/level drags on bigger images render a decimated preview of about this size


class ImageView(QGraphicsView):
    """Shows one XRayImage. Signals carry what the status bar and panels display."""

    pixel_info = Signal(str)  # "x, y: value" under the cursor, or "" when outside the image
    window_changed = Signal(float, float)  # center, width
    zoom_changed = Signal(float)
    measurement_added = Signal(str)  # the label of the finished measurement

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
        self._measuring = False
        self._measure_start: QPointF | None = None
        self._measure_line: QGraphicsLineItem | None = None
        self._measure_label: QGraphicsSimpleTextItem | None = None
        self._measurements: list[tuple[QGraphicsLineItem, QGraphicsSimpleTextItem]] = []
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
        self.clear_measurements()
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
        self.fit()
        self.window_changed.emit(self._window.center, self._window.width)

    def clear(self) -> None:
        self.scene().clear()
        self._image = None
        self._image_item = None
        self._heatmap_item = None
        self._measurements.clear()
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

    def fit(self) -> None:
        self._fit_mode = True
        if self._image_item is None:
            return
        bounds = self._orientation().mapRect(self._image_item.boundingRect())
        viewport = self.viewport().rect()
        if bounds.width() <= 0 or bounds.height() <= 0:
            return
        self._zoom = max(MIN_ZOOM, min(viewport.width() / bounds.width(), viewport.height() / bounds.height()))
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

    def rotate_by(self, degrees: int) -> None:
        self._rotation = (self._rotation + degrees) % 360
        self.fit() if self._fit_mode else self._apply_transform()

    def flip_horizontal(self) -> None:
        self._flip_h = not self._flip_h
        self._apply_transform()

    def flip_vertical(self) -> None:
        self._flip_v = not self._flip_v
        self._apply_transform()

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

    # -- measurements -------------------------------------------------------------------------------------------
    def set_measuring(self, on: bool) -> None:
        self._measuring = bool(on)
        self.setDragMode(QGraphicsView.DragMode.NoDrag if on else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.OpenHandCursor)

    def is_measuring(self) -> bool:
        return self._measuring

    def clear_measurements(self) -> None:
        for line, label in self._measurements:
            for item in (line, label):
                if item.scene() is not None:
                    item.scene().removeItem(item)
        self._measurements.clear()
        self.viewport().update()

    def measurement_labels(self) -> list[str]:
        return [label.text() for _, label in self._measurements]

    def distance_label(self, start: QPointF, end: QPointF) -> str:
        """Length of a segment given in image pixel coordinates: mm when the spacing is known, else pixels."""
        from desktop.image_adapter import spacing_mm

        dx, dy = end.x() - start.x(), end.y() - start.y()
        spacing = spacing_mm(self._image) if self._image is not None else None
        if spacing is not None:
            row_mm, col_mm = spacing
            return f"{math.hypot(dx * col_mm, dy * row_mm):.1f} mm"
        return f"{math.hypot(dx, dy):.1f} px (no pixel spacing)"

    def add_measurement(self, start: QPointF, end: QPointF) -> str:
        """Adds a finished measurement between two image-pixel points (used by the mouse tool and by tests)."""
        line, label = self._new_measurement_items(start)
        self._update_measurement(line, label, start, end)
        self._measurements.append((line, label))
        self.measurement_added.emit(label.text())
        return label.text()

    def _new_measurement_items(self, start: QPointF) -> tuple[QGraphicsLineItem, QGraphicsSimpleTextItem]:
        line = QGraphicsLineItem(self._image_item)
        pen = QPen(QColor("#ffd54f"), 2)
        pen.setCosmetic(True)  # constant on-screen width at any zoom
        line.setPen(pen)
        label = QGraphicsSimpleTextItem(self._image_item)
        label.setBrush(QBrush(QColor("#ffd54f")))
        label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        font = QFont()
        font.setPointSize(10)
        font.setBold(True)
        label.setFont(font)
        return line, label

    def _update_measurement(self, line, label, start: QPointF, end: QPointF) -> None:
        line.setLine(start.x(), start.y(), end.x(), end.y())
        label.setText(self.distance_label(start, end))
        label.setPos(end)

    # -- mouse ----------------------------------------------------------------------------------------------------
    def _image_point(self, view_pos) -> QPointF | None:
        if self._image_item is None:
            return None
        return self._image_item.mapFromScene(self.mapToScene(view_pos))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self._image_item is None:
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(WHEEL_ZOOM_STEP ** steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._image_item is not None and event.button() == Qt.MouseButton.RightButton:
            self._wl_drag_origin = event.position()
            self._wl_drag_start_window = self._window
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor)
            event.accept()
            return
        if self._measuring and event.button() == Qt.MouseButton.LeftButton and self._image_item is not None:
            start = self._image_point(event.position().toPoint())
            self._measure_start = start
            self._measure_line, self._measure_label = self._new_measurement_items(start)
            self._update_measurement(self._measure_line, self._measure_label, start, start)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._wl_drag_origin is not None and self._wl_drag_start_window is not None:
            delta = event.position() - self._wl_drag_origin
            span = max(self._value_range[1] - self._value_range[0], 1e-6)
            per_pixel = span / 400.0  # a 400-pixel drag covers the image's whole value range
            start = self._wl_drag_start_window
            self.set_window(start.center + delta.y() * per_pixel, max(span / 1000.0, start.width + delta.x() * per_pixel),
                            immediate=False)
            event.accept()
            return
        if self._measure_start is not None and self._measure_line is not None:
            end = self._image_point(event.position().toPoint())
            self._update_measurement(self._measure_line, self._measure_label, self._measure_start, end)
            event.accept()
            return
        self._emit_pixel_info(event.position().toPoint())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton and self._wl_drag_origin is not None:
            self._wl_drag_origin = None
            self._wl_drag_start_window = None
            self._pending_render.stop()
            self._render_pixmap()
            self.viewport().setCursor(Qt.CursorShape.CrossCursor if self._measuring else Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if self._measure_start is not None and event.button() == Qt.MouseButton.LeftButton:
            end = self._image_point(event.position().toPoint())
            line, label = self._measure_line, self._measure_label
            self._update_measurement(line, label, self._measure_start, end)
            if (end - self._measure_start).manhattanLength() < 1.0:  # a click, not a measurement
                for item in (line, label):
                    self.scene().removeItem(item)
            else:
                self._measurements.append((line, label))
                self.measurement_added.emit(label.text())
            self._measure_start = self._measure_line = self._measure_label = None
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - right button is window/level here
        event.accept()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self.pixel_info.emit("")
        super().leaveEvent(event)

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

    # -- foreground: corner text and scale bar ----------------------------------------------------------------------
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        if self._image is None:
            self._draw_empty_hint(painter)
            return
        painter.save()
        painter.resetTransform()  # draw in viewport pixels
        viewport = self.viewport().rect()
        if self._corner_text_visible:
            self._draw_corner_text(painter, viewport)
            self._draw_orientation(painter, viewport)
        self._draw_scale_bar(painter, viewport)
        painter.restore()

    def set_empty_message(self, message: str) -> None:
        """Text shown in the empty view (e.g. why the file could not be opened); "" restores the hint."""
        self._empty_message = message
        self.viewport().update()

    def _draw_empty_hint(self, painter: QPainter) -> None:
        painter.save()
        painter.resetTransform()
        font = QFont()
        font.setPointSize(12)
        painter.setFont(font)
        hint = ("Open a radiograph (Ctrl+O), a folder (Ctrl+Shift+O),\n"
                "drop files here, or use Help > Open Sample Image")
        message = self._empty_message
        area = self.viewport().rect().adjusted(40, 0, -40, 0)
        flags = int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
        if message:
            painter.setPen(QColor("#ef8a7a"))
            painter.drawText(area.adjusted(0, 0, 0, -80), flags, message)
            painter.setPen(QColor("#7d8790"))
            painter.drawText(area.adjusted(0, 80, 0, 0), flags, hint)
        else:
            painter.setPen(QColor("#7d8790"))
            painter.drawText(area, flags, hint)
        painter.restore()

    def _corner_lines(self) -> dict[str, list[str]]:
        from desktop.image_adapter import corner_texts

        texts = corner_texts(self._image)
        zoom_line = f"Zoom {self._zoom * 100:.0f}%" + (f"  Rot {self._rotation}°" if self._rotation else "")
        flips = " ".join(name for name, on in (("Flip H", self._flip_h), ("Flip V", self._flip_v)) if on)
        window_line = f"W {self._window.width:.6g}  L {self._window.center:.6g}" + ("  INV" if self._invert else "")
        texts["bottom_left"] = [window_line, zoom_line] + ([flips] if flips else []) + texts.get("bottom_left", [])
        return texts

    def _draw_corner_text(self, painter: QPainter, viewport) -> None:
        font = QFont()
        font.setPointSize(9)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        line_height = metrics.height()
        margin = 8
        for corner, lines in self._corner_lines().items():
            for index, text in enumerate(lines):
                width = metrics.horizontalAdvance(text)
                if corner.endswith("left"):
                    x = margin
                else:
                    x = viewport.width() - margin - width
                if corner.startswith("top"):
                    y = margin + (index + 1) * line_height - metrics.descent()
                else:
                    y = viewport.height() - margin - (len(lines) - 1 - index) * line_height - metrics.descent()
                painter.setPen(QColor(0, 0, 0, 200))
                painter.drawText(x + 1, y + 1, text)  # shadow: readable on white lungs as on black air
                painter.setPen(QColor("#e0e6ea"))
                painter.drawText(x, y, text)

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

    def _draw_orientation(self, painter: QPainter, viewport) -> None:
        font = QFont()
        font.setPointSize(13)
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        w, h = viewport.width(), viewport.height()
        for edge, text in self.edge_labels().items():
            tw = metrics.horizontalAdvance(text)
            x, y = {"left": (10, h / 2), "right": (w - 10 - tw, h / 2),
                    "top": ((w - tw) / 2, 10 + metrics.ascent()), "bottom": ((w - tw) / 2, h - 46)}[edge]
            painter.setPen(QColor(0, 0, 0, 200))
            painter.drawText(QPointF(x + 1, y + 1), text)
            painter.setPen(QColor("#f0c674"))
            painter.drawText(QPointF(x, y), text)

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

    def _draw_scale_bar(self, painter: QPainter, viewport) -> None:
        bar = self.scale_bar_mm()
        if bar is None:
            return
        length_mm, length_px = bar
        x0 = (viewport.width() - length_px) / 2
        y0 = viewport.height() - 14
        label = f"{length_mm:g} mm" if length_mm < 10 else f"{length_mm / 10:g} cm"
        label_x = x0 + length_px / 2 - painter.fontMetrics().horizontalAdvance(label) / 2
        for colour, offset in ((QColor(0, 0, 0, 200), 1.0), (QColor("#e0e6ea"), 0.0)):  # shadow, then bar
            painter.setPen(QPen(colour, 2))
            painter.drawLine(QPointF(x0 + offset, y0 + offset), QPointF(x0 + length_px + offset, y0 + offset))
            for x in (x0, x0 + length_px):
                painter.drawLine(QPointF(x + offset, y0 - 5 + offset), QPointF(x + offset, y0 + 5 + offset))
            painter.drawText(QPointF(label_x + offset, y0 - 7 + offset), label)

    def grab_image(self) -> QImage:
        """What the user sees (image, heatmap, corner text, scale bar), for PNG export and tests."""
        return self.viewport().grab().toImage()
