"""Page 2: the dataset report, made on a worker thread by reading every file once: counts per split and
class, imbalance, unreadable files (skipped), exact duplicates within a split and — loudly — across splits."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHeaderView, QLabel, QListWidget, QProgressBar,
                               QTableWidget, QTableWidgetItem, QTextBrowser, QVBoxLayout, QWizardPage)

from desktop.wizard.context import WizardContext
from desktop.wizard.jobs import scan_dataset
from desktop.workers import Job

LEAKAGE_STYLE = ("background: #c0392b; color: white; font-weight: bold; padding: 8px; border-radius: 4px;")
SHOWN_FILES = 50


def describe_failure(error: BaseException) -> str:
    from inference.errors import XRayViewError

    if isinstance(error, XRayViewError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class ReportPage(QWizardPage):
    def __init__(self, context: WizardContext, parent=None):
        super().__init__(parent)
        self.context = context
        self.job: Job | None = None
        self.setTitle("Dataset report")
        self.setSubTitle("Every file is read once; check the counts and warnings before training.")
        layout = QVBoxLayout(self)
        self.status_label = QLabel("")
        self.status_label.setAccessibleName("Report status")
        layout.addWidget(self.status_label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setAccessibleName("Reading images")
        layout.addWidget(self.progress_bar)
        self.error_label = QLabel("")
        self.error_label.setAccessibleName("Dataset problem")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self.leakage_label = QLabel("")
        self.leakage_label.setAccessibleName("Data leakage warning")
        self.leakage_label.setWordWrap(True)
        self.leakage_label.setStyleSheet(LEAKAGE_STYLE)
        self.leakage_label.hide()
        layout.addWidget(self.leakage_label)
        self.counts_table = QTableWidget()
        self.counts_table.setAccessibleName("Images per split and class")
        self.counts_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.counts_table.setMaximumHeight(140)
        layout.addWidget(self.counts_table)
        self.summary_label = QLabel("")
        self.summary_label.setAccessibleName("Dataset summary")
        self.summary_label.setWordWrap(True)
        layout.addWidget(self.summary_label)
        self.warnings_list = QListWidget()
        self.warnings_list.setAccessibleName("Dataset warnings")
        self.warnings_list.setMaximumHeight(90)
        layout.addWidget(self.warnings_list)
        self.details = QTextBrowser()
        self.details.setAccessibleName("Unreadable files and duplicates")
        layout.addWidget(self.details, 1)
        self.leakage_ack = QCheckBox("I understand that images shared between splits make the validation and "
                                     "test results optimistic; train anyway")
        self.leakage_ack.setAccessibleName("Accept the data leakage")
        self.leakage_ack.toggled.connect(self.completeChanged)
        self.leakage_ack.hide()
        layout.addWidget(self.leakage_ack)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802
        if self.context.scan is not None:
            self._show_report(self.context.scan)
            return
        self._start_scan()

    def cleanupPage(self) -> None:  # noqa: N802 - the user pressed Back
        self.stop()

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def is_scanning(self) -> bool:
        return self.job is not None

    def _start_scan(self) -> None:
        self.stop()
        self._reset_view()
        self.status_label.setText(f"Reading the images in {self.context.data_dir}…")
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        job = Job(scan_dataset, self.context.data_dir, self.context.val_dir, self.context.test_dir,
                  name="dataset report")
        job.progress.connect(self._on_progress)
        job.finished.connect(lambda scan, j=job: self._on_finished(j, scan))
        job.failed.connect(lambda error, j=job: self._on_failed(j, error))
        self.job = job
        job.start()

    def _reset_view(self) -> None:
        self.error_label.hide()
        self.leakage_label.hide()
        self.leakage_ack.hide()
        self.leakage_ack.setChecked(False)
        self.counts_table.clear()
        self.counts_table.setRowCount(0)
        self.summary_label.setText("")
        self.warnings_list.clear()
        self.details.clear()

    # -- job signals --------------------------------------------------------------------------------------------
    def _on_progress(self, done: int, total: int, event) -> None:
        from training.events import DecodeProgress

        if isinstance(event, DecodeProgress):
            self.progress_bar.setRange(0, max(1, total))
            self.progress_bar.setValue(done)
            self.status_label.setText(f"Reading images: {done} of {total}")

    def _on_finished(self, job: Job, scan) -> None:
        if job is not self.job:
            return
        self.job = None
        self.context.scan = scan
        self._show_report(scan)

    def _on_failed(self, job: Job, error: BaseException) -> None:
        if job is not self.job:
            return
        self.job = None
        self.progress_bar.hide()
        self.status_label.setText("The dataset cannot be used as it is. Go back and choose other folders, "
                                  "or fix the folders and press Back, then Next.")
        self.error_label.setText(describe_failure(error))
        self.error_label.show()
        self.completeChanged.emit()

    # -- display ------------------------------------------------------------------------------------------------
    def _show_report(self, scan) -> None:
        report = scan.report
        self.progress_bar.hide()
        total = sum(scan.split_totals.values())
        self.status_label.setText(f"{total} readable images in {len(report.classes)} classes "
                                  f"({scan.images_read} files read in {scan.decode_seconds:.1f} s).")
        splits = list(report.counts)
        self.counts_table.setRowCount(len(splits))
        self.counts_table.setColumnCount(len(report.classes) + 1)
        self.counts_table.setHorizontalHeaderLabels(list(report.classes) + ["total"])
        self.counts_table.setVerticalHeaderLabels(splits)
        for row, split in enumerate(splits):
            values = [report.counts[split][name] for name in report.classes]
            for column, value in enumerate(values + [sum(values)]):
                item = QTableWidgetItem(str(value))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.counts_table.setItem(row, column, item)
        spread = report.size_spread
        lines = [f"Class imbalance (largest / smallest class): {report.imbalance_ratio:.2f} : 1",
                 f"Unreadable files (skipped): {len(report.unreadable)}",
                 f"Groups of identical files within one split: {len(report.duplicates_within_split)}",
                 f"Groups of identical files across splits: {len(report.duplicates_across_splits)}"]
        if spread.get("n"):
            lines.append(f"Image sizes: width {spread['width']['min']}–{spread['width']['max']} px "
                         f"(median {spread['width']['median']:.0f}), height {spread['height']['min']}–"
                         f"{spread['height']['max']} px (median {spread['height']['median']:.0f}), "
                         f"{spread['distinct_sizes']} distinct size(s)")
        self.summary_label.setText("\n".join(lines))
        self.warnings_list.clear()
        self.warnings_list.addItems(report.warnings or ["No warnings."])
        self.details.setHtml(self._details_html(report))
        if report.duplicates_across_splits:
            count = len(report.duplicates_across_splits)
            self.leakage_label.setText(
                f"⚠ DATA LEAKAGE: {count} group(s) of byte-identical images appear in MORE THAN ONE split. "
                "Validation and test metrics would be inflated. Remove the copies (listed below) before "
                "trusting any result.")
            self.leakage_label.show()
            self.leakage_ack.show()
        self.completeChanged.emit()

    @staticmethod
    def _details_html(report) -> str:
        parts = []
        if report.duplicates_across_splits:
            parts.append("<h4 style='color:#c0392b'>Identical files in more than one split (leakage)</h4><ul>")
            for group in report.duplicates_across_splits[:SHOWN_FILES]:
                files = " = ".join(f"<b>{escape(f['split'])}</b>: {escape(f['path'])}" for f in group["files"])
                conflict = " <b>(different labels!)</b>" if group["labels_conflict"] else ""
                parts.append(f"<li>{files}{conflict}</li>")
            parts.append("</ul>")
        if report.unreadable:
            parts.append("<h4>Unreadable files (skipped)</h4><ul>")
            for item in report.unreadable[:SHOWN_FILES]:
                parts.append(f"<li>{escape(item['path'])}: {escape(item['reason'])}</li>")
            if len(report.unreadable) > SHOWN_FILES:
                parts.append(f"<li>… and {len(report.unreadable) - SHOWN_FILES} more</li>")
            parts.append("</ul>")
        if report.duplicates_within_split:
            parts.append("<h4>Identical files within one split</h4><ul>")
            for group in report.duplicates_within_split[:SHOWN_FILES]:
                files = " = ".join(escape(f["path"]) for f in group["files"])
                parts.append(f"<li>{escape(group['files'][0]['split'])}: {files}</li>")
            parts.append("</ul>")
        return "".join(parts) or "<p>No unreadable files and no duplicates.</p>"

    def isComplete(self) -> bool:  # noqa: N802
        scan = self.context.scan
        if scan is None or self.job is not None:
            return False
        return not scan.report.duplicates_across_splits or self.leakage_ack.isChecked()
