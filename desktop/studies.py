"""The study index behind the study browser (no Qt): DICOM files grouped patient -> study -> series -> images
from their headers (pixels are not read), presentation states kept beside the images they refer to, other image
files (PNG, JPEG, ...) listed apart, and the questions the viewer asks of it: the next image, the patient's
prior study, the file of a SOP Instance UID. Reading runs on a worker (`index_files(paths, progress=, cancel=)`).
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

HEADER_TAGS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
               "StudyTime", "StudyDescription", "AccessionNumber", "SeriesInstanceUID", "SeriesNumber",
               "SeriesDescription", "Modality", "SOPClassUID", "SOPInstanceUID", "InstanceNumber", "ContentLabel",
               "ReferencedSeriesSequence", "ViewPosition", "BodyPartExamined")
GSPS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"


@dataclass
class Instance:
    path: Path
    sop_instance_uid: str
    instance_number: int | None = None
    modality: str = ""
    is_presentation_state: bool = False
    label: str = ""  # presentation state: its content label
    references: tuple[str, ...] = ()  # presentation state: the images it is for


@dataclass
class Series:
    uid: str
    number: int | None
    description: str
    modality: str
    instances: list[Instance] = field(default_factory=list)

    @property
    def images(self) -> list[Instance]:
        return [i for i in self.instances if not i.is_presentation_state]


@dataclass
class Study:
    uid: str
    date: str
    time: str
    description: str
    accession: str
    series: list[Series] = field(default_factory=list)

    @property
    def images(self) -> list[Instance]:
        return [image for series in self.series for image in series.images]


@dataclass
class Patient:
    id: str
    name: str
    birth_date: str = ""
    sex: str = ""
    studies: list[Study] = field(default_factory=list)


@dataclass
class StudyIndex:
    patients: list[Patient] = field(default_factory=list)
    other_images: list[Path] = field(default_factory=list)  # not DICOM: listed as plain files
    unreadable: dict[Path, str] = field(default_factory=dict)

    @property
    def has_dicom(self) -> bool:
        return bool(self.patients)

    def studies(self) -> list[tuple[Patient, Study]]:
        return [(patient, study) for patient in self.patients for study in patient.studies]

    def image_paths(self) -> list[Path]:
        """Every image in browsing order: patients, their studies (newest first), series, instances; then the
        other files."""
        return [image.path for _, study in self.studies() for image in study.images] + list(self.other_images)

    def instance(self, sop_instance_uid: str) -> Instance | None:
        for _, study in self.studies():
            for series in study.series:
                for instance in series.instances:
                    if instance.sop_instance_uid == sop_instance_uid:
                        return instance
        return None

    def study_of(self, sop_instance_uid: str) -> tuple[Patient, Study] | None:
        for patient, study in self.studies():
            if any(i.sop_instance_uid == sop_instance_uid for s in study.series for i in s.instances):
                return patient, study
        return None

    def prior_study(self, patient_id: str, study_uid: str, study_date: str) -> Study | None:
        """The patient's most recent study dated before `study_date` (a study without a date never counts)."""
        candidates = [study for patient, study in self.studies() if patient.id == patient_id
                      and study.uid != study_uid and study.date and study_date and study.date < study_date
                      and study.images]
        return max(candidates, key=lambda s: (s.date, s.time), default=None)

    def presentation_states_for(self, sop_instance_uid: str) -> list[Instance]:
        return [i for _, study in self.studies() for s in study.series for i in s.instances
                if i.is_presentation_state and sop_instance_uid in i.references]


def _text(ds, keyword: str) -> str:
    value = ds.get(keyword, "")
    return str(value).strip() if value is not None else ""


def _int(ds, keyword: str) -> int | None:
    try:
        return int(ds.get(keyword))
    except (TypeError, ValueError):
        return None


def read_header(path: Path):
    """The header of a DICOM file (no pixel data), or None for a file that is not DICOM."""
    from desktop import libraries

    libraries.image_stack()
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    try:
        return dcmread(path, stop_before_pixels=True, specific_tags=list(HEADER_TAGS))
    except InvalidDicomError:
        return None


def index_files(paths: Iterable[str | Path], *, progress=None, cancel: threading.Event | None = None) -> StudyIndex:
    """Reads each file's header and groups them; `progress(done, total, None)` after each file."""
    paths = [Path(p) for p in paths]
    index = StudyIndex()
    patients: dict[str, Patient] = {}
    studies: dict[str, Study] = {}
    series_map: dict[str, Series] = {}
    for number, path in enumerate(paths, start=1):
        if cancel is not None and cancel.is_set():
            break
        try:
            ds = read_header(path)
        except Exception as error:  # noqa: BLE001 - one damaged header must not stop the others
            index.unreadable[path] = f"{path.name}: header could not be read ({type(error).__name__}: {error})"
            ds = None
        if ds is None or "SOPInstanceUID" not in ds:
            if path not in index.unreadable:
                index.other_images.append(path)
        else:
            _add(ds, path, patients, studies, series_map, index)
        if progress is not None:
            progress(number, len(paths), None)
    _file_presentation_states_with_their_images(index)
    for patient in index.patients:
        patient.studies.sort(key=lambda s: (s.date, s.time), reverse=True)  # newest first, as PACS lists them
        for study in patient.studies:
            study.series.sort(key=lambda s: (s.number is None, s.number or 0, s.description))
            for series in study.series:
                series.instances.sort(key=lambda i: (i.is_presentation_state, i.instance_number is None,
                                                     i.instance_number or 0, i.path.name))
    return index


