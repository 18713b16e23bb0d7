"""The annotation side of ImageView: the active tool (desktop/tools) and the view's AnnotationStore with its
scene items (desktop.annotation_layer), selection, the drawing preview, hit testing, the text prompt, the
magnifier lens, and the conversions between viewport and image-pixel coordinates the tools work in."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF

from annotations.model import new_annotation
from annotations.store import AnnotationStore
from desktop.annotation_layer import AnnotationLayer
from desktop.tools import DEFAULT_TOOL, TOOLS_BY_ID, create_tool, kind_title, shape_for

if TYPE_CHECKING:
    from annotations.measurements import Calibration, Measurement
    from annotations.model import Annotation
    from desktop.tools.base import Shape


class ToolsMixin:
    """Mixed into ImageView (a QGraphicsView with the signals tool_changed, annotations_changed and
    measurement_added, and image_item())."""

    def _init_tools(self) -> None:
        self._store = AnnotationStore()
        self._store.add_listener(self._on_annotations_changed)
        self._layer = AnnotationLayer(self)
        self._selected: str | None = None
        self._tool = create_tool(DEFAULT_TOOL)
        self._tool.activate(self)
        self._magnifier_pos: QPointF | None = None
        self.text_prompt = None  # callable(title, text) -> str | None; None asks with a dialog (tests set it)
        self.zoom_changed.connect(lambda _: self._layer.refresh_margins())
        self.view_moved.connect(self._layer.separate_labels)  # a label near an edge may change sides

    # -- tools ----------------------------------------------------------------------------------------------------
    @property
    def tool_id(self) -> str:
        return self._tool.id

    def set_tool(self, tool_id: str) -> None:
        if tool_id not in TOOLS_BY_ID:
            raise KeyError(f"no tool {tool_id!r}")
        if tool_id == self._tool.id:
            return
        self._tool.deactivate(self)
        self._tool = create_tool(tool_id)
        self._tool.activate(self)
        if tool_id != "select":
            self.select(None)
        self.tool_changed.emit(tool_id)

    def set_measuring(self, on: bool) -> None:
        """The distance tool on, or back to panning."""
        self.set_tool("distance" if on else DEFAULT_TOOL)

    def is_measuring(self) -> bool:
        return self._tool.id == "distance"

    # -- annotations ----------------------------------------------------------------------------------------------
    @property
    def annotations(self) -> AnnotationStore:
        return self._store

    def set_annotation_store(self, store: AnnotationStore) -> None:
        """Shows another image's annotations (a viewport keeps one store per image it has shown)."""
        self._tool.cancel(self)
        self._store.remove_listener(self._on_annotations_changed)
        self._store = store
        store.add_listener(self._on_annotations_changed)
        self._selected = None
        self._on_annotations_changed()

    def _on_annotations_changed(self) -> None:
        if self._selected is not None and self._store.get(self._selected) is None:
            self._selected = None
        self._layer.sync()
        self.annotations_changed.emit()

    def calibration(self) -> Calibration | None:
        from annotations.measurements import calibration_of

        return calibration_of(self._image) if self._image is not None else None

    def measurement(self, annotation: Annotation) -> Measurement:
        from annotations.measurements import measure

        image = self._image
        if image is None:
            return measure(annotation)
        return measure(annotation, self.calibration(), image.modality, getattr(image, "padding_mask", None))

    def shape_of(self, kind: str) -> type[Shape]:
        return shape_for(kind)

    def selected_uid(self) -> str | None:
        return self._selected

    def select(self, uid: str | None) -> None:
        if uid != self._selected:
            self._selected = uid
            self._layer.sync()

    def set_preview(self, annotation: Annotation | None) -> None:
        self._layer.set_preview(annotation)
        self.viewport().update()

    def commit_annotation(self, annotation: Annotation) -> str:
        """A tool finished `annotation`: it joins the store (one undo step); returns its measurement text."""
        self._store.add(annotation)
        label = self.measurement(annotation).label
        self.measurement_added.emit(kind_title(annotation.kind), label)
        return label

    def hit_test(self, view_pos: QPointF) -> tuple[str, int] | None:
        return self._layer.hit_test(QPointF(view_pos))

    def prompt_text(self, title: str, text: str = "") -> str | None:
        if self.text_prompt is not None:
            return self.text_prompt(title, text)
        from PySide6.QtWidgets import QInputDialog

        value, ok = QInputDialog.getText(self, title, "Text:", text=text)
        return value if ok else None

    def delete_selected(self) -> bool:
        """Removes the selected annotation (one undoable step)."""
        if self._selected is None:
            return False
        removed = self._store.remove(self._selected)
        self.select(None)
        return removed

    def clear_measurements(self) -> None:
        self._store.clear()

    def measurement_labels(self) -> list[str]:
        return self._layer.labels()

    def label_rects(self):
        """uid -> where the annotation's measurement label is drawn (viewport pixels)."""
        return self._layer.label_rects()

    def distance_label(self, start: QPointF, end: QPointF) -> str:
        """Length of a segment given in image pixel coordinates: mm when the spacing is known, else pixels."""
        return self.measurement(new_annotation("distance", [(start.x(), start.y()), (end.x(), end.y())])).label

    def add_measurement(self, start: QPointF, end: QPointF) -> str:
        """Adds a finished distance between two image-pixel points (scripts and tests)."""
        return self.commit_annotation(new_annotation("distance", [(start.x(), start.y()), (end.x(), end.y())]))

    # -- coordinates ----------------------------------------------------------------------------------------------
    def image_point(self, view_pos: QPointF) -> tuple[float, float]:
        """Viewport position (sub-pixel) -> image pixel coordinates."""
        scene = self.viewportTransform().inverted()[0].map(QPointF(view_pos))
        point = self._image_item.mapFromScene(scene) if self._image_item is not None else scene
        return point.x(), point.y()

    def view_point(self, point: tuple[float, float]) -> QPointF:
        """Image pixel coordinates -> viewport position."""
        scene = self._image_item.mapToScene(QPointF(*point)) if self._image_item is not None else QPointF(*point)
        return self.viewportTransform().map(scene)

    # -- magnifier ------------------------------------------------------------------------------------------------
    def show_magnifier(self, view_pos: QPointF | None) -> None:
        self._magnifier_pos = QPointF(view_pos) if view_pos is not None and self._image_item is not None else None
        self.viewport().update()

    def magnifier_position(self) -> QPointF | None:
        return self._magnifier_pos
