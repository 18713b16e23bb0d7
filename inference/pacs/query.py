"""Search criteria and result rows shared by the DIMSE and DICOMweb clients."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dicom_common.dates import dicom_date

# progress(done, total, what) for retrieve/store in both clients
ProgressFn = Callable[[int, int, str], None]

STUDY_RETURN_KEYS = ("StudyInstanceUID", "PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyTime",
                     "StudyDescription", "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                     "NumberOfStudyRelatedInstances")
SERIES_RETURN_KEYS = ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
                      "NumberOfSeriesRelatedInstances", "BodyPartExamined")


@dataclass(frozen=True)
class StudyQuery:
    """Study search. Empty fields match everything. A patient name without wildcards matches as a prefix."""

    patient_id: str = ""
    patient_name: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    modality: str = ""
    accession_number: str = ""

    def matching_keys(self) -> dict[str, str]:
        """The DICOM attribute -> match value pairs (C-FIND identifier / QIDO-RS query parameters)."""
        keys: dict[str, str] = {}
        if self.patient_id.strip():
            keys["PatientID"] = self.patient_id.strip()
        name = self.patient_name.strip()
        if name:
            keys["PatientName"] = name if any(c in name for c in "*?") else f"{name}*"
        if self.date_from or self.date_to:
            start = dicom_date(self.date_from) if self.date_from else ""
            end = dicom_date(self.date_to) if self.date_to else ""
            keys["StudyDate"] = start if start == end else f"{start}-{end}"
        if self.modality.strip():
            keys["ModalitiesInStudy"] = self.modality.strip().upper()
        if self.accession_number.strip():
            keys["AccessionNumber"] = self.accession_number.strip()
        return keys


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class StudyResult:
    study_instance_uid: str
    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    accession_number: str = ""
    modalities: str = ""
    number_of_series: int | None = None
    number_of_instances: int | None = None

    @classmethod
    def from_attributes(cls, get) -> "StudyResult":
        """`get(keyword)` returns the attribute's value or None (works for pydicom and DICOM JSON)."""
        return cls(
            study_instance_uid=_text(get("StudyInstanceUID")),
            patient_name=_text(get("PatientName")),
            patient_id=_text(get("PatientID")),
            patient_birth_date=_text(get("PatientBirthDate")),
            study_date=_text(get("StudyDate")),
            study_time=_text(get("StudyTime")),
            study_description=_text(get("StudyDescription")),
            accession_number=_text(get("AccessionNumber")),
            modalities=_text(get("ModalitiesInStudy")),
            number_of_series=_int(get("NumberOfStudyRelatedSeries")),
            number_of_instances=_int(get("NumberOfStudyRelatedInstances")),
        )


@dataclass(frozen=True)
class SeriesResult:
    study_instance_uid: str
    series_instance_uid: str
    modality: str = ""
    series_number: int | None = None
    series_description: str = ""
    number_of_instances: int | None = None
    body_part: str = ""

    @classmethod
    def from_attributes(cls, get) -> "SeriesResult":
        return cls(
            study_instance_uid=_text(get("StudyInstanceUID")),
            series_instance_uid=_text(get("SeriesInstanceUID")),
            modality=_text(get("Modality")),
            series_number=_int(get("SeriesNumber")),
            series_description=_text(get("SeriesDescription")),
            number_of_instances=_int(get("NumberOfSeriesRelatedInstances")),
            body_part=_text(get("BodyPartExamined")),
        )


@dataclass
class StoreResult:
    """Outcome of sending instances: SOP Instance UIDs stored, and those that failed with the reason."""

    stored: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def safe_file_name(sop_instance_uid: str) -> str:
    return "".join(c for c in sop_instance_uid if c.isdigit() or c == ".") or "instance"


def instance_path(dest_dir: Path, sop_instance_uid: str) -> Path:
    return Path(dest_dir) / f"{safe_file_name(sop_instance_uid)}.dcm"
