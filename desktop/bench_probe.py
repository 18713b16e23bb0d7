"""Start-up and responsiveness probe for bench/bench_gui.py, active only when XRAYVIEW_BENCH_OUT names a file.

Records wall-clock times (time.time(), comparable with the parent process's launch time) of: the window's first
paint (with the heavy modules already imported at that moment: there should be none), window shown (the event loop's
first turn after show(), a few ms either side of the first paint), image shown, model ready, first AI result; and the longest gap seen by a 10 ms QTimer
on the GUI thread, separately while the model loads (torch import) and while predictions run with the model
ready. After the first result it runs XRAYVIEW_BENCH_REPEATS more predictions (default 3) on the same image,
writes JSON and quits.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

BENCH_ENV = "XRAYVIEW_BENCH_OUT"
TICK_MS = 10
# What must not be loaded when the window first paints: the window shows before torch (and the model) load.
HEAVY_MODULES = ("torch", "torchvision", "inference.predictor", "inference.bundle", "pytorch_grad_cam")


class BenchProbe(QObject):
    def __init__(self, window: QWidget, session, image_shown, run_prediction: Callable[[], None],
                 has_image: Callable[[], bool], out_path: Path, quit_after_result: bool = True):
        """`window`: the top-level widget (its first paint; closed at the end); `session`: the AI session (and its
        runner: model ready, prediction started); `image_shown`: the window's signal; `run_prediction()`: asks
        for a prediction of the active image; `has_image()`: whether one is on screen."""
        super().__init__(window)
        self._window = window
        self._run_prediction, self._has_image = run_prediction, has_image
        self._out = out_path
        self._quit = quit_after_result
        self.events: dict[str, float] = {}
        self._last_tick = time.perf_counter()
        self._predicting = False
        self._model_ready = False
        self.worst_gap_ms = 0.0
        self.worst_gap_loading_ms = 0.0
        self.worst_gap_any_ms = 0.0
        self.result_times_ms: list[float] = []
        self.heavy_at_first_paint: list[str] | None = None
        self.heavy_at_first_result: list[str] | None = None
        self._prediction_started_at = 0.0
        self._repeats_left = int(os.environ.get("XRAYVIEW_BENCH_REPEATS", "3"))
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        image_shown.connect(lambda _: (self._mark("image_shown"), self._write()))
        session.runner.prediction_started.connect(self._on_prediction_started)
        session.prediction_shown.connect(self._on_result)
        session.runner.model_ready.connect(self._on_model_ready)
        session.model_state_changed.connect(self._on_model_state)
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget) and watched.window() is self._window:
            QApplication.instance().removeEventFilter(self)
            self._mark("first_paint")
            self.heavy_at_first_paint = [name for name in HEAVY_MODULES if name in sys.modules]
            self._write()
        return False

    def window_shown(self) -> None:
        self._mark("window_shown")
        self._last_tick = time.perf_counter()
        self._timer.start()

    def _mark(self, name: str) -> None:
        self.events.setdefault(name, time.time())

    def _tick(self) -> None:
        now = time.perf_counter()
        gap_ms = (now - self._last_tick) * 1000.0
        self._last_tick = now
        self.worst_gap_any_ms = max(self.worst_gap_any_ms, gap_ms)
        if not self._model_ready:
            self.worst_gap_loading_ms = max(self.worst_gap_loading_ms, gap_ms)
        elif self._predicting:
            self.worst_gap_ms = max(self.worst_gap_ms, gap_ms)

    def _on_model_ready(self, _predictor) -> None:
        self._tick()
        self._model_ready = True
        self._mark("model_ready")
        if self._predicting:
            self._prediction_started_at = time.perf_counter()

    def _on_prediction_started(self, _request_id: int) -> None:
        self._tick()
        self._predicting = True
        self._prediction_started_at = time.perf_counter()

    def _on_model_state(self, state: str) -> None:
        if state in ("none", "failed"):  # no result will come: finish once the image (if any) is shown
            self._mark(f"model_{state}")
            self._write()
            self._finish_without_model()

    def _finish_without_model(self) -> None:
        if not any(key.startswith("model_") for key in self.events) or not self._quit:
            return
        if self._has_image() or "image_shown" in self.events:
            QTimer.singleShot(0, self._window.close)
        else:
            QTimer.singleShot(200, self._finish_without_model)  # the image argument is still loading

    def _on_result(self, _viewport, _prediction) -> None:
        QTimer.singleShot(0, self._after_result_painted)  # the gap that includes showing the result counts too

    def _after_result_painted(self) -> None:
        self._tick()
        self._predicting = False
        self.result_times_ms.append((time.perf_counter() - self._prediction_started_at) * 1000.0)
        self._mark("first_result")
        if self.heavy_at_first_result is None:
            self.heavy_at_first_result = [name for name in HEAVY_MODULES if name in sys.modules]
        self._write()
        if self._repeats_left > 0:
            self._repeats_left -= 1
            QTimer.singleShot(50, self._run_prediction)
        elif self._quit:
            QTimer.singleShot(0, self._window.close)

    def _write(self) -> None:
        payload = dict(self.events)
        payload["worst_gui_gap_during_prediction_ms"] = round(self.worst_gap_ms, 1)
        payload["worst_gui_gap_while_model_loads_ms"] = round(self.worst_gap_loading_ms, 1)
        payload["worst_gui_gap_since_shown_ms"] = round(self.worst_gap_any_ms, 1)
        payload["prediction_wall_ms"] = [round(t, 1) for t in self.result_times_ms]
        payload["heavy_modules_at_first_paint"] = self.heavy_at_first_paint
        payload["heavy_modules_at_first_result"] = self.heavy_at_first_result
        self._out.write_text(json.dumps(payload), encoding="utf-8")


def attach_if_requested(window: QWidget, session, image_shown, run_prediction: Callable[[], None],
                        has_image: Callable[[], bool]) -> BenchProbe | None:
    """A probe when XRAYVIEW_BENCH_OUT names a file (bench/bench_gui.py), else None (see BenchProbe)."""
    out = os.environ.get(BENCH_ENV)
    if not out:
        return None
    probe = BenchProbe(window, session, image_shown, run_prediction, has_image, Path(out),
                       quit_after_result=os.environ.get("XRAYVIEW_BENCH_KEEP_OPEN") != "1")
    QTimer.singleShot(0, probe.window_shown)  # runs after the first expose/paint of the shown window
    return probe
