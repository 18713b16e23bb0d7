"""The study browser dock: the images of an opened folder, DICOMDIR, PACS retrieve or file selection. DICOM files
are shown as patient -> study (date, description, accession) -> series -> images with thumbnails (presentation
states under their series); plain PNG/JPEG folders stay a flat list of file names (elided in the middle, full
path in the tooltip). Double-click (or Enter) opens; the image on screen is highlighted; items drag onto a
viewport. Headers and thumbnails are read on workers."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.workers import Job
from dicom_common.dates import display_date
from inference.image_files import find_images

PATH_ROLE = Qt.ItemDataRole.UserRole
PATHS_ROLE = Qt.ItemDataRole.UserRole + 1  # every image file under a tree item (for dragging a study)
THUMBNAIL_SIZE = 96  # desktop.thumbnails renders at this size
TREE_ICON_SIZE = 48


def _make_thumbnails(paths, *, progress, cancel):
    """Worker thread: numpy and the image readers load here, never on the GUI thread."""
    from desktop.thumbnails import make_thumbnails

    return make_thumbnails(paths, progress=progress, cancel=cancel)


class _FileList(QListWidget):
    def mimeData(self, items):  # noqa: N802 - Qt override: dragging an item carries its file
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(item.data(PATH_ROLE)) for item in items])
        return data


class _StudyTree(QTreeWidget):
    def mimeData(self, items):  # noqa: N802 - a study or series drags its images (a viewport opens the first)
        data = QMimeData()
        paths = [p for item in items for p in (item.data(0, PATHS_ROLE) or [])]
        data.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
        return data


class FolderPanel(QWidget):
    open_requested = Signal(str)
    thumbnails_done = Signal()
    index_ready = Signal(object)  # the StudyIndex

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Study browser")
        self._folder: Path | None = None
        self._job: Job | None = None
        self._index_job: Job | None = None
        self._index = None
        self._items: dict[str, QListWidgetItem] = {}
        self._tree_items: dict[str, QTreeWidgetItem] = {}
        self._order: list[str] = []
        self._thumbnails: dict[str, QIcon] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel("No folder open")
        self.title.setWordWrap(True)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name…")
        self.filter_edit.setAccessibleName("Filter images by name")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.list = _FileList()
        self.list.setAccessibleName("Images in folder")
        self.list.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.list.setUniformItemSizes(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # names often differ only at the end
        self.list.setDragEnabled(True)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.list.itemActivated.connect(self._on_activated)  # double-click or Enter
        self.tree = _StudyTree()
        self.tree.setAccessibleName("Patients, studies, series and images")
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(TREE_ICON_SIZE, TREE_ICON_SIZE))
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemActivated.connect(self._on_tree_activated)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list)
        self.stack.addWidget(self.tree)
        layout.addWidget(self.title)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.stack, 1)

    # -- contents -------------------------------------------------------------------------------------------
    @property
    def folder(self) -> Path | None:
        return self._folder

    @property
    def showing_studies(self) -> bool:
        return self.stack.currentWidget() is self.tree

    def paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(PATH_ROLE)) for i in range(self.list.count())]

    def set_folder(self, folder: str | Path) -> list[Path]:
        """Lists the images under `folder` (recursive), then reads their headers and thumbnails."""
        return self._show(Path(folder), find_images(Path(folder)))

    def set_files(self, paths: list[Path], title: str | None = None) -> list[Path]:
        """Lists a chosen set of files (several opened or dropped files, a DICOMDIR, a PACS retrieve)."""
        paths = [Path(p) for p in paths]
        common = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path(".")
        return self._show(common, paths, title)

    def set_siblings(self, path: str | Path) -> list[Path]:
        """One file was opened: its folder's images (not recursive), so that PgDown/PgUp step through them."""
        path = Path(path)
        folder = path.parent
        if self._folder == folder and str(path) in self._items:
            return self.paths()
        siblings = find_images(folder, recursive=False) or [path]
        return self._show(folder, siblings if path in siblings else [path] + siblings)

    def _show(self, folder: Path, paths: list[Path], title: str | None = None) -> list[Path]:
        self.cancel()
        self._folder = folder
        self._index = None
        self.list.clear()
        self.tree.clear()
        self._items.clear()
        self._tree_items.clear()
        self._thumbnails.clear()
        self.stack.setCurrentWidget(self.list)
        self._order = [str(p) for p in paths]
        for path in paths:
            relative = path.relative_to(folder) if path.is_relative_to(folder) else path
            item = QListWidgetItem(str(relative))
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(str(path))
            self.list.addItem(item)
            self._items[str(path)] = item
        self._title = title or f"{folder.name or folder}"
        self.title.setText(f"{self._title} — {len(paths)} image(s)")
        if paths:
            from desktop.studies import index_files

            self._index_job = Job(index_files, paths, name="study index")
            self._index_job.finished.connect(self._on_index)
            self._index_job.start()
            self._job = Job(_make_thumbnails, paths, name="thumbnails")
            self._job.progress.connect(self._on_thumbnail)
            self._job.done.connect(self.thumbnails_done)
            self._job.start()
        else:
            self.thumbnails_done.emit()
        return paths

    # -- the study tree ------------------------------------------------------------------------------------
    def _on_index(self, index) -> None:
        self._index = index
        self._index_job = None
        if index.has_dicom:
            self._build_tree(index)
            self._order = [str(p) for p in index.image_paths()]
            self.stack.setCurrentWidget(self.tree)
            studies = len(index.studies())
            self.title.setText(f"{self._title} — {len(index.patients)} patient(s), {studies} stud(ies), "
                               f"{len(self._order)} image(s)")
        self.index_ready.emit(index)

    def _build_tree(self, index) -> None:
        self.tree.clear()
        self._tree_items.clear()
        bold = QFont()
        bold.setBold(True)
        for patient in index.patients:
            details = ", ".join(v for v in (patient.id, patient.sex, display_date(patient.birth_date, "no date")
                                            if patient.birth_date else "") if v)
            patient_item = self._tree_item(self.tree, f"{patient.name or 'Unnamed'} ({details})",
                                           [i.path for s in patient.studies for i in s.images])
            patient_item.setFont(0, bold)
            for study in patient.studies:
                text = "  ".join(v for v in (display_date(study.date, "no date"), study.description or "Study",
                                             f"Acc. {study.accession}" if study.accession else "") if v)
                study_item = self._tree_item(patient_item, text, [i.path for i in study.images])
                study_item.setToolTip(0, f"Study Instance UID {study.uid}")
                for series in study.series:
                    images = series.images
                    count = f"({len(images)} image{'s' if len(images) != 1 else ''})" if images else \
                        "(presentation states of images not listed here)"
                    label = "  ".join(v for v in (f"#{series.number}" if series.number is not None else "",
                                                  series.modality, series.description, count) if v)
                    series_item = self._tree_item(study_item, label, [i.path for i in images])
                    for instance in series.instances:
                        self._instance_item(series_item, instance)
                study_item.setExpanded(True)
            patient_item.setExpanded(True)
        if index.other_images:
            others = self._tree_item(self.tree, "Other images (not DICOM)", list(index.other_images))
            for path in index.other_images:
                item = self._tree_item(others, path.name, [path], path)
                item.setToolTip(0, str(path))
            others.setExpanded(True)

    def _tree_item(self, parent, text: str, paths: list[Path], path: Path | None = None) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, [text])
        item.setData(0, PATHS_ROLE, [str(p) for p in paths])
        if path is not None:
            item.setData(0, PATH_ROLE, str(path))
            self._tree_items[str(path)] = item
            if str(path) in self._thumbnails:
                item.setIcon(0, self._thumbnails[str(path)])
        return item

    def _instance_item(self, parent, instance) -> None:
        if instance.is_presentation_state:
            item = self._tree_item(parent, f"Presentation state {instance.label or ''}".strip(), [], instance.path)
            font = item.font(0)
            font.setItalic(True)
            item.setFont(0, font)
        else:
            number = f"Image {instance.instance_number}" if instance.instance_number is not None else "Image"
            item = self._tree_item(parent, f"{number}  {instance.path.name}", [instance.path], instance.path)
        item.setToolTip(0, str(instance.path))

    # -- questions -------------------------------------------------------------------------------------------
    def index_paths(self):
        """The StudyIndex of what is listed (None until the headers are read)."""
        return self._index

    def first_image(self) -> Path | None:
        return Path(self._order[0]) if self._order else None

    def select_path(self, path: str | Path | None) -> None:
        """Highlights the image on screen; nothing stays highlighted for a file that is not listed."""
        key = str(path) if path is not None else ""
        item = self._items.get(key)
        if item is not None:
            self.list.setCurrentItem(item)
        else:
            self.list.clearSelection()
            self.list.setCurrentItem(None)
        tree_item = self._tree_items.get(key)
        if tree_item is not None:
            self.tree.setCurrentItem(tree_item)
            self.tree.scrollToItem(tree_item)
        else:
            self.tree.clearSelection()
            self.tree.setCurrentItem(None)

    def neighbour(self, path: str | Path, step: int) -> str | None:
        order = self._order
        if str(path) not in order:
            return None
        index = order.index(str(path)) + step
        return order[index] if 0 <= index < len(order) else None

    def prior_image_for(self, image) -> Path | None:
        metadata = getattr(image, "metadata", None) or {}
        if self._index is None or not metadata.get("StudyInstanceUID"):
            return None
        prior = self._index.prior_study(str(metadata.get("PatientID") or ""), str(metadata["StudyInstanceUID"]),
                                        str(metadata.get("StudyDate") or ""))
        return prior.images[0].path if prior is not None else None

    def presentation_state_notice(self, image) -> list[str]:
        """A line for the status bar when the study browser holds presentation states for `image`."""
        uid = str((getattr(image, "metadata", None) or {}).get("SOPInstanceUID") or "")
        states = self._index.presentation_states_for(uid) if self._index is not None and uid else []
        if not states:
            return []
        return [f"{len(states)} presentation state(s) for this image in the study browser (double-click to show)"]

    def no_prior_reason(self, image) -> str:
        metadata = getattr(image, "metadata", None) or {}
        if not metadata.get("StudyInstanceUID"):
            return "Compare with prior needs a DICOM image (its patient and study date)."
        if self._index is None:
            return "The study browser is still reading the studies; try again in a moment."
        patient = str(metadata.get("PatientName") or metadata.get("PatientID") or "this patient").replace("^", " ")
        return f"No earlier study of {patient} in the study browser (open the folder or retrieve the prior)."

    # -- workers ---------------------------------------------------------------------------------------------
    def cancel(self) -> None:
        for job in (self._job, self._index_job):
            if job is not None:
                job.cancel()
        self._job = self._index_job = None

    def is_busy(self) -> bool:
        return any(job is not None and job.is_running() for job in (self._job, self._index_job))

    def _on_thumbnail(self, done: int, total: int, payload) -> None:
        path, thumbnail, error = payload
        item = self._items.get(str(path))
        if item is None:
            return
        tree_item = self._tree_items.get(str(path))
        if thumbnail is not None:
            from desktop.qimage_convert import gray8_to_qimage

            icon = QIcon(QPixmap.fromImage(gray8_to_qimage(thumbnail)))
            self._thumbnails[str(path)] = icon
            item.setIcon(icon)
            if tree_item is not None:
                tree_item.setIcon(0, icon)
        else:
            item.setToolTip(f"{path}\n{error}")
            item.setText(f"{item.text()}  (cannot open)")
        if not self.showing_studies:
            self.title.setText(f"{self._title} — {total} image(s)" + ("" if done == total else
                                                                        f", thumbnails {done}/{total}"))

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(bool(needle) and needle not in item.text().lower())
        for key, item in self._tree_items.items():
            item.setHidden(bool(needle) and needle not in item.text(0).lower())

    def _on_activated(self, item: QListWidgetItem) -> None:
        self.open_requested.emit(item.data(PATH_ROLE))

    def _on_tree_activated(self, item: QTreeWidgetItem, column: int = 0) -> None:
        path = item.data(0, PATH_ROLE)
        if path is None:
            paths = item.data(0, PATHS_ROLE) or []
            path = paths[0] if paths else None
            if path is None:
                return
        self.open_requested.emit(path)
