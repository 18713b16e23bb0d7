"""Frozen-app benchmark (after installer/build-linux.sh): bundle size and what dominates it, build time, cold start
of the frozen viewer to window shown and to first AI result, and the frozen self-test's wall time. Prints JSON.

    .venv/bin/python bench/bench_frozen.py [--app installer/dist/xrayview] [--build-log installer/build/build.log]
                                           [--runs 3] [--model DIR] [--image PATH]

Start-up times come from the viewer's own probe (desktop/bench_probe.py, enabled by XRAYVIEW_BENCH_OUT): wall
clock from launching the executable to the first paint of the window and to the first AI result painted, with
an image argument, Qt offscreen, fresh settings. The first run is the coldest this machine allows without
dropping the page cache (the build just wrote the files); `--drop-caches` (root) drops it before each run.
The model is the bundle's own default; `--model DIR` (or no bundled model) uses DIR or a tiny test bundle.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _tree_size(path: Path) -> int:
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def bundle_sizes(app: Path, top: int = 15) -> dict:
    """Total bytes, and the biggest contributors: first-level entries of _internal, with nvidia/, torch/ and
    PySide6/ split one level further (they dominate), plus the largest single files."""
    internal = app / "_internal"
    groups: dict[str, int] = {}
    for entry in internal.iterdir():
        if entry.is_dir() and entry.name in ("nvidia", "torch", "PySide6"):
            for child in entry.iterdir():
                groups[f"{entry.name}/{child.name}"] = _tree_size(child)
        else:
            groups[entry.name] = _tree_size(entry)
    files = sorted((p for p in app.rglob("*") if p.is_file() and not p.is_symlink()), key=lambda p: p.stat().st_size,
                   reverse=True)
    total = _tree_size(app)
    mib = 1024 * 1024
    cuda_like = sum(size for name, size in groups.items() if name.startswith("nvidia/") or "cuda" in name.lower())
    torch_cuda = sum(p.stat().st_size for p in (internal / "torch" / "lib").glob("*cuda*")) \
        if (internal / "torch" / "lib").is_dir() else 0
    return {
        "total_mib": round(total / mib, 1),
        "files": sum(1 for p in app.rglob("*") if p.is_file()),
        "cuda_libraries_mib": round((cuda_like + torch_cuda) / mib, 1),
        "top_contributors_mib": {name: round(size / mib, 1) for name, size in
                                 sorted(groups.items(), key=lambda item: item[1], reverse=True)[:top]},
        "largest_files_mib": {str(p.relative_to(app)): round(p.stat().st_size / mib, 1) for p in files[:10]},
    }


def build_time_s(build_log: Path | None, app: Path) -> float | None:
    info = app.parent / "build-info.json"
    if info.is_file():
        return float(json.loads(info.read_text())["build_s"])
    if build_log and build_log.is_file():
        # PyInstaller prefixes each log line with milliseconds since it started.
        stamps = [int(m.group(1)) for m in re.finditer(r"^(\d+) INFO:", build_log.read_text(), re.M)]
        return round(stamps[-1] / 1000.0, 1) if stamps else None
    return None


def _env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp / "config"), XRAYVIEW_DATA_DIR=str(tmp / "data"),
               **extra)
    return env


def self_test_run(app: Path, env: dict[str, str]) -> dict:
    started = time.perf_counter()
    done = subprocess.run([str(app / "xrayview"), "--self-test"], cwd="/", env=env, capture_output=True, text=True,
                          timeout=900)
    lines = done.stdout.strip().splitlines()
    return {"wall_s": round(time.perf_counter() - started, 2), "exit_code": done.returncode,
            "summary": lines[-1] if lines else done.stderr[-300:], "checks": len([l for l in lines
                                                                                   if l[:4] in ("PASS", "FAIL")])}


def start_up_run(app: Path, env: dict[str, str], args: list[str], drop_caches: bool) -> dict:
    out = Path(env["XRAYVIEW_BENCH_OUT"])
    out.unlink(missing_ok=True)
    if drop_caches:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    launched = time.time()
    done = subprocess.run([str(app / "xrayview"), *args], cwd="/", env=env, capture_output=True, text=True,
                          timeout=600)
    if not out.is_file():
        raise RuntimeError(f"the frozen viewer wrote no bench data (rc={done.returncode}): {done.stderr[-1500:]}")
    events = json.loads(out.read_text())
    result = {f"{key}_s": round(events[key] - launched, 3)
              for key in ("window_shown", "image_shown", "model_ready", "first_result") if key in events}
    result["prediction_wall_ms"] = events.get("prediction_wall_ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=ROOT / "installer" / "dist" / "xrayview")
    parser.add_argument("--build-log", type=Path, default=ROOT / "installer" / "build" / "build.log")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", type=Path, help="model bundle for the start-up runs (default: the bundled one)")
    parser.add_argument("--image", type=Path, help="image to open (default: the bundled chest sample DICOM)")
    parser.add_argument("--drop-caches", action="store_true", help="drop the page cache before each run (root)")
    parser.add_argument("--skip-start-up", action="store_true")
    args = parser.parse_args()
    app = args.app.resolve()
    if not (app / "xrayview").is_file():
        raise SystemExit(f"{app}/xrayview not found: run installer/build-linux.sh first")

    report: dict = {"app": str(app), "cpu_count": os.cpu_count(), "bundle": bundle_sizes(app),
                    "build_s": build_time_s(args.build_log, app)}
    image = args.image or app / "_internal" / "resources" / "samples" / "chest-pa-sample.dcm"
    with tempfile.TemporaryDirectory(prefix="xrayview-bench-frozen-") as tmp:
        tmp_path = Path(tmp)
        model = args.model
        model_source = "bundled default model"
        extra: dict[str, str] = {}
        from inference.bundle_catalog import DEFAULT_POINTER

        if model is None and not (app / "_internal" / "resources" / "models" / DEFAULT_POINTER).is_file():
            from tests.helpers.tiny_models import make_tiny_bundle

            model = make_tiny_bundle(tmp_path / "models" / "tiny", name="bench-tiny")
            (tmp_path / "models" / DEFAULT_POINTER).write_text("tiny\n")
            model_source = "tiny test bundle (the build holds no model)"
        if model is not None:
            extra["XRAYVIEW_MODELS_DIR"] = str(Path(model).resolve().parent)
            model_source = model_source if args.model is None else f"{model}"
        report["model"] = model_source
        report["self_test"] = self_test_run(app, _env(tmp_path, extra))
        if not args.skip_start_up:
            env = _env(tmp_path, dict(extra, XRAYVIEW_BENCH_OUT=str(tmp_path / "bench.json"),
                                      XRAYVIEW_BENCH_REPEATS="0"))
            launch = (["--model", str(model)] if model is not None else []) + ["--device", "cpu", str(image)]
            runs = [start_up_run(app, env, launch, args.drop_caches) for _ in range(args.runs)]

            def median(key: str) -> float | None:
                values = [run[key] for run in runs[1:] or runs if key in run]
                return round(statistics.median(values), 3) if values else None

            report["start_up"] = {
                "image": str(image),
                "first_run_window_shown_s": runs[0].get("window_shown_s"),
                "first_run_first_result_s": runs[0].get("first_result_s"),
                "later_runs_median_window_shown_s": median("window_shown_s"),
                "later_runs_median_first_result_s": median("first_result_s"),
                "page_cache_dropped": args.drop_caches,
                "per_run": runs,
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
