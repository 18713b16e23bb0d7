"""The viewer's tools, in ONE table: each row (id, title, shortcut, icon, help, class) makes the tool's menu
action, its toolbar button, its line in Help > Keyboard shortcuts (F1) and the tool the view passes its mouse
and key events to. A new tool is its own module (a `Tool`, or a `CreateTool` that also draws its annotation
kind) plus one row here. Kinds that come only from other viewers' presentation states are drawn by `shapes`.
"""
from __future__ import annotations

from dataclasses import dataclass

from desktop.tools.angle import AngleTool
from desktop.tools.arrow import ArrowTool
from desktop.tools.base import Shape, Tool
from desktop.tools.cobb import CobbTool
from desktop.tools.ctr import CardiothoracicTool
from desktop.tools.distance import DistanceTool
from desktop.tools.ellipse import EllipseTool
from desktop.tools.magnifier import MagnifierTool
from desktop.tools.navigate import NavigateTool
from desktop.tools.rectangle import RectangleTool
from desktop.tools.select import SelectTool
from desktop.tools.shapes import SHAPES
from desktop.tools.text import TextTool
from desktop.tools.window_level import WindowLevelTool


@dataclass(frozen=True)
class ToolSpec:
    id: str
    title: str
    shortcut: str
    icon: str  # resources/icons/toolbar/<icon>.svg
    help: str
    tool: type[Tool]

    @property
    def action_name(self) -> str:
        return f"tool_{self.id}"


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("navigate", "Pan", "P", "pan", "Left drag pans the image (the default tool)", NavigateTool),
    ToolSpec("select", "Select / Edit", "S", "select",
             "Click a measurement to select it, drag its handles or line, Delete removes it, double-click edits text",
             SelectTool),
    ToolSpec("window_level", "Window/Level", "L", "window_level",
             "Left drag sets window/level (width left-right, level up-down)", WindowLevelTool),
    ToolSpec("distance", "Distance", "D", "distance", "Distance between two points, with end ticks", DistanceTool),
    ToolSpec("angle", "Angle", "A", "angle", "Angle at a vertex: drag the first arm, click the second", AngleTool),
    ToolSpec("cobb", "Cobb Angle", "Shift+A", "cobb", "Angle between two lines (e.g. vertebral end plates)",
             CobbTool),
    ToolSpec("ellipse", "Ellipse ROI", "E", "ellipse",
             "Elliptical region: mean, SD, min/max of the pixel values and area", EllipseTool),
    ToolSpec("rectangle", "Rectangle ROI", "B", "rectangle",
             "Rectangular region: mean, SD, min/max of the pixel values and area", RectangleTool),
    ToolSpec("ctr", "Cardiothoracic Ratio", "Shift+C", "ctr",
             "Two horizontal widths, heart and thorax; their ratio", CardiothoracicTool),
    ToolSpec("arrow", "Arrow", "W", "arrow", "An arrow pointing at a finding", ArrowTool),
    ToolSpec("text", "Text", "T", "text", "A text note on the image", TextTool),
    ToolSpec("magnifier", "Magnifier", "M", "magnifier",
             "A lens that enlarges the picture under the cursor while the button is held (or hold Z)", MagnifierTool),
)
TOOLS_BY_ID = {spec.id: spec for spec in TOOLS}
IMPORTED_KIND_TITLES = {"polygon": "Region", "polyline": "Line", "point": "Point"}  # from other viewers' states
DEFAULT_TOOL = "navigate"
_SHAPES_BY_KIND: dict[str, type[Shape]] = {
    **{shape.kind: shape for shape in SHAPES},
    **{spec.tool.kind: spec.tool for spec in TOOLS if issubclass(spec.tool, Shape)},
}


def create_tool(tool_id: str) -> Tool:
    return TOOLS_BY_ID[tool_id].tool()


def kind_title(kind: str) -> str:
    """What an annotation of `kind` is called: its tool's title ("Ellipse ROI"), else a plain word."""
    spec = TOOLS_BY_ID.get(kind)
    return spec.title if spec is not None else IMPORTED_KIND_TITLES.get(kind, kind.capitalize())


def shape_for(kind: str) -> type[Shape]:
    return _SHAPES_BY_KIND[kind]
