"""What running every native decoder in a worker process costs (inference.decoder_sandbox).

For each file, `load_image` is timed as shipped (decoding in the worker: one request, the decoded pixels copied back
through a pipe) and with the same decoder code called in this process instead (the sandbox's `run` swapped for a
direct call): `overhead_ms` is the difference, per file. Files: the 2,500 x 2,000 16-bit DICOMs of
bench/bench_decode.py (real chest film, compressed syntaxes), a 16-bit PNG of the same pixels, a full-resolution
chest JPEG and a 224 x 224 training JPEG from ../shared/data, and the mean per file over 200 distinct training
JPEGs (as xrayview-train decodes them: many small files, each read once). Also: worker start-up (spawn to first
answer, what the first image after start waits for unless `prestart()` ran), the round trip of an empty request,
the time `prestart()` takes on the caller's thread (the viewer calls it at start), and the worker's peak memory.
Medians over --runs runs after one warm-up. Prints one JSON object.

    .venv/bin/python bench/bench_decode_isolation.py [--runs 7]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SHARED = ROOT.parent / "shared" / "data"
FULLRES_JPEG = SHARED / "samples" / "chest-xray-fullres" / "PNEUMONIA" / "person1251_bacteria_3208.jpeg"
TRAINING_JPEG_FOLDER = SHARED / "chest-xray-pneumonia" / "train" / "NORMAL"


def _median_ms(function, runs: int) -> float:
    function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000.0)
    return round(statistics.median(samples), 2)


def _in_process_run(task, header, blobs, path, deadline=None):
    """decoder_sandbox.run without the process boundary: the worker's code, called here."""
    from inference import decoder_sandbox
    from inference.decode_tasks import run_task
    from inference.errors import ImageLoadError

    try:
        info, arrays = run_task(dict(header, task=task), [bytearray(b) for b in blobs])
    except ImageLoadError:
        raise
    except BaseException as exc:  # noqa: BLE001 - same mapping as the worker's
        raise decoder_sandbox.DecoderFailed(f"{type(exc).__name__}: {exc}") from None
    return info, arrays


def _worker_peak_mb() -> float | None:
    from inference import decoder_sandbox

    peaks = []
    for pid in decoder_sandbox.worker_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            peaks.append(int(status.split("VmHWM:")[1].split()[0]) / 1024.0)
        except (OSError, IndexError, ValueError):
            pass
    return round(max(peaks), 1) if peaks else None


def build_files(folder: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image

    from bench_decode import build_files as build_dicoms, build_pixels

    files = {f"dicom_2500x2000_{name}": path for name, path in build_dicoms(folder).items()}
    png = folder / "png16_2500x2000.png"
    Image.fromarray(build_pixels().astype(np.uint16)).save(png)
    files["png_16bit_2500x2000"] = png
    if FULLRES_JPEG.is_file():
        files["jpeg_fullres_chest"] = FULLRES_JPEG
    training = sorted(TRAINING_JPEG_FOLDER.glob("*.jp*g"))[:1] if TRAINING_JPEG_FOLDER.is_dir() else []
    if training:
        files["jpeg_224_training"] = training[0]
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore")
    from inference import decoder_sandbox
    from inference.image_io import load_image

    # worker start-up: a fresh pool, spawn -> first answer
    starts = []
    for _ in range(5):
        decoder_sandbox.shutdown()
        started = time.perf_counter()
        decoder_sandbox.run("ping", {}, [], Path("ping"))
        starts.append((time.perf_counter() - started) * 1000.0)
    decoder_sandbox.shutdown()
    started = time.perf_counter()
    decoder_sandbox.prestart()
    prestart_ms = (time.perf_counter() - started) * 1000.0
    ping_ms = _median_ms(lambda: decoder_sandbox.run("ping", {}, [], Path("ping")), 200)

    results = {}
    with tempfile.TemporaryDirectory(prefix="xrayview_bench_isolation_") as tmp:
        for name, path in build_files(Path(tmp)).items():
            image = load_image(path)
            isolated = _median_ms(lambda: load_image(path), args.runs)
            shipped_run = decoder_sandbox.run
            decoder_sandbox.run = _in_process_run
            try:
                in_process = _median_ms(lambda: load_image(path), args.runs)
            finally:
                decoder_sandbox.run = shipped_run
            results[name] = {"shape": list(image.shape), "file_bytes": path.stat().st_size,
                             "isolated_ms": isolated, "in_process_ms": in_process,
                             "overhead_ms": round(isolated - in_process, 2),
                             "overhead_percent": round(100.0 * (isolated - in_process) / in_process, 1)}
    # many small files, as xrayview-train decodes them: mean per file over up to 200 distinct training JPEGs
    training = sorted(TRAINING_JPEG_FOLDER.glob("*.jp*g"))[:200] if TRAINING_JPEG_FOLDER.is_dir() else []
    if training:
        def per_file_ms() -> float:
            started = time.perf_counter()
            for path in training:
                load_image(path)
            return (time.perf_counter() - started) * 1000.0 / len(training)

        isolated = per_file_ms()
        shipped_run = decoder_sandbox.run
        decoder_sandbox.run = _in_process_run
        try:
            in_process = per_file_ms()
        finally:
            decoder_sandbox.run = shipped_run
        isolated = min(isolated, per_file_ms())  # the first pass also read the files from disk
        results["jpeg_224_training_200_files_mean"] = {
            "files": len(training), "isolated_ms": round(isolated, 2), "in_process_ms": round(in_process, 2),
            "overhead_ms": round(isolated - in_process, 2)}
    import numpy
    import pydicom

    print(json.dumps({
        "benchmark": "decode_isolation",
        "runs": args.runs, "statistic": "median",
        "worker_start_ms": {"median": round(statistics.median(starts), 1), "all": [round(s, 1) for s in starts]},
        "prestart_call_ms": round(prestart_ms, 2),
        "empty_round_trip_ms": ping_ms,
        "worker_peak_rss_mb": _worker_peak_mb(),
        "memory_cap_mb": decoder_sandbox.memory_limit_mb(),
        "results": results,
        "environment": {"python": platform.python_version(), "pydicom": pydicom.__version__,
                        "numpy": numpy.__version__, "machine": platform.machine(), "cpu_count": os.cpu_count(),
                        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None},
    }, indent=2))


if __name__ == "__main__":
    main()
