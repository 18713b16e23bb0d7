"""Page 1: the dataset folders. ROOT/CLASS/* (the tool makes the splits) or ROOT/{train,val,test}/CLASS/*;
optional separate validation and test folders (each DIR/CLASS/*)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
                               QWidget, QWizardPage)

from desktop.wizard.context import WizardContext

LAYOUT_HELP = (
    "Choose the folder that holds your images, one sub-folder per class, e.g. <tt>ROOT/NORMAL/*</tt> and "
    "<tt>ROOT/PNEUMONIA/*</tt>. The wizard then makes patient-grouped, stratified train/validation/test splits. "
    "A folder already split as <tt>ROOT/train</tt>, <tt>ROOT/val</tt>, <tt>ROOT/test</tt> (each with class "
    "sub-folders) keeps its splits. DICOM, PNG, JPEG and TIFF are read.")


class FoldersPage(QWizardPage):
    def __init__(self, context: WizardContext, parent=None):
        super().__init__(parent)
        self.context = context
        self.setTitle("Choose the images")
        self.setSubTitle("Where are the labelled images to train on?")
        layout = QVBoxLayout(self)
        help_label = QLabel(LAYOUT_HELP)
        help_label.setWordWrap(True)
        layout.addWidget(help_label)
        form = QFormLayout()
        self.data_edit = self._folder_row(form, "Dataset folder:", "Dataset folder")
        self.val_edit = self._folder_row(form, "Validation folder (optional):", "Validation folder")
        self.test_edit = self._folder_row(form, "Test folder (optional):", "Test folder")
        layout.addLayout(form)
        self.problem_label = QLabel("")
        self.problem_label.setStyleSheet("color: #c0392b;")
        self.problem_label.setWordWrap(True)
        layout.addWidget(self.problem_label)
        layout.addStretch(1)
        last = context.settings.qsettings.value("wizard/last_data_dir", "")
        if last:
            self.data_edit.setText(str(last))

    def _folder_row(self, form: QFormLayout, label: str, accessible: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setAccessibleName(accessible)
        edit.textChanged.connect(self._check)
        browse = QPushButton("Browse…")
        browse.setAccessibleName(f"Browse for the {accessible.lower()}")
        browse.clicked.connect(lambda: self._browse(edit, accessible))
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit, 1)
        box.addWidget(browse)
        form.addRow(label, row)
        return edit

    def _browse(self, edit: QLineEdit, title: str) -> None:
        start = edit.text() or self.data_edit.text() or self.context.settings.last_directory
        folder = QFileDialog.getExistingDirectory(self, title, start)
        if folder:
            edit.setText(folder)

    def set_folders(self, data: str | Path, val: str | Path | None = None, test: str | Path | None = None) -> None:
        self.data_edit.setText(str(data))
        self.val_edit.setText(str(val) if val else "")
        self.test_edit.setText(str(test) if test else "")

    def _folder(self, edit: QLineEdit) -> Path | None:
        text = edit.text().strip()
        return Path(text).expanduser() if text else None

    def _problem(self) -> str:
        data = self._folder(self.data_edit)
        if data is None:
            return ""
        if not data.is_dir():
            return f"{data}: not a folder"
        for name, edit in (("validation", self.val_edit), ("test", self.test_edit)):
            folder = self._folder(edit)
            if folder is not None and not folder.is_dir():
                return f"{folder}: the {name} folder is not a folder"
        return ""

    def _check(self) -> None:
        self.problem_label.setText(self._problem())
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self._folder(self.data_edit) is not None and not self._problem()

    def validatePage(self) -> bool:  # noqa: N802
        folders = (self._folder(self.data_edit), self._folder(self.val_edit), self._folder(self.test_edit))
        if folders != (self.context.data_dir, self.context.val_dir, self.context.test_dir):
            self.context.scan = None  # another dataset: the report must be made again
        self.context.data_dir, self.context.val_dir, self.context.test_dir = folders
        self.context.settings.qsettings.setValue("wizard/last_data_dir", str(folders[0]))
        return True