def _file_presentation_states_with_their_images(index: StudyIndex) -> None:
    """A presentation state is stored in a series of its own (PS3.3 A.33): it is listed under the series of the
    image it is for, and its own series, left without instances, is dropped. One whose image is not in the index
    stays where it is."""
    series_of_image = {instance.sop_instance_uid: series for _, study in index.studies() for series in study.series
                       for instance in series.images}
    for _, study in index.studies():
        for series in list(study.series):
            if series.images:
                continue
            for state in [i for i in series.instances if i.is_presentation_state]:
                target = next((series_of_image[uid] for uid in state.references if uid in series_of_image), None)
                if target is not None:
                    series.instances.remove(state)
                    target.instances.append(state)
            if not series.instances:
                study.series.remove(series)


def _add(ds, path: Path, patients, studies, series_map, index: StudyIndex) -> None:
    patient_key = _text(ds, "PatientID") or _text(ds, "PatientName") or "(no patient ID)"
    patient = patients.get(patient_key)
    if patient is None:
        patient = Patient(patient_key, _text(ds, "PatientName").replace("^", " ").strip(),
                          _text(ds, "PatientBirthDate"), _text(ds, "PatientSex"))
        patients[patient_key] = patient
        index.patients.append(patient)
    study_uid = _text(ds, "StudyInstanceUID") or f"(no study UID) {patient_key}"
    study = studies.get(study_uid)
    if study is None:
        study = Study(study_uid, _text(ds, "StudyDate"), _text(ds, "StudyTime"), _text(ds, "StudyDescription"),
                      _text(ds, "AccessionNumber"))
        studies[study_uid] = study
        patient.studies.append(study)
    series_uid = _text(ds, "SeriesInstanceUID") or f"(no series UID) {study_uid}"
    series = series_map.get(series_uid)
    if series is None:
        series = Series(series_uid, _int(ds, "SeriesNumber"), _text(ds, "SeriesDescription"), _text(ds, "Modality"))
        series_map[series_uid] = series
        study.series.append(series)
    is_pr = _text(ds, "SOPClassUID") == GSPS_SOP_CLASS
    references = tuple(str(ref.ReferencedSOPInstanceUID) for item in ds.get("ReferencedSeriesSequence", [])
                       for ref in item.get("ReferencedImageSequence", []) if "ReferencedSOPInstanceUID" in ref)
    series.instances.append(Instance(path, _text(ds, "SOPInstanceUID"), _int(ds, "InstanceNumber"),
                                     _text(ds, "Modality"), is_pr, _text(ds, "ContentLabel"), references))


def dicomdir_files(path: str | Path) -> list[Path]:
    """The files a DICOMDIR lists (images and presentation states), in its order."""
    from desktop import libraries

    libraries.image_stack()
    from pydicom import dcmread
    from pydicom.fileset import FileSet

    path = Path(path)
    try:
        file_set = FileSet(dcmread(path))
    except Exception as error:  # noqa: BLE001 - pydicom raises many kinds for a damaged DICOMDIR
        raise ValueError(f"{type(error).__name__}: {error}") from None
    files = []
    for instance in file_set:
        candidate = Path(instance.path)
        if candidate.is_file():
            files.append(candidate)
    return files


def read_presentation_state_file(path: str | Path):
    """A PresentationState when `path` is a GSPS file, the reason as a str when it is one that cannot be read,
    None when it is not a presentation state (an image, a PNG, ...)."""
    from desktop import libraries

    libraries.presentation_states()
    from annotations.gsps import PresentationStateError, is_presentation_state, read_presentation_state

    path = Path(path)
    if not path.is_file():
        return None
    try:
        header = read_header(path)
    except Exception:  # noqa: BLE001 - not readable as a header: the image loader says why
        return None
    if header is None or not is_presentation_state(header):
        return None
    from pydicom import dcmread

    try:
        return read_presentation_state(dcmread(path))
    except (PresentationStateError, ValueError, KeyError, AttributeError) as error:
        return f"{path.name}: presentation state could not be read ({error})"


def find_instance_file(sop_instance_uids: Iterable[str], known: StudyIndex | None, folder: Path) -> Path | None:
    """The file of the first of `sop_instance_uids` found in `known` (the study browser's index), else among
    the DICOM files in `folder` (not recursive)."""
    uids = list(sop_instance_uids)
    if known is not None:
        for uid in uids:
            instance = known.instance(uid)
            if instance is not None and not instance.is_presentation_state:
                return instance.path
    for candidate in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not candidate.is_file():
            continue
        try:
            header = read_header(candidate)
        except Exception:  # noqa: BLE001
            continue
        if header is not None and _text(header, "SOPInstanceUID") in uids \
                and _text(header, "SOPClassUID") != GSPS_SOP_CLASS:
            return candidate
    return None
