"""The PDF report as a DICOM Encapsulated PDF (PS3.3 A.45.1), so a clinic can store it in PACS beside the image:
the source image's patient and study (dicom_common.derived: Type 2 attributes present), a series of its own,
and a reference to the image it reports on. A non-DICOM source starts a study of its own, as the SC does."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

from dicom_common.dates import dicom_date, dicom_time
from dicom_common.derived import TYPE2_PATIENT_STUDY, copy_deidentification, reference_header
from inference.errors import DicomResultError

ENCAPSULATED_PDF_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.104.1"
PDF_SERIES_NUMBER = 9904
MANUFACTURER = "XRayView"
DOCUMENT_TITLE = "XRayView AI report - not for diagnostic use"
_STUDY_KEYWORDS = ("StudyInstanceUID", *TYPE2_PATIENT_STUDY, "StudyDescription", "PatientAge", "IssuerOfPatientID")


def build_encapsulated_pdf(pdf: bytes, source: Dataset | None, *, metadata: dict | None = None,
                           series_instance_uid: str | None = None, instance_number: int = 1,
                           path: str | Path | None = None) -> Dataset:
    """An Encapsulated PDF of `pdf` (the report's bytes) for the image whose header is `source` (None: a
    non-DICOM image, then `metadata` gives the patient's name and ID when it knows them). `path` names the image
    in errors."""
    if not pdf.startswith(b"%PDF-"):
        raise DicomResultError(path, "the report is not a PDF document (it does not start with %PDF-)")
    ds = Dataset()
    if source is not None:
        header = reference_header(source)
        for keyword in _STUDY_KEYWORDS:
            if keyword in header:
                ds[keyword] = header[keyword]
        copy_deidentification(ds, header)
        if "SpecificCharacterSet" in header:
            ds.SpecificCharacterSet = header.SpecificCharacterSet
        reference = Dataset()
        reference.ReferencedSOPClassUID = source.SOPClassUID
        reference.ReferencedSOPInstanceUID = source.SOPInstanceUID
        ds.SourceInstanceSequence = DicomSequence([reference])  # Type 1C: the report is about this image
    else:
        meta = metadata or {}
        ds.StudyInstanceUID = generate_uid()
        for keyword in TYPE2_PATIENT_STUDY:
            setattr(ds, keyword, str(meta.get(keyword, "") or ""))
    ds.SpecificCharacterSet = ds.get("SpecificCharacterSet", "ISO_IR 192")
    now = dt.datetime.now()
    # Encapsulated Document Series, General Equipment, SC Equipment
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = series_instance_uid or generate_uid()
    ds.SeriesNumber = PDF_SERIES_NUMBER
    ds.SeriesDescription = "AI report (not for diagnostic use)"
    ds.Manufacturer = MANUFACTURER
    ds.ConversionType = "WSD"  # made on a workstation
    # Encapsulated Document
    ds.InstanceNumber = instance_number
    ds.ContentDate, ds.ContentTime = dicom_date(now), dicom_time(now)
    ds.AcquisitionDateTime = dicom_date(now) + dicom_time(now)
    ds.BurnedInAnnotation = "YES"  # the pages print the patient block
    ds.DocumentTitle = DOCUMENT_TITLE
    ds.ConceptNameCodeSequence = DicomSequence()  # Type 2: no standard title code fits an AI research report
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")  # OB: even length, one trailing NUL
    ds.EncapsulatedDocumentLength = len(pdf)
    # SOP Common
    ds.SOPClassUID = ENCAPSULATED_PDF_SOP_CLASS
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    return ds


def pdf_of(ds: Dataset) -> bytes:
    """The PDF inside an Encapsulated PDF, without the padding."""
    data = bytes(ds.EncapsulatedDocument)
    length = int(ds.get("EncapsulatedDocumentLength", len(data)) or len(data))
    return data[:length]
