"""The PDF report as a DICOM Encapsulated PDF in the image's study (inference.encapsulated_pdf), optionally
de-identified. Qt-free; desktop.exports writes the report, asks where to save it or opens the send dialog
(File > Save PDF Report as DICOM…, File > Send PDF Report to PACS…)."""
from __future__ import annotations


def build_report_dataset(pdf: bytes, image, deidentify: bool = False):
    """`pdf`: the report File > Export PDF Report writes for `image`. Raises inference.errors.DicomResultError
    when it cannot be wrapped (e.g. the image's header lacks what the study needs)."""
    from inference.dicom_results import source_header
    from inference.encapsulated_pdf import build_encapsulated_pdf

    ds = build_encapsulated_pdf(pdf, source_header(image), metadata=getattr(image, "metadata", None),
                                path=getattr(image, "path", None))
    if deidentify:
        from inference.deid import Deidentifier

        ds = Deidentifier().deidentify_dataset(ds)
    return ds
