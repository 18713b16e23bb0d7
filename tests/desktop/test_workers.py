"""The QThread adapter: finished / failed / cancelled / progress, delivered on the GUI thread."""
from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread

from desktop.workers import Job, JobCancelled


def _sum_with_progress(values, *, progress, cancel):
    total = 0
    for index, value in enumerate(values):
        total += value
        progress(index + 1, len(values), value)
    return total


def test_finished_carries_the_result_and_progress_arrives_on_the_gui_thread(qtbot):
    seen = []
    job = Job(_sum_with_progress, [3, 4, 5])
    job.progress.connect(lambda done, total, payload: seen.append((done, total, payload,
                                                                   QThread.currentThread() is job.thread())))
    with qtbot.waitSignal(job.finished, timeout=5000) as blocker:
        job.start()
    assert blocker.args == [12]
    qtbot.waitUntil(lambda: len(seen) == 3)
    assert [s[:3] for s in seen] == [(1, 3, 3), (2, 3, 4), (3, 3, 5)]
    assert all(on_gui for *_, on_gui in seen)
    assert job.wait(5000)


def test_failed_carries_the_exception(qtbot):
    def explode(*, progress, cancel):
        raise ValueError("bad input: x.png")

    job = Job(explode)
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        job.start()
    assert isinstance(blocker.args[0], ValueError)
    assert str(blocker.args[0]) == "bad input: x.png"


def test_cancel_stops_a_cooperative_function_and_reports_cancelled(qtbot):
    started = threading.Event()

    def wait_for_cancel(*, progress, cancel):
        started.set()
        deadline = time.monotonic() + 10
        while not cancel.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        if cancel.is_set():
            raise JobCancelled()
        return "not cancelled"

    job = Job(wait_for_cancel)
    finished = []
    job.finished.connect(finished.append)
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        job.start()
        assert started.wait(5)
        job.cancel()
    assert job.wait(5000)
    assert finished == []


def test_result_of_a_cancelled_job_is_never_delivered(qtbot):
    """Even a function that ignores `cancel` and returns normally ends as `cancelled`."""
    release = threading.Event()

    def stubborn(*, progress, cancel):
        release.wait(5)
        return 42

    job = Job(stubborn)
    finished = []
    job.finished.connect(finished.append)
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        job.start()
        job.cancel()
        release.set()
    assert finished == []


def test_cancel_all_and_wait_leaves_no_running_thread(qtbot):
    def loop(*, progress, cancel):
        while not cancel.is_set():
            progress(0, 0, None)
            time.sleep(0.005)

    jobs = [Job(loop).start() for _ in range(3)]
    assert Job.cancel_all_and_wait(5000)
    assert not any(job.is_running() for job in jobs)
    qtbot.waitUntil(lambda: not Job.running_jobs(), timeout=2000)


@pytest.mark.parametrize("flag", ["pass_progress", "pass_cancel"])
def test_plain_functions_can_opt_out_of_progress_and_cancel(qtbot, flag):
    def takes_only_cancel(*, cancel):
        return "ok"

    def takes_only_progress(*, progress):
        return "ok"

    fn = takes_only_cancel if flag == "pass_progress" else takes_only_progress
    job = Job(fn, **{flag: False})
    with qtbot.waitSignal(job.finished, timeout=5000) as blocker:
        job.start()
    assert blocker.args == ["ok"]
