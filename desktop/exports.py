"""What leaves the viewer for the active viewport: the view as PNG, the PDF report, the AI result as DICOM
(SC + SR, saved or sent to PACS) and the presentation state (GSPS: annotations, measurements and window; saved
next to the image or sent to PACS, the way the AI results go). The main window asks where; this does it and says
what happened in the status bar."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from desktop import prediction_adapter as pa


class Exports:
    def __init__(self, window):
        self.window = window

    @property
    def _viewport(self):
        return self.window.active_viewport

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    def _start_dir(self) -> Path:
        return Path(self.window.settings.last_directory or Path.home())

    # -- view and report ------------------------------------------------------------------------------------
    def export_stem(self) -> str:
        """The suggested export file name: the image's, with patient identifiers removed when de-identifying."""
        from desktop.image_adapter import display_name

        image = self._viewport.image
        stem = Path(display_name(image)).stem
        if self.window.settings.deidentify_exports:
            from inference.deid import Deidentifier

            stem = Deidentifier().scrub_text(stem, getattr(image, "metadata", None) or {})
        return stem

    def ask_export_png(self) -> None:
        if self._viewport.image is None:
            self.window.show_error("Open an image first.")
            return
        target, _ = QFileDialog.getSaveFileName(self.window, "Export view as PNG",
                                                str(self._start_dir() / f"{self.export_stem()}-view.png"),
                                                "PNG image (*.png)")
        if target:
            self.export_png(Path(target))

    def export_png(self, target: Path) -> Path | None:
        from desktop.report_export import export_view_png

        view = self._viewport.view
        deidentify = self.window.settings.deidentify_exports
        corner_text = self.window.settings.corner_text_visible
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
            self.window.show_error(str(error))
            return None
        self._status(f"Saved {target}")
        return target

    def ask_export_pdf(self) -> None:
        if self._viewport.image is None:
            self.window.show_error("Open an image first.")
            return
        target, _ = QFileDialog.getSaveFileName(self.window, "Export PDF report",
                                                str(self._start_dir() / f"{self.export_stem()}-report.pdf"),
                                                "PDF (*.pdf)")
        if target:
            self.export_pdf(Path(target))

    def export_pdf(self, target: Path) -> Path | None:
        from desktop.report_builder import build_report_content
        from desktop.report_export import write_pdf_report

        viewport, window = self._viewport, self.window
        if viewport.image is None:
            window.show_error("Open an image first.")
            return None
        settings = window.settings
        content = build_report_content(viewport.image, viewport.view, viewport.prediction,
                                       pa.card_of(window.analysis.predictor), window.ai_panel.threshold,
                                       window.ai_panel.current_call(), settings.overlay_colormap,
                                       settings.overlay_opacity, deidentify=settings.deidentify_exports)
        try:
            write_pdf_report(content, target)
        except OSError as error:
            window.show_error(str(error))
            return None
        self._status(f"Saved {target}")
        return target

    # -- AI result as DICOM -------------------------------------------------------------------------------------
    def ai_result_look(self) -> dict:
        """What the DICOM result objects take from the screen: the call shown and the heatmap's look."""
        window = self.window
        return {"call": window.ai_panel.current_call(), "threshold": window.ai_panel.threshold,
                "colormap": window.settings.overlay_colormap, "opacity": window.settings.overlay_opacity}

    def ask_save_ai_dicom(self) -> None:
        if self._viewport.prediction is None:
            self.window.show_error("Run the AI on this image first.")
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Save AI result as DICOM",
                                                  self.window.settings.last_directory)
        if folder:
            self.save_ai_dicom(folder)

    def save_ai_dicom(self, folder: str | Path) -> list[Path]:
        """Secondary Capture + Structured Report for the result on screen, saved into `folder`."""
        from desktop.ai_results import save_result_datasets
        from inference.errors import XRayViewError

        viewport = self._viewport
        if viewport.image is None or viewport.prediction is None:
            self.window.show_error("Run the AI on this image first.")
            return []
        try:
            written = save_result_datasets(viewport.image, viewport.prediction, folder,
                                           self.window.settings.deidentify_exports, **self.ai_result_look())
        except (OSError, XRayViewError) as error:
            self.window.show_error(str(error))
            return []
        self._status(f"Saved {len(written)} DICOM object(s) to {folder}")
        return written

    def send_ai_result_to_pacs(self):
        """Builds the result objects and opens the send dialog (returns it, None without a result)."""
        from desktop.ai_results import build_result_datasets
        from inference.errors import XRayViewError

        viewport = self._viewport
        if viewport.image is None or viewport.prediction is None:
            self.window.show_error("Run the AI on this image first.")
            return None
        try:
            datasets = build_result_datasets(viewport.image, viewport.prediction,
                                             self.window.settings.deidentify_exports, **self.ai_result_look())
        except XRayViewError as error:
            self.window.show_error(str(error))
            return None
        return self._send_dialog(datasets)

    def _send_dialog(self, datasets):
        from desktop.pacs_dialog import SendResultsDialog

        dialog = SendResultsDialog(datasets, self.window.settings.qsettings, self.window)
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
            self.window.show_error("Open an image first.")
            return None
        if getattr(image, "dataset", None) is None:
            self.window.show_error(f"{Path(image.path).name}: a presentation state needs a DICOM image "
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
            self.window.show_error(f"{Path(image.path).name}: {error}")
            return None

    def ask_save_presentation_state(self) -> Path | None:
        state = self.presentation_state()
        if state is None:
            return None
        image_path = Path(self._viewport.image.path)
        folder = image_path.parent
        if not _writable(folder):
            chosen = QFileDialog.getExistingDirectory(self.window, "Save presentation state", str(self._start_dir()))
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
            self.window.show_error(f"{folder}: the presentation state could not be saved ({error.strerror or error})")
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
