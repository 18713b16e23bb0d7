"""Start-up: the GUI modules import no torch (the window must appear before torch loads), and the real
`xrayview PATH` process shows the window and the image, then exits cleanly."""
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


def test_command_line_image_opens_in_a_real_process(project_root, chest_png, tmp_path):
    """`xrayview PATH` with no model installed: window, then the image, then "no model", then a clean exit.
    (The AI path of the same window is covered in-process by test_ai_panel; bench_gui.py times it.)"""
    resources = tmp_path / "resources"
    (resources / "models").mkdir(parents=True)
    out = tmp_path / "events.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XRAYVIEW_DATA_DIR=str(tmp_path / "data"), XRAYVIEW_RESOURCES_DIR=str(resources),
               XRAYVIEW_BENCH_OUT=str(out))
    launched = time.time()
    result = subprocess.run([sys.executable, "-m", "desktop.app", str(chest_png)], cwd=project_root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    events = json.loads(out.read_text())
    assert launched < events["window_shown"] <= events["image_shown"]
    assert "model_none" in events and "first_result" not in events


def test_no_torch_is_loaded_when_the_window_first_paints(project_root, chest_png, tmp_path):
    """The real `xrayview PATH` process with a model installed: at the window's first paint neither torch nor the
    bundle/predictor modules are in sys.modules; by the first AI result they are (so the check can fail)."""
    from tests.helpers.tiny_models import make_tiny_bundle

    models = tmp_path / "resources" / "models"
    make_tiny_bundle(models / "tiny")
    (models / "DEFAULT").write_text("tiny\n", encoding="utf-8")
    out = tmp_path / "events.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XRAYVIEW_DATA_DIR=str(tmp_path / "data"), XRAYVIEW_RESOURCES_DIR=str(tmp_path / "resources"),
               XRAYVIEW_BENCH_OUT=str(out), XRAYVIEW_BENCH_REPEATS="0")
    result = subprocess.run([sys.executable, "-m", "desktop.app", str(chest_png)], cwd=project_root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    events = json.loads(out.read_text())
    assert events["first_paint"] <= events["first_result"]
    assert events["heavy_modules_at_first_paint"] == []
    assert "torch" in events["heavy_modules_at_first_result"]
    assert "inference.predictor" in events["heavy_modules_at_first_result"]
