"""The one adapter between Qt and the Qt-free long-running functions in inference/ and training/.

`Job(fn)` runs `fn(progress=..., cancel=...)` on a QThread and turns its outcome into signals delivered on the
GUI thread: `progress(done, total, payload)`, then exactly one of `finished(result)`, `failed(error)` or
`cancelled()`. Everything else in desktop/ goes through this class, so there is one place that knows about
threads, cancellation and clean shutdown.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal


class JobCancelled(Exception):
    """Raised by a job function (or its `progress` callback) to stop early after `cancel` was set."""


class _JobThread(QThread):
    def __init__(self, job: "Job"):
        super().__init__()
        self._job = job

    def run(self) -> None:  # runs on the worker thread
        self._job._run_on_worker()


class Job(QObject):
    """Runs `fn(*args, progress=report, cancel=event, **kwargs)` on its own QThread.

    `fn` may ignore `progress`/`cancel` by setting `pass_progress=False` / `pass_cancel=False`. When `cancel()`
    was called, the outcome is reported as `cancelled` whatever `fn` returned, so a caller never acts on a
    result it no longer wants.
    """

    progress = Signal(int, int, object)  # done, total, payload (anything the function passes)
    finished = Signal(object)
    failed = Signal(object)  # the exception instance
    cancelled = Signal()
    done = Signal()  # after any of finished/failed/cancelled; the thread has stopped running `fn`

    _live_jobs: set["Job"] = set()  # keeps running jobs (and their threads) alive until they end

    def __init__(self, fn: Callable[..., Any], *args: Any, pass_progress: bool = True, pass_cancel: bool = True,
                 name: str = "", **kwargs: Any):
        super().__init__()
        self.name = name or getattr(fn, "__name__", "job")
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._pass_progress = pass_progress
        self._pass_cancel = pass_cancel
        self.cancel_event = threading.Event()
        self._thread = _JobThread(self)
        self._thread.finished.connect(self._on_thread_finished)

    # -- GUI thread API -------------------------------------------------------------------------------------
    def start(self) -> "Job":
        Job._live_jobs.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.cancel_event.set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Blocks until the thread ended (only for shutdown and tests)."""
        if timeout_ms < 0:
            return self._thread.wait()
        return self._thread.wait(timeout_ms)

    @classmethod
    def cancel_all_and_wait(cls, timeout_ms: int = 10_000) -> bool:
        """Used when the application closes: asks every job to stop and waits for the threads."""
        jobs = list(cls._live_jobs)
        for job in jobs:
            job.cancel()
        return all(job.wait(timeout_ms) for job in jobs)

    @classmethod
    def running_jobs(cls) -> list["Job"]:
        return [job for job in cls._live_jobs if job.is_running()]

    # -- worker thread ----------------------------------------------------------------------------------------
    def _report(self, done: int, total: int, payload: Any = None) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()
        self.progress.emit(int(done), int(total), payload)

    def _run_on_worker(self) -> None:
        kwargs = dict(self._kwargs)
        if self._pass_progress:
            kwargs["progress"] = self._report
        if self._pass_cancel:
            kwargs["cancel"] = self.cancel_event
        try:
            result = self._fn(*self._args, **kwargs)
        except JobCancelled:
            self.cancelled.emit()
        except BaseException as error:  # noqa: BLE001 - every failure must reach the GUI as a signal
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.failed.emit(error)
        else:
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.finished.emit(result)

    def _on_thread_finished(self) -> None:
        Job._live_jobs.discard(self)
        self.done.emit()
