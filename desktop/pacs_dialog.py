"""PACS query/retrieve dialog: configure nodes (DIMSE or DICOMweb, persisted in QSettings), search studies,
list series, retrieve and open. Network work runs in desktop.workers.Job with progress and cancel; errors from
the inference.errors PacsError family are shown as plain messages.

Emits `filesRetrieved(list[str])` with the downloaded DICOM paths; the viewer opens them.
"""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QDate, QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.workers import Job
from dicom_common.dates import display_date
from inference.errors import PacsConfigError, XRayViewError
from inference.pacs import (
    DicomWebNode,
    DimseNode,
    PacsNode,
    SeriesResult,
    StudyQuery,
    StudyResult,
    client_for,
    node_from_dict,
    node_to_dict,
)

SETTINGS_KEY = "pacs/nodes"
SELECTED_KEY = "pacs/selected"
MODALITIES = ("", "CR", "DX", "MG", "RF", "XA", "OT", "SC", "SR")
STUDY_COLUMNS = ("Patient name", "Patient ID", "Study date", "Description", "Modalities", "Accession", "Series",
                 "Images")
SERIES_COLUMNS = ("#", "Modality", "Description", "Body part", "Images")


# --- node persistence (QSettings) -------------------------------------------------------------------------------

def load_nodes(settings: QSettings) -> list[PacsNode]:
    """The saved nodes; an entry that no longer validates is skipped rather than breaking the dialog."""
    raw = settings.value(SETTINGS_KEY, "[]")
    try:
        entries = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        entries = []
    nodes = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            nodes.append(node_from_dict(entry))
        except (PacsConfigError, AttributeError):
            continue
    return nodes


def save_nodes(settings: QSettings, nodes: list[PacsNode]) -> None:
    settings.setValue(SETTINGS_KEY, json.dumps([node_to_dict(n) for n in nodes]))
    settings.sync()


# --- node editor ------------------------------------------------------------------------------------------------

class NodeEditorDialog(QDialog):
    """Edits one node: a DIMSE peer (AE titles, host, port, retrieve method) or a DICOMweb URL."""

    def __init__(self, node: PacsNode | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("PACS node")
        self._node: PacsNode | None = None
        self.name = QLineEdit()
        self.kind = QComboBox()
        self.kind.addItems(["DICOM (DIMSE)", "DICOMweb"])
        # DIMSE page
        self.called_ae = QLineEdit("ORTHANC")
        self.host = QLineEdit("127.0.0.1")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(4242)
        self.calling_ae = QLineEdit("XRAYVIEW")
        self.retrieve_method = QComboBox()
        self.retrieve_method.addItems(["C-GET", "C-MOVE"])
        self.local_port = QSpinBox()
        self.local_port.setRange(1, 65535)
        self.local_port.setValue(11112)
        for edit in (self.called_ae, self.calling_ae):
            edit.setMaxLength(16)
        dimse_page = QWidget()
        dimse_form = QFormLayout(dimse_page)
        dimse_form.addRow("PACS AE title", self.called_ae)
        dimse_form.addRow("Host", self.host)
        dimse_form.addRow("Port", self.port)
        dimse_form.addRow("Our AE title", self.calling_ae)
        dimse_form.addRow("Retrieve with", self.retrieve_method)
        dimse_form.addRow("Our storage port (C-MOVE)", self.local_port)
        # DICOMweb page
        self.base_url = QLineEdit("http://127.0.0.1:8042/dicom-web")
        self.username = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        web_page = QWidget()
        web_form = QFormLayout(web_page)
        web_form.addRow("Base URL", self.base_url)
        web_form.addRow("User (optional)", self.username)
        web_form.addRow("Password", self.password)
        self.pages = QStackedWidget()
        self.pages.addWidget(dimse_page)
        self.pages.addWidget(web_page)
        self.kind.currentIndexChanged.connect(self.pages.setCurrentIndex)
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1, 600)
        self.timeout.setValue(10)
        self.timeout.setSuffix(" s")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d9534f")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        top = QFormLayout()
        top.addRow("Name", self.name)
        top.addRow("Kind", self.kind)
        top.addRow("Timeout", self.timeout)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.pages)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        if node is not None:
            self._fill(node)

    def _fill(self, node: PacsNode) -> None:
        self.name.setText(node.name)
        self.timeout.setValue(node.timeout_s)
        if isinstance(node, DimseNode):
            self.kind.setCurrentIndex(0)
            self.called_ae.setText(node.called_ae)
            self.host.setText(node.host)
            self.port.setValue(node.port)
            self.calling_ae.setText(node.calling_ae)
            self.retrieve_method.setCurrentText(node.retrieve_method)
            self.local_port.setValue(node.local_scp_port)
        else:
            self.kind.setCurrentIndex(1)
            self.base_url.setText(node.base_url)
            self.username.setText(node.username)
            self.password.setText(node.password)

    def build_node(self) -> PacsNode:
        """The node described by the form; PacsConfigError when a field is invalid."""
        name = self.name.text().strip() or "PACS"
        if self.kind.currentIndex() == 0:
            return DimseNode(name=name, called_ae=self.called_ae.text(), host=self.host.text().strip(),
                             port=self.port.value(), calling_ae=self.calling_ae.text(),
                             timeout_s=self.timeout.value(), retrieve_method=self.retrieve_method.currentText(),
                             local_scp_port=self.local_port.value())
        return DicomWebNode(name=name, base_url=self.base_url.text(), timeout_s=self.timeout.value(),
                            username=self.username.text(), password=self.password.text())

    def node(self) -> PacsNode | None:
        return self._node

    def _accept(self) -> None:
        try:
            self._node = self.build_node()
        except PacsConfigError as error:
            self.error.setText(error.reason)
            return
        self.accept()


