"""Searchable DICOM tag tree: every element of the header (sequences as sub-trees), filterable by keyword,
tag number or value."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

MAX_VALUE_CHARS = 200
KEYWORD_ROLE = Qt.ItemDataRole.UserRole


def _value_text(element) -> str:
    if element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN") or element.keyword == "PixelData":
        length = len(element.value) if element.value is not None else 0
        return f"<{element.VR} binary, {length} bytes>"
    text = str(element.value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


class TagTree(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("DICOM tags")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tags (name, number or value)…")
        self.search.setAccessibleName("Search DICOM tags")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_filter)
        self.tree = QTreeWidget()
        self.tree.setAccessibleName("DICOM tag tree")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Tag", "Name", "VR", "Value"])
        # the dock is narrow: tag and VR take what they need, name and value share the rest (elided, the whole
        # text in the tooltip) instead of running off the right edge of the dock
        header = self.tree.header()
        # the value column stretches itself: as the stretched last section it never got narrower than the
        # default section size, which pushed it past the dock's edge
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(24)
        for column, mode in ((0, QHeaderView.ResizeMode.ResizeToContents), (1, QHeaderView.ResizeMode.Stretch),
                             (2, QHeaderView.ResizeMode.ResizeToContents), (3, QHeaderView.ResizeMode.Stretch)):
            header.setSectionResizeMode(column, mode)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setUniformRowHeights(True)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)

    def set_dataset(self, dataset, file_meta=None) -> None:
        self.tree.clear()
        if dataset is None:
            placeholder = QTreeWidgetItem(["", "Not a DICOM file: no tags to show", "", ""])
            self.tree.addTopLevelItem(placeholder)
            return
        meta = file_meta if file_meta is not None else getattr(dataset, "file_meta", None)
        if meta is not None and len(meta):
            group = QTreeWidgetItem(["", "File meta information", "", ""])
            self.tree.addTopLevelItem(group)
            self._add_elements(group, meta)
        self._add_elements(self.tree.invisibleRootItem(), dataset)
        self.apply_filter(self.search.text())

    def _add_elements(self, parent: QTreeWidgetItem, dataset) -> None:
        for element in dataset:
            tag = f"({element.tag.group:04X},{element.tag.element:04X})"
            name = element.name
            if element.VR == "SQ":
                item = QTreeWidgetItem([tag, name, "SQ", f"{len(element.value)} item(s)"])
                parent.addChild(item)
                for index, child in enumerate(element.value):
                    child_item = QTreeWidgetItem(["", f"Item {index + 1}", "", ""])
                    item.addChild(child_item)
                    self._add_elements(child_item, child)
            else:
                value = _value_text(element)
                item = QTreeWidgetItem([tag, name, str(element.VR), value])
                item.setToolTip(3, value)
                parent.addChild(item)
            item.setData(1, KEYWORD_ROLE, element.keyword or "")
            item.setToolTip(1, element.keyword or name)

    def apply_filter(self, text: str) -> int:
        """Shows rows whose tag, name or value contains `text` (and their parents); returns the match count."""
        needle = text.strip().lower()
        return sum(self._filter(self.tree.topLevelItem(i), needle) for i in range(self.tree.topLevelItemCount()))

    def _filter(self, item: QTreeWidgetItem, needle: str) -> int:
        own = not needle or any(needle in item.text(c).lower() for c in range(4)) \
            or needle in str(item.data(1, KEYWORD_ROLE) or "").lower()
        children = sum(self._filter(item.child(i), needle) for i in range(item.childCount()))
        visible = own or children > 0
        item.setHidden(not visible)
        if needle and children:
            item.setExpanded(True)
        return children + (1 if own and needle else 0) if needle else 1 + children

    def visible_names(self) -> list[str]:
        names: list[str] = []

        def walk(item: QTreeWidgetItem) -> None:
            for i in range(item.childCount()):
                child = item.child(i)
                if not child.isHidden():
                    names.append(child.text(1))
                    walk(child)

        walk(self.tree.invisibleRootItem())
        return names
