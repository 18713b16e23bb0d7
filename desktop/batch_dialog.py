"""Analyze folder: a sortable, filterable table (file, call, probabilities, the threshold of the call, OOD warning,
status/error) filled while the job runs, with progress, cancel and CSV export; double-clicking a row opens that
image in the viewer.

Calls are made at the AI session's operating point when the run started (desktop.ai_state.OperatingPoint, the
viewer's one application of the call rule): no call, and the probabilities marked not applicable, when the
out-of-distribution guard warns, unless the expert setting shows it anyway (marked so). The CSV carries
what a reader needs to trust a row later: the model's name and version, the threshold and when it was analysed."""
from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from desktop import prediction_adapter as pa
from desktop.ai_state import OperatingPoint
from desktop.workers import Job

PATH_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
METADATA_ROLE = Qt.ItemDataRole.UserRole + 2  # the file's header metadata, for de-identified export
EXTRA_ROLE = Qt.ItemDataRole.UserRole + 3  # the CSV-only columns of a row (model, threshold, time)
OK_ROLE = Qt.ItemDataRole.UserRole + 4  # True for a file that was analysed
NOT_APPLICABLE = "n/a"  # a probability shown when the call was withheld (greyed; the value stays in the tooltip)
CSV_EXTRA_COLUMNS = ("call_status", "model_name", "model_version", "threshold", "analysed_utc")
GREY = QColor("#8a939b")
MAX_TEXT_COLUMN_PX = 200  # the warning and status columns grow with their text up to this width
CELL_PADDING_PX = 12
CSV_SKIPPED_COLUMNS = ("Threshold",)  # the CSV's own threshold column keeps four decimals


def summary_text(state: str, analysed: int, unreadable: int, message: str = "") -> str:
    """The line under the progress bar when a run ends, e.g. "Done: 2 images analysed, 1 could not be read."."""
    head = {"finished": "Done", "cancelled": "Cancelled", "failed": f"Failed: {message}"}[state]

    def images(n: int) -> str:
        return f"{n} image{'' if n == 1 else 's'}"

    total = analysed + unreadable
    if total == 0:
        return f"{head}: no images."
    if analysed == 0:
        if total == 1:
            return f"{head}: the image could not be read."
        return f"{head}: none of the {images(total)} could be read."
    if unreadable == 0:
        return f"{head}: {images(analysed)} analysed."
    return f"{head}: {images(analysed)} analysed, {unreadable} could not be read."


