"""Decode benchmark: a 2,500 x 2,000 DICOM, 16 bits allocated / 12 stored, in several transfer syntaxes.

The pixels come from a real full-resolution chest radiograph (../shared/data/samples/chest-xray-fullres),
upscaled in floating point (bicubic) to 2,000 x 2,500, spread over 12 bits, with seeded Gaussian noise
(sigma 2 levels, like detector noise) so the codecs see realistic, non-quantised data.

Each syntax is timed in its own fresh interpreter (so peak RSS is per syntax): `decode_ms` is pydicom's decoder with its default plugin order
alone (first frame to a NumPy array), `load_image_ms` the whole `inference.image_io.load_image` (read + decode +
pixel pipeline + presets; compressed syntaxes decode in the decoder worker process, started by the warm-up). Medians
over --runs runs after one warm-up. Prints one JSON object.

    .venv/bin/python bench/bench_decode.py [--runs 7]
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROWS, COLUMNS, BITS_STORED = 2500, 2000, 12
SOURCE = ROOT.parent / "shared" / "data" / "samples" / "chest-xray-fullres" / "PNEUMONIA" / "person1251_bacteria_3208.jpeg"
SYNTAXES = {
    "uncompressed_explicit_le": "1.2.840.10008.1.2.1",
    "rle_lossless": "1.2.840.10008.1.2.5",
    "jpeg_ls_lossless": "1.2.840.10008.1.2.4.80",
    "jpeg_lossless_sv1": "1.2.840.10008.1.2.4.70",  # written with dcmtk; decoded by GDCM in its worker process
    "jpeg_2000_lossless": "1.2.840.10008.1.2.4.90",
    "jpeg_2000_lossy": "1.2.840.10008.1.2.4.91",
}


def build_pixels():
    import numpy as np
    from PIL import Image

    with Image.open(SOURCE) as img:
        gray = img.convert("L").convert("F").resize((COLUMNS, ROWS), Image.Resampling.BICUBIC)
    values = np.asarray(gray, dtype=np.float64) * (((1 << BITS_STORED) - 1) / 255.0)
    values += np.random.default_rng(0).normal(0.0, 2.0, values.shape)
    return np.clip(np.rint(values), 0, (1 << BITS_STORED) - 1).astype(np.uint16)


def build_files(folder: Path) -> dict[str, Path]:
    from tests.helpers.dicom_factory import make_dicom_from_array

    pixels = build_pixels()
    files = {}
    for name, uid in SYNTAXES.items():
        if uid == "1.2.840.10008.1.2.4.70" and not shutil.which("dcmcjpeg"):
            continue
        files[name] = make_dicom_from_array(pixels, folder / f"{name}.dcm", bits_stored=BITS_STORED,
                                            transfer_syntax=uid, window=(2048, 4096, "FULL"),
                                            j2k_compression_ratio=10.0)
    return files


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux: VmHWM (per address space, so not inherited from the parent
    across fork+exec the way ru_maxrss is); elsewhere ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, 1)


def worker(path: Path, runs: int) -> dict:
    """Runs inside a fresh interpreter: times one file, reports its own peak RSS."""
    warnings.simplefilter("ignore")
    import pydicom
    from pydicom.pixels import get_decoder

    from inference.image_io import load_image

    rss_after_imports = peak_rss_mb()

    def decode_only():
        ds = pydicom.dcmread(path)
        return get_decoder(ds.file_meta.TransferSyntaxUID).as_array(ds, index=0)[0]

    timings = {}
    for label, function in (("decode_ms", decode_only), ("load_image_ms", lambda: load_image(path))):
        function()  # warm-up (imports, plugin discovery)
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            function()
            samples.append((time.perf_counter() - start) * 1000.0)
        timings[label] = round(statistics.median(samples), 1)
        timings[label.replace("_ms", "_runs_ms")] = " ".join(f"{s:.1f}" for s in samples)
    image = load_image(path)
    from inference import decoder_sandbox

    worker_rss = None  # compressed syntaxes: the decoder worker process's own peak
    for pid in decoder_sandbox.worker_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            worker_rss = max(worker_rss or 0.0, round(int(status.split("VmHWM:")[1].split()[0]) / 1024.0, 1))
        except (OSError, IndexError, ValueError):
            pass
    if worker_rss is not None:
        timings["decoder_worker_peak_rss_mb"] = worker_rss
    return {**timings, "file_bytes": path.stat().st_size, "shape": list(image.shape),
            "peak_rss_mb": peak_rss_mb(), "peak_rss_after_imports_mb": rss_after_imports}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.runs)))
        return
    with tempfile.TemporaryDirectory(prefix="xrayview_bench_decode_") as tmp:
        files = build_files(Path(tmp))
        results = {}
        for name, path in files.items():
            done = subprocess.run([sys.executable, __file__, "--worker", str(path), "--runs", str(args.runs)],
                                  capture_output=True, text=True, check=True, cwd=ROOT)
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    import numpy
    import pydicom

    print(json.dumps({
        "benchmark": "decode",
        "image": {"rows": ROWS, "columns": COLUMNS, "bits_allocated": 16, "bits_stored": BITS_STORED,
                  "source": SOURCE.name, "uncompressed_bytes": ROWS * COLUMNS * 2},
        "runs": args.runs, "statistic": "median",
        "results": results,
        "environment": {"python": platform.python_version(), "pydicom": pydicom.__version__,
                        "numpy": numpy.__version__, "machine": platform.machine(),
                        "cpu_count": __import__("os").cpu_count()},
    }, indent=2))


if __name__ == "__main__":
    main()
