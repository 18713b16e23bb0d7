"""Issue 17 item 1: no decoder failure ends a run. Every native decoder runs in a worker process
(inference.decoder_sandbox): a pyo3 PanicException (a BaseException), an abort, a segfault, a runaway allocation
or an endless loop there becomes that file's typed error, and the next file decodes."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import JPEGLosslessSV1

from inference import decoder_sandbox
from inference.errors import DecoderCrashedError, DecodeTimeoutError, ImageLoadError
from inference.image_io import load_image
from tests.helpers.damaged_files import overrunning_rle_frame, rle_panic_dicom, rle_panic_unreadable_dicom
from tests.helpers.dicom_factory import make_dicom_from_array
from tests.helpers.tiny_models import make_tiny_bundle

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def test_tasks(monkeypatch):
    """A fresh pool whose workers accept the test-only tasks, with small limits; the normal pool afterwards."""
    monkeypatch.setenv("XRAYVIEW_DECODER_TEST_TASKS", "1")
    monkeypatch.setenv("XRAYVIEW_DECODE_TIMEOUT_S", "3")
    monkeypatch.setenv("XRAYVIEW_DECODER_MEMORY_MB", "768")
    decoder_sandbox.shutdown()
    yield
    decoder_sandbox.shutdown()


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, xray8) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("damaged")
    files = {"panic_recoverable": rle_panic_dicom(folder / "rle_panic_recoverable.dcm"),
             "panic_unreadable": rle_panic_unreadable_dicom(folder / "rle_panic_unreadable.dcm")}
    good = Image.fromarray(xray8[:200, :200].copy())
    files["good_png"] = folder / "good.png"
    good.save(files["good_png"])
    files["good_dcm"] = make_dicom_from_array(xray8[:200, :200].copy(), folder / "good.dcm")
    if shutil.which("dcmcjpeg"):
        # GDCM (the only JPEG lossless decoder) aborts its process on this broken Huffman table marker
        lossless = make_dicom_from_array(xray8[:96, :96].copy(), folder / "lossless.dcm",
                                         transfer_syntax=JPEGLosslessSV1)
        data = bytearray(lossless.read_bytes())
        data[data.index(b"\xff\xc4", data.index(b"\xff\xd8\xff"))] = 0x2C
        files["gdcm_abort"] = folder / "gdcm_abort.dcm"
        files["gdcm_abort"].write_bytes(bytes(data))
    return files


def test_rle_panic_is_a_base_exception_in_process():
    """The premise: pylibjpeg-rle's panic escapes `except Exception`, so it must never run in our process."""
    from rle.rle import decode_frame

    with pytest.raises(BaseException) as raised:
        decode_frame(overrunning_rle_frame(), 64 * 64, 16, "<")
    assert not isinstance(raised.value, Exception) and type(raised.value).__name__ == "PanicException"


def test_panic_in_one_decoder_falls_back_to_the_next(damaged):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = load_image(damaged["panic_recoverable"])
    # pylibjpeg-rle panicked; pydicom's RLE decoder read both segments (0x55 bytes): 0x5555 masked to 12 bits
    assert image.shape == (64, 64)
    assert np.all(image.modality == 0x555)


def test_panic_with_no_other_decoder_is_the_files_typed_error(damaged):
    with pytest.raises(ImageLoadError) as raised:
        load_image(damaged["panic_unreadable"])
    message = str(raised.value)
    assert "rle_panic_unreadable.dcm" in message and "RLE Lossless pixel data is damaged" in message
    assert "the decoder broke down on it (an internal panic) (pylibjpeg)" in message  # in words, not the raw text
    assert "PanicException" not in message
    good = load_image(damaged["good_dcm"])  # the next file decodes
    np.testing.assert_array_equal(good.modality, load_image(damaged["good_png"]).modality)


def test_crash_is_typed_and_the_next_call_gets_a_fresh_worker(test_tasks, tmp_path):
    with pytest.raises(DecoderCrashedError, match="SIGSEGV"):
        decoder_sandbox.run("test_crash", {}, [], tmp_path / "x.dcm")
    info, _ = decoder_sandbox.run("ping", {}, [], tmp_path / "x.dcm")
    assert info["pid"] > 0


def test_hang_is_stopped_at_the_per_file_limit(test_tasks, tmp_path):
    import time

    started = time.monotonic()
    with pytest.raises(DecodeTimeoutError, match="3 s limit"):
        decoder_sandbox.run("test_hang", {}, [], tmp_path / "x.dcm")
    assert time.monotonic() - started < 10
    decoder_sandbox.run("ping", {}, [], tmp_path / "x.dcm")


def test_memory_cap_turns_a_runaway_allocation_into_a_typed_error(test_tasks, tmp_path):
    if sys.platform == "win32":
        pytest.skip("no address-space limit on Windows (the process boundary still contains crashes)")
    with pytest.raises(ImageLoadError, match="not enough memory"):
        decoder_sandbox.run("test_allocate", {"megabytes": 2048}, [], tmp_path / "x.dcm")
    info, _ = decoder_sandbox.run("test_allocate", {"megabytes": 64}, [], tmp_path / "x.dcm")
    assert info["sum"] == 64


