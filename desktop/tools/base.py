"""The small protocol every tool follows, and the two families most tools belong to.

A `Tool` gets the view's mouse and key events (press / move / release / double_click / key, each given the
ImageView and the event, each returning True when it used the event), sets the cursor and the view's drag mode
when it becomes active, and works on the Qt-free annotation records through `view.annotations` (an
annotations.AnnotationStore). `Shape` draws and edits one annotation kind: the outline it is hit-tested on, how
it is painted, its handles. `CreateTool` is both: it collects the points of its `steps` ("drag": press, drag,
release gives two points, or two clicks; "click": one point) with a live preview, then adds the annotation.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsView

from annotations.model import POINT_COUNTS, Annotation, Point, new_annotation

if TYPE_CHECKING:
    from desktop.image_view import ImageView

MEASURE_COLOUR = QColor("#ffd54f")
ANNOTATE_COLOUR = QColor("#80deea")
SELECTED_COLOUR = QColor("#ffffff")
CLICK_SLOP_PX = 4.0  # a press and release closer than this (screen pixels) is a click, not a drag
TICK_PX = 7.0  # half-length of a distance end tick on screen


class Tool:
    id = ""
    cursor = Qt.CursorShape.ArrowCursor
    drag_mode = QGraphicsView.DragMode.NoDrag
    hint = ""  # what to do, shown in the status bar when the tool is chosen

    def activate(self, view: ImageView) -> None:
        view.setDragMode(self.drag_mode)
        view.viewport().setCursor(self.cursor)

    def deactivate(self, view: ImageView) -> None:
        self.cancel(view)

    def cancel(self, view: ImageView) -> bool:
        """Drops whatever is half done; True if there was something."""
        return False

    def press(self, view: ImageView, event) -> bool:
        return False

    def move(self, view: ImageView, event) -> bool:
        return False

    def release(self, view: ImageView, event) -> bool:
        return False

    def double_click(self, view: ImageView, event) -> bool:
        return False

    def key(self, view: ImageView, event) -> bool:
        if event.key() == Qt.Key.Key_Escape:
            return self.cancel(view)
        return False


class Shape:
    """Drawing and editing of one annotation kind (class methods: shapes hold no state)."""

    kind = ""
    colour = MEASURE_COLOUR

    @classmethod
    def outline(cls, annotation: Annotation) -> list[list[Point]]:
        """Polylines in image pixels: what is drawn by default and what a click must be near to select it."""
        return [list(annotation.points)]

    @classmethod
    def closed(cls) -> bool:
        return False

    @classmethod
    def paint(cls, painter: QPainter, annotation: Annotation, screen_px: float) -> None:
        """screen_px: image pixels per screen pixel (for decorations of constant on-screen size)."""
        for line in cls.outline(annotation):
            painter.drawPath(polyline_path(line, cls.closed()))

    @classmethod
    def handles(cls, annotation: Annotation) -> list[Point]:
        return list(annotation.points)

    @classmethod
    def drag_handle(cls, annotation: Annotation, index: int, point: Point) -> Annotation:
        return annotation.with_point(index, point)


def polyline_path(points, closed: bool = False) -> QPainterPath:
    path = QPainterPath()
    if not points:
        return path
    path.moveTo(QPointF(*points[0]))
    for point in points[1:]:
        path.lineTo(QPointF(*point))
    if closed:
        path.closeSubpath()
    return path


def draw_tick(painter: QPainter, at: Point, towards: Point, screen_px: float) -> None:
    """A short line across the segment at `at`, of constant on-screen length."""
    dx, dy = towards[0] - at[0], towards[1] - at[1]
    length = math.hypot(dx, dy)
    if length == 0:
        return
    nx, ny = -dy / length * TICK_PX * screen_px, dx / length * TICK_PX * screen_px
    painter.drawLine(QPointF(at[0] - nx, at[1] - ny), QPointF(at[0] + nx, at[1] + ny))


def corner_handles(annotation: Annotation) -> list[Point]:
    (x0, y0), (x1, y1) = annotation.points
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def drag_corner(annotation: Annotation, index: int, point: Point) -> Annotation:
    """A box corner follows the mouse; the opposite corner stays."""
    opposite = corner_handles(annotation)[(index + 2) % 4]
    return Annotation(annotation.kind, (opposite, point), annotation.text, annotation.uid)


class CreateTool(Tool, Shape):
    """Makes one annotation of `kind` from `steps`; stays active for the next one."""

    steps: tuple[str, ...] = ("drag",)
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self):
        self._points: list[Point] = []
        self._floating: Point | None = None
        self._press_pos: QPointF | None = None
        self._awaiting_click = False  # a drag step that began with a click waits for its second click

    # -- what the tool makes ----------------------------------------------------------------------------------
    def make(self, view: ImageView, points: list[Point]) -> Annotation | None:
        return new_annotation(self.kind, points)

    def preview(self, points: list[Point]) -> Annotation | None:
        """What to draw while the points are being collected (complete: the annotation itself)."""
        if len(points) == POINT_COUNTS.get(self.kind, -1):
            return new_annotation(self.kind, points)
        if len(points) >= 2:
            return Annotation("polyline", tuple(points))
        return None

    # -- events ---------------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return bool(self._points) or self._floating is not None

    def _step(self) -> str | None:
        return self._step_and_start()[0]

    def _step_and_start(self) -> tuple[str | None, int]:
        """The step being collected and how many points came before it."""
        done = 0
        for step in self.steps:
            size = 2 if step == "drag" else 1
            if len(self._points) < done + size:
                return step, done
            done += size
        return None, done

    def press(self, view: ImageView, event) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or view.image_item() is None:
            return False
        point = view.image_point(event.position())
        self._press_pos = event.position()
        step = self._step()
        if step == "drag" and not self._awaiting_click:
            self._points.append(point)
        self._floating = point
        self._show(view)
        return True

    def move(self, view: ImageView, event) -> bool:
        if not self.busy:
            return False
        self._floating = view.image_point(event.position())
        self._show(view)
        return True

    def release(self, view: ImageView, event) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or self._press_pos is None:
            return False
        point = view.image_point(event.position())
        moved = math.hypot(event.position().x() - self._press_pos.x(), event.position().y() - self._press_pos.y())
        self._press_pos = None
        step = self._step()
        if step == "drag" and not self._awaiting_click and moved < CLICK_SLOP_PX:
            self._awaiting_click = True  # a click: the segment ends where the next click is
            self._floating = point
            self._show(view)
            return True
        self._awaiting_click = False
        self._points.append(point)
        self._floating = point if self._step() is not None else None
        if self._step() is None:
            points, self._points, self._floating = self._points, [], None
            view.set_preview(None)
            annotation = self.make(view, points)
            if annotation is not None:
                view.commit_annotation(annotation)
        else:
            self._show(view)
        return True

    def cancel(self, view: ImageView) -> bool:
        was_busy = self.busy
        self._points, self._floating, self._press_pos, self._awaiting_click = [], None, None, False
        view.set_preview(None)
        return was_busy

    def _show(self, view: ImageView) -> None:
        step, start = self._step_and_start()
        started = step == "click" or (step == "drag" and len(self._points) - start == 1)  # between two drags: no
        points = list(self._points) + ([self._floating] if self._floating is not None and started else [])
        view.set_preview(self.preview(points))


def shape_pen(colour: QColor, width: float = 2.0) -> QPen:
    pen = QPen(colour, width)
    pen.setCosmetic(True)  # constant on-screen width at any zoom
    return pen


class TwoTickedSegments:
    """Mixin for tools drawn as two segments (points 0-1 and 2-3) with end ticks: Cobb angle, cardiothoracic ratio."""

    @classmethod
    def outline(cls, annotation):
        points = list(annotation.points)
        return [points[:2], points[2:]]

    @classmethod
    def paint(cls, painter, annotation, screen_px: float) -> None:
        super().paint(painter, annotation, screen_px)
        for a, b in (annotation.points[:2], annotation.points[2:]):
            draw_tick(painter, a, b, screen_px)
            draw_tick(painter, b, a, screen_px)
