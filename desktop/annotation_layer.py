"""The annotations of the image on screen as scene items: one AnnotationItem (drawn by its kind's Shape, in
image-pixel coordinates, so it follows zoom, rotation and flips) and one LabelItem (its measurement, constant
size on screen, with a dark outline readable on white bone and black air) per record of the view's
AnnotationStore, plus the preview of the one being drawn. The store is the truth; this layer redraws from it.
Labels that would cover one another are moved apart (down) whenever the view's geometry changes. How they look
is desktop.annotation_painting's, which the PDF report draws with too."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QFontMetricsF, QPainter
from PySide6.QtWidgets import QGraphicsItem

from annotations.model import Annotation
from desktop.annotation_painting import label_box, label_font, left_of_point, paint_label, paint_shape, shifts_apart
from desktop.tools import shape_for
from desktop.tools.base import SELECTED_COLOUR

if TYPE_CHECKING:
    from annotations.measurements import Measurement
    from desktop.image_view import ImageView

HIT_PX = 6.0


def _screen_px(painter: QPainter) -> float:
    t = painter.worldTransform()
    scale = math.hypot(t.m11(), t.m12())
    return 1.0 / scale if scale > 0 else 1.0


class AnnotationItem(QGraphicsItem):
    def __init__(self, annotation: Annotation, parent: QGraphicsItem, preview: bool = False):
        super().__init__(parent)
        self.annotation = annotation
        self.selected = False
        self.preview = preview
        self._margin = 40.0
        self.setZValue(10)

    def set_annotation(self, annotation: Annotation, selected: bool, margin: float) -> None:
        self.prepareGeometryChange()
        self.annotation, self.selected, self._margin = annotation, selected, margin
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        x0, y0, x1, y1 = self.annotation.bounds()
        return QRectF(x0, y0, x1 - x0, y1 - y0).adjusted(-self._margin, -self._margin, self._margin, self._margin)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        paint_shape(painter, self.annotation, _screen_px(painter), selected=self.selected, preview=self.preview)


class LabelItem(QGraphicsItem):
    """Multi-line text at an image point, drawn in screen pixels (ignores the view's zoom and rotation). It sits
    right of its point, or left of it when it would run off the right edge of the view."""

    def __init__(self, parent: QGraphicsItem, colour: QColor):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(11)
        self._text = ""
        self._colour = colour
        self._font = label_font()
        self._box = QRectF()  # right of the point, before any shift
        self._shift = 0.0  # screen pixels down, to clear the labels drawn before it
        self._rect = QRectF()

    def text(self) -> str:
        return self._text

    def set_text(self, text: str, colour: QColor) -> None:
        self.prepareGeometryChange()
        self._text, self._colour = text, colour
        self._box = label_box(text, QFontMetricsF(self._font))
        self._rect = self._box.translated(0, self._shift)
        self.update()

    def set_shift(self, shift: float) -> None:
        if shift != self._shift:
            self.prepareGeometryChange()
            self._shift = shift
            self._rect = self._box.translated(0, shift)
            self.update()

    def _left_rect(self) -> QRectF:
        """The same text placed left of the point."""
        return left_of_point(self._rect)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect.united(self._left_rect()).adjusted(-2, -2, 2, 2)

    def placed_rect(self, view_width: float | None) -> QRectF:
        """Where the text is drawn (item coordinates) in a view `view_width` pixels wide."""
        if view_width is None or self.scene() is None:
            return self._rect
        views = self.scene().views()
        if not views:
            return self._rect
        anchor = self.deviceTransform(views[0].viewportTransform()).map(QPointF(0, 0))
        return self._left_rect() if anchor.x() + self._rect.right() > view_width and \
            anchor.x() + self._left_rect().left() >= 0 else self._rect

    def screen_rect(self, view) -> QRectF:
        """Where the text is drawn, in `view`'s viewport pixels."""
        return self.deviceTransform(view.viewportTransform()).mapRect(self.placed_rect(view.viewport().width()))

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self._text:
            paint_label(painter, self.placed_rect(widget.width() if widget is not None else None), self._text,
                        self._colour, self._font)


class AnnotationLayer:
    def __init__(self, view: ImageView):
        self._view = view
        self._items: dict[str, tuple[AnnotationItem, LabelItem]] = {}
        self._preview: tuple[AnnotationItem, LabelItem] | None = None
        self._measurements: dict[str, Measurement] = {}

    # -- syncing with the store -------------------------------------------------------------------------------
    def clear(self) -> None:
        """The scene was cleared (new image): forget the items, which Qt deleted."""
        self._items.clear()
        self._preview = None
        self._measurements.clear()

    def sync(self) -> None:
        view = self._view
        parent = view.image_item()
        store = view.annotations
        if parent is None:
            self._remove_all()
            return
        wanted = {a.uid: a for a in store.items()}
        for uid in [uid for uid in self._items if uid not in wanted]:
            for item in self._items.pop(uid):
                self._remove(item)
            self._measurements.pop(uid, None)
        margin = self._margin()
        for annotation in store.items():
            pair = self._items.get(annotation.uid)
            if pair is None:
                pair = (AnnotationItem(annotation, parent), LabelItem(parent, shape_for(annotation.kind).colour))
                self._items[annotation.uid] = pair
            self._place(pair, annotation, annotation.uid == view.selected_uid(), margin)
        self.separate_labels()
        self._view.viewport().update()

    def set_preview(self, annotation: Annotation | None) -> None:
        parent = self._view.image_item()
        if annotation is None or parent is None:
            if self._preview is not None:
                for item in self._preview:
                    self._remove(item)
                self._preview = None
            return
        if self._preview is None:
            self._preview = (AnnotationItem(annotation, parent, preview=True),
                             LabelItem(parent, shape_for(annotation.kind).colour))
        self._place(self._preview, annotation, False, self._margin(), store=False)

    def refresh_margins(self) -> None:
        """After a zoom: handles and ticks have a constant screen size, so the items' bounds change."""
        margin = self._margin()
        for annotation_item, _ in self._items.values():
            annotation_item.set_annotation(annotation_item.annotation, annotation_item.selected, margin)
        self.separate_labels()

    def separate_labels(self) -> None:
        """Labels that would cover one another move down, in drawing order (on screen, where their size is)."""
        labels = [pair[1] for annotation in self._view.annotations.items()
                  if (pair := self._items.get(annotation.uid)) is not None and pair[1].text()]
        for label in labels:
            label.set_shift(0.0)
        rects = [label.screen_rect(self._view) for label in labels]
        for label, shift in zip(labels, shifts_apart(rects)):
            label.set_shift(shift)

    def label_rects(self) -> dict[str, QRectF]:
        """Where each annotation's label is drawn, in viewport pixels (uid -> rectangle), for those with one."""
        return {uid: label.screen_rect(self._view) for uid, (_, label) in self._items.items() if label.text()}

    def _place(self, pair, annotation: Annotation, selected: bool, margin: float, store: bool = True) -> None:
        annotation_item, label = pair
        annotation_item.set_annotation(annotation, selected, margin)
        measurement = self._view.measurement(annotation)
        if store:
            self._measurements[annotation.uid] = measurement
        label.set_text(measurement.label, SELECTED_COLOUR if selected else shape_for(annotation.kind).colour)
        label.setPos(QPointF(*annotation.label_anchor()))

    def _margin(self) -> float:
        zoom = max(self._view.zoom, 1e-6)
        return 24.0 / zoom

    def _remove(self, item: QGraphicsItem) -> None:
        if item.scene() is not None:
            item.scene().removeItem(item)

    def _remove_all(self) -> None:
        for pair in self._items.values():
            for item in pair:
                self._remove(item)
        self._items.clear()
        self.set_preview(None)

    # -- reading -------------------------------------------------------------------------------------------------
    def labels(self) -> list[str]:
        """The measurement text of each annotation, in drawing order ("" for those without one)."""
        return [self._items[a.uid][1].text() for a in self._view.annotations.items() if a.uid in self._items]

    def measurement_of(self, uid: str) -> Measurement | None:
        return self._measurements.get(uid)

    def hit_test(self, view_pos: QPointF) -> tuple[str, int] | None:
        """(uid, handle index) of what is under `view_pos` (viewport pixels), -1 for the shape itself; the
        topmost (last drawn) first; handles of the selected annotation win."""
        view = self._view
        store = view.annotations
        selected = store.get(view.selected_uid()) if view.selected_uid() else None
        candidates = list(reversed(store.items()))
        if selected is not None:
            for index, point in enumerate(shape_for(selected.kind).handles(selected)):
                if _distance(view.view_point(point), view_pos) <= HIT_PX + 2:
                    return selected.uid, index
        for annotation in candidates:
            shape = shape_for(annotation.kind)
            for index, point in enumerate(shape.handles(annotation)):
                if _distance(view.view_point(point), view_pos) <= HIT_PX:
                    return annotation.uid, index
            for line in shape.outline(annotation):
                mapped = [view.view_point(point) for point in line]
                if any(_segment_distance(view_pos, a, b) <= HIT_PX for a, b in zip(mapped, mapped[1:])):
                    return annotation.uid, -1
            pair = self._items.get(annotation.uid)
            if pair is not None and pair[1].text() and pair[1].screen_rect(view).contains(view_pos):
                return annotation.uid, -1
        return None


def _distance(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


def _segment_distance(p: QPointF, a: QPointF, b: QPointF) -> float:
    dx, dy = b.x() - a.x(), b.y() - a.y()
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p.x() - a.x()) * dx + (p.y() - a.y()) * dy) / length2))
    return math.hypot(p.x() - (a.x() + t * dx), p.y() - (a.y() + t * dy))
