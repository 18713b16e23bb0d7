"""What ImageView paints on top of the picture, in viewport pixels: corner text, orientation letters, scale bar,
the hint or error of an empty view, and the magnifier lens. Text gets a dark outline and, for the corner blocks,
a translucent backdrop, so that it reads over white lung as over black air."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QTransform

TEXT_COLOUR = QColor("#e0e6ea")
OUTLINE_COLOUR = QColor(0, 0, 0, 230)
BACKDROP_COLOUR = QColor(0, 0, 0, 120)
ORIENTATION_COLOUR = QColor("#f0c674")
ERROR_COLOUR = QColor("#ef8a7a")
HINT_COLOUR = QColor("#7d8790")
OUTLINE_OFFSETS = ((-1, -1), (1, -1), (-1, 1), (1, 1), (0, 1), (1, 0), (-1, 0), (0, -1))
LENS_RADIUS = 95
LENS_FACTOR = 3.0
EMPTY_HINT = ("Open a radiograph (Ctrl+O), a folder (Ctrl+Shift+O),\n"
              "drop files here, or use Help > Open Sample Image")


def outlined_text(painter: QPainter, position: QPointF, text: str, colour: QColor = TEXT_COLOUR) -> None:
    painter.setPen(OUTLINE_COLOUR)
    for dx, dy in OUTLINE_OFFSETS:
        painter.drawText(QPointF(position.x() + dx, position.y() + dy), text)
    painter.setPen(colour)
    painter.drawText(position, text)


def draw_corner_text(painter: QPainter, viewport: QRect, corners: dict[str, list[str]]) -> None:
    font = QFont()
    font.setPointSize(9)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    line_height = metrics.height()
    margin = 8
    for corner, lines in corners.items():
        if not lines:
            continue
        widths = [metrics.horizontalAdvance(text) for text in lines]
        block_w, block_h = max(widths), line_height * len(lines)
        left = corner.endswith("left")
        top = corner.startswith("top")
        x0 = margin if left else viewport.width() - margin - block_w
        y0 = margin if top else viewport.height() - margin - block_h
        painter.fillRect(QRectF(x0 - 4, y0 - 2, block_w + 8, block_h + 4), BACKDROP_COLOUR)
        for index, (text, width) in enumerate(zip(lines, widths)):
            x = x0 if left else viewport.width() - margin - width
            y = y0 + (index + 1) * line_height - metrics.descent()
            outlined_text(painter, QPointF(x, y), text)


def draw_orientation(painter: QPainter, viewport: QRect, edges: dict[str, str]) -> None:
    font = QFont()
    font.setPointSize(13)
    font.setBold(True)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    w, h = viewport.width(), viewport.height()
    for edge, text in edges.items():
        tw = metrics.horizontalAdvance(text)
        x, y = {"left": (10, h / 2), "right": (w - 10 - tw, h / 2),
                "top": ((w - tw) / 2, 10 + metrics.ascent()), "bottom": ((w - tw) / 2, h - 46)}[edge]
        outlined_text(painter, QPointF(x, y), text, ORIENTATION_COLOUR)


def draw_scale_bar(painter: QPainter, viewport: QRect, bar: tuple[float, float] | None) -> None:
    if bar is None:
        return
    length_mm, length_px = bar
    x0 = (viewport.width() - length_px) / 2
    y0 = viewport.height() - 14
    label = f"{length_mm:g} mm" if length_mm < 10 else f"{length_mm / 10:g} cm"
    label_x = x0 + length_px / 2 - painter.fontMetrics().horizontalAdvance(label) / 2
    for colour, width in ((OUTLINE_COLOUR, 4), (TEXT_COLOUR, 2)):  # dark rim, then the bar
        painter.setPen(QPen(colour, width))
        painter.drawLine(QPointF(x0, y0), QPointF(x0 + length_px, y0))
        for x in (x0, x0 + length_px):
            painter.drawLine(QPointF(x, y0 - 5), QPointF(x, y0 + 5))
    outlined_text(painter, QPointF(label_x, y0 - 7), label)


def draw_message(painter: QPainter, viewport: QRect, message: str, with_hint: bool) -> None:
    """The empty view's hint, or why the file asked for could not be opened (in red, above the hint)."""
    font = QFont()
    font.setPointSize(12)
    painter.setFont(font)
    area = viewport.adjusted(40, 0, -40, 0)
    flags = int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
    if message:
        painter.setPen(ERROR_COLOUR)
        painter.drawText(area.adjusted(0, 0, 0, -80) if with_hint else area, flags, message)
    if with_hint:
        painter.setPen(HINT_COLOUR)
        painter.drawText(area.adjusted(0, 80, 0, 0) if message else area, flags, EMPTY_HINT)


def draw_magnifier(painter: QPainter, view, position: QPointF) -> None:
    """The picture under `position` enlarged LENS_FACTOR times (pixels shown as pixels) inside a round lens."""
    picture = view.pixmap_item()
    if picture is None or picture.pixmap().isNull():
        return
    lens = QPainterPath()
    lens.addEllipse(position, LENS_RADIUS, LENS_RADIUS)
    painter.save()
    painter.setClipPath(lens)
    painter.fillPath(lens, QColor(0, 0, 0))
    magnify = QTransform().translate(position.x(), position.y()).scale(LENS_FACTOR, LENS_FACTOR) \
        .translate(-position.x(), -position.y())
    painter.setTransform(picture.sceneTransform() * view.viewportTransform() * magnify)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
    painter.drawPixmap(0, 0, picture.pixmap())
    painter.restore()
    painter.setPen(QPen(TEXT_COLOUR, 2))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawEllipse(position, LENS_RADIUS, LENS_RADIUS)
