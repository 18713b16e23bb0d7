"""Issue 17 item 6: inputs that stalled a run. A FIFO (or any non-regular file) is refused unopened; a valid DICOM
followed by zero padding or a multi-GB sparse tail is read only up to its Pixel Data; a header of zeros and a
deflate bomb are refused after bounded work. Each case runs in a subprocess with a deadline, so a regression
fails the test instead of hanging it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, RLELossless

from tests.helpers.dicom_factory import make_dicom_from_array

PROJECT_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and sparse files as on POSIX")

_LOAD = """
import json, sys, time
from inference.image_io import load_image
from inference.errors import ImageLoadError
if len(sys.argv) > 2:
    load_image(sys.argv[2])  # warm-up: starts the decoder worker, so only the file itself is timed
started = time.monotonic()
try:
    image = load_image(sys.argv[1])
    out = {"ok": True, "shape": list(image.shape), "sum": float(image.modality.sum())}
except ImageLoadError as exc:
    out = {"ok": False, "type": type(exc).__name__, "message": str(exc)}
out["seconds"] = time.monotonic() - started
print(json.dumps(out))
"""


def _load_in_subprocess(path: Path, deadline_s: float = 60, warm_up: Path | None = None) -> dict:
    command = [sys.executable, "-c", _LOAD, str(path)] + ([str(warm_up)] if warm_up else [])
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=deadline_s)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fifo_is_refused_unopened(tmp_path):
    fifo = tmp_path / "scan.dcm"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = _load_in_subprocess(fifo, deadline_s=60)  # opening it would block forever: no writer ever comes
    assert not result["ok"] and result["type"] == "NotARegularFileError"
    assert "named pipe (FIFO)" in result["message"] and "scan.dcm" in result["message"]
    assert time.monotonic() - started < 60


def test_devices_are_refused():
    from inference.errors import NotARegularFileError
    from inference.image_io import load_image

    with pytest.raises(NotARegularFileError, match="character device"):
        load_image("/dev/zero")


def test_predict_cli_reports_a_fifo_and_goes_on(tmp_path, xray8):
    from PIL import Image

    from tests.helpers.tiny_models import make_tiny_bundle

    bundle = make_tiny_bundle(tmp_path / "tiny", seed=1)
    good = tmp_path / "good.png"
    Image.fromarray(xray8).save(good)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "inference.cli_predict", str(fifo), str(good), "--model",
                           str(bundle), "--device", "cpu"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1, done.stderr
    assert records[0]["error"]["type"] == "NotARegularFileError" and "label" in records[1]


@pytest.fixture(scope="module")
def dicom16(xray8, tmp_path_factory) -> tuple[Path, np.ndarray]:
    pixels = (xray8.astype(np.uint16) * 16).astype(np.uint16)
    path = make_dicom_from_array(pixels, tmp_path_factory.mktemp("pad") / "base.dcm", bits_stored=12,
                                 transfer_syntax=ExplicitVRLittleEndian)
    return path, pixels


def test_zero_padding_after_the_pixel_data_is_not_read(dicom16, tmp_path):
    """200 MB of zeros after the Pixel Data took 76 s: every 8 zero bytes parsed as an empty element."""
    source, pixels = dicom16
    padded = tmp_path / "padded.dcm"
    with open(padded, "wb") as handle:
        handle.write(source.read_bytes())
        zeros = bytes(8 << 20)
        for _ in range(25):
            handle.write(zeros)
    result = _load_in_subprocess(padded)
    assert result["ok"] and result["shape"] == list(pixels.shape)
    assert result["sum"] == float(pixels.astype(np.float64).sum())
    assert result["seconds"] < 5


def test_sparse_multi_gigabyte_tail_is_not_read(dicom16, tmp_path):
    source, pixels = dicom16
    sparse = tmp_path / "sparse.dcm"
    sparse.write_bytes(source.read_bytes())
    with open(sparse, "r+b") as handle:
        handle.truncate(4 << 30)  # a 4 GB file whose tail is a hole: nothing is written to disk
    result = _load_in_subprocess(sparse)
    assert result["ok"] and result["shape"] == list(pixels.shape) and result["seconds"] < 5


def test_compressed_file_with_padding_after_the_pixel_data(xray8, tmp_path):
    source = make_dicom_from_array(xray8, tmp_path / "rle.dcm", transfer_syntax=RLELossless)
    padded = tmp_path / "rle_padded.dcm"
    padded.write_bytes(source.read_bytes() + bytes(64 << 20))
    result = _load_in_subprocess(padded, warm_up=source)
    assert result["ok"] and result["sum"] == float(xray8.astype(np.float64).sum()) and result["seconds"] < 5


def test_a_header_of_zeros_is_refused_after_bounded_work(dicom16, tmp_path):
    """Preamble, file meta, then 100 MB of zeros and no Pixel Data: the parser must not walk it element by
    element for minutes."""
    source, _ = dicom16
    ds = pydicom.dcmread(source)
    meta_end = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    zeros = tmp_path / "zeros.dcm"
    with open(zeros, "wb") as handle:
        handle.write(source.read_bytes()[:meta_end])
        for _ in range(100):
            handle.write(bytes(1 << 20))
    result = _load_in_subprocess(zeros)
    assert not result["ok"] and result["seconds"] < 30
    assert "far more elements than any image header" in result["message"]


def test_deflate_bomb_is_refused(dicom16, tmp_path, monkeypatch):
    from inference import dicom_pixels
    from inference.errors import ImageLoadError
    from inference.image_io import load_image

    source, pixels = dicom16
    deflated = make_dicom_from_array(pixels, tmp_path / "deflated.dcm", bits_stored=12,
                                     transfer_syntax=DeflatedExplicitVRLittleEndian)
    np.testing.assert_array_equal(load_image(deflated).modality, pixels.astype(np.float32))
    raw = deflated.read_bytes()
    ds = pydicom.dcmread(deflated)
    meta_end = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    bomb_body = compressor.compress(bytes(64 << 20)) + compressor.flush()
    bomb = tmp_path / "bomb.dcm"
    bomb.write_bytes(raw[:meta_end] + bomb_body)
    assert bomb.stat().st_size < 200_000
    monkeypatch.setattr(dicom_pixels, "MAX_INFLATED_BYTES", 32 << 20)
    with pytest.raises(ImageLoadError, match="inflates to more than 32 MB"):
        load_image(bomb)
