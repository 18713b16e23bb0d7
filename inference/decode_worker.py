"""The image decoder worker process (the child side of `inference.decoder_sandbox`).

Every native decoder XRayView uses (Pillow's libjpeg/libpng/libtiff, pylibjpeg-rle, pylibjpeg-openjpeg, pyjpegls,
GDCM) runs here, never in the viewer or a CLI process: a damaged file can make them panic (pylibjpeg-rle raises
pyo3's PanicException, a BaseException), throw C++ exceptions that abort the process (GDCM), crash, loop or
allocate without bound. Here that costs this process only; the parent turns it into the file's typed error
and starts a fresh worker. The address space is capped (RLIMIT_AS, POSIX) so a runaway allocation fails here.

Protocol (stdin/stdout pipes, no pickle in either direction): a message is an 8-byte little-endian length, a
UTF-8 JSON header, then `header["blobs"]` binary parts, each an 8-byte length and its bytes. The parent sends
{"task": ..., ...}; the worker answers {"status": "ok", "info": {...}, "arrays": [{"dtype", "shape"}, ...]}
with one blob per array, {"status": "error", "type": <ImageLoadError subclass name>, "reason": ...} for a typed
failure, or {"status": "failed", "message": ...} when a decoder raised its own exception.
"""
from __future__ import annotations

import json
import os
import struct
import sys
from typing import BinaryIO

WORKER_FLAG = "--xrayview-decode-worker"
_LENGTH = struct.Struct("<Q")
MAX_HEADER_BYTES = 16 << 20


class ProtocolError(Exception):
    """The other side closed the pipe or sent something that is not a message."""


def write_message(stream: BinaryIO, header: dict, blobs=()) -> None:
    blobs = list(blobs)
    header = dict(header, blobs=len(blobs))
    encoded = json.dumps(header, allow_nan=False).encode("utf-8")
    parts = [_LENGTH.pack(len(encoded)), encoded]
    for blob in blobs:
        view = memoryview(blob).cast("B")
        parts.append(_LENGTH.pack(view.nbytes))
        parts.append(view)
    for part in parts:
        stream.write(part)
    stream.flush()


def _read_exactly(stream: BinaryIO, count: int) -> bytearray:
    buffer = bytearray(count)
    view = memoryview(buffer)
    done = 0
    while done < count:
        got = stream.readinto(view[done:])
        if not got:
            raise ProtocolError("the pipe closed in the middle of a message")
        done += got
    return buffer


def read_message(stream: BinaryIO, max_blob_bytes: int = 1 << 40) -> tuple[dict, list[bytearray]]:
    head = stream.read(_LENGTH.size)
    if not head:
        raise EOFError("the pipe is closed")
    if len(head) < _LENGTH.size:
        head += _read_exactly(stream, _LENGTH.size - len(head))
    (length,) = _LENGTH.unpack(head)
    if length > MAX_HEADER_BYTES:
        raise ProtocolError(f"message header of {length} bytes")
    header = json.loads(_read_exactly(stream, length).decode("utf-8"))
    if not isinstance(header, dict):
        raise ProtocolError("message header is not a JSON object")
    blobs = []
    for _ in range(int(header.get("blobs", 0))):
        (size,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size))
        if size > max_blob_bytes:
            raise ProtocolError(f"message part of {size} bytes")
        blobs.append(_read_exactly(stream, size))
    return header, blobs


# --- child side ------------------------------------------------------------------------------------------------

def _limit_resources(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    try:
        import resource
    except ImportError:  # Windows: no RLIMIT_AS; the process boundary still contains crashes
        return
    limit = memory_mb << 20
    for name in ("RLIMIT_AS", "RLIMIT_DATA"):
        kind = getattr(resource, name, None)
        if kind is None:
            continue
        try:
            resource.setrlimit(kind, (limit, limit))
        except (ValueError, OSError):  # macOS refuses RLIMIT_AS below the current size; keep going
            pass


def _own_pipes() -> tuple[BinaryIO, BinaryIO]:
    """The protocol's pipes, with fd 0/1/2 pointed elsewhere: native libraries that print (libjpeg warnings,
    Rust panic messages, GDCM) must not write into the protocol stream."""
    request_fd, reply_fd = os.dup(0), os.dup(1)
    if sys.platform == "win32":  # no CR/LF translation of the binary protocol
        import msvcrt

        msvcrt.setmode(request_fd, os.O_BINARY)
        msvcrt.setmode(reply_fd, os.O_BINARY)
    requests = os.fdopen(request_fd, "rb", buffering=1 << 16)
    replies = os.fdopen(reply_fd, "wb", buffering=1 << 16)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    if os.environ.get("XRAYVIEW_DECODER_STDERR") != "1":
        os.dup2(devnull, 2)
    os.close(devnull)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr
    return requests, replies


def _typed_error(exc: BaseException) -> dict | None:
    from inference.errors import ImageLoadError

    if isinstance(exc, ImageLoadError):
        return {"status": "error", "type": type(exc).__name__, "reason": exc.reason}
    if isinstance(exc, MemoryError):
        return {"status": "error", "type": "ImageLoadError",
                "reason": "there is not enough memory to decode this image (the decoder process's limit is "
                          f"{os.environ.get('XRAYVIEW_DECODER_MEMORY_MB', '?')} MB)"}
    return None


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    from inference.decode_tasks import run_task

    while True:
        try:
            header, blobs = read_message(requests)
        except EOFError:
            return  # the parent went away or closed the pipe: nothing left to do
        try:
            info, arrays = run_task(header, blobs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a panic (BaseException) must become a reply too
            reply = _typed_error(exc) or {"status": "failed",
                                          "message": f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"}
            write_message(replies, reply)
            continue
        import numpy as np

        arrays = [np.ascontiguousarray(a) for a in arrays]
        write_message(replies, {"status": "ok", "info": info,
                                "arrays": [{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays]},
                      [a.data if a.size else b"" for a in arrays])


def run_worker(argv: list[str] | None = None) -> None:
    """The worker process: `--memory-mb N` caps its address space; then it answers requests until its pipe
    closes. Started by inference.decoder_sandbox (not a command line: those live in cli_*.py modules)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    memory_mb = 0
    if "--memory-mb" in argv:
        memory_mb = int(argv[argv.index("--memory-mb") + 1])
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle; it ends us by closing the pipe
    requests, replies = _own_pipes()
    _limit_resources(memory_mb)
    serve(requests, replies)


def run_if_requested() -> None:
    """Frozen (PyInstaller) builds: each executable starts by calling this, so `exe --xrayview-decode-worker`
    becomes a decoder worker instead of the app."""
    if len(sys.argv) > 1 and sys.argv[1] == WORKER_FLAG:
        run_worker(sys.argv[2:])
        sys.exit(0)

