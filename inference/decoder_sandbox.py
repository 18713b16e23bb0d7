"""Native image decoding in worker processes, so that no file can end a run or the viewer.

Every native decoder (Pillow for PNG/JPEG/TIFF/BMP, pylibjpeg-rle, pylibjpeg-openjpeg, pyjpegls, GDCM) runs in a
small pool of reused worker processes (`inference.decode_worker`). A panic, abort, segfault, runaway allocation
(the worker's address space is capped, POSIX) or endless loop (per-file time limit) there becomes that file's
typed error here: `DecoderCrashedError` or `DecodeTimeoutError`, both `ImageLoadError`s. The worker is replaced
on the next call. Nothing is unpickled: requests and replies are JSON headers plus raw array bytes.

Cost (bench/bench_decode_isolation.py): one round trip per image plus a copy of the decoded pixels through a
pipe. Worker start (fork/exec + importing NumPy, Pillow/pydicom in the worker) is paid once per process;
`prestart()` lets the viewer pay it while it starts up.

Settings (environment): XRAYVIEW_DECODER_MEMORY_MB (address-space cap per worker, default 3072; 0 = none),
XRAYVIEW_DECODE_TIMEOUT_S (per file, default 120), XRAYVIEW_DECODER_WORKERS (pool size, default 2).
Frozen builds start workers as `<exe> --xrayview-decode-worker`; each entry point calls
`inference.decode_worker.run_if_requested()` first.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from inference import errors
from inference.decode_worker import WORKER_FLAG, ProtocolError, read_message, write_message
from inference.errors import DecoderCrashedError, DecodeTimeoutError, ImageLoadError

DEFAULT_MEMORY_MB = 3072
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_WORKERS = 2
# largest reply accepted: MAX_PIXELS (80 M) x 3 samples x 8 bytes, with room to spare
_MAX_REPLY_BYTES = 4 << 30


class DecoderFailed(Exception):
    """The decoder in the worker raised its own (untyped) exception; `str()` is its message. Internal: callers
    turn it into an ImageLoadError with the file name."""


def memory_limit_mb() -> int:
    return _env_number("XRAYVIEW_DECODER_MEMORY_MB", DEFAULT_MEMORY_MB, int)


def timeout_s() -> float:
    return _env_number("XRAYVIEW_DECODE_TIMEOUT_S", DEFAULT_TIMEOUT_S, float)


def _env_number(name: str, default, kind):
    try:
        value = kind(os.environ.get(name, default))
    except (TypeError, ValueError):
        return default
    return value if value >= 0 else default


def _signal_name(returncode: int | None) -> str:
    if returncode is None:
        return "it stopped answering"
    if returncode < 0:
        try:
            return f"signal {-returncode}: {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def _worker_command(memory_mb: int) -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, WORKER_FLAG, "--memory-mb", str(memory_mb)]
    # -I: no PYTHON* variables, user site or current folder; the package this process runs comes first
    root = str(Path(__file__).resolve().parents[1])
    code = f"import sys; sys.path.insert(0, {root!r}); from inference.decode_worker import run_worker; run_worker()"
    return [sys.executable, "-I", "-c", code, "--memory-mb", str(memory_mb)]


class _WorkerGone(Exception):
    def __init__(self, returncode: int | None, timed_out: bool, before_request: bool):
        super().__init__(returncode)
        self.returncode, self.timed_out, self.before_request = returncode, timed_out, before_request


def _widen_pipes(process: subprocess.Popen) -> None:
    """Linux pipes hold 64 KiB: a 10 MB image would cross in 160 writer/reader hand-overs, each waiting for the
    scheduler on a busy machine. 1 MiB (the default pipe-max-size) cuts that to 10."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    for stream in (process.stdin, process.stdout):
        try:
            fcntl.fcntl(stream.fileno(), set_size, 1 << 20)
        except OSError:  # a lower pipe-max-size: keep the default
            pass


class _Worker:
    def __init__(self, memory_mb: int):
        env = dict(os.environ)
        # one thread per native library: the pool gives the parallelism, and fewer threads need less address space
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   XRAYVIEW_DECODER_MEMORY_MB=str(memory_mb), RUST_BACKTRACE="0")
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
        self.process = subprocess.Popen(_worker_command(memory_mb), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=None if env.get("XRAYVIEW_DECODER_STDERR") == "1"
                                        else subprocess.DEVNULL,
                                        env=env, close_fds=True, creationflags=flags)
        self.timed_out = False
        _widen_pipes(self.process)

    def alive(self) -> bool:
        return self.process.poll() is None

    def _kill(self, timed_out: bool = False) -> None:
        self.timed_out = self.timed_out or timed_out
        try:
            self.process.kill()
        except OSError:
            pass

    def call(self, header: dict, blobs, timeout: float) -> tuple[dict, list[bytearray]]:
        timer = threading.Timer(max(0.01, timeout), self._kill, kwargs={"timed_out": True})
        timer.daemon = True
        timer.start()
        sent = False
        try:
            write_message(self.process.stdin, header, blobs)
            sent = True
            return read_message(self.process.stdout, _MAX_REPLY_BYTES)
        except (OSError, EOFError, ProtocolError, ValueError):
            self._kill()
            try:
                returncode = self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                returncode = None
            raise _WorkerGone(returncode, self.timed_out, before_request=not sent) from None
        finally:
            timer.cancel()

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._kill()