def test_parallel_callers_share_the_pool(tmp_path, xray8):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "a.png"
    Image.fromarray(xray8).save(path)
    with ThreadPoolExecutor(4) as pool:
        shapes = list(pool.map(lambda _: load_image(path).shape, range(12)))
    assert shapes == [xray8.shape] * 12
    assert len(decoder_sandbox.worker_pids()) <= decoder_sandbox.DEFAULT_WORKERS


def test_gdcm_abort_is_typed(damaged):
    if "gdcm_abort" not in damaged:
        pytest.skip("dcmtk (dcmcjpeg) is not installed")
    with pytest.raises(ImageLoadError, match="could not be decoded|crashed"):
        load_image(damaged["gdcm_abort"])


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("iso") / "tiny", seed=5)


def test_predict_cli_reports_each_damaged_file_and_goes_on(damaged, tiny_bundle):
    """The issue's run: `xrayview-predict good.png bad.dcm good.dcm` printed nothing and died with a traceback."""
    from inference.cli_predict import run

    names = ["good_png", "panic_unreadable", "panic_recoverable", "gdcm_abort", "good_dcm"]
    paths = [damaged[name] for name in names if name in damaged]
    stdout, stderr = io.StringIO(), io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = run([*map(str, paths), "--model", str(tiny_bundle), "--device", "cpu"], stdout=stdout, stderr=stderr)
    records = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [r["path"] for r in records] == [str(p) for p in paths]
    assert code == 1 and "Traceback" not in stderr.getvalue()
    by_name = {Path(r["path"]).name: r for r in records}
    assert by_name["rle_panic_unreadable.dcm"]["error"]["type"] == "ImageLoadError"
    assert "gdcm_abort.dcm" not in by_name or "error" in by_name["gdcm_abort.dcm"]
    for ok in ("good.png", "good.dcm", "rle_panic_recoverable.dcm"):
        assert "error" not in by_name[ok] and by_name[ok]["label"] in ("NORMAL", "PNEUMONIA")


def test_eval_and_training_decode_skip_damaged_files(damaged, tiny_bundle, shared_data, tmp_path, capsys):
    """xrayview-eval (and xrayview-train, which decodes through the same cache) list a panicking file as skipped."""
    from training.cli_eval import main as eval_main

    data = tmp_path / "data"
    train = shared_data / "chest-xray-pneumonia" / "train"
    for label in ("NORMAL", "PNEUMONIA"):
        (data / label).mkdir(parents=True)
        for source in sorted((train / label).iterdir())[:4]:
            (data / label / source.name).symlink_to(source)
    shutil.copy(damaged["panic_unreadable"], data / "PNEUMONIA" / "rle_panic_unreadable.dcm")
    code = eval_main(["--model", str(tiny_bundle), "--data", str(data), "--device", "cpu", "--details"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert result["n"] == 8
    assert [Path(s["path"]).name for s in result["skipped"]] == ["rle_panic_unreadable.dcm"]
    assert "an internal panic" in result["skipped"][0]["reason"]


def test_predict_cli_in_a_fresh_process_survives_the_panic_file(damaged, tiny_bundle):
    """End to end in a real process (its own decoder workers), as a user runs it."""
    done = subprocess.run([sys.executable, "-m", "inference.cli_predict", str(damaged["good_png"]),
                           str(damaged["panic_unreadable"]), str(damaged["good_dcm"]), "--model", str(tiny_bundle),
                           "--device", "cpu"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1, done.stderr
    assert [("error" in r) for r in lines] == [False, True, False]
    assert "Traceback" not in done.stderr and "panicked" not in done.stderr


def test_training_decode_in_data_loader_workers(damaged, shared_data):
    """xrayview-train decodes 64+ files in DataLoader worker processes (daemonic, forked): each starts its own
    decoder workers, and the panicking file is that file's error."""
    from inference.preprocess import InputSpec
    from training.cache import decode_images

    load_image(damaged["good_png"])  # this process has a decoder pool: the forked workers must not share it
    files = sorted((shared_data / "chest-xray-pneumonia" / "train" / "NORMAL").iterdir())[:70]
    decoded = decode_images([*files, damaged["panic_unreadable"]], InputSpec(channels=1, height=32, width=32),
                            workers=2)
    assert decoded.ok[:70].all() and not decoded.ok[70]
    assert "an internal panic" in decoded.errors[70]


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in executable is a shell script")
def test_frozen_builds_start_workers_through_their_entry_point(tmp_path, monkeypatch):
    """A frozen app has no `python -c`: it re-runs its own executable with --xrayview-decode-worker, which every
    installer entry point hands to inference.decode_worker before starting the app."""
    exe = tmp_path / "xrayview-predict"
    script = PROJECT_ROOT / "installer" / "entry_points" / "xrayview-predict.py"
    exe.write_text(f"#!/bin/sh\nPYTHONPATH={PROJECT_ROOT} exec {sys.executable} {script} \"$@\"\n")
    exe.chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    decoder_sandbox.shutdown()
    try:
        info, _ = decoder_sandbox.run("ping", {}, [], tmp_path / "x")
        assert info["pid"] > 0
        sample = PROJECT_ROOT / "resources" / "samples" / "syntaxes" / "jpeg-ls-lossless.dcm"
        assert load_image(sample).shape == (180, 192)
    finally:
        decoder_sandbox.shutdown()
