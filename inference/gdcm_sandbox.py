"""Runs python-gdcm decoding in a separate, reused worker process.

GDCM is the only permissively licensed decoder here for JPEG lossless (process 14) and 12-bit JPEG extended, and
a fallback for the other codecs. On some damaged streams it throws C++ exceptions that its Python binding does
not catch, which aborts the whole process ("terminate called after throwing an instance of gdcm::Exception").
In a worker process that abort becomes an ordinary, reportable error and the viewer survives; the worker is
restarted on the next call. Frozen (PyInstaller) builds must call `multiprocessing.freeze_support()` first.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

DECODE_TIMEOUT_S = 300.0

_executor: ProcessPoolExecutor | None = None
_lock = threading.Lock()


class GdcmCrashedError(RuntimeError):
    """The GDCM worker process died while decoding (a damaged stream GDCM cannot handle)."""


def decode_first_frame(path: Path, whole_file_reader: bool) -> tuple[np.ndarray, dict]:
    """Decodes frame 0 of `path` with GDCM in the worker. `whole_file_reader`: use gdcm.ImageReader on the file
    (needed for 12-bit JPEG extended, which pydicom's GDCM plugin refuses); otherwise pydicom's GDCM plugin.
    Exceptions raised by the decoder are re-raised here; a crash raises GdcmCrashedError."""
    executor = _get_executor()
    future = executor.submit(_decode_in_worker, str(path), whole_file_reader)
    try:
        return future.result(timeout=DECODE_TIMEOUT_S)
    except BrokenProcessPool:
        _discard(executor)
        raise GdcmCrashedError("the GDCM decoder crashed on this pixel data") from None
    except TimeoutError:
        _discard(executor, kill=True)
        raise GdcmCrashedError(f"the GDCM decoder did not finish within {DECODE_TIMEOUT_S:.0f} s") from None


def _get_executor() -> ProcessPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_silence_native_stderr)
        return _executor


def _silence_native_stderr() -> None:
    """GDCM's bundled libjpeg writes "Unsupported JPEG data precision 12" to fd 2 while it probes codecs for a
    12-bit JPEG it then decodes fine; failures still come back as exceptions or a broken pool, never via stderr."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _discard(executor: ProcessPoolExecutor, kill: bool = False) -> None:
    global _executor
    with _lock:
        if _executor is executor:
            _executor = None
    if kill:
        for process in list(getattr(executor, "_processes", {}).values()):
            process.kill()
    executor.shutdown(wait=False, cancel_futures=True)


def _decode_in_worker(path: str, whole_file_reader: bool) -> tuple[np.ndarray, dict]:
    import warnings

    import pydicom
    from pydicom.pixels import get_decoder

    warnings.simplefilter("ignore")
    ds = pydicom.dcmread(path, force=True)
    if whole_file_reader:
        return _read_whole_file(path, ds), {}
    decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
    array, info = decoder.as_array(ds, index=0, as_rgb=True, decoding_plugin="gdcm")
    return np.ascontiguousarray(array), dict(info)


def _read_whole_file(path: str, ds) -> np.ndarray:
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(path)
    if not reader.Read():
        raise ValueError("GDCM could not read the file")
    raw = reader.GetImage().GetBuffer().encode("utf-8", "surrogateescape")
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    itemsize = max(1, int(ds.get("BitsAllocated", 16) or 16) // 8)
    dtype = np.dtype(("<i" if signed else "<u") + str(itemsize))
    rows, columns = int(ds.Rows), int(ds.Columns)
    if len(raw) < rows * columns * itemsize:
        raise ValueError(f"GDCM returned {len(raw)} bytes for a {columns} x {rows} frame")
    return np.frombuffer(raw, dtype=dtype, count=rows * columns).reshape(rows, columns).astype(dtype.newbyteorder("="))
