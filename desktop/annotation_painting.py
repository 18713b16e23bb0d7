"""How an annotation looks, on any QPainter: its shape (drawn by its kind's Shape, with a dark rim) and its
measurement label (text with a dark outline, right of its point, or left of it where it would leave the picture),
and labels moved apart so that none covers another. The view's scene items (desktop.annotation_layer) and the PDF
report's image (desktop.report_export) both draw with these, so the report shows the annotations as drawn."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QTransform

from annotations.model import Annotation
from desktop.tools import shape_for
from desktop.tools.base import SELECTED_COLOUR, shape_pen
from desktop.view_overlays import OUTLINE_COLOUR, OUTLINE_OFFSETS

HANDLE_PX = 4.0  # half-size of a selection handle on screen
LABEL_OFFSET = QPointF(10.0, 4.0)  # device pixels from the label's point
LABEL_GAP = 4.0  # device pixels kept between two labels moved apart
RIM_COLOUR = QColor(0, 0, 0, 150)  # the dark rim keeps a thin line visible on white bone
BACKDROP_COLOUR = QColor(0, 0, 0, 170)


def label_font(points: float = 10.0) -> QFont:
    font = QFont()
    font.setPointSizeF(points)
    font.setBold(True)
    return font


def paint_shape(painter: QPainter, annotation: Annotation, screen_px: float, *, selected: bool = False,
                preview: bool = False) -> None:
    """The annotation in image-pixel coordinates (the painter's transform maps them); `screen_px` is image pixels
    per device pixel, for decorations of constant device size (ticks, arrow heads, handles)."""
    shape = shape_for(annotation.kind)
    pen = shape_pen(SELECTED_COLOUR if selected else shape.colour, 2.0)
    if preview:
        pen.setStyle(Qt.PenStyle.DashLine)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for each in (shape_pen(RIM_COLOUR, 4.0), pen):
        painter.setPen(each)
        shape.paint(painter, annotation, screen_px)
    if selected:
        painter.setPen(shape_pen(QColor(0, 0, 0), 1.0))
        painter.setBrush(QBrush(SELECTED_COLOUR))
        size = HANDLE_PX * screen_px
        for x, y in shape.handles(annotation):
            painter.drawRect(QRectF(x - size, y - size, 2 * size, 2 * size))


def label_box(text: str, metrics: QFontMetricsF) -> QRectF:
    """Where `text` goes relative to its point (device pixels): right of it, below by LABEL_OFFSET."""
    rect = metrics.boundingRect(QRectF(0, 0, 4000, 4000), int(Qt.AlignmentFlag.AlignLeft), text)
    return rect.translated(LABEL_OFFSET)


def left_of_point(box: QRectF) -> QRectF:
    """The same box placed left of its point."""
    return box.translated(-box.width() - 2 * LABEL_OFFSET.x(), 0)


def paint_label(painter: QPainter, rect: QRectF, text: str, colour: QColor, font: QFont, *,
                searchable: bool = False) -> None:
    """`text` in `rect` (device coordinates of the painter), in `colour` with a dark outline. `searchable`: on a
    dark backdrop instead, so a PDF holds the words once (copied or searched, they read as written)."""
    painter.setFont(font)
    flags = int(Qt.AlignmentFlag.AlignLeft)
    if searchable:
        painter.fillRect(rect.adjusted(-1, 0, 1, 0), BACKDROP_COLOUR)
    else:
        painter.setPen(OUTLINE_COLOUR)
        for dx, dy in OUTLINE_OFFSETS:
            painter.drawText(rect.translated(dx, dy), flags, text)
    painter.setPen(colour)
    painter.drawText(rect, flags, text)


def shifts_apart(rects: Sequence[QRectF], gap: float = LABEL_GAP, top: float | None = None,
                 bottom: float | None = None) -> list[float]:
    """How far to move each label up or down (in order: the first stays) so that none overlaps one before it: to
    the nearest free place just above or below the ones in the way, within `top`..`bottom` when given. A label
    with no free place stays where it was."""
    placed: list[QRectF] = []
    shifts = []
    for rect in rects:
        def free(y: float) -> bool:
            moved = QRectF(rect.left(), y, rect.width(), rect.height())
            inside = (top is None or y >= top) and (bottom is None or moved.bottom() <= bottom)
            return inside and not any(moved.intersects(other.adjusted(-gap, -gap, gap, gap)) for other in placed)

        candidates = [rect.top()] + [other.bottom() + gap + 0.5 for other in placed] + \
                     [other.top() - gap - 0.5 - rect.height() for other in placed]
        y = min((c for c in candidates if free(c)), key=lambda c: abs(c - rect.top()), default=rect.top())
        placed.append(QRectF(rect.left(), y, rect.width(), rect.height()))
        shifts.append(y - rect.top())
    return shifts


def kept_inside(box: QRectF, area: QRectF) -> QRectF:
    """`box` moved (not resized) to lie inside `area`, as far as it fits (its top-left corner wins)."""
    dx = max(area.left() - box.left(), min(0.0, area.right() - box.right()))
    dy = max(area.top() - box.top(), min(0.0, area.bottom() - box.bottom()))
    return box.translated(dx, dy)


def paint_annotations(painter: QPainter, annotations: Iterable[Annotation], labels: dict[str, str],
                      to_device: QTransform, picture: QRectF, font: QFont, *, searchable: bool = False
                      ) -> list[QRectF]:
    """Every annotation over a picture drawn in `picture` (device coordinates), image pixels mapped by
    `to_device`, clipped to the picture; labels from `labels` (uid -> text as the view shows it) placed and moved
    apart as on screen (`searchable`: see paint_label). Returns the label rectangles drawn."""
    annotations = list(annotations)
    scale = math.hypot(to_device.m11(), to_device.m12()) or 1.0
    painter.save()
    painter.setClipRect(picture)
    painter.save()
    painter.setTransform(to_device, True)
    for annotation in annotations:
        paint_shape(painter, annotation, 1.0 / scale)
    painter.restore()
    metrics = QFontMetricsF(font, painter.device())
    placed = []
    for annotation in annotations:
        text = labels.get(annotation.uid, "")
        if not text:
            continue
        anchor = to_device.map(QPointF(*annotation.label_anchor()))
        box = label_box(text, metrics).translated(anchor)
        if box.right() > picture.right() and left_of_point(box).left() >= picture.left():
            box = left_of_point(box)
        placed.append((annotation, text, kept_inside(box, picture)))  # a label never leaves the picture
    rects = []
    shifts = shifts_apart([box for _, _, box in placed], top=picture.top(), bottom=picture.bottom())
    for (annotation, text, box), shift in zip(placed, shifts):
        rect = box.translated(0, shift)
        paint_label(painter, rect, text, shape_for(annotation.kind).colour, font, searchable=searchable)
        rects.append(rect)
    painter.restore()
    return rects
