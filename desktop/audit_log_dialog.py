"""The audit log viewer: every AI result recorded by the viewer, batch runs and the CLI, newest first, with a
text filter and CSV export. Lines a crash left incomplete are reported, never hidden; the hash chain is verified
on every (re)load and the dialog says where it breaks (inference.audit)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inference.audit import default_audit_log_path, export_csv, read_audit_log, records_to_rows
from inference.errors import AuditLogError

# columns shown (the CSV export has them all)
SHOWN_COLUMNS = ("seq", "time", "user", "origin", "call", "call_status", "ood_warning", "threshold", "model_name",
                 "model_version", "device", "sop_instance_uid", "source_path")


class AuditLogDialog(QDialog):
    def __init__(self, log_path: str | Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("AI audit log")
        self.resize(1100, 560)
        self._log_path = Path(log_path) if log_path is not None else default_audit_log_path()
        self._records: list[dict] = []
        self.chain_intact = True
        self.path_label = QLabel(str(self._log_path))
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter (any column)…")
        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.chain_label = QLabel()  # the hash chain check: intact, or where it breaks
        self.chain_label.setWordWrap(True)
        self.chain_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_button = QPushButton("Reload")
        self.export_button = QPushButton("Export CSV…")
        close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.path_label)
        layout.addWidget(self.chain_label)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.refresh_button.clicked.connect(self.reload)
        self.export_button.clicked.connect(self._choose_export_file)
        self.filter_edit.textChanged.connect(self._apply_filter)
        close_button.clicked.connect(self.close)
        self.reload()

    def records(self) -> list[dict]:
        return list(self._records)

    def reload(self) -> None:
        try:
            contents = read_audit_log(self._log_path)
        except AuditLogError as error:
            self._records = []
            self._fill([], [])
            self.status.setText(str(error))
            self.chain_label.setText("")
            return
        self.chain_intact = contents.chain_intact
        self.chain_label.setText(contents.chain_summary())
        self.chain_label.setStyleSheet("" if contents.chain_intact else "color: #d03030; font-weight: bold;")
        self._records = contents.records
        header, rows = records_to_rows(self._records)
        labels = [h for h in header if h.startswith("p_")]
        shown = list(SHOWN_COLUMNS[:5]) + labels + list(SHOWN_COLUMNS[5:])
        index = {name: header.index(name) for name in shown}
        self._fill(shown, [[row[index[name]] for name in shown] for row in reversed(rows)])
        message = f"{len(self._records)} AI result{'s' if len(self._records) != 1 else ''} recorded."
        if contents.skipped:
            lines = ", ".join(str(number) for number, _ in contents.skipped)
            message += f" Skipped {len(contents.skipped)} incomplete line(s) ({lines}): an interrupted write."
        self.status.setText(message)
        self.export_button.setEnabled(bool(self._records))
        self._apply_filter(self.filter_edit.text())

    def _fill(self, columns: list[str], rows: list[list[str]]) -> None:
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels([c.replace("_", " ") for c in columns])
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(value)
                if columns[c] == "seq" and value.isdigit():
                    item.setData(Qt.ItemDataRole.DisplayRole, int(value))  # sorts as a number
                self.table.setItem(r, c, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSortingEnabled(True)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for r in range(self.table.rowCount()):
            cells = (self.table.item(r, c) for c in range(self.table.columnCount()))
            match = not needle or any(cell is not None and needle in cell.text().lower() for cell in cells)
            self.table.setRowHidden(r, not match)

    def export(self, target: str | Path) -> Path:
        """Writes every record (not only the filtered rows) as CSV."""
        path = export_csv(self._records, target)
        self.status.setText(f"Exported {len(self._records)} records to {path}.")
        return path

    def _choose_export_file(self) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "Export audit log", "xrayview-audit.csv", "CSV (*.csv)")
        if target:
            try:
                self.export(target)
            except AuditLogError as error:
                self.status.setText(str(error))


def open_audit_log_dialog(host) -> AuditLogDialog:
    """A fresh dialog each time, so it shows the records written since it was last opened. `host`:
    desktop.tool_host.ToolHost."""
    dialog = AuditLogDialog(parent=host)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    host.keep_tool_dialog("audit_log", dialog)
    dialog.show()
    return dialog


def install_tools(host) -> None:
    """Called by the viewer after it is shown (desktop.tool_host): adds Tools > AI audit log…"""
    from PySide6.QtGui import QAction

    action = QAction("AI &audit log…", host)
    action.setObjectName("audit_log")
    action.triggered.connect(lambda: open_audit_log_dialog(host))
    host.add_tool_actions(action)
