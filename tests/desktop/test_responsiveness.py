"""While a deliberately slow model runs, the GUI thread keeps turning: a 10 ms QTimer never sees a long gap.
(bench/bench_gui.py reports the real worst gap; this test only guards against blocking the GUI thread.)"""
from __future__ import annotations

import time

from PySide6.QtCore import QTimer

LOOSE_BOUND_MS = 500  # the slow model's forward alone takes 400 ms: a blocked GUI thread would exceed this


def test_gui_thread_keeps_running_during_a_slow_prediction(make_window, qtbot, slow_bundle, chest_png):
    window = make_window(slow_bundle, auto_run=False)
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        window.open_path(str(chest_png))
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000.0)
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    started = time.perf_counter()
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000):
        window.run_prediction()
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    timer.stop()
    assert elapsed_ms >= 400  # the slow forward really ran while we were measuring
    assert len(gaps) >= 20
    assert max(gaps) < LOOSE_BOUND_MS, f"GUI thread stalled {max(gaps):.0f} ms"
