"""Whom a model is for, and what to say when a film's patient is not among them: the patient's age from the DICOM
header (PatientAge, else PatientBirthDate with StudyDate, else with AcquisitionDate) against the age range of the
model card's `intended_population`. A film without an age says nothing.

Torch-free and Qt-free. The Predictor puts the notice into `Prediction.notices`, which the AI panel, the PDF
report, the DICOM SR, `xrayview-predict`'s JSON and CSV carry word for word. The notice names no age (a
de-identified export leaves the age out): it says older or younger than whom.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dicom_common.dates import age_in_years, parse_date
from inference.model_card import IntendedPopulation

# DICOM AS (PS3.5 6.2): nnnD, nnnW, nnnM or nnnY
_AGE_STRING = re.compile(r"^(\d{3})([DWMY])$")
_UNITS = {"D": ("day", 1 / 365.25), "W": ("week", 7 / 365.25), "M": ("month", 1 / 12), "Y": ("year", 1.0)}
_DATE_SOURCES = (("StudyDate", "the study date"), ("AcquisitionDate", "the acquisition date"))


@dataclass(frozen=True)
class PatientAge:
    """A patient's age as the header gives it: `count` `unit`s (e.g. 44 years), `years` as a fraction, and
    where it came from (`at`: "" for PatientAge, else "the study date" or "the acquisition date")."""

    count: int
    unit: str  # "day" | "week" | "month" | "year"
    years: float
    at: str = ""

    @property
    def completed_years(self) -> int:
        return math.floor(self.years + 1e-9)

    @property
    def text(self) -> str:
        """"44 years", "7 months", with "(at the study date)" when computed from the birth date."""
        words = f"{self.count} {self.unit}{'' if self.count == 1 else 's'}"
        return f"{words} (at {self.at})" if self.at else words


def patient_age(metadata: Mapping[str, Any]) -> PatientAge | None:
    """The age the header gives (None when it gives none, or nonsense)."""
    written = _AGE_STRING.match(str(metadata.get("PatientAge") or "").strip().upper())
    if written:
        count, unit = int(written.group(1)), written.group(2)
        name, years_per_unit = _UNITS[unit]
        return PatientAge(count, name, count * years_per_unit)
    born = parse_date(metadata.get("PatientBirthDate"))
    if born is None:
        return None
    for keyword, words in _DATE_SOURCES:
        seen = parse_date(metadata.get(keyword))
        if seen is None:
            continue
        if seen < born:
            return None
        years = age_in_years(metadata.get("PatientBirthDate"), metadata.get(keyword))
        if years >= 1:
            return PatientAge(years, "year", (seen - born).days / 365.25, words)
        months = (seen.year - born.year) * 12 + seen.month - born.month - (seen.day < born.day)
        return PatientAge(months, "month", (seen - born).days / 365.25, words)
    return None


def population_notice(metadata: Mapping[str, Any] | None, population: IntendedPopulation | None) -> str | None:
    """The notice for a patient whose age lies outside the model's intended age range (in completed years,
    both ends included), else None: also when the header gives no age or the card no range."""
    if population is None or (population.min_age_years is None and population.max_age_years is None):
        return None
    age = patient_age(metadata or {})
    if age is None:
        return None
    completed = age.completed_years
    if population.min_age_years is not None and completed < population.min_age_years:
        side = "younger"
    elif population.max_age_years is not None and completed > population.max_age_years:
        side = "older"
    else:
        return None
    return (f"Patient {side} than the model's intended population ({population.description}), by the age in the "
            "DICOM header: the model was not trained or measured on such patients, so its result may not apply.")
