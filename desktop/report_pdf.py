"""The PDF report as bytes, for its DICOM Encapsulated PDF: headless for `xrayview-predict --report`, with the
viewer's own report layout (report_builder + report_export, drawn by Qt: inference cannot import Qt, so the
command line gets this function from desktop.cli_predict)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

from inference.overlay import DEFAULT_OPACITY


def pdf_bytes(content) -> bytes:
    """`content` (report_export.ReportContent) written as a PDF, read back."""
    from desktop.report_export import write_pdf_report

    with tempfile.TemporaryDirectory(prefix="xrayview-report-") as folder:
        return write_pdf_report(content, Path(folder) / "report.pdf").read_bytes()


def _ensure_gui_application() -> None:
    """QPdfWriter draws text, which needs a QGuiApplication; a command line has no window, so Qt's offscreen
    platform is used unless one was chosen."""
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _ensure_gui_application.app = QGuiApplication(["xrayview-predict"])  # kept alive for the process


def headless_report_pdf(image, prediction, predictor, call, *, deidentify: bool = False, colormap: str = "jet",
                        opacity: float = DEFAULT_OPACITY) -> bytes:
    """The report the viewer's File > Export PDF Report writes for this image and result, at the image's own
    default window (no screen to take it from), as bytes."""
    from desktop import prediction_adapter as pa
    from desktop.image_adapter import default_window_of
    from desktop.report_builder import build_report_content

    _ensure_gui_application()
    view = SimpleNamespace(window=default_window_of(image), inverted=False)
    content = build_report_content(image, view, prediction, pa.card_of(predictor), predictor.threshold, call,
                                   colormap, opacity, deidentify=deidentify)
    return pdf_bytes(content)
