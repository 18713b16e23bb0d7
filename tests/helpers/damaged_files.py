"""Reproducers of the decoder failures issue 17 found: real DICOM files whose damage makes a native decoder
panic (a BaseException no `except Exception` catches)."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def _replicate_runs(count: int, value: int = 0x55) -> bytes:
    out = b""
    while count > 0:
        run = min(128, count)
        out += bytes([(257 - run) & 0xFF, value])
        count -= run
    return out


def overrunning_rle_frame(rows: int = 64, columns: int = 64, extra: int = 128) -> bytes:
    """A 16-bit RLE frame (two byte segments) whose first segment decodes to `extra` bytes more than the frame
    holds: pylibjpeg-rle indexes past its buffer and panics ("index out of bounds"), raising pyo3's
    PanicException."""
    first, second = _replicate_runs(rows * columns + extra), _replicate_runs(rows * columns)
    return struct.pack("<16I", 2, 64, 64 + len(first), *([0] * 13)) + first + second


def rle_panic_dicom(path: Path, rows: int = 64, columns: int = 64) -> Path:
    """A DX DICOM, RLE Lossless, 16 bits allocated / 12 stored, with the overrunning frame as its pixel data."""
    import pydicom
    from pydicom.encaps import encapsulate
    from pydicom.uid import RLELossless

    from tests.helpers.dicom_factory import make_dicom_from_array

    make_dicom_from_array(_ramp(rows, columns), path, bits_stored=12, transfer_syntax=RLELossless)
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([overrunning_rle_frame(rows, columns)])
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


# Byte edits (offset into frame 0, new value) found by the issue-17 fuzzer in the 16-bit RLE frame that
# pydicom's RLE encoder writes for `_ramp(64, 64)`: pylibjpeg-rle panics on the result and pydicom's own RLE
# decoder rejects it, so no decoder can read it.
_UNRECOVERABLE_EDITS = ((136, 80), (1095, 173), (1633, 167), (2171, 49), (3504, 109))


def _ramp(rows: int, columns: int) -> np.ndarray:
    return (np.arange(rows * columns, dtype=np.uint32).reshape(rows, columns) * 7 % 4096).astype(np.uint16)


def rle_panic_unreadable_dicom(path: Path) -> Path:
    """A 64 x 64 16-bit RLE DICOM that makes pylibjpeg-rle panic and that no other decoder reads either."""
    import pydicom
    from pydicom.encaps import encapsulate, get_frame
    from pydicom.uid import RLELossless

    from tests.helpers.dicom_factory import make_dicom_from_array

    make_dicom_from_array(_ramp(64, 64), path, bits_stored=12, transfer_syntax=RLELossless)
    ds = pydicom.dcmread(path)
    frame = bytearray(get_frame(ds.PixelData, 0, number_of_frames=1))
    for offset, value in _UNRECOVERABLE_EDITS:
        frame[offset] = value
    ds.PixelData = encapsulate([bytes(frame)])
    ds.save_as(path, enforce_file_format=True)
    return Path(path)
