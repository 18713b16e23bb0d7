"""Side panel listing the images of an opened folder (recursive), with thumbnails made in the background."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from desktop.image_files import find_images
from desktop.workers import Job

PATH_ROLE = Qt.ItemDataRole.UserRole
THUMBNAIL_SIZE = 96  # desktop.thumbnails renders at this size


class FolderPanel(QWidget):
    open_requested = Signal(str)
    thumbnails_done = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Folder panel")
        self._folder: Path | None = None
        self._job: Job | None = None
        self._items: dict[str, QListWidgetItem] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel("No folder open")
        self.title.setWordWrap(True)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name…")
        self.filter_edit.setAccessibleName("Filter folder images by name")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.list = QListWidget()
        self.list.setAccessibleName("Images in folder")
        self.list.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.list.setUniformItemSizes(True)
        self.list.itemActivated.connect(self._on_activated)
        self.list.itemDoubleClicked.connect(self._on_activated)
        layout.addWidget(self.title)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.list, 1)

    @property
    def folder(self) -> Path | None:
        return self._folder

    def paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(PATH_ROLE)) for i in range(self.list.count())]

    def set_folder(self, folder: str | Path) -> list[Path]:
        """Lists the images under `folder` (recursive) and starts their thumbnails."""
        return self._show(Path(folder), find_images(Path(folder)))

    def set_files(self, paths: list[Path]) -> list[Path]:
        """Lists a chosen set of files (multi-select in File > Open, several dropped files)."""
        paths = [Path(p) for p in paths]
        common = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path(".")
        return self._show(common, paths)

    def _show(self, folder: Path, paths: list[Path]) -> list[Path]:
        self.cancel()
        self._folder = folder
        self.list.clear()
        self._items.clear()
        for path in paths:
            relative = path.relative_to(self._folder) if path.is_relative_to(self._folder) else path
            item = QListWidgetItem(str(relative))
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(str(path))
            self.list.addItem(item)
            self._items[str(path)] = item
        self.title.setText(f"{self._folder.name or self._folder} — {len(paths)} image(s)")
        if paths:
            from desktop.thumbnails import make_thumbnails

            self._job = Job(make_thumbnails, paths, name="thumbnails")
            self._job.progress.connect(self._on_thumbnail)
            self._job.done.connect(self.thumbnails_done)
            self._job.start()
        else:
            self.thumbnails_done.emit()
        return paths

    def select_path(self, path: str | Path) -> None:
        item = self._items.get(str(path))
        if item is not None:
            self.list.setCurrentItem(item)

    def neighbour(self, path: str | Path, step: int) -> str | None:
        keys = list(self._items)
        if str(path) not in self._items or not keys:
            return None
        index = keys.index(str(path)) + step
        return keys[index] if 0 <= index < len(keys) else None

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job = None

    def is_busy(self) -> bool:
        return self._job is not None and self._job.is_running()

    def _on_thumbnail(self, done: int, total: int, payload) -> None:
        path, thumbnail, error = payload
        item = self._items.get(str(path))
        if item is None:
            return
        if thumbnail is not None:
            from desktop.qimage_convert import gray8_to_qimage

            item.setIcon(QIcon(QPixmap.fromImage(gray8_to_qimage(thumbnail))))
        else:
            item.setToolTip(error)
            item.setText(f"{item.text()}  (cannot open)")
        self.title.setText(f"{self._folder.name} — {total} image(s)" + ("" if done == total else f", thumbnails {done}/{total}"))

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(bool(needle) and needle not in item.text().lower())

    def _on_activated(self, item: QListWidgetItem) -> None:
        self.open_requested.emit(item.data(PATH_ROLE))