# --- the query/retrieve dialog ----------------------------------------------------------------------------------

def _item(text: object) -> QTableWidgetItem:
    item = QTableWidgetItem("" if text is None else str(text))
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


class PacsDialog(QDialog):
    filesRetrieved = Signal(list)  # list[str]: DICOM files downloaded into the cache folder

    def __init__(self, settings: QSettings | None = None, download_dir: str | Path | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("PACS - query and retrieve")
        self.resize(980, 640)
        self._settings = settings if settings is not None else QSettings("XRayView", "XRayView")
        self._download_dir = Path(download_dir) if download_dir is not None else _default_download_dir()
        self._nodes: list[PacsNode] = load_nodes(self._settings)
        self._studies: list[StudyResult] = []
        self._series: list[SeriesResult] = []
        self._job: Job | None = None
        self.last_error: str = ""
        self._build_ui()
        self._refresh_nodes(self._settings.value(SELECTED_KEY, ""))

    # -- UI -----------------------------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.node_combo = QComboBox()
        self.add_button = QPushButton("Add…")
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove")
        self.echo_button = QPushButton("Test connection")
        node_row = QHBoxLayout()
        node_row.addWidget(QLabel("Server:"))
        node_row.addWidget(self.node_combo, 1)
        for button in (self.add_button, self.edit_button, self.remove_button, self.echo_button):
            node_row.addWidget(button)

        self.patient_id = QLineEdit()
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("DOE or DOE^J* (prefix match)")
        self.accession = QLineEdit()
        self.modality = QComboBox()
        self.modality.setEditable(True)
        self.modality.addItems(MODALITIES)
        self.use_dates = QCheckBox("Study date from")
        self.date_from = QDateEdit(QDate.currentDate().addYears(-1))
        self.date_to = QDateEdit(QDate.currentDate())
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
        self.use_dates.toggled.connect(self.date_from.setEnabled)
        self.use_dates.toggled.connect(self.date_to.setEnabled)
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        form = QGridLayout()
        form.addWidget(QLabel("Patient ID"), 0, 0)
        form.addWidget(self.patient_id, 0, 1)
        form.addWidget(QLabel("Patient name"), 0, 2)
        form.addWidget(self.patient_name, 0, 3)
        form.addWidget(QLabel("Accession"), 0, 4)
        form.addWidget(self.accession, 0, 5)
        form.addWidget(self.use_dates, 1, 0)
        form.addWidget(self.date_from, 1, 1)
        form.addWidget(QLabel("to"), 1, 2, Qt.AlignmentFlag.AlignRight)
        form.addWidget(self.date_to, 1, 3)
        form.addWidget(QLabel("Modality"), 1, 4)
        form.addWidget(self.modality, 1, 5)
        form.addWidget(self.search_button, 0, 6, 2, 1)
        search_box = QGroupBox("Search")
        search_box.setLayout(form)

        self.studies_table = self._table(STUDY_COLUMNS)
        self.series_table = self._table(SERIES_COLUMNS)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.studies_table)
        splitter.addWidget(self.series_table)
        splitter.setSizes([380, 200])

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("Choose a server and search.")
        self.status.setWordWrap(True)
        self.retrieve_button = QPushButton("Retrieve and open")
        self.retrieve_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.progress)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(self.retrieve_button)
        bottom.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(node_row)
        layout.addWidget(search_box)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self.add_button.clicked.connect(self._add_node)
        self.edit_button.clicked.connect(self._edit_node)
        self.remove_button.clicked.connect(self._remove_node)
        self.echo_button.clicked.connect(self.test_connection)
        self.search_button.clicked.connect(self.search)
        self.studies_table.itemSelectionChanged.connect(self._study_selected)
        self.series_table.itemSelectionChanged.connect(self._update_buttons)
        self.retrieve_button.clicked.connect(self.retrieve_selected)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.node_combo.currentIndexChanged.connect(self._node_changed)

    @staticmethod
    def _table(columns: tuple[str, ...]) -> QTableWidget:
        table = QTableWidget(0, len(columns))
        table.setHorizontalHeaderLabels(list(columns))
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        return table

    # -- nodes --------------------------------------------------------------------------------------------------
    def nodes(self) -> list[PacsNode]:
        return list(self._nodes)

    def current_node(self) -> PacsNode | None:
        index = self.node_combo.currentIndex()
        return self._nodes[index] if 0 <= index < len(self._nodes) else None

    def add_node(self, node: PacsNode) -> None:
        """Adds (or replaces, by name) a node and saves the list."""
        self._nodes = [n for n in self._nodes if n.name != node.name] + [node]
        save_nodes(self._settings, self._nodes)
        self._refresh_nodes(node.name)

    def _refresh_nodes(self, select_name: str = "") -> None:
        self.node_combo.blockSignals(True)
        self.node_combo.clear()
        for node in self._nodes:
            self.node_combo.addItem(node.label)
        names = [n.name for n in self._nodes]
        self.node_combo.setCurrentIndex(names.index(select_name) if select_name in names else (0 if names else -1))
        self.node_combo.blockSignals(False)
        self._node_changed()

    def _node_changed(self) -> None:
        node = self.current_node()
        if node is not None:
            self._settings.setValue(SELECTED_KEY, node.name)
        self._clear_results()
        self._update_buttons()

    def _add_node(self) -> None:
        editor = NodeEditorDialog(parent=self)
        if editor.exec() == QDialog.DialogCode.Accepted and editor.node() is not None:
            self.add_node(editor.node())

    def _edit_node(self) -> None:
        node = self.current_node()
        if node is None:
            return
        editor = NodeEditorDialog(node, parent=self)
        if editor.exec() == QDialog.DialogCode.Accepted and editor.node() is not None:
            self._nodes = [editor.node() if n is node else n for n in self._nodes]
            save_nodes(self._settings, self._nodes)
            self._refresh_nodes(editor.node().name)

    def _remove_node(self) -> None:
        node = self.current_node()
        if node is None:
            return
        answer = QMessageBox.question(self, "Remove server", f"Remove {node.label} from the list?")
        if answer == QMessageBox.StandardButton.Yes:
            self._nodes = [n for n in self._nodes if n is not node]
            save_nodes(self._settings, self._nodes)
            self._refresh_nodes()

    # -- search form --------------------------------------------------------------------------------------------
    def query(self) -> StudyQuery:
        dates = (self.date_from.date().toPython(), self.date_to.date().toPython()) if self.use_dates.isChecked() \
            else (None, None)
        return StudyQuery(patient_id=self.patient_id.text(), patient_name=self.patient_name.text(),
                          date_from=dates[0], date_to=dates[1], modality=self.modality.currentText(),
                          accession_number=self.accession.text())

    # -- operations (each in a Job) ---------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._job is not None

    def test_connection(self) -> None:
        node = self.current_node()
        if node is not None:
            self._start(client_for(node).echo, "Testing the connection…", self._echo_done,
                        pass_progress=False, pass_cancel=False)

    def search(self) -> None:
        node = self.current_node()
        if node is None:
            self._show_error("Add a PACS server first (Add…).")
            return
        self._clear_results()
        self._start(client_for(node).find_studies, "Searching…", self._studies_found, self.query(),
                    pass_progress=False)

    def _study_selected(self) -> None:
        self.series_table.setRowCount(0)
        self._series = []
        study = self.selected_study()
        self._update_buttons()
        node = self.current_node()
        if study is None or node is None or self.is_busy():
            return
        self._start(client_for(node).find_series, "Listing series…", self._series_found,
                    study.study_instance_uid, pass_progress=False)

    def retrieve_selected(self) -> None:
        """Retrieves the selected series, or the whole selected study when no series is selected."""
        node, study = self.current_node(), self.selected_study()
        if node is None or study is None:
            return
        series = self.selected_series()
        target = self._download_dir / _safe(study.study_instance_uid)
        what = f"series {series.series_number or ''}".strip() if series else "the study"
        self._start(client_for(node).retrieve, f"Retrieving {what}…", self._retrieved, study.study_instance_uid,
                    series.series_instance_uid if series else None, target, show_progress=True)

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.status.setText("Cancelling…")

    def _start(self, fn, message: str, on_done, *args, show_progress: bool = False, **kwargs) -> None:
        if self._job is not None:
            return
        self.last_error = ""
        job = Job(fn, *args, name=message, **kwargs)
        job.finished.connect(on_done)
        job.failed.connect(self._failed)
        job.cancelled.connect(self._cancelled)
        job.progress.connect(self._progress)
        job.done.connect(self._job_done)
        self._job = job
        self.status.setText(message)
        self.progress.setVisible(show_progress)
        self.progress.setRange(0, 0)
        self._update_buttons()
        job.start()

    def _progress(self, done: int, total: int, payload: object) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if payload:
            self.status.setText(str(payload))

    def _job_done(self) -> None:
        self._job = None
        self.progress.setVisible(False)
        self._update_buttons()

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, XRayViewError):
            self._show_error(str(error))
        else:
            from desktop.error_reporting import report_unexpected

            report_unexpected(error, "PACS dialog")
            self._show_error(f"Unexpected error: {type(error).__name__}: {error}")

    def _cancelled(self) -> None:
        self.status.setText("Cancelled.")

    def _show_error(self, message: str) -> None:
        self.last_error = message
        self.status.setText(message)
        self.status.setStyleSheet("color: #d9534f")

    def _echo_done(self, milliseconds: float) -> None:
        self.status.setStyleSheet("")
        self.status.setText(f"Connection OK ({milliseconds:.0f} ms).")

    def _studies_found(self, studies: list[StudyResult]) -> None:
        self.status.setStyleSheet("")
        self._studies = list(studies)
        self.studies_table.setRowCount(len(studies))
        for row, s in enumerate(studies):
            values = (s.patient_name.replace("^", " ").strip(), s.patient_id, display_date(s.study_date),
                      s.study_description, s.modalities, s.accession_number, s.number_of_series,
                      s.number_of_instances)
            for column, value in enumerate(values):
                self.studies_table.setItem(row, column, _item(value))
        self.status.setText(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} found.")

    def _series_found(self, series: list[SeriesResult]) -> None:
        self._series = list(series)
        self.series_table.setRowCount(len(series))
        for row, s in enumerate(series):
            values = (s.series_number, s.modality, s.series_description, s.body_part, s.number_of_instances)
            for column, value in enumerate(values):
                self.series_table.setItem(row, column, _item(value))
        self.status.setText(f"{len(series)} series. Select one, or none for the whole study.")

    def _retrieved(self, paths: list[Path]) -> None:
        self.status.setStyleSheet("")
        self.status.setText(f"Retrieved {len(paths)} image{'s' if len(paths) != 1 else ''}.")
        self.filesRetrieved.emit([str(p) for p in paths])

    # -- selection helpers --------------------------------------------------------------------------------------
    def selected_study(self) -> StudyResult | None:
        rows = self.studies_table.selectionModel().selectedRows()
        return self._studies[rows[0].row()] if rows and rows[0].row() < len(self._studies) else None

    def selected_series(self) -> SeriesResult | None:
        rows = self.series_table.selectionModel().selectedRows()
        return self._series[rows[0].row()] if rows and rows[0].row() < len(self._series) else None

    def _clear_results(self) -> None:
        self._studies, self._series = [], []
        self.studies_table.setRowCount(0)
        self.series_table.setRowCount(0)

    def _update_buttons(self) -> None:
        busy, has_node = self.is_busy(), self.current_node() is not None
        self.search_button.setEnabled(has_node and not busy)
        self.echo_button.setEnabled(has_node and not busy)
        self.edit_button.setEnabled(has_node and not busy)
        self.remove_button.setEnabled(has_node and not busy)
        self.retrieve_button.setEnabled(has_node and not busy and self.selected_study() is not None)
        self.cancel_button.setEnabled(busy)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._job is not None:
            self._job.cancel()
            self._job.wait(15_000)
        super().closeEvent(event)


