"""Writing DICOM files without ever replacing one: through a temporary file in the target folder, linked to its
name only when that name is free, so a failed write leaves nothing half-written and an existing file (an image,
an earlier result) is never overwritten, even by a file that appears meanwhile."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydicom.dataset import Dataset


def save_new(ds: Dataset, target: str | Path) -> Path:
    """Writes `ds` as a DICOM Part 10 file at `target`; FileExistsError when that name is taken."""
    target = Path(target)
    handle, temporary = tempfile.mkstemp(prefix=".xrayview-", suffix=".dcm", dir=target.parent)
    os.close(handle)
    try:
        ds.save_as(temporary, enforce_file_format=True)
        os.link(temporary, target)  # fails instead of replacing a file
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target


def save_unique(ds: Dataset, folder: str | Path, stem: str, suffix: str = ".dcm") -> Path:
    """Writes `ds` into `folder` as `<stem><suffix>`, or `<stem>-2<suffix>`, `-3`, ... : the first free name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        name = f"{stem}{suffix}" if number == 1 else f"{stem}-{number}{suffix}"
        try:
            return save_new(ds, folder / name)
        except FileExistsError:
            number += 1
