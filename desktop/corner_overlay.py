"""The corner information over the image: a table of fields (study date, age/sex, accession, institution,
laterality/view, ...) and a layout per modality saying which fields each corner shows, in order. No Qt; the
layouts are kept in the settings (desktop.settings.AppSettings.corner_layout) and edited in View > Corner
Information Layout."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from desktop.image_adapter import first_metadata as _first
from dicom_common.dates import age_in_years, display_date, display_time

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
CORNER_TITLES = {"top_left": "Top left", "top_right": "Top right", "bottom_left": "Bottom left",
                 "bottom_right": "Bottom right"}
MODALITIES = ("*", "DX", "CR", "MG", "RF", "XA", "OT")  # "*" = every modality without its own layout


def _age(image) -> str:
    """Patient Age ("034Y" -> "34 y"), else worked out from the birth and study dates."""
    age = _first(image, "PatientAge")
    if len(age) == 4 and age[:3].isdigit() and age[3] in "DWMY":
        return f"{int(age[:3])} {age[3].lower()}"
    years = age_in_years(_first(image, "PatientBirthDate"), _first(image, "StudyDate"))
    return f"{years} y" if years is not None else ""


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _size(image) -> str:
    shape = getattr(getattr(image, "modality", None), "shape", None)
    return f"{shape[1]} x {shape[0]} px" if shape is not None and len(shape) >= 2 else ""


def _spacing(image) -> str:
    from desktop.image_adapter import spacing_mm

    spacing = spacing_mm(image)
    return f"{spacing[1]:.3g} mm/px" if spacing is not None else ""


FIELDS: dict[str, tuple[str, Callable]] = {
    "patient_name": ("Patient name", lambda im: _first(im, "PatientName", "patient_name").replace("^", " ").strip()),
    "patient_id_sex_birth": ("Patient ID, sex, birth date", lambda im: _join(
        _first(im, "PatientID", "patient_id"), _first(im, "PatientSex", "patient_sex"),
        display_date(_first(im, "PatientBirthDate", "patient_birth_date")))),
    "age_sex": ("Age / sex", lambda im: " / ".join(p for p in (_age(im), _first(im, "PatientSex")) if p)
                if _age(im) else ""),
    "institution": ("Institution", lambda im: _first(im, "InstitutionName")),
    "study_description": ("Study description", lambda im: _first(im, "StudyDescription", "study_description")),
    "study_date_time": ("Study date and time", lambda im: _join(display_date(_first(im, "StudyDate", "study_date")),
                                                               display_time(_first(im, "StudyTime", "study_time")))),
    "accession": ("Accession number", lambda im: _first(im, "AccessionNumber")),
    "referring_physician": ("Referring physician", lambda im: _first(im, "ReferringPhysicianName").replace("^", " ")),
    "modality_body_view": ("Modality, body part, view", lambda im: _join(
        _first(im, "Modality", "modality"), _first(im, "BodyPartExamined", "body_part"),
        _first(im, "ViewPosition", "view_position"))),
    "laterality_view": ("Laterality / view", lambda im: " / ".join(
        p for p in (_first(im, "ImageLaterality", "Laterality"), _first(im, "ViewPosition")) if p)),
    "series_description": ("Series description", lambda im: _first(im, "SeriesDescription", "series_description")),
    "image_size": ("Image size", _size),
    "pixel_spacing": ("Pixel spacing", _spacing),
    "file_name": ("File name", lambda im: Path(im.path).name if getattr(im, "path", None) else "image"),
}

DEFAULT_LAYOUT: dict[str, list[str]] = {
    "top_left": ["patient_name", "patient_id_sex_birth", "age_sex"],
    "top_right": ["institution", "study_description", "study_date_time", "accession"],
    "bottom_left": [],  # the view puts window, zoom and flips here, above these
    "bottom_right": ["modality_body_view", "series_description", "image_size", "pixel_spacing", "file_name"],
}


def corner_lines(image, layout: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """{corner: lines} for `image`; empty values are left out."""
    layout = layout or DEFAULT_LAYOUT
    lines: dict[str, list[str]] = {}
    for corner in CORNERS:
        values = [FIELDS[field][1](image) for field in layout.get(corner, []) if field in FIELDS]
        lines[corner] = [value for value in values if value]
    return lines


def layout_for(settings, image) -> dict[str, list[str]]:
    """The layout for the image's modality: its own, else the one for every modality, else the default."""
    modality = _first(image, "Modality", "modality").upper()
    return (settings.corner_layout(modality) if modality else None) or settings.corner_layout("*") or DEFAULT_LAYOUT
