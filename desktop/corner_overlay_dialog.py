"""View > Corner Information Layout: which fields each corner shows, per modality (one table row per field,
with the corner it goes to; rows keep their order within a corner)."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from desktop.corner_overlay import CORNER_TITLES, CORNERS, DEFAULT_LAYOUT, FIELDS, MODALITIES

HIDDEN = ""


class CornerLayoutDialog(QDialog):
    def __init__(self, settings, modality: str = "*", parent=None):
        super().__init__(parent)
        self.setWindowTitle("Corner information layout")
        self.resize(520, 520)
        self._settings = settings
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.modality_combo = QComboBox()
        self.modality_combo.setAccessibleName("Modality the layout is for")
        for value in MODALITIES:
            self.modality_combo.addItem("Every modality" if value == "*" else value, value)
        if modality not in MODALITIES:
            self.modality_combo.addItem(modality, modality)
        form.addRow("Modality", self.modality_combo)
        layout.addLayout(form)
        self.table = QTableWidget(len(FIELDS), 2)
        self.table.setAccessibleName("Corner of each field")
        self.table.setHorizontalHeaderLabels(["Field", "Corner"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.corner_combos: dict[str, QComboBox] = {}
        for row, (field, (title, _)) in enumerate(FIELDS.items()):
            self.table.setItem(row, 0, QTableWidgetItem(title))
            combo = QComboBox()
            combo.setAccessibleName(f"Corner for {title}")
            combo.addItem("Not shown", HIDDEN)
            for corner in CORNERS:
                combo.addItem(CORNER_TITLES[corner], corner)
            self.table.setCellWidget(row, 1, combo)
            self.corner_combos[field] = combo
        layout.addWidget(self.table, 1)
        self.default_button = QPushButton("Default layout")
        self.default_button.clicked.connect(lambda: self._show(DEFAULT_LAYOUT))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.default_button, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.modality_combo.currentIndexChanged.connect(lambda _: self._load())
        self.modality_combo.setCurrentIndex(self.modality_combo.findData(modality))
        self._load()

    def modality(self) -> str:
        return str(self.modality_combo.currentData())

    def _load(self) -> None:
        self._show(self._settings.corner_layout(self.modality()) or DEFAULT_LAYOUT)

    def _show(self, layout: dict[str, list[str]]) -> None:
        where = {field: corner for corner, fields in layout.items() for field in fields}
        for field, combo in self.corner_combos.items():
            combo.setCurrentIndex(max(0, combo.findData(where.get(field, HIDDEN))))

    def chosen_layout(self) -> dict[str, list[str]]:
        chosen: dict[str, list[str]] = {corner: [] for corner in CORNERS}
        for field, combo in self.corner_combos.items():
            if combo.currentData():
                chosen[combo.currentData()].append(field)
        return chosen

    def _save(self) -> None:
        self._settings.set_corner_layout(self.modality(), self.chosen_layout())
        self.accept()
