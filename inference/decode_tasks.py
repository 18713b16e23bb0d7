"""What the decoder worker process can be asked to do (worker side; see inference.decoder_sandbox).

Tasks:
    ping              -> {"pid"}                         (start-up check, benchmarks)
    raster            blob: file name (os.fsencode)      -> Pillow formats: pixels + bits/format/notices/colour
    dicom_frame       blob: one encapsulated frame       -> stored pixels + pydicom's info, with one named plugin
    dicom_gdcm_file   blob: file name                    -> frame 0 via gdcm.ImageReader (12-bit JPEG extended)
With XRAYVIEW_DECODER_TEST_TASKS=1 (tests only) also: test_crash, test_hang, test_allocate.
"""
from __future__ import annotations

import os

import numpy as np

_INFO_TYPES = (int, float, str, bool)


def run_task(header: dict, blobs: list[bytearray]) -> tuple[dict, list[np.ndarray]]:
    task = header.get("task")
    if task == "ping":
        return {"pid": os.getpid()}, []
    if task == "raster":
        from inference.raster_io import decode_raster

        pixels, info = decode_raster(os.fsdecode(bytes(blobs[0])))
        return info, [pixels]
    if task == "dicom_frame":
        from inference.dicom_codecs import decode_frame

        array, info = decode_frame(str(header["transfer_syntax"]), str(header["plugin"]), dict(header["attrs"]),
                                   blobs[0])  # the received buffer itself: no copy
        return _plain_info(info), [array]
    if task == "dicom_gdcm_file":
        from inference.dicom_codecs import decode_file_with_gdcm

        array = decode_file_with_gdcm(os.fsdecode(bytes(blobs[0])), dict(header["attrs"]))
        return {}, [array]
    if os.environ.get("XRAYVIEW_DECODER_TEST_TASKS") == "1":
        return _test_task(task, header)
    raise ValueError(f"unknown decoder task {task!r}")


def _plain_info(info: dict) -> dict:
    plain = {}
    for key, value in dict(info).items():
        if isinstance(value, _INFO_TYPES) and not (isinstance(value, float) and not np.isfinite(value)):
            plain[str(key)] = value
    return plain


def _test_task(task, header: dict):
    """Stand-ins for the failures real damaged files cause, so the parent's handling is tested directly."""
    if task == "test_crash":
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)
    if task == "test_hang":
        import time

        while True:
            time.sleep(1)
    if task == "test_allocate":
        block = np.ones(int(header["megabytes"]) << 20, dtype=np.uint8)
        return {"sum": int(block[:: 1 << 20].sum())}, []
    raise ValueError(f"unknown decoder task {task!r}")

