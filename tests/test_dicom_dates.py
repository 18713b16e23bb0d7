"""One DICOM date/time formatter (dicom_common.dates) for every package; no copies of it elsewhere."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from dicom_common.dates import age_in_years, dicom_date, dicom_time, display_date, display_time, parse_date
from tests.conftest import PROJECT_ROOT


@pytest.mark.parametrize(("value", "missing", "shown"), [
    ("20240115", "", "2024-01-15"), (" 20240115 ", "", "2024-01-15"), ("2024", "", "2024"),
    ("", "no date", "no date"), (None, "", ""), ("2024-01-15", "", "2024-01-15"),
])
def test_display_date(value, missing, shown):
    assert display_date(value, missing) == shown


def test_display_time_parse_and_write():
    assert display_time("093012.5") == "09:30" and display_time("9") == "9" and display_time("") == ""
    assert parse_date("20240229") == dt.date(2024, 2, 29) and parse_date("20230229") is None
    assert parse_date("2024011") is None and parse_date(None) is None
    moment = dt.datetime(2026, 3, 4, 5, 6, 7)
    assert (dicom_date(moment), dicom_time(moment)) == ("20260304", "050607")


def test_age_in_years():
    assert age_in_years("19800101", "20240115") == 44
    assert age_in_years("19800116", "20240115") == 43  # the day before the birthday
    assert age_in_years("20250101", "20240115") is None and age_in_years("", "20240115") is None


def test_no_copies_of_the_formatter():
    copies = []
    for package in ("annotations", "desktop", "inference", "training"):
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if re.search(r"\[4:6\]|strptime\([^)]*%Y%m%d", text):
                copies.append(str(path.relative_to(PROJECT_ROOT)))
    assert copies == []
