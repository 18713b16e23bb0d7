"""DICOM dates and times (DA "YYYYMMDD", TM "HHMMSS.FFFFFF") as people read them, and as DICOM writes them.
Standard library only, so the window can use it before anything heavy loads."""
from __future__ import annotations

import datetime as dt


def display_date(value: object, missing: str = "") -> str:
    """"20240115" -> "2024-01-15"; any other text is returned stripped (a malformed date is still shown as the
    file has it); empty or None -> `missing`."""
    text = "" if value is None else str(value).strip()
    if not text:
        return missing
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:8]}"
    return text


def display_time(value: object, missing: str = "") -> str:
    """"093012.5" -> "09:30" (hours and minutes); other text is returned stripped; empty -> `missing`."""
    text = "" if value is None else str(value).strip()
    if not text:
        return missing
    if len(text) >= 4 and text[:4].isdigit():
        return f"{text[:2]}:{text[2:4]}"
    return text


def parse_date(value: object) -> dt.date | None:
    """A DICOM DA value as a date, or None when it is empty or not a valid "YYYYMMDD"."""
    text = "" if value is None else str(value).strip()
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date() if len(text) == 8 else None
    except ValueError:
        return None


def dicom_date(value: dt.date) -> str:
    """A date (or datetime) as a DICOM DA value, "YYYYMMDD"."""
    return value.strftime("%Y%m%d")


def dicom_time(value: dt.datetime | dt.time) -> str:
    """A time (or datetime) as a DICOM TM value, "HHMMSS"."""
    return value.strftime("%H%M%S")


def age_in_years(birth: object, on: object) -> int | None:
    """Whole years from the DICOM date `birth` to the DICOM date `on`; None when either is not a valid date or
    `on` comes first."""
    born, seen = parse_date(birth), parse_date(on)
    if born is None or seen is None:
        return None
    years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    return years if years >= 0 else None
