"""A small line plot drawn with QPainter (QtCharts is not part of the install): titled axes, ticks, several
named series, an optional diagonal (for ROC curves) and one highlighted point."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 12, 24, 34


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1/2/5 x 10^k steps)."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    return ticks


class CurvePlot(QWidget):
    def __init__(self, title: str, x_label: str, y_label: str, x_range: tuple[float, float] | None = None,
                 y_range: tuple[float, float] | None = None, diagonal: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.x_label = x_label
        self.y_label = y_label
        self.fixed_x = x_range
        self.fixed_y = y_range
        self.diagonal = diagonal
        self._series: dict[str, tuple[list[tuple[float, float]], QColor, bool]] = {}
        self._marker: tuple[float, float] | None = None
        self.setAccessibleName(title)
        self.setMinimumSize(260, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(420, 240)

    # -- data ---------------------------------------------------------------------------------------------------
    def set_series(self, name: str, points, colour: str, markers: bool = False) -> None:
        clean = [(float(x), float(y)) for x, y in points if y is not None and math.isfinite(float(y))]
        self._series[name] = (clean, QColor(colour), markers)
        self.update()

    def series(self, name: str) -> list[tuple[float, float]]:
        return list(self._series.get(name, ([], None, False))[0])

    def series_names(self) -> list[str]:
        return list(self._series)

    def set_marker(self, point: tuple[float, float] | None) -> None:
        self._marker = point
        self.update()

    @property
    def marker(self) -> tuple[float, float] | None:
        return self._marker

    def clear(self) -> None:
        self._series.clear()
        self._marker = None
        self.update()

    def data_ranges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        xs = [x for points, _, _ in self._series.values() for x, _ in points]
        ys = [y for points, _, _ in self._series.values() for _, y in points]
        x_range = self.fixed_x or ((min(xs), max(xs)) if xs else (0.0, 1.0))
        y_range = self.fixed_y or ((min(ys), max(ys)) if ys else (0.0, 1.0))
        if x_range[1] - x_range[0] < 1e-12:
            x_range = (x_range[0] - 0.5, x_range[1] + 0.5)
        if y_range[1] - y_range[0] < 1e-12:
            y_range = (y_range[0] - 0.5, y_range[1] + 0.5)
        if not self.fixed_y:  # a little headroom so the curve does not touch the frame
            pad = 0.05 * (y_range[1] - y_range[0])
            y_range = (y_range[0] - pad, y_range[1] + pad)
        return x_range, y_range

    # -- drawing ------------------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text_colour = palette.windowText().color()
        painter.fillRect(self.rect(), palette.base())
        plot = QRectF(MARGIN_LEFT, MARGIN_TOP, max(10, self.width() - MARGIN_LEFT - MARGIN_RIGHT),
                      max(10, self.height() - MARGIN_TOP - MARGIN_BOTTOM))
        (x0, x1), (y0, y1) = self.data_ranges()

        def to_screen(x: float, y: float) -> QPointF:
            return QPointF(plot.left() + (x - x0) / (x1 - x0) * plot.width(),
                           plot.bottom() - (y - y0) / (y1 - y0) * plot.height())

        font = QFont(painter.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        grid = QColor(text_colour)
        grid.setAlpha(40)
        painter.setPen(QPen(text_colour))
        painter.drawText(QRectF(0, 2, self.width(), MARGIN_TOP - 4), Qt.AlignmentFlag.AlignCenter, self.title)
        for tick in nice_ticks(x0, x1):
            point = to_screen(tick, y0)
            painter.setPen(QPen(grid))
            painter.drawLine(QPointF(point.x(), plot.top()), QPointF(point.x(), plot.bottom()))
            painter.setPen(QPen(text_colour))
            painter.drawText(QRectF(point.x() - 30, plot.bottom() + 2, 60, 14), Qt.AlignmentFlag.AlignCenter,
                             f"{tick:g}")
        for tick in nice_ticks(y0, y1):
            point = to_screen(x0, tick)
            painter.setPen(QPen(grid))
            painter.drawLine(QPointF(plot.left(), point.y()), QPointF(plot.right(), point.y()))
            painter.setPen(QPen(text_colour))
            painter.drawText(QRectF(0, point.y() - 7, MARGIN_LEFT - 4, 14),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{tick:g}")
        painter.drawText(QRectF(plot.left(), self.height() - 16, plot.width(), 14), Qt.AlignmentFlag.AlignCenter,
                         self.x_label)
        painter.save()
        painter.translate(10, plot.center().y())
        painter.rotate(-90)
        painter.drawText(QRectF(-plot.height() / 2, -8, plot.height(), 14), Qt.AlignmentFlag.AlignCenter,
                         self.y_label)
        painter.restore()
        painter.setPen(QPen(text_colour))
        painter.drawRect(plot)

        painter.setClipRect(plot.adjusted(-3, -3, 3, 3))
        if self.diagonal:
            painter.setPen(QPen(grid, 1, Qt.PenStyle.DashLine))
            painter.drawLine(to_screen(x0, y0), to_screen(x1, y1))
        for points, colour, markers in self._series.values():
            if not points:
                continue
            painter.setPen(QPen(colour, 1.6))
            if len(points) > 1:
                path = QPainterPath(to_screen(*points[0]))
                for point in points[1:]:
                    path.lineTo(to_screen(*point))
                painter.drawPath(path)
            if markers or len(points) == 1:
                painter.setBrush(colour)
                for point in points:
                    painter.drawEllipse(to_screen(*point), 3, 3)
                painter.setBrush(Qt.BrushStyle.NoBrush)
        if self._marker is not None:
            painter.setPen(QPen(QColor("#d62728"), 2))
            painter.drawEllipse(to_screen(*self._marker), 5, 5)
        painter.setClipping(False)

        legend_y = plot.top() + 4
        for name, (points, colour, _) in self._series.items():
            if name.startswith("_"):
                continue
            painter.fillRect(QRectF(plot.left() + 6, legend_y + 4, 14, 3), colour)
            painter.setPen(QPen(text_colour))
            painter.drawText(QRectF(plot.left() + 24, legend_y - 2, plot.width() - 30, 14),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
            legend_y += 14
        painter.end()
