"""Viewer benchmark: process start -> window shown, -> first AI result with an image argument, and the worst
GUI-thread stall (a 10 ms QTimer's longest gap) while the prediction runs. Prints one JSON object.

Runs the real `xrayview` entry point in a child process (Qt offscreen unless --platform says otherwise), with
isolated settings and user data. The model is the shipped default bundle when there is one; otherwise (or with
--arch) a randomly initialised bundle of a real architecture at its real input size is written to a temp
folder (its outputs mean nothing; speed is what is measured).

    .venv/bin/python bench/bench_gui.py [--image PATH] [--runs 3] [--model DIR | --arch efficientnet_lite0]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_IMAGE = ROOT.parent / "shared/data/samples/chest-xray-fullres/NORMAL/IM-0230-0001.jpeg"


def _random_bundle(folder: Path, arch: str, size: int) -> Path:
    from tests.helpers.tiny_models import make_tiny_bundle

    return make_tiny_bundle(folder / f"bench-{arch}", arch=arch, size=size, name=f"bench-{arch}",
                            version="0.0.0-bench")


def _shipped_bundle() -> Path | None:
    from inference.bundle_catalog import default_bundle_dir
    from inference.errors import BundleError

    try:
        return default_bundle_dir()
    except BundleError:
        return None


def _run_once(args_list: list[str], env: dict[str, str], out: Path, timeout: float) -> dict:
    out.unlink(missing_ok=True)
    launched = time.time()
    proc = subprocess.run([sys.executable, "-m", "desktop.app", *args_list], cwd=ROOT, env=env, timeout=timeout,
                          capture_output=True, text=True)
    if not out.is_file():
        raise RuntimeError(f"the viewer wrote no bench data (rc={proc.returncode}):\n{proc.stderr[-2000:]}")
    events = json.loads(out.read_text())
    result = {key: value for key, value in events.items() if key.startswith("worst") or key.endswith("_ms")}
    for key in ("window_shown", "image_shown", "model_ready", "first_result"):
        if key in events:
            result[f"{key}_s"] = round(events[key] - launched, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", type=Path, help="benchmark this bundle folder instead of the shipped model")
    parser.add_argument("--arch", help="benchmark a random bundle of this architecture instead of the shipped model")
    parser.add_argument("--size", type=int, default=224, help="input size for --arch")
    parser.add_argument("--platform", default="offscreen", help="QT_QPA_PLATFORM for the viewer (offscreen, xcb)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="xrayview-bench-") as tmp:
        tmp_path = Path(tmp)
        bundle = args.model or (None if args.arch else _shipped_bundle())
        model_source = f"bundle {args.model}" if args.model else "shipped default bundle"
        if bundle is None:
            arch = args.arch or "efficientnet_lite0"
            bundle = _random_bundle(tmp_path, arch, args.size)
            model_source = f"random-weight {arch} at {args.size}px (no trained model shipped)"
        env = dict(os.environ, QT_QPA_PLATFORM=args.platform, XDG_CONFIG_HOME=str(tmp_path / "config"),
                   XRAYVIEW_DATA_DIR=str(tmp_path / "data"), XRAYVIEW_BENCH_OUT=str(tmp_path / "bench.json"))
        out = tmp_path / "bench.json"
        with_image = [_run_once(["--model", str(bundle), "--device", "cpu", str(args.image)], env, out, 300)
                      for _ in range(args.runs)]

    def median(key: str, runs: list[dict]) -> float | None:
        values = [run[key] for run in runs if key in run]
        return round(statistics.median(values), 3) if values else None

    report = {
        "image": str(args.image),
        "model": model_source,
        "runs": args.runs,
        "cpu_count": os.cpu_count(),
        "start_to_window_shown_s": median("window_shown_s", with_image),
        "start_to_image_shown_s": median("image_shown_s", with_image),
        "start_to_model_ready_s": median("model_ready_s", with_image),
        "start_to_first_result_s": median("first_result_s", with_image),
        "worst_gui_stall_during_prediction_ms": max(r["worst_gui_gap_during_prediction_ms"] for r in with_image),
        "worst_gui_stall_while_model_loads_ms": max(r["worst_gui_gap_while_model_loads_ms"] for r in with_image),
        "worst_gui_stall_since_window_shown_ms": max(r["worst_gui_gap_since_shown_ms"] for r in with_image),
        "prediction_wall_ms_median": round(statistics.median(t for r in with_image for t in r["prediction_wall_ms"]), 1),
        "per_run": with_image,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
