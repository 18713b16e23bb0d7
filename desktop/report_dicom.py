"""File > Save PDF Report as DICOM… and File > Send PDF Report to PACS…: the report File > Export PDF Report
writes, wrapped as a DICOM Encapsulated PDF in the image's study (inference.encapsulated_pdf), de-identified when
File > De-identify Exports is on, like the other exports. Installed by the main window as an optional tool
module, next to Export PDF Report in the File menu."""
from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog


def report_dataset(window):
    """The active viewport's report as an Encapsulated PDF, or None with the reason shown."""
    from inference.dicom_results import source_header
    from inference.encapsulated_pdf import build_encapsulated_pdf
    from inference.errors import DicomResultError

    image = window.active_viewport.image
    if image is None:
        window.show_error("Open an image first.")
        return None
    with tempfile.TemporaryDirectory(prefix="xrayview-report-") as folder:
        written = window.export_pdf(Path(folder) / "report.pdf")  # the same report as File > Export PDF Report
        if written is None:
            return None
        pdf = written.read_bytes()
    try:
        ds = build_encapsulated_pdf(pdf, source_header(image), metadata=getattr(image, "metadata", None),
                                    path=getattr(image, "path", None))
    except DicomResultError as error:
        window.show_error(str(error))
        return None
    if window.settings.deidentify_exports:
        from inference.deid import Deidentifier

        ds = Deidentifier().deidentify_dataset(ds)
    return ds


def save_report_dicom(window, folder: str | Path) -> Path | None:
    """Saves the report's Encapsulated PDF into `folder` (PDF_<SOP Instance UID>.dcm, never over a file)."""
    from inference.dicom_results import save_results

    ds = report_dataset(window)
    if ds is None:
        return None
    try:
        (path,) = save_results([ds], folder)
    except OSError as error:
        window.show_error(f"{folder}: the report could not be saved as DICOM ({error.strerror or error})")
        return None
    window.statusBar().showMessage(f"Saved the PDF report as DICOM (Encapsulated PDF) to {path}", 8000)
    return path


def ask_save_report_dicom(window) -> Path | None:
    if window.active_viewport.image is None:
        window.show_error("Open an image first.")
        return None
    folder = QFileDialog.getExistingDirectory(window, "Save PDF report as DICOM", window.settings.last_directory)
    return save_report_dicom(window, folder) if folder else None


def send_report_to_pacs(window):
    """Opens the send dialog with the report's Encapsulated PDF (returns it; None when there is no report)."""
    from desktop.pacs_dialog import SendResultsDialog

    ds = report_dataset(window)
    if ds is None:
        return None
    dialog = SendResultsDialog([ds], window.settings.qsettings, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def install_tools(main_window) -> None:
    """Adds the two actions to the File menu, after Export PDF Report."""
    save = QAction("Save PDF Report as DI&COM…", main_window)
    save.setObjectName("save_report_dicom")
    save.setStatusTip("The PDF report as a DICOM Encapsulated PDF in the image's study")
    save.triggered.connect(lambda: ask_save_report_dicom(main_window))
    send = QAction("Send PDF Report to PAC&S…", main_window)
    send.setObjectName("send_report_pacs")
    send.triggered.connect(lambda: send_report_to_pacs(main_window))
    file_menu = main_window.menus["file"]
    actions = file_menu.actions()
    export_pdf = main_window.actions_by_name["export_pdf"]
    if export_pdf in actions[:-1]:
        file_menu.insertActions(actions[actions.index(export_pdf) + 1], [save, send])
    else:
        file_menu.addActions([save, send])
    main_window.actions_by_name.update(save_report_dicom=save, send_report_pacs=send)