class _Pool:
    def __init__(self, size: int, memory_mb: int):
        self.size, self.memory_mb = max(1, size), memory_mb
        self.idle: list[_Worker] = []
        self.count = 0
        self.condition = threading.Condition()

    def acquire(self) -> _Worker:
        with self.condition:
            while True:
                while self.idle:
                    worker = self.idle.pop()
                    if worker.alive():
                        return worker
                    self.count -= 1
                if self.count < self.size:
                    self.count += 1
                    break
                self.condition.wait()
        try:
            return _Worker(self.memory_mb)
        except BaseException:
            self.release(None)
            raise

    def release(self, worker: _Worker | None) -> None:
        """Returns a healthy worker to the pool; None (or a dead/killed worker) frees its place."""
        with self.condition:
            if worker is not None and worker.alive() and not worker.timed_out:
                self.idle.append(worker)
            else:
                self.count -= 1
            self.condition.notify()

    def shutdown(self) -> None:
        with self.condition:
            workers, self.idle = self.idle, []
            self.count -= len(workers)
        for worker in workers:
            worker.close()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool(_env_number("XRAYVIEW_DECODER_WORKERS", DEFAULT_WORKERS, int), memory_limit_mb())
        return _pool


def _forget_pool_after_fork() -> None:
    # A forked child (e.g. a DataLoader worker) must not talk on its parent's pipes: it starts its own workers.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def shutdown() -> None:
    """Ends the idle workers (tests, benchmarks); the next call starts new ones with the current settings."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()


def prestart() -> None:
    """Starts one worker now (non-blocking: only fork/exec), so the first image does not wait for it."""
    pool = _get_pool()
    try:
        worker = pool.acquire()
    except OSError:
        return
    pool.release(worker)


def worker_pids() -> list[int]:
    pool = _pool
    return [] if pool is None else [w.process.pid for w in list(pool.idle)]


def run(task: str, header: dict, blobs, path: Path, deadline: float | None = None) -> tuple[dict, list[np.ndarray]]:
    """Runs `task` in a worker; returns (info, arrays). Raises the worker's typed ImageLoadError (for `path`),
    DecoderCrashedError, DecodeTimeoutError, or DecoderFailed (the decoder's own exception, as a message)."""
    limit = timeout_s()
    deadline = deadline if deadline is not None else time.monotonic() + (limit or 1e9)
    request = dict(header, task=task)
    pool = _get_pool()
    for attempt in range(2):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DecodeTimeoutError(path, f"decoding did not finish within the {limit:g} s limit per file; "
                                           "the file was given up")
        try:
            worker = pool.acquire()
        except OSError as exc:
            raise ImageLoadError(path, f"the image decoder process could not be started ({exc})") from None
        try:
            reply, parts = worker.call(request, blobs, remaining)
        except _WorkerGone as gone:
            pool.release(None)
            if gone.timed_out:
                raise DecodeTimeoutError(path, f"decoding did not finish within the {limit:g} s limit per file; "
                                               "the decoder was stopped") from None
            if gone.before_request and attempt == 0:
                continue  # an idle worker had died before this file reached it: not this file's doing
            raise DecoderCrashedError(
                path, f"the image decoder crashed on this file ({_signal_name(gone.returncode)}); the file is "
                      "damaged or triggers a decoder bug") from None
        pool.release(worker)
        return _unpack(reply, parts, path)
    raise DecoderCrashedError(path, "the image decoder process could not be kept running")


def _unpack(reply: dict, parts: list[bytearray], path: Path) -> tuple[dict, list[np.ndarray]]:
    status = reply.get("status")
    if status == "error":
        kind = getattr(errors, str(reply.get("type")), ImageLoadError)
        if not (isinstance(kind, type) and issubclass(kind, ImageLoadError)):
            kind = ImageLoadError
        raise kind(path, str(reply.get("reason", "the image could not be decoded")))
    if status == "failed":
        raise DecoderFailed(str(reply.get("message", "the decoder failed")))
    if status != "ok":
        raise DecoderCrashedError(path, "the image decoder sent an unreadable reply")
    arrays = []
    for spec, part in zip(reply.get("arrays", []), parts):
        dtype = np.dtype(spec["dtype"])
        if dtype.hasobject:
            raise DecoderCrashedError(path, "the image decoder sent an unreadable reply")
        arrays.append(np.frombuffer(part, dtype=dtype).reshape(spec["shape"]))
    return dict(reply.get("info") or {}), arrays
