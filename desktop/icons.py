"""Toolbar and menu icons: small line drawings (SVG, 24 x 24, drawn in the theme's text colour) rendered with
QtSvg into pixmaps, so they need no image files, no icon-engine plugin and look sharp at any screen scale."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QApplication

S = 'fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"'
SVG_BODIES = {
    # files and views
    "open": '<path d="M3 7h6l2 2h10v10H3z"/><path d="M12 17v-6m-3 3l3-3 3 3"/>',
    "folder": '<path d="M3 6h6l2 2h10v11H3z"/>',
    "fit": '<path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5"/><rect x="8" y="8" width="8" height="8"/>',
    "actual_size": '<text x="3" y="17" font-size="11" font-family="sans-serif" fill="currentColor" '
                   'stroke="none">1:1</text>',
    "rotate": '<path d="M20 12a8 8 0 1 1-3-6.3"/><path d="M17 2v4h-4" />',
    "flip": '<path d="M12 3v18"/><path d="M9 6L3 18h6z"/><path d="M15 6l6 12h-6z"/>',
    "invert": '<circle cx="12" cy="12" r="8"/><path d="M12 4a8 8 0 0 1 0 16z" fill="currentColor"/>',
    "reset": '<path d="M4 12a8 8 0 1 0 3-6.3"/><path d="M7 2v4h4"/>',
    "corner_text": '<path d="M4 5h7M4 8h5M13 19h7M15 16h5"/><rect x="3" y="3" width="18" height="18" rx="1"/>',
    "heatmap": '<circle cx="12" cy="12" r="8"/><circle cx="12" cy="12" r="4.5"/><circle cx="12" cy="12" r="1.2" '
               'fill="currentColor"/>',
    "run_ai": '<path d="M12 3l2.2 5.3L20 9l-4.4 3.8L17 19l-5-3-5 3 1.4-6.2L4 9l5.8-.7z"/>',
    "batch": '<rect x="4" y="4" width="7" height="7"/><rect x="13" y="4" width="7" height="7"/>'
             '<rect x="4" y="13" width="7" height="7"/><path d="M14 16.5l2 2 3.5-4"/>',
    "report": '<path d="M6 3h9l4 4v14H6z"/><path d="M15 3v4h4M9 12h7M9 15h7M9 18h4"/>',
    "undo": '<path d="M9 14L4 9l5-5"/><path d="M4 9h11a5 5 0 0 1 0 10h-3"/>',
    "redo": '<path d="M15 14l5-5-5-5"/><path d="M20 9H9a5 5 0 0 0 0 10h3"/>',
    "save": '<path d="M5 3h12l3 3v15H5z"/><path d="M8 3v6h8V3M8 21v-7h8v7"/>',
    "compare": '<rect x="3" y="5" width="8" height="14"/><rect x="13" y="5" width="8" height="14"/>'
               '<path d="M6 9h2M16 9h2"/>',
    "sync": '<path d="M4 10a8 8 0 0 1 14-4l2-2v6h-6"/><path d="M20 14a8 8 0 0 1-14 4l-2 2v-6h6"/>',
    "layout_1x1": '<rect x="4" y="4" width="16" height="16"/>',
    "layout_1x2": '<rect x="4" y="4" width="16" height="16"/><path d="M12 4v16"/>',
    "layout_2x1": '<rect x="4" y="4" width="16" height="16"/><path d="M4 12h16"/>',
    "layout_2x2": '<rect x="4" y="4" width="16" height="16"/><path d="M12 4v16M4 12h16"/>',
    # tools
    "pan": '<path d="M12 3v18M3 12h18M12 3l-3 3M12 3l3 3M12 21l-3-3M12 21l3-3M3 12l3-3M3 12l3 3M21 12l-3-3'
           'M21 12l-3 3"/>',
    "select": '<path d="M5 3l12 8-5.5 1.2L15 19l-2.5 1.2-3.4-6.8L5 17z"/>',
    "window_level": '<rect x="3" y="6" width="18" height="12"/><rect x="3" y="6" width="6" height="12" '
                    'fill="currentColor" fill-opacity="0.15"/><rect x="9" y="6" width="6" height="12" '
                    'fill="currentColor" fill-opacity="0.5"/><rect x="15" y="6" width="6" height="12" '
                    'fill="currentColor"/>',
    "distance": '<path d="M4 18L18 4"/><path d="M2.5 15.5l4 4M15.5 2.5l4 4"/>',
    "angle": '<path d="M20 19H4L15 5"/><path d="M9 19a5 5 0 0 0-2-4"/>',
    "cobb": '<path d="M3 6l18 3M3 19l18-4"/><path d="M14 7.9l-1.5 8.6"/>',
    "ellipse": '<ellipse cx="12" cy="12" rx="9" ry="6"/>',
    "rectangle": '<rect x="4" y="6" width="16" height="12"/>',
    "ctr": '<path d="M3 8h18M7 16h10"/><path d="M3 6v4M21 6v4M7 14v4M17 14v4"/>',
    "arrow": '<path d="M5 19L19 5"/><path d="M10 5h9v9"/>',
    "text": '<path d="M5 5h14M12 5v14M9 19h6"/>',
    "magnifier": '<circle cx="10" cy="10" r="6"/><path d="M14.5 14.5L20 20"/><path d="M8 10h4M10 8v4"/>',
}
ICON_SIZE = 24


def svg_text(name: str, colour: str) -> str:
    body = SVG_BODIES[name].replace("currentColor", colour)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24">'
            f'<g {S.replace("currentColor", colour)}>{body}</g></svg>')


def render_pixmap(name: str, colour: str, size: int = ICON_SIZE, scale: float = 1.0) -> QPixmap:
    from PySide6.QtSvg import QSvgRenderer  # a build without QtSvg fails here; icon() falls back to text

    renderer = QSvgRenderer(QByteArray(svg_text(name, colour).encode("utf-8")))
    pixels = max(1, round(size * scale))
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, pixels, pixels))
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(scale)
    return pixmap


@lru_cache(maxsize=None)
def _icon(name: str, colour: str, disabled: str, scale: float) -> QIcon:
    icon = QIcon()
    for size in (16, ICON_SIZE, 32):
        icon.addPixmap(render_pixmap(name, colour, size, scale), QIcon.Mode.Normal)
        icon.addPixmap(render_pixmap(name, disabled, size, scale), QIcon.Mode.Disabled)
    return icon


def icon(name: str) -> QIcon:
    """The icon `name` (a key of SVG_BODIES) in the application palette's text colour."""
    app = QApplication.instance()
    palette = app.palette() if app is not None else None
    colour = palette.buttonText().color().name() if palette is not None else "#d8dee4"
    from PySide6.QtGui import QPalette

    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText).name() \
        if palette is not None else "#6b747c"
    scale = app.devicePixelRatio() if app is not None and hasattr(app, "devicePixelRatio") else 1.0
    try:
        return _icon(name, colour, disabled, float(scale))
    except ImportError:  # no QtSvg in this build: the toolbar shows the actions' text instead
        return QIcon()
