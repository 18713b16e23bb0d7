"""Exports: the current view as PNG, and the PDF report written with Qt's own QPdfWriter.

The report is laid out like a radiology report: a header (title, the not-for-diagnostic-use notice), the patient
and study block, the image (with the reader's annotations as drawn) and the heatmap overlay cropped to their
content (the overlay with its colour bar), each measurement with its value and unit, the AI result with its
operating point and the set every number was measured on, the model block, the limitations, the file's identity
and a reader sign-off. Blocks flow onto further pages instead of being clipped at the bottom;
every page carries a footer with the page number and the notice."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import (QColor, QFont, QImage, QLinearGradient, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen,
                           QTransform)

from desktop.annotation_painting import paint_annotations

NOT_FOR_DIAGNOSTIC_USE = ("NOT FOR DIAGNOSTIC USE. Research and education only. AI output must not replace the "
                          "judgement of a qualified clinician.")
SIGN_OFF_FIELDS = ("Reviewed by", "Date", "Signature")


@dataclass
class ReportContent:
    file_path: Path | None
    image: QImage  # the radiograph as displayed (window applied), cropped to its content
    overlay: QImage | None  # the radiograph with the heatmap blended in (inference.overlay.blend), or None
    identity: list[tuple[str, str]] = field(default_factory=list)  # the file block: (field, value) rows
    patient: list[tuple[str, str]] = field(default_factory=list)  # name, ID, birth date, age, sex
    study: list[tuple[str, str]] = field(default_factory=list)  # study date, accession, institution, referring, ...
    probabilities: dict[str, float] = field(default_factory=dict)
    call: str = ""  # as the viewer writes it (prediction_adapter.call_text): "No call" when the guard withheld it
    call_withheld: bool = False  # the probabilities are then printed greyed, marked not applicable
    positive_label: str | None = None
    threshold_text: str = ""  # the operating point and where its sensitivity/specificity were measured
    performance_lines: list[str] = field(default_factory=list)  # internal, external and site numbers with CIs
    heatmap_text: str = ""
    model_lines: list[str] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    ood_warning: str = ""  # the out-of-distribution warning, printed in red under the call
    colour_lut: list[tuple[int, int, int]] | None = None  # the heatmap's colormap (256 RGB), for the colour bar
    colormap: str = ""
    annotations: list = field(default_factory=list)  # annotations.model.Annotation, drawn over `image`
    annotation_labels: dict[str, str] = field(default_factory=dict)  # uid -> the label the view draws
    measurements: list[str] = field(default_factory=list)  # one line per annotation: "Distance: 42.0 mm"
    measurements_note: str = ""  # which pixel spacing the lengths come from
    image_origin: tuple[int, int] = (0, 0)  # image pixel (x, y) of `image`'s top-left corner (it is cropped)


def export_view_png(view_image: QImage, target: Path) -> Path:
    if not view_image.save(str(target), "PNG"):
        raise OSError(f"{target}: could not write the PNG file (check the folder exists and is writable)")
    return target


def write_pdf_report(content: ReportContent, target: Path) -> Path:
    writer = QPdfWriter(str(target))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(14, 12, 14, 12), QPageLayout.Unit.Millimeter))
    writer.setResolution(150)
    writer.setTitle("XRayView report")
    writer.setCreator("XRayView")
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"{target}: could not write the PDF file (check the folder exists and is writable)")
    try:
        _Report(painter, writer, content).paint()
    finally:
        painter.end()
    return target


def _font(points: float, bold: bool = False) -> QFont:
    font = QFont("Helvetica")
    font.setPointSizeF(points)
    font.setBold(bold)
    for ligature in ("liga", "clig"):  # "specificity", not "speciﬁcity": text copied out of the PDF stays searchable
        font.setFeature(QFont.Tag(ligature), 0)
    return font


class _Report:
    """A top-to-bottom flow over pages: each block is measured first and starts a new page when it would not fit."""

    def __init__(self, painter: QPainter, writer: QPdfWriter, content: ReportContent):
        self.painter, self.writer, self.content = painter, writer, content
        page = writer.pageLayout().paintRectPixels(writer.resolution())
        self.dpi = writer.resolution()
        self.width = float(page.width())
        self.footer_h = self.dpi * 0.3
        self.bottom = float(page.height()) - self.footer_h
        self.y = 0.0
        self.page = 1

    # -- flow ---------------------------------------------------------------------------------------------------
    def new_page(self) -> None:
        self.footer()
        self.writer.newPage()
        self.page += 1
        self.y = 0.0
        self.text(f"XRayView AI report (continued){self._patient_suffix()}", 8, color="#555555")
        self.y += self.dpi * 0.08

    def ensure(self, height: float) -> None:
        if self.y + height > self.bottom and self.y > 0:
            self.new_page()

    def _patient_suffix(self) -> str:
        shown = [value for name, value in self.content.patient if name in ("Name", "Patient ID") and value]
        return " — " + ", ".join(shown) if shown else ""

    def footer(self) -> None:
        painter = self.painter
        painter.setFont(_font(7))
        painter.setPen(QColor("#777777"))
        rect = QRectF(0, self.bottom + self.footer_h * 0.35, self.width, self.footer_h * 0.65)
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         "XRayView AI report — not for diagnostic use")
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), f"Page {self.page}")

    def measure(self, text: str, points: float, bold: bool = False, width: float | None = None,
                anywhere: bool = False) -> float:
        self.painter.setFont(_font(points, bold))
        flags = int(Qt.TextFlag.TextWrapAnywhere if anywhere else Qt.TextFlag.TextWordWrap)
        return self.painter.boundingRect(QRectF(0, 0, width or self.width, 1e6), flags, text).height()

    def text(self, text: str, points: float = 9, bold: bool = False, color: str = "#000000", left: float = 0,
             width: float | None = None, anywhere: bool = False, flow: bool = True) -> float:
        """Draws a wrapped paragraph at the cursor (on the next page when it would not fit) and moves down."""
        width = width or (self.width - left)
        height = self.measure(text, points, bold, width, anywhere)
        if flow:
            self.ensure(height)
        self.painter.setFont(_font(points, bold))
        self.painter.setPen(QColor(color))
        flags = int(Qt.TextFlag.TextWrapAnywhere if anywhere else Qt.TextFlag.TextWordWrap)
        self.painter.drawText(QRectF(left, self.y, width, height), flags, text)
        self.y += height
        return height

    def heading(self, title: str) -> None:
        self.ensure(self.measure(title, 11, True) + self.dpi * 0.35)  # never a heading alone at a page's end
        self.y += self.dpi * 0.06
        self.text(title, 11, True, color="#1c3f60")
        self.painter.setPen(QPen(QColor("#9fb3c8"), 1))
        self.painter.drawLine(0, int(self.y + 1), int(self.width), int(self.y + 1))
        self.y += self.dpi * 0.05

    def fields(self, rows: list[tuple[str, str]], left: float, width: float, points: float = 8.5) -> float:
        """A label/value list in a column; returns its height (drawn at the cursor, the cursor is kept)."""
        top = self.y
        label_w = width * 0.36
        for name, value in rows:
            value = value or "—"
            height = max(self.measure(name, points, True, label_w),
                         self.measure(value, points, False, width - label_w, anywhere=len(value) > 40))
            self.painter.setFont(_font(points, True))
            self.painter.setPen(QColor("#333333"))
            self.painter.drawText(QRectF(left, self.y, label_w, height), int(Qt.TextFlag.TextWordWrap), name)
            self.painter.setFont(_font(points))
            self.painter.setPen(QColor("#000000"))
            flags = int(Qt.TextFlag.TextWrapAnywhere if len(value) > 40 else Qt.TextFlag.TextWordWrap)
            self.painter.drawText(QRectF(left + label_w, self.y, width - label_w, height), flags, value)
            self.y += height
        height = self.y - top
        self.y = top
        return height

    def fields_height(self, rows: list[tuple[str, str]], width: float, points: float = 8.5) -> float:
        label_w = width * 0.36
        return sum(max(self.measure(name, points, True, label_w),
                       self.measure(value or "—", points, False, width - label_w, anywhere=len(value or "") > 40))
                   for name, value in rows)

    # -- blocks -------------------------------------------------------------------------------------------------
    def paint(self) -> None:
        self.header()
        self.patient_and_study()
        self.images()
        self.measurements()
        self.result()
        self.model()
        self.limitations()
        self.file_block()
        self.sign_off()
        self.footer()

    def header(self) -> None:
        self.text("XRayView — AI-assisted radiograph report", 16, True)
        self.text(f"Generated {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}", 8, color="#555555")
        self.y += self.dpi * 0.05
        band = max(self.dpi * 0.32, self.measure(NOT_FOR_DIAGNOSTIC_USE, 9, True, self.width - self.dpi * 0.16)
                   + self.dpi * 0.08)
        self.painter.fillRect(QRectF(0, self.y, self.width, band), QColor("#fde8e4"))
        self.painter.setPen(QColor("#a0281a"))
        self.painter.setFont(_font(9, True))
        self.painter.drawText(QRectF(self.dpi * 0.08, self.y, self.width - self.dpi * 0.16, band),
                              int(Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap), NOT_FOR_DIAGNOSTIC_USE)
        self.y += band + self.dpi * 0.05

    def patient_and_study(self) -> None:
        gap = self.dpi * 0.2
        column = (self.width - gap) / 2
        patient, study = self.content.patient, self.content.study
        if not patient and not study:
            self.heading("Patient and study")
            self.text("This is not a DICOM file: no patient/study data (identify the patient by hand).", 8.5)
            self.y += self.dpi * 0.05
            return
        title_h = self.measure("Patient", 11, True) + self.dpi * 0.15
        self.ensure(title_h + max(self.fields_height(patient, column), self.fields_height(study, column)))
        top = self.y
        for index, (title, rows) in enumerate((("Patient", patient), ("Study", study))):
            left = index * (column + gap)
            self.y = top
            self.text(title, 11, True, color="#1c3f60", left=left, width=column, flow=False)
            self.painter.setPen(QPen(QColor("#9fb3c8"), 1))
            self.painter.drawLine(int(left), int(self.y + 1), int(left + column), int(self.y + 1))
            self.y += self.dpi * 0.05
            height = self.fields(rows, left, column)
            rows_bottom = self.y + height
            if index == 0:
                left_bottom = rows_bottom
        self.y = max(left_bottom, rows_bottom) + self.dpi * 0.1

    def images(self) -> None:
        content = self.content
        gap = self.dpi * 0.2
        box_w = (self.width - gap) / 2
        max_h = (self.bottom) * 0.40
        pictures = [("Image (as displayed)", content.image), ("AI heatmap", content.overlay)]
        sizes = []
        for _, image in pictures:
            if image is None or image.isNull():
                sizes.append((box_w, self.dpi * 0.6))
            else:
                scale = min(box_w / image.width(), max_h / image.height())
                sizes.append((image.width() * scale, image.height() * scale))
        bar_h = self.dpi * 0.42 if content.colour_lut and content.overlay is not None else 0.0
        caption_h = self.dpi * 0.22
        height = max(h for _, h in sizes) + caption_h + bar_h
        self.ensure(height + self.dpi * 0.1)
        self.y += self.dpi * 0.05
        top = self.y
        for index, ((title, image), (w, h)) in enumerate(zip(pictures, sizes)):
            left = index * (box_w + gap) + (box_w - w) / 2
            if image is not None and not image.isNull():
                self.painter.drawImage(QRectF(left, top, w, h), image)
                if index == 0 and content.annotations:
                    self.annotations(QRectF(left, top, w, h))
            else:
                self.painter.setPen(QPen(QColor("#bbbbbb"), 1))
                self.painter.drawRect(QRectF(left, top, w, h))
                self.painter.setFont(_font(9))
                self.painter.drawText(QRectF(left, top, w, h), int(Qt.AlignmentFlag.AlignCenter), "no heatmap")
            self.painter.setPen(QColor("#333333"))
            self.painter.setFont(_font(8, True))
            self.painter.drawText(QRectF(index * (box_w + gap), top + h + 2, box_w, caption_h),
                                  int(Qt.AlignmentFlag.AlignHCenter), title)
            if index == 1 and bar_h:
                self.colour_bar(index * (box_w + gap) + (box_w - w) / 2, top + h + caption_h, w, bar_h)
        self.y = top + height + self.dpi * 0.05

    def annotations(self, picture: QRectF) -> None:
        """The reader's annotations over the image as the view draws them (shapes, labels moved apart)."""
        content = self.content
        x0, y0 = content.image_origin
        to_device = QTransform().translate(picture.left(), picture.top()).scale(
            picture.width() / content.image.width(), picture.height() / content.image.height()).translate(-x0, -y0)
        paint_annotations(self.painter, content.annotations, content.annotation_labels, to_device, picture,
                          _font(6.5, True), searchable=True)

    def measurements(self) -> None:
        if not self.content.measurements:
            return
        self.heading("Measurements and annotations")
        for line in self.content.measurements:
            self.text(f"• {line}", 8.5)
        if self.content.measurements_note:
            self.text(self.content.measurements_note, 7.5, color="#333333")

    def colour_bar(self, left: float, top: float, width: float, height: float) -> None:
        lut = self.content.colour_lut or []
        strip = QRectF(left, top, width, height * 0.35)
        gradient = QLinearGradient(strip.left(), 0, strip.right(), 0)
        for index in range(0, len(lut), 16):
            r, g, b = lut[index]
            gradient.setColorAt(index / max(len(lut) - 1, 1), QColor(int(r), int(g), int(b)))
        r, g, b = lut[-1]
        gradient.setColorAt(1.0, QColor(int(r), int(g), int(b)))
        self.painter.fillRect(strip, gradient)
        self.painter.setPen(QPen(QColor("#555555"), 1))
        self.painter.drawRect(strip)
        labels = QRectF(left, top + height * 0.38, width, height * 0.6)
        self.painter.setFont(_font(7))
        self.painter.setPen(QColor("#333333"))
        self.painter.drawText(labels, int(Qt.AlignmentFlag.AlignLeft), "low")
        self.painter.drawText(labels, int(Qt.AlignmentFlag.AlignHCenter),
                              f"model attention ({self.content.colormap})" if self.content.colormap else
                              "model attention")
        self.painter.drawText(labels, int(Qt.AlignmentFlag.AlignRight), "high")

    def result(self) -> None:
        content = self.content
        self.heading("AI result")
        if not content.probabilities:
            self.text("No AI result for this image.", 9)
        else:
            self.text(f"Call: {content.call}", 12, True, color="#666666" if content.call_withheld else "#000000")
            if content.ood_warning:
                self.text(content.ood_warning, 8.5, True, color="#b00020")
            for notice in content.notices:  # beside the call: what qualifies it (e.g. a patient the model is not for)
                self.text(f"Note: {notice}", 8, color="#7a4b00")
            self.probability_bars()
            if content.threshold_text:
                self.text(content.threshold_text, 8)
            for line in content.performance_lines:
                self.text(line, 7.5, color="#222222")
            if content.heatmap_text:
                self.text(content.heatmap_text, 7.5, color="#222222")
        if not content.probabilities:
            for notice in content.notices:
                self.text(f"Note: {notice}", 7.5, color="#7a4b00")

    def probability_bars(self) -> None:
        content = self.content
        row_h = self.dpi * 0.2
        column_w = self.width * 0.6
        bar_w = column_w * 0.45
        for label, probability in content.probabilities.items():
            self.ensure(row_h)
            painter = self.painter
            painter.setFont(_font(8))
            painter.setPen(QColor("#000000"))
            painter.drawText(QRectF(0, self.y, column_w * 0.3, row_h), int(Qt.AlignmentFlag.AlignVCenter), label)
            left = column_w * 0.32
            painter.setPen(QPen(QColor("#888888"), 1))
            painter.drawRect(QRectF(left, self.y + row_h * 0.2, bar_w, row_h * 0.6))
            colour = "#b8b8b8" if content.call_withheld else (
                "#c0392b" if label == content.positive_label else "#2e8b57")
            painter.fillRect(QRectF(left, self.y + row_h * 0.2, bar_w * probability, row_h * 0.6), QColor(colour))
            painter.setPen(QColor("#888888" if content.call_withheld else "#000000"))
            painter.drawText(QRectF(left + bar_w + self.dpi * 0.05, self.y, self.width - left - bar_w, row_h),
                             int(Qt.AlignmentFlag.AlignVCenter), f"{probability * 100:.1f}%"
                             + (" (not applicable)" if content.call_withheld else ""))
            self.y += row_h

    def model(self) -> None:
        self.heading("Model")
        for line in self.content.model_lines:
            self.text(line, 7.5, anywhere=len(line) > 60 and " " not in line[-64:])

    def limitations(self) -> None:
        if not self.content.limitations:
            return
        self.heading("Limitations")
        for item in self.content.limitations:
            self.text(f"• {item}", 7.5)

    def file_block(self) -> None:
        rows = self.content.identity
        if not rows:
            return
        self.heading("File")
        height = self.fields_height(rows, self.width, 7.5)
        if self.y + height > self.bottom:  # long blocks go row by row across pages
            for row in rows:
                row_h = self.fields_height([row], self.width, 7.5)
                self.ensure(row_h)
                self.y += self.fields([row], 0, self.width, 7.5)
            return
        self.y += self.fields(rows, 0, self.width, 7.5)

    def sign_off(self) -> None:
        line_h = self.dpi * 0.32
        comment_h = self.dpi * 0.7
        self.ensure(self.measure("Reader review", 11, True) + self.dpi * 0.3 + comment_h + line_h * 2)
        self.heading("Reader review")
        self.text("Findings and conclusion of the reading clinician:", 8, color="#333333")
        self.painter.setPen(QPen(QColor("#888888"), 1))
        self.painter.drawRect(QRectF(0, self.y + 2, self.width, comment_h))
        self.y += comment_h + self.dpi * 0.12
        column = self.width / len(SIGN_OFF_FIELDS)
        self.painter.setFont(_font(8.5, True))
        for index, name in enumerate(SIGN_OFF_FIELDS):
            left = index * column
            self.painter.setPen(QColor("#000000"))
            self.painter.drawText(QRectF(left, self.y, column, line_h), int(Qt.AlignmentFlag.AlignBottom),
                                  f"{name}:")
            label_w = self.painter.fontMetrics().horizontalAdvance(f"{name}: ")
            self.painter.setPen(QPen(QColor("#555555"), 1))
            self.painter.drawLine(int(left + label_w), int(self.y + line_h - 2), int(left + column - self.dpi * 0.15),
                                  int(self.y + line_h - 2))
        self.y += line_h
