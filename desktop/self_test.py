"""`xrayview --self-test`: proves an installed XRayView works on this machine, headless and offline.

Checks, one output line each (PASS/FAIL/INFO): every DICOM in resources/samples/syntaxes/ decodes to the pixels
of its reference PNG (lossless: exactly; lossy: within the limits in manifest.json); the bundled sample DICOM
renders like the bundled PNG; every bundled model in resources/models/ (or XRAYVIEW_MODELS_DIR) loads with its
hash checked, predicts the sample with Grad-CAM, and gives the same answer for the PNG and DICOM copies; the
viewer's PDF report writer writes a report; and nothing tried to open a network connection. Exit status 0 when
every check passed, 1 otherwise; the last line names the failed checks.

Runs with Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise. XRAYVIEW_SELF_TEST_OUT=folder keeps
the PDF there (default: a temporary folder, removed afterwards). Without a console (the windowed Windows app)
the lines go to xrayview-self-test.txt in the temporary folder.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, TextIO

import numpy as np

OUT_ENV = "XRAYVIEW_SELF_TEST_OUT"
NO_MODEL_MESSAGE = "no bundled model installed"
_network_attempts: list[str] = []
_audit_state = {"installed": False, "recording": False}


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str
    ms: float


class SelfTest:
    def __init__(self, stream: TextIO):
        self.stream = stream
        self.results: list[CheckResult] = []

    def info(self, name: str, detail: str) -> None:
        self._print(f"INFO  {name}: {detail}")

    def check(self, name: str, function: Callable[[], str]) -> CheckResult:
        """Run one check: `function` returns a detail line or raises (AssertionError or any error = FAIL)."""
        started = time.perf_counter()
        try:
            detail, passed = function(), True
        except Exception as error:  # noqa: BLE001 - a self-test reports every failure and goes on
            detail, passed = _describe(error), False
        result = CheckResult(name, passed, detail, (time.perf_counter() - started) * 1000.0)
        self.results.append(result)
        self._print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail}  [{result.ms:.0f} ms]")
        return result

    def _print(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]


def _fail(message: str) -> str:
    raise AssertionError(message)


def _describe(error: Exception) -> str:
    if isinstance(error, AssertionError):
        return str(error) or "assertion failed"
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
    return f"{type(error).__name__}: {error}{where}"


# ------------------------------------------------------------------------------------------------ network
def _audit(event: str, args: tuple) -> None:
    if _audit_state["recording"] and event in ("socket.connect", "socket.getaddrinfo", "socket.sendto",
                                               "urllib.Request"):
        _network_attempts.append(f"{event} {args[1:2] if event == 'socket.connect' else args[:1]}")


def _start_network_watch() -> None:
    if not _audit_state["installed"]:
        sys.addaudithook(_audit)  # audit hooks cannot be removed; this one only records while recording is on
        _audit_state["installed"] = True
    _network_attempts.clear()
    _audit_state["recording"] = True


# ------------------------------------------------------------------------------------------------ decoding
def _check_syntax_file(folder: Path, entry: dict, reference8: np.ndarray) -> str:
    import pydicom

    from inference.image_io import load_image

    path = folder / entry["file"]
    syntax = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    assert syntax == entry["transfer_syntax"], f"{path.name}: transfer syntax {syntax}, manifest says " \
                                               f"{entry['transfer_syntax']}"
    bits = int(entry["bits_stored"])
    top = (1 << bits) - 1
    expected = reference8.astype(np.float64) if bits == 8 else \
        ((reference8.astype(np.uint32) * top + 127) // 255).astype(np.float64)
    decoded = load_image(path).modality.astype(np.float64)
    assert decoded.shape == expected.shape, f"{path.name}: decoded {decoded.shape}, expected {expected.shape}"
    error = np.abs(decoded - expected)
    max_error, mean_error = float(error.max()), float(error.mean())
    if entry["lossless"]:
        assert max_error == 0, f"{path.name}: lossless syntax but {int((error > 0).sum())} pixels differ " \
                               f"(max error {max_error:g})"
        return f"{path.name} ({entry['name']}, {bits} bit): exact, {decoded.shape[1]}x{decoded.shape[0]}"
    assert max_error <= entry["max_abs_error"] and mean_error <= entry["max_mean_abs_error"], (
        f"{path.name}: error max {max_error:g} / mean {mean_error:.3f} exceeds the limits "
        f"{entry['max_abs_error']} / {entry['max_mean_abs_error']}")
    return (f"{path.name} ({entry['name']}, {bits} bit): max error {max_error:g} <= {entry['max_abs_error']}, "
            f"mean {mean_error:.3f} <= {entry['max_mean_abs_error']}")


def check_syntaxes(test: SelfTest, samples: Path) -> None:
    from PIL import Image

    folder = samples / "syntaxes"
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        test.check("decode", lambda: _fail(f"{manifest_path} is missing"))
        return
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    with Image.open(folder / manifest["reference"]) as png:
        reference8 = np.asarray(png.convert("L"), dtype=np.uint8)
    listed = {entry["file"] for entry in manifest["files"]}
    for entry in manifest["files"]:
        test.check("decode", lambda entry=entry: _check_syntax_file(folder, entry, reference8))
    unlisted = sorted(p.name for p in folder.glob("*.dcm") if p.name not in listed)
    if unlisted:
        test.check("decode", lambda: _fail(f"not in manifest.json, so not checked: {', '.join(unlisted)}"))


def check_sample_pair(samples: Path) -> str:
    from inference.image_io import load_image

    png, dcm = load_image(samples / "chest-pa-sample.png"), load_image(samples / "chest-pa-sample.dcm")
    difference = float(np.abs(png.render() - dcm.render()).max())
    assert difference == 0, f"chest-pa-sample.dcm renders differently from chest-pa-sample.png (max {difference:g})"
    return f"chest-pa-sample.dcm renders exactly like chest-pa-sample.png ({png.modality.shape[1]}x" \
           f"{png.modality.shape[0]})"


# ------------------------------------------------------------------------------------------------ models
def bundled_model_dirs(models: Path) -> list[Path]:
    if not models.is_dir():
        return []
    from inference.model_card import CARD_FILE

    return sorted(p for p in models.iterdir() if p.is_dir() and (p / CARD_FILE).is_file())


def check_default_pointer(models: Path, bundles: list[Path]) -> str:
    assert bundles, f"{NO_MODEL_MESSAGE} ({models} holds no model bundle)"
    from inference.bundle_catalog import DEFAULT_POINTER

    pointer = models / DEFAULT_POINTER
    assert pointer.is_file(), f"{pointer} is missing: no default model is named"
    name = pointer.read_text(encoding="utf-8").strip()
    assert name in {b.name for b in bundles}, f"DEFAULT names {name!r}, which is not an installed bundle"
    return f"default model {name!r}; {len(bundles)} bundle(s) in {models}"


def check_model(bundle_dir: Path, samples: Path, outcome: dict) -> str:
    from inference.image_io import load_image
    from inference.predictor import Predictor

    started = time.perf_counter()
    predictor = Predictor(bundle_dir, device="auto")
    load_ms = (time.perf_counter() - started) * 1000.0
    image = load_image(samples / "chest-pa-sample.dcm")
    prediction = predictor.predict(image, cam_method="gradcam")
    probabilities = np.array(list(prediction.probabilities.values()), dtype=np.float64)
    assert list(prediction.probabilities) == list(predictor.labels), "probabilities do not follow the card's labels"
    assert np.all(np.isfinite(probabilities)) and abs(probabilities.sum() - 1.0) < 1e-4, \
        f"probabilities are not a distribution: {prediction.probabilities}"
    heatmap = prediction.heatmap
    assert heatmap is not None, "Grad-CAM gave no heatmap"
    assert heatmap.shape == image.modality.shape, f"heatmap {heatmap.shape} != image {image.modality.shape}"
    assert np.all(np.isfinite(heatmap)) and heatmap.min() >= 0 and heatmap.max() <= 1, "heatmap outside [0, 1]"
    assert float(heatmap.max() - heatmap.min()) > 1e-3, "heatmap is flat: Grad-CAM found nothing"
    png_prediction = predictor.predict(load_image(samples / "chest-pa-sample.png"), cam_method=None)
    gap = max(abs(png_prediction.probabilities[k] - v) for k, v in prediction.probabilities.items())
    assert gap < 1e-5, f"PNG and DICOM copies of the sample get different probabilities (gap {gap:.2e})"
    outcome.update(image=image, prediction=prediction, predictor=predictor)
    probs = ", ".join(f"{k} {v:.3f}" for k, v in prediction.probabilities.items())
    return (f"{predictor.bundle.name} {predictor.bundle.version} (manifest {predictor.bundle.manifest_sha256[:12]}) "
            f"on {prediction.device}: call {prediction.label} "
            f"({probs}); Grad-CAM {heatmap.shape[1]}x{heatmap.shape[0]}; load {load_ms:.0f} ms, predict+CAM "
            f"{sum(v or 0 for v in prediction.timings_ms.values()):.0f} ms")


# ------------------------------------------------------------------------------------------------ report
def check_report(samples: Path, outcome: dict, out_dir: Path, keep: bool) -> str:
    from desktop import prediction_adapter as pa
    from desktop.ai_state import OperatingPoint
    from desktop.image_adapter import default_window_of
    from desktop.report_builder import build_report_content
    from desktop.report_export import write_pdf_report
    from inference.image_io import load_image

    image = outcome.get("image") or load_image(samples / "chest-pa-sample.dcm")
    prediction, predictor = outcome.get("prediction"), outcome.get("predictor")
    view = SimpleNamespace(window=default_window_of(image), inverted=False)
    operating_point = OperatingPoint(predictor.threshold if predictor is not None else None)
    call = operating_point.call(prediction) if prediction is not None else None
    content = build_report_content(image, view, prediction, pa.card_of(predictor), operating_point.threshold, call,
                                   "jet", 0.45)
    target = write_pdf_report(content, out_dir / "self-test-report.pdf")
    data = target.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:], f"{target} is not a complete PDF"
    assert len(data) > 20_000, f"{target} is only {len(data)} bytes: the images are missing"
    what = "with the AI result and heatmap" if prediction is not None else "without an AI result (no model)"
    where = str(target) if keep else f"{target.name} in a temporary folder (set {OUT_ENV}=folder to keep it)"
    return f"{where}: {len(data):,} bytes, {what}"


# ------------------------------------------------------------------------------------------------ main
def _runtime_line() -> str:
    import torch  # in a frozen app, a missing library or module shows up here first
    from PySide6 import __version__ as pyside_version

    frozen = "frozen app" if getattr(sys, "frozen", False) else "from source"
    return (f"XRayView {frozen}, Python {platform.python_version()}, torch {torch.__version__}, "
            f"PySide6 {pyside_version}, {platform.system()} {platform.machine()}")


def run(stream: TextIO) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _start_network_watch()
    test = SelfTest(stream)
    from inference.resources import models_dir, samples_dir

    samples, models = samples_dir(), models_dir()
    if not test.check("runtime", _runtime_line).passed:
        test._print("SELF-TEST FAILED: the runtime (torch, Qt) does not load; nothing else can run")
        return 1
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "xrayview"])
    test.info("qt", f"platform {app.platformName()!r}")

    check_syntaxes(test, samples)
    test.check("sample", lambda: check_sample_pair(samples))
    bundles = bundled_model_dirs(models)
    outcome: dict = {}
    test.check("models", lambda: check_default_pointer(models, bundles))
    for bundle_dir in bundles:
        test.check(f"model {bundle_dir.name}", lambda bundle_dir=bundle_dir: check_model(bundle_dir, samples, outcome))

    keep = os.environ.get(OUT_ENV)
    out_dir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="xrayview-self-test-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        test.check("report", lambda: check_report(samples, outcome, out_dir, bool(keep)))
    finally:
        if not keep:
            shutil.rmtree(out_dir, ignore_errors=True)
    _audit_state["recording"] = False
    attempts = sorted(set(_network_attempts))

    def network() -> str:
        assert not attempts, f"network use attempted: {'; '.join(attempts[:5])}"
        return "no connection or name lookup was attempted"

    test.check("network", network)
    failed = test.failed
    if failed:
        names = sorted({r.name for r in failed})
        test._print(f"SELF-TEST FAILED: {len(failed)} of {len(test.results)} checks failed ({', '.join(names)})")
        return 1
    test._print(f"SELF-TEST PASSED: {len(test.results)} checks")
    return 0


def main(argv: list[str] | None = None) -> int:
    if sys.stdout is not None:
        return run(sys.stdout)
    # Windowed app without a console: write the lines to a file a person can open.
    log_path = Path(tempfile.gettempdir()) / "xrayview-self-test.txt"
    with open(log_path, "w", encoding="utf-8") as stream:
        return run(stream)


if __name__ == "__main__":
    sys.exit(main())
