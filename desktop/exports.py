"""What leaves the viewer for the active viewport: the view as PNG, the PDF report (as a file, or as a DICOM
Encapsulated PDF saved or sent to PACS), the AI result as DICOM (SC + SR, saved or sent to PACS) and the
presentation state (GSPS: annotations, measurements and window; saved next to the image or sent to PACS, the way
the AI results go): asks where, does it and says what happened in the status bar. The AI result, its call and the
operating point come from the window's AI session (desktop.ai_session), never from a widget."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog


class Exports:
    def __init__(self, grid, session, settings, messages, dialog_parent):
        """`grid`: the viewports (exports act on the active one); `session`: the AI session; `messages`:
        desktop.status_messages.StatusMessages; `dialog_parent`: the widget the file dialogs belong to."""
        self._grid, self._session, self._settings = grid, session, settings
        self._messages, self._parent = messages, dialog_parent

    @property
    def _viewport(self):
        return self._grid.active

    def _status(self, text: str) -> None:
        self._messages.info(text)

    def _error(self, text: str) -> None:
        self._messages.error(text)

    def _start_dir(self) -> Path:
        return Path(self._settings.last_directory or Path.home())

    # -- view and report ------------------------------------------------------------------------------------
    def export_stem(self) -> str:
        """The suggested export file name: the image's, with patient identifiers removed when de-identifying."""
        from desktop.image_adapter import display_name

        image = self._viewport.image
        stem = Path(display_name(image)).stem
        if self._settings.deidentify_exports:
            from inference.deid import Deidentifier

            stem = Deidentifier().scrub_text(stem, getattr(image, "metadata", None) or {})
        return stem

    def ask_export_png(self) -> None:
        if self._viewport.image is None:
            self._error("Open an image first.")
            return
        target, _ = QFileDialog.getSaveFileName(self._parent, "Export view as PNG",
                                                str(self._start_dir() / f"{self.export_stem()}-view.png"),
                                                "PNG image (*.png)")
        if target:
            self.export_png(Path(target))

    def export_png(self, target: Path) -> Path | None:
        from desktop.report_export import export_view_png

        view = self._viewport.view
        deidentify = self._settings.deidentify_exports
        corner_text = self._settings.corner_text_visible
        if deidentify and corner_text:  # the corner text prints the patient's name and ID
            view.set_corner_text_visible(False)
        try:
            view_image = view.grab_image()
        finally:
            if deidentify and corner_text:
                view.set_corner_text_visible(True)
        try:
            export_view_png(view_image, target)
        except OSError as error:
            self._error(str(error))
            return None
        self._status(f"Saved {target}")
        return target

    def ask_export_pdf(self) -> None:
        if self._viewport.image is None:
            self._error("Open an image first.")
            return
        target, _ = QFileDialog.getSaveFileName(self._parent, "Export PDF report",
                                                str(self._start_dir() / f"{self.export_stem()}-report.pdf"),
                                                "PDF (*.pdf)")
        if target:
            self.export_pdf(Path(target))

    def export_pdf(self, target: Path) -> Path | None:
        if not self._write_pdf(target):
            return None
        self._status(f"Saved {target}")
        return target

    def _write_pdf(self, target: Path) -> bool:
        """Writes the active viewport's report to `target`; False with the reason shown."""
        from desktop.report_builder import build_report_content
        from desktop.report_export import write_pdf_report

        viewport, settings = self._viewport, self._settings
        if viewport.image is None:
            self._error("Open an image first.")
            return False
        ai = self._session.state(viewport)
        content = build_report_content(viewport.image, viewport.view, ai.prediction, self._session.card,
                                       self._session.operating_point.threshold, ai.call, settings.overlay_colormap,
                                       settings.overlay_opacity, deidentify=settings.deidentify_exports)
        try:
            write_pdf_report(content, target)
        except OSError as error:
            self._error(str(error))
            return False
        return True

    # -- the PDF report as DICOM (Encapsulated PDF) ----------------------------------------------------------
    def report_dataset(self):
        """The report Export PDF Report writes, as an Encapsulated PDF in the image's study (de-identified with
        the other exports), or None with the reason shown."""
        import tempfile

        from desktop.report_dicom import build_report_dataset
        from inference.errors import DicomResultError

        image = self._viewport.image
        if image is None:
            self._error("Open an image first.")
            return None
        with tempfile.TemporaryDirectory(prefix="xrayview-report-") as folder:
            target = Path(folder) / "report.pdf"
            if not self._write_pdf(target):
                return None
            pdf = target.read_bytes()
        try:
            return build_report_dataset(pdf, image, self._settings.deidentify_exports)
        except DicomResultError as error:
            self._error(str(error))
            return None

    def ask_save_report_dicom(self) -> Path | None:
        if self._viewport.image is None:
            self._error("Open an image first.")
            return None
        folder = QFileDialog.getExistingDirectory(self._parent, "Save PDF report as DICOM",
                                                  self._settings.last_directory)
        return self.save_report_dicom(folder) if folder else None

    def save_report_dicom(self, folder: str | Path) -> Path | None:
        """Saves the report's Encapsulated PDF into `folder` (PDF_<SOP Instance UID>.dcm, never over a file)."""
        from inference.dicom_results import save_results

        ds = self.report_dataset()
        if ds is None:
            return None
        try:
            (path,) = save_results([ds], folder)
        except OSError as error:
            self._error(f"{folder}: the report could not be saved as DICOM ({error.strerror or error})")
            return None
        self._status(f"Saved the PDF report as DICOM (Encapsulated PDF) to {path}")
        return path

    def send_report_to_pacs(self):
        """Opens the send dialog with the report's Encapsulated PDF (returns it; None when there is no report)."""
        ds = self.report_dataset()
        return self._send_dialog([ds]) if ds is not None else None

    # -- AI result as DICOM -------------------------------------------------------------------------------------
    def _ai_result(self):
        """The active viewport's prediction and what the DICOM result objects take from the screen: the call
        shown, the threshold it was made at and the heatmap's look. None (said why) without a result."""
        viewport = self._viewport
        ai = self._session.state(viewport)
        if viewport.image is None or ai.prediction is None:
            self._error("Run the AI on this image first.")
            return None
        return ai.prediction, {"call": ai.call, "threshold": self._session.operating_point.threshold,
                               "colormap": self._settings.overlay_colormap, "opacity": self._settings.overlay_opacity}

    def ask_save_ai_dicom(self) -> None:
        if self._session.state(self._viewport).prediction is None:
            self._error("Run the AI on this image first.")
            return
        folder = QFileDialog.getExistingDirectory(self._parent, "Save AI result as DICOM",
                                                  self._settings.last_directory)
        if folder:
            self.save_ai_dicom(folder)

    def save_ai_dicom(self, folder: str | Path) -> list[Path]:
        """Secondary Capture + Structured Report for the result on screen, saved into `folder`."""
        from desktop.ai_results import save_result_datasets
        from inference.errors import XRayViewError

        result = self._ai_result()
        if result is None:
            return []
        prediction, look = result
        try:
            written = save_result_datasets(self._viewport.image, prediction, folder,
                                           self._settings.deidentify_exports, **look)
        except (OSError, XRayViewError) as error:
            self._error(str(error))
            return []
        self._status(f"Saved {len(written)} DICOM object(s) to {folder}")
        return written

    def send_ai_result_to_pacs(self):
        """Builds the result objects and opens the send dialog (returns it, None without a result)."""
        from desktop.ai_results import build_result_datasets
        from inference.errors import XRayViewError

        result = self._ai_result()
        if result is None:
            return None
        prediction, look = result
        try:
            datasets = build_result_datasets(self._viewport.image, prediction, self._settings.deidentify_exports,
                                             **look)
        except XRayViewError as error:
            self._error(str(error))
            return None
        return self._send_dialog(datasets)

    def _send_dialog(self, datasets):
        from desktop.pacs_dialog import SendResultsDialog

        dialog = SendResultsDialog(datasets, self._settings.qsettings, self._parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    # -- presentation state (GSPS) ---------------------------------------------------------------------------
    def presentation_state(self):
        """The GSPS of the active viewport (annotations, measurement text, window, polarity, rotation/flip), or
        None with the reason shown."""
        from desktop import libraries

        libraries.presentation_states()
        from annotations.gsps import PresentationStateError, build_presentation_state

        viewport = self._viewport
        image = viewport.image
        if image is None:
            self._error("Open an image first.")
            return None
        if getattr(image, "dataset", None) is None:
            self._error(f"{Path(image.path).name}: a presentation state needs a DICOM image "
                                   "(this file has no DICOM header to refer to)")
            return None
        view = viewport.view
        annotations = view.annotations.items()
        labels = {a.uid: view.measurement(a).lines for a in annotations}
        try:
            from importlib.metadata import PackageNotFoundError, version

            try:
                software = version("xrayview")
            except PackageNotFoundError:
                software = ""
            return build_presentation_state(image.dataset, annotations, viewport.view_state(), labels=labels,
                                            software_version=software)
        except PresentationStateError as error:
            self._error(f"{Path(image.path).name}: {error}")
            return None

    def ask_save_presentation_state(self) -> Path | None:
        state = self.presentation_state()
        if state is None:
            return None
        image_path = Path(self._viewport.image.path)
        folder = image_path.parent
        if not _writable(folder):
            chosen = QFileDialog.getExistingDirectory(self._parent, "Save presentation state", str(self._start_dir()))
            if not chosen:
                return None
            folder = Path(chosen)
        return self.save_presentation_state(folder, state)

    def save_presentation_state(self, folder: str | Path | None = None, state=None) -> Path | None:
        """Saves the GSPS next to the image (or into `folder`) as <image>.prN.dcm, never over an existing file."""
        from annotations.gsps import save_presentation_state

        state = state if state is not None else self.presentation_state()
        if state is None:
            return None
        image_path = Path(self._viewport.image.path)
        folder = Path(folder) if folder is not None else image_path.parent
        try:
            written = save_presentation_state(state, folder, image_path.stem)
        except OSError as error:
            self._error(f"{folder}: the presentation state could not be saved ({error.strerror or error})")
            return None
        count = len(self._viewport.view.annotations)
        self._status(f"Saved presentation state ({count} annotation(s), window) to {written}")
        return written

    def send_presentation_state(self):
        state = self.presentation_state()
        return self._send_dialog([state]) if state is not None else None


def _writable(folder: Path) -> bool:
    import os

    return folder.is_dir() and os.access(folder, os.W_OK)