def _safe(uid: str) -> str:
    return "".join(c for c in uid if c.isdigit() or c == ".") or "study"


def _default_download_dir() -> Path:
    from desktop.paths import user_data_dir

    return user_data_dir() / "pacs-cache"


# --- sending results back ---------------------------------------------------------------------------------------

OBJECT_KINDS = {"SR": "Structured Report", "PR": "Presentation State", "DOC": "Encapsulated PDF report"}


class SendResultsDialog(QDialog):
    """Sends already built result objects (inference.dicom_results.build_results) to a configured node by
    C-STORE or STOW-RS, with progress and cancel. Emits `sent(StoreResult)` when the server answered."""

    sent = Signal(object)

    def __init__(self, datasets: list, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Send AI results to PACS")
        self._datasets = list(datasets)
        self._settings = settings if settings is not None else QSettings("XRayView", "XRayView")
        self._nodes = load_nodes(self._settings)
        self._job: Job | None = None
        self.last_error = ""
        self.node_combo = QComboBox()
        self.node_combo.addItems([n.label for n in self._nodes])
        names = [n.name for n in self._nodes]
        selected = self._settings.value(SELECTED_KEY, "")
        if selected in names:
            self.node_combo.setCurrentIndex(names.index(selected))
        kinds = ", ".join(sorted({OBJECT_KINDS.get(str(ds.Modality), "Secondary Capture") for ds in self._datasets}))
        self.summary = QLabel(f"{len(self._datasets)} object(s): {kinds}. They join the source image's study.")
        self.summary.setWordWrap(True)
        self.status = QLabel("" if self._nodes else "No PACS server configured: add one in the PACS dialog.")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, max(1, len(self._datasets)))
        self.progress.setValue(0)
        self.send_button = QPushButton("Send")
        self.send_button.setEnabled(bool(self._nodes) and bool(self._datasets))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.cancel_button, self.send_button, close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("Server", self.node_combo)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.send_button.clicked.connect(self.send)
        self.cancel_button.clicked.connect(lambda: self._job.cancel() if self._job else None)
        close_button.clicked.connect(self.close)

    def is_busy(self) -> bool:
        return self._job is not None

    def send(self) -> None:
        index = self.node_combo.currentIndex()
        if self._job is not None or not 0 <= index < len(self._nodes):
            return
        node = self._nodes[index]
        self.last_error = ""
        job = Job(client_for(node).store, self._datasets, name="send results")
        job.progress.connect(lambda done, total, payload: self.progress.setValue(done))
        job.finished.connect(self._finished)
        job.failed.connect(self._failed)
        job.cancelled.connect(lambda: self.status.setText("Cancelled."))
        job.done.connect(self._done)
        self._job = job
        self.send_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Sending to {node.label}…")
        job.start()

    def _finished(self, result) -> None:
        self.progress.setValue(len(self._datasets))
        if result.ok:
            self.status.setText(f"Sent {len(result.stored)} object(s).")
        else:
            reasons = "; ".join(f"{uid}: {why}" for uid, why in result.failed.items())
            self.last_error = f"The server refused {len(result.failed)} object(s): {reasons}"
            self.status.setText(self.last_error)
        self.sent.emit(result)

    def _failed(self, error: BaseException) -> None:
        self.last_error = str(error) if isinstance(error, XRayViewError) else f"{type(error).__name__}: {error}"
        if not isinstance(error, XRayViewError):
            from desktop.error_reporting import report_unexpected

            report_unexpected(error, "sending results")
        self.status.setText(self.last_error)

    def _done(self) -> None:
        self._job = None
        self.send_button.setEnabled(bool(self._nodes))
        self.cancel_button.setEnabled(False)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._job is not None:
            self._job.cancel()
            self._job.wait(15_000)
        super().closeEvent(event)


# --- viewer integration -----------------------------------------------------------------------------------------

def open_pacs_dialog(host) -> PacsDialog:
    """Non-modal, one at a time; retrieved files open in the viewer. `host`: desktop.tool_host.ToolHost."""
    dialog = host.tool_dialog("pacs")
    if dialog is None:
        dialog = PacsDialog(host.settings.qsettings, parent=host)
        dialog.filesRetrieved.connect(host.open_paths)
        host.keep_tool_dialog("pacs", dialog)
    dialog.show()
    dialog.raise_()
    return dialog


def install_tools(host) -> None:
    """Called by the viewer after it is shown (desktop.tool_host): adds Tools > PACS query/retrieve…"""
    from PySide6.QtGui import QAction

    action = QAction("&PACS query/retrieve…", host)
    action.setObjectName("pacs_query")
    action.triggered.connect(lambda: open_pacs_dialog(host))
    host.add_tool_actions(action)
