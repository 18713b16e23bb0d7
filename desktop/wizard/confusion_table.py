"""The confusion matrix as a table: rows are the true classes, columns the predicted ones; cells are shaded
by their share of the row (so a good model shows a dark diagonal)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


class ConfusionTable(QTableWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Confusion matrix")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setMinimumHeight(110)

    def set_matrix(self, matrix: list[list[int]], classes: list[str]) -> None:
        self.clear()
        self.setRowCount(len(classes))
        self.setColumnCount(len(classes))
        self.setHorizontalHeaderLabels([f"predicted {name}" for name in classes])
        self.setVerticalHeaderLabels([f"true {name}" for name in classes])
        for row, counts in enumerate(matrix):
            total = sum(counts) or 1
            for column, count in enumerate(counts):
                item = QTableWidgetItem(str(int(count)))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = count / total
                good = row == column
                item.setBackground(QColor(40, 150, 70, int(40 + 170 * share)) if good
                                   else QColor(200, 60, 50, int(20 + 170 * share)))
                item.setToolTip(f"{count} of {total} true {classes[row]} images "
                                f"predicted {classes[column]} ({share:.0%})")
                self.setItem(row, column, item)

    def matrix(self) -> list[list[int]]:
        return [[int(self.item(r, c).text()) for c in range(self.columnCount())] for r in range(self.rowCount())]
