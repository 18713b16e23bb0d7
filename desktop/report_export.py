"""Exports: the current view as PNG, and a one-page PDF report written with Qt's own QPdfWriter (image, heatmap
overlay, probabilities, call and threshold, model card summary, file identity, the not-for-diagnostic-use notice)."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

NOT_FOR_DIAGNOSTIC_USE = ("NOT FOR DIAGNOSTIC USE. Research and education only. AI output must not replace the "
                          "judgement of a qualified clinician.")


@dataclass
class ReportContent:
    file_path: Path | None
    image: QImage  # the radiograph as displayed (window applied)
    overlay: QImage | None  # the radiograph with the heatmap blended in, or None without a heatmap
    identity: list[tuple[str, str]] = field(default_factory=list)  # (field, value) rows
    probabilities: dict[str, float] = field(default_factory=dict)
    call: str = ""  # as the viewer writes it (prediction_adapter.call_text): "No call" when the guard withheld it
    call_withheld: bool = False  # the probabilities are then printed greyed, marked not applicable
    positive_label: str | None = None
    threshold_text: str = ""
    model_lines: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    ood_warning: str = ""  # the out-of-distribution warning, printed in red under the call


def export_view_png(view_image: QImage, target: Path) -> Path:
    if not view_image.save(str(target), "PNG"):
        raise OSError(f"{target}: could not write the PNG file (check the folder exists and is writable)")
    return target


def file_sha256(path: Path | None) -> str:
    if path is None or not Path(path).is_file():
        return ""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_pdf_report(content: ReportContent, target: Path) -> Path:
    writer = QPdfWriter(str(target))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(12, 12, 12, 12), QPageLayout.Unit.Millimeter))
    writer.setResolution(150)
    writer.setTitle("XRayView report")
    writer.setCreator("XRayView")
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"{target}: could not write the PDF file (check the folder exists and is writable)")
    try:
        _paint_report(painter, writer, content)
    finally:
        painter.end()
    return target


def _paint_report(painter: QPainter, writer: QPdfWriter, content: ReportContent) -> None:
    page = writer.pageLayout().paintRectPixels(writer.resolution())
    width, height = page.width(), page.height()
    dpi = writer.resolution()
    y = 0.0

    def font(points: float, bold: bool = False) -> QFont:
        f = QFont("Helvetica")
        f.setPointSizeF(points)
        f.setBold(bold)
        return f

    def text_block(text: str, points: float = 9, bold: bool = False, color: str = "#000000",
                   left: float = 0, block_width: float | None = None, anywhere: bool = False) -> float:
        nonlocal y
        painter.setFont(font(points, bold))
        painter.setPen(QColor(color))
        rect = QRectF(left, y, block_width or (width - left), height - y)
        flags = int(Qt.TextFlag.TextWrapAnywhere if anywhere else Qt.TextFlag.TextWordWrap)  # UIDs, hashes
        bounds = painter.boundingRect(rect, flags, text)
        painter.drawText(rect, flags, text)
        y += bounds.height()
        return bounds.height()

    text_block("XRayView — AI-assisted radiograph report", 16, True)
    text_block(f"Generated {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}", 8, color="#555555")
    y += dpi * 0.05
    painter.fillRect(QRectF(0, y, width, dpi * 0.32), QColor("#fde8e4"))
    painter.setPen(QColor("#a0281a"))
    painter.setFont(font(9, True))
    painter.drawText(QRectF(dpi * 0.08, y, width - dpi * 0.16, dpi * 0.32),
                     int(Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap), NOT_FOR_DIAGNOSTIC_USE)
    y += dpi * 0.42

    # images side by side
    gap = dpi * 0.15
    box_w = (width - gap) / 2
    box_h = min(box_w * 1.1, height * 0.42)
    for index, (title, image) in enumerate((("Image", content.image), ("AI heatmap", content.overlay))):
        left = index * (box_w + gap)
        painter.fillRect(QRectF(left, y, box_w, box_h), QColor("#000000"))
        if image is not None and not image.isNull():
            scale = min(box_w / image.width(), box_h / image.height())
            w, h = image.width() * scale, image.height() * scale
            painter.drawImage(QRectF(left + (box_w - w) / 2, y + (box_h - h) / 2, w, h), image)
        else:
            painter.setPen(QColor("#bbbbbb"))
            painter.setFont(font(9))
            painter.drawText(QRectF(left, y, box_w, box_h), int(Qt.AlignmentFlag.AlignCenter), "no heatmap")
        painter.setPen(QColor("#333333"))
        painter.setFont(font(8, True))
        painter.drawText(QRectF(left, y + box_h + 2, box_w, dpi * 0.2), int(Qt.AlignmentFlag.AlignHCenter), title)
    y += box_h + dpi * 0.3

    column_w = (width - gap) / 2
    top = y
    # left column: result
    text_block("AI result", 11, True, left=0, block_width=column_w)
    if content.probabilities:
        text_block(f"Call: {content.call}", 10, True, left=0, block_width=column_w)
        text_block(content.threshold_text, 8, left=0, block_width=column_w)
        if content.ood_warning:
            text_block(content.ood_warning, 8.5, True, color="#b00020", left=0, block_width=column_w)
        bar_w = column_w * 0.42
        for label, probability in content.probabilities.items():
            painter.setFont(font(8))
            painter.setPen(QColor("#000000"))
            row_h = dpi * 0.2
            painter.drawText(QRectF(0, y, column_w * 0.4, row_h), int(Qt.AlignmentFlag.AlignVCenter), label)
            left = column_w * 0.42
            painter.setPen(QPen(QColor("#888888"), 1))
            painter.drawRect(QRectF(left, y + row_h * 0.2, bar_w, row_h * 0.6))
            colour = "#b8b8b8" if content.call_withheld else (
                "#c0392b" if label == content.positive_label else "#2e8b57")
            painter.fillRect(QRectF(left, y + row_h * 0.2, bar_w * probability, row_h * 0.6), QColor(colour))
            painter.setPen(QColor("#888888" if content.call_withheld else "#000000"))
            painter.drawText(QRectF(left + bar_w + dpi * 0.05, y, column_w - left - bar_w, row_h),
                             int(Qt.AlignmentFlag.AlignVCenter), f"{probability * 100:.1f}%"
                             + (" (not applicable)" if content.call_withheld else ""))
            y += row_h
    else:
        text_block("No AI result for this image.", 9, left=0, block_width=column_w)
    for notice in content.notices:
        text_block(f"Note: {notice}", 7.5, color="#7a4b00", left=0, block_width=column_w)
    left_bottom = y

    # right column: file identity
    y = top
    right = column_w + gap
    text_block("File", 11, True, left=right, block_width=column_w)
    for name, value in content.identity:
        text_block(f"{name}: {value}", 7.5, left=right, block_width=column_w, anywhere=len(value) > 40)
    y = max(y, left_bottom) + dpi * 0.12

    text_block("Model", 11, True)
    for line in content.model_lines:
        text_block(line, 7.5)