class BatchDialog(QDialog):
    open_requested = Signal(str)
    analysis_finished = Signal(str)  # "finished" | "cancelled" | "failed"

    def __init__(self, folder: Path, labels: list[str], operating_point: OperatingPoint, parent=None,
                 deidentify: bool = False):
        super().__init__(parent)
        self.setWindowTitle(f"Analyze folder — {folder}")
        self.setAccessibleName("Analyze folder results")
        self.resize(1100, 600)  # room for a sub-folder and a file name, a warning and the numbers
        self._folder = Path(folder)
        self._labels = list(labels)
        self._operating_point = operating_point
        self._job: Job | None = None
        self.state = "idle"

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setAccessibleName("Analysis progress")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel analysis")
        self.cancel_button.clicked.connect(self.cancel)
        top.addWidget(self.progress_bar, 1)
        top.addWidget(self.cancel_button)
        layout.addLayout(top)
        self.status_label = QLabel("")
        layout.addWidget(self.status_label)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter rows (file name, call, error)…")
        self.filter_edit.setAccessibleName("Filter results")
        self.filter_edit.setClearButtonEnabled(True)
        layout.addWidget(self.filter_edit)

        headers = ["File", "Call"] + [f"P({label})" for label in self._labels] + ["Threshold", "Warning", "Status"]
        self._threshold_column, self._warning_column, self._status_column = (len(headers) - 3, len(headers) - 2,
                                                                             len(headers) - 1)
        self.model = QStandardItemModel(0, len(headers), self)
        self.model.setHorizontalHeaderLabels(headers)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setAccessibleName("Results table")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # The file column takes the width and elides in the middle (the sub-folder and the file's own name both
        # show); the warning and status columns start as wide as their titles and grow, up to a cap, with their text.
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        for column in range(1, self._warning_column):  # call, P(...) and threshold: as wide as they need
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (self._warning_column, self._status_column):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, header.sectionSizeHint(column))
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # file names A->Z until the user picks a column
        self.table.doubleClicked.connect(self._on_double_click)
        layout.addWidget(self.table, 1)

        bottom = QHBoxLayout()
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setAccessibleName("Export results as CSV")
        self.export_button.clicked.connect(self._ask_export)
        self.deidentify_check = QCheckBox("De-identify")
        self.deidentify_check.setToolTip("Patient names, IDs and dates are removed from the exported CSV")
        self.deidentify_check.setAccessibleName("De-identify the exported CSV")
        self.deidentify_check.setChecked(deidentify)
        close_button = QPushButton("Close")
        close_button.clicked.connect(self.close)
        bottom.addStretch(1)
        bottom.addWidget(self.deidentify_check)
        bottom.addWidget(self.export_button)
        bottom.addWidget(close_button)
        layout.addLayout(bottom)

    # -- job ------------------------------------------------------------------------------------------------
    def start(self, job: Job, total: int) -> None:
        self._job = job
        self.state = "running"
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(0)
        self.status_label.setText(f"Analyzing {total} image(s)…")
        job.progress.connect(self._on_progress)
        job.finished.connect(lambda rows: self._end("finished"))
        job.failed.connect(lambda error: self._end("failed", str(error)))
        job.cancelled.connect(lambda: self._end("cancelled"))
        job.start()

    def cancel(self) -> None:
        if self._job is not None and self.state == "running":
            self.status_label.setText("Cancelling…")
            self._job.cancel()

    def is_running(self) -> bool:
        return self.state == "running"

    def _end(self, state: str, message: str = "") -> None:
        self.state = state
        self.cancel_button.setEnabled(False)
        rows = self.model.rowCount()
        analysed = sum(1 for r in range(rows) if self.model.item(r, 0).data(OK_ROLE))
        self.status_label.setText(summary_text(state, analysed, rows - analysed, message))
        self.analysis_finished.emit(state)

    def _on_progress(self, done: int, total: int, row) -> None:
        self.progress_bar.setValue(done)
        self.add_row(row)

    def add_row(self, row: dict) -> None:
        path = Path(row["path"])
        try:
            shown = str(path.relative_to(self._folder))
        except ValueError:
            shown = str(path)
        items = [self._item(shown, shown)]
        prediction = row.get("prediction")
        extra = {"call_status": "", "model_name": "", "model_version": "", "threshold": "",
                 "analysed_utc": str(row.get("analysed_utc") or "")}
        if prediction is not None:
            probs = prediction.probabilities
            call = self._operating_point.call(prediction)
            shown_call = pa.call_text(call)
            items.append(self._item(shown_call, shown_call))
            if call.withheld:
                items[-1].setForeground(GREY)
                items[-1].setToolTip(pa.NO_CALL_EXPLANATION)
            for label in self._labels:
                value = probs.get(label)
                text = "" if value is None else f"{value:.3f}"
                item = self._item(NOT_APPLICABLE if call.withheld and value is not None else text,
                                  -1.0 if value is None else value)
                if call.withheld:
                    item.setForeground(GREY)
                    item.setToolTip(f"{text} — {pa.NOT_APPLICABLE_EXPLANATION}")
                items.append(item)
            threshold = self._operating_point.threshold
            threshold = threshold if threshold is not None else prediction.threshold
            threshold_text = pa.number(threshold) if threshold is not None else "most probable"
            items.append(self._item(threshold_text, -1.0 if threshold is None else float(threshold)))
            warning = pa.ood_warning_text(prediction)
            items.append(self._item(warning, warning))
            if warning:
                items[-1].setForeground(QColor("#b00020"))
            items.append(self._item("ok", "ok"))
            model = prediction.model or {}
            extra.update(call_status=call.status, model_name=str(model.get("name", "")),
                         model_version=str(model.get("version", "")),
                         threshold="" if threshold is None else f"{float(threshold):.4f}")
        else:
            reason = row.get("reason") or row.get("error") or "could not be read"
            items.append(self._item("", ""))
            items.extend(self._item("", -1.0) for _ in self._labels)
            items.append(self._item("", -1.0))
            items.append(self._item("", ""))
            items.append(self._item(reason, reason))
            items[-1].setToolTip(row.get("error") or reason)
        for item in items:
            item.setData(str(path), PATH_ROLE)
        items[0].setData(row.get("metadata") or {}, METADATA_ROLE)
        items[0].setData(extra, EXTRA_ROLE)
        items[0].setData(prediction is not None, OK_ROLE)
        self.model.appendRow(items)
        for column in (self._warning_column, self._status_column):
            self._widen(column, items[column].text())

    def _widen(self, column: int, text: str) -> None:
        """The column grows to show `text` (up to MAX_TEXT_COLUMN_PX; the tooltip has the rest)."""
        header = self.table.horizontalHeader()
        needed = min(MAX_TEXT_COLUMN_PX, self.table.fontMetrics().horizontalAdvance(text) + CELL_PADDING_PX)
        if needed > header.sectionSize(column):
            header.resizeSection(column, needed)

    @staticmethod
    def _item(text: str, sort_value) -> QStandardItem:
        item = QStandardItem(text)
        item.setData(sort_value, SORT_ROLE)
        item.setToolTip(text)
        return item

    def _on_double_click(self, index) -> None:
        path = self.proxy.data(index, PATH_ROLE)
        if path:
            self.open_requested.emit(path)

    # -- CSV ----------------------------------------------------------------------------------------------------
    def _ask_export(self) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "Export results", str(self._folder / "xrayview-results.csv"),
                                                "CSV (*.csv)")
        if target:
            self.export_csv(Path(target))

    def export_csv(self, target: Path, deidentify: bool | None = None) -> Path:
        """Writes the rows as currently sorted and filtered, with full paths; de-identified (the checkbox, unless
        given): the path relative to the folder with patient identifiers of that file's header scrubbed out."""
        if deidentify is None:
            deidentify = self.deidentify_check.isChecked()
        deidentifier = None
        if deidentify:
            from inference.deid import Deidentifier

            deidentifier = Deidentifier()
        columns = [c for c in range(1, self.model.columnCount())
                   if self.model.headerData(c, Qt.Orientation.Horizontal) not in CSV_SKIPPED_COLUMNS]
        headers = ["path"] + [self.model.headerData(c, Qt.Orientation.Horizontal) for c in columns]
        headers += list(CSV_EXTRA_COLUMNS)
        with open(target, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            for r in range(self.proxy.rowCount()):
                path = self.proxy.data(self.proxy.index(r, 0), PATH_ROLE)
                cells = [self._csv_cell(r, c) for c in columns]
                extra = self.proxy.data(self.proxy.index(r, 0), EXTRA_ROLE) or {}
                if deidentifier is not None:
                    metadata = self.proxy.data(self.proxy.index(r, 0), METADATA_ROLE) or {}
                    path = self.proxy.data(self.proxy.index(r, 0))  # relative: folder names may name the patient
                    path, *cells = [deidentifier.scrub_text(str(cell or ""), metadata) for cell in [path, *cells]]
                writer.writerow([path] + cells + [extra.get(key, "") for key in CSV_EXTRA_COLUMNS])
        self.status_label.setText(f"Exported {self.proxy.rowCount()} row(s) to {target}")
        return target

    def _csv_cell(self, row: int, column: int) -> str:
        """The cell as shown, except the Status column's full message (with the file) and a withheld call's
        probabilities, which the CSV keeps as numbers (the call column and call_status say "no call")."""
        index = self.proxy.index(row, column)
        text = self.proxy.data(index) or ""
        if text == NOT_APPLICABLE:
            value = self.proxy.data(index, SORT_ROLE)
            return f"{float(value):.3f}" if isinstance(value, float) and value >= 0 else ""
        return text

    def closeEvent(self, event) -> None:  # noqa: N802
        self.cancel()
        super().closeEvent(event)
