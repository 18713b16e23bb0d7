"""Start-up: the GUI modules import no torch (the window must appear before torch loads), and the real
`xrayview PATH --model DIR` process shows the window, the image and the AI result, then exits cleanly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def test_gui_modules_do_not_import_torch(project_root):
    code = ("import sys, desktop.app, desktop.main_window; "
            "heavy = [m for m in ('torch', 'inference.predictor', 'matplotlib', 'numpy') if m in sys.modules]; "
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], cwd=project_root, capture_output=True, text=True,
                            timeout=120, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_command_line_image_gets_a_result_in_a_real_process(project_root, tiny_bundle, chest_png, tmp_path):
    out = tmp_path / "events.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XRAYVIEW_DATA_DIR=str(tmp_path / "data"), XRAYVIEW_BENCH_OUT=str(out), XRAYVIEW_BENCH_REPEATS="0")
    launched = time.time()
    result = subprocess.run([sys.executable, "-m", "desktop.app", "--model", str(tiny_bundle), "--device", "cpu",
                             str(chest_png)], cwd=project_root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    events = json.loads(out.read_text())
    assert launched < events["window_shown"] <= events["image_shown"] <= events["first_result"]
    assert events["model_ready"] <= events["first_result"]
    assert events["worst_gui_gap_during_prediction_ms"] < 1000
