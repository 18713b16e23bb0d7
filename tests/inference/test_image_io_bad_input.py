"""Every kind of bad input gives a typed ImageLoadError naming the file and a human reason, never a traceback."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from inference.errors import (
    DecoderMissingError,
    EmptyFileError,
    ImageLoadError,
    ImageTooLargeError,
    MissingPixelDataError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from inference.image_io import MAX_PIXELS, load_image
from tests.helpers.dicom_factory import make_oversized_dicom, make_sr_document, widen_to_bits

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def assert_reported(error_type, path: Path, *words: str):
    with pytest.raises(error_type) as info:
        load_image(path)
    message = str(info.value)
    assert path.name in message, message
    for word in words:
        assert word.lower() in message.lower(), message
    assert info.value.path == path
    return info.value


@pytest.mark.parametrize("name", ["empty.dcm", "empty.png", "empty"])
def test_zero_byte_file(name, tmp_path):
    path = tmp_path / name
    path.write_bytes(b"")
    assert_reported(EmptyFileError, path, "empty")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.dcm"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    assert_reported(UnsupportedFormatError, path, "not recognised")


def test_random_bytes_behind_a_dicom_preamble(tmp_path):
    path = tmp_path / "noise_with_preamble.dcm"
    path.write_bytes(bytes(128) + b"DICM" + np.random.default_rng(8).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    error = assert_reported(ImageLoadError, path, "damaged")
    assert not isinstance(error, MissingPixelDataError)


def test_text_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n" * 20)
    assert_reported(UnsupportedFormatError, path)


@pytest.mark.parametrize("fraction", [0.5, 0.95])
def test_truncated_uncompressed_dicom(fraction, xray8, build_dicom, tmp_path):
    data = build_dicom(widen_to_bits(xray8, 12), bits_stored=12).read_bytes()
    path = tmp_path / f"cut_{fraction}.dcm"
    path.write_bytes(data[: int(len(data) * fraction)])
    assert_reported(TruncatedFileError, path)


def test_truncated_in_header(xray8, build_dicom, tmp_path):
    data = build_dicom(xray8).read_bytes()
    path = tmp_path / "cut_header.dcm"
    path.write_bytes(data[:300])
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert path.name in str(info.value)


@pytest.mark.parametrize("syntax", [JPEGLSLossless, RLELossless, JPEG2000Lossless])
@pytest.mark.parametrize("fraction", [0.4, 0.99])
def test_truncated_compressed_dicom(syntax, fraction, xray8, build_dicom, tmp_path):
    data = build_dicom(xray8, transfer_syntax=syntax).read_bytes()
    path = tmp_path / f"cut_{fraction}.dcm"
    path.write_bytes(data[: int(len(data) * fraction)])
    assert_reported(TruncatedFileError, path, "cut short")


def test_truncated_deflated_dicom(xray8, build_dicom, tmp_path):
    data = build_dicom(xray8, transfer_syntax=DeflatedExplicitVRLittleEndian).read_bytes()
    path = tmp_path / "cut_deflated.dcm"
    path.write_bytes(data[: len(data) // 2])
    assert_reported(TruncatedFileError, path, "cut short")


def test_corrupt_compressed_stream(xray8, build_dicom, tmp_path):
    data = bytearray(build_dicom(xray8, transfer_syntax=JPEGLSLossless).read_bytes())
    middle = len(data) // 2
    data[middle:middle + 500] = bytes(500)
    path = tmp_path / "corrupt_jpegls.dcm"
    path.write_bytes(bytes(data))
    assert_reported(ImageLoadError, path, "JPEG-LS", "could not be decoded")


def test_truncated_png_and_jpeg(xray8_png, real_xray_jpeg, tmp_path):
    for source, name in ((xray8_png, "cut.png"), (real_xray_jpeg, "cut.jpeg")):
        data = source.read_bytes()
        path = tmp_path / name
        path.write_bytes(data[: len(data) // 2])
        assert_reported(TruncatedFileError, path, "cut short")


def test_dicom_without_pixel_data(tmp_path):
    path = make_sr_document(tmp_path / "report.dcm")
    error = assert_reported(MissingPixelDataError, path, "no image")
    assert "SR" in str(error) or "Report" in str(error)


def test_oversized_dicom_refused_from_header_before_allocating(tmp_path):
    path = make_oversized_dicom(tmp_path / "huge.dcm", 20_000, 20_000)
    tracemalloc.start()
    try:
        assert_reported(ImageTooLargeError, path, "20,000 x 20,000")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024  # the 800 MB frame was never allocated
    assert MAX_PIXELS < 20_000 * 20_000


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR claims width x height, followed by a tiny IDAT: enough for any reader to learn the size."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64)))
                     + chunk(b"IEND", b""))
    return path


def test_oversized_png_refused_before_decoding(tmp_path):
    path = _png_header_only(tmp_path / "huge.png", 20_000, 20_000)
    tracemalloc.start()
    try:
        assert_reported(ImageTooLargeError, path, "million")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024


def test_missing_file_and_folder(tmp_path):
    assert_reported(ImageLoadError, tmp_path / "nope.dcm", "does not exist")
    folder = tmp_path / "a_folder.dcm"
    folder.mkdir()
    assert_reported(ImageLoadError, folder, "folder")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_permission_denied(xray8_png, tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    path.write_bytes(xray8_png.read_bytes())
    path.chmod(0)
    if os.geteuid() == 0:
        # root reads anything (CI runs as root): the OS's answer to an unprivileged reader, for this file only
        real_open = os.open

        def open_as_unprivileged(file, *args, **kwargs):
            if Path(os.fsdecode(file)).resolve() == path.resolve():
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(os, "open", open_as_unprivileged)
    assert_reported(ImageLoadError, path, "permission denied", "locked.png")


def test_unknown_transfer_syntax(xray8, build_dicom, tmp_path):
    data = build_dicom(xray8).read_bytes()
    explicit_le = b"1.2.840.10008.1.2.1\x00"
    assert explicit_le in data
    path = tmp_path / "private_syntax.dcm"
    path.write_bytes(data.replace(explicit_le, b"1.2.999.99999.1.2.1\x00", 1))
    assert_reported(UnsupportedFormatError, path, "transfer syntax", "1.2.999.99999.1.2.1")


def test_missing_decoder_names_syntax_and_package(xray8, build_dicom):
    """Runs in a fresh interpreter where the JPEG-LS back ends (pyjpegls, python-gdcm) cannot be imported."""
    path = build_dicom(xray8, transfer_syntax=JPEGLSLossless)
    code = (
        "import sys; sys.modules['jpeg_ls'] = None; sys.modules['gdcm'] = None\n"
        "from inference.image_io import load_image\n"
        "from inference.errors import DecoderMissingError\n"
        f"try:\n    load_image({str(path)!r})\n"
        "except DecoderMissingError as exc:\n    print('DECODER-MISSING', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert "DECODER-MISSING" in done.stdout, done.stdout + done.stderr
    assert "JPEG-LS Lossless" in done.stdout and "pip install pyjpegls" in done.stdout and path.name in done.stdout
    assert DecoderMissingError.__mro__[1] is ImageLoadError


@pytest.mark.skipif(not shutil.which("dcmcjpeg"), reason="dcmtk not installed")
def test_gdcm_abort_on_damaged_jpeg_lossless_is_contained(xray8, build_dicom, tmp_path):
    """GDCM (the only permissive JPEG lossless decoder) aborts its process on this damage (a broken DHT marker):
    in-process that would kill the viewer. It runs in a worker, so this is a typed error and the next file
    still decodes."""
    good = build_dicom(xray8, transfer_syntax=JPEGLosslessSV1)
    data = bytearray(good.read_bytes())
    huffman_table = data.index(b"\xff\xc4", data.index(b"\xff\xd8\xff"))
    data[huffman_table] = 0x2C
    damaged = tmp_path / "broken_dht.dcm"
    damaged.write_bytes(bytes(data))
    assert_reported(ImageLoadError, damaged, "could not be decoded")
    np.testing.assert_array_equal(load_image(good).modality, xray8.astype(np.float32))


def test_seeded_corruption_never_escapes_the_error_family(xray8, build_dicom, tmp_path):
    """Random byte damage in headers and pixel streams: every outcome is an image or an ImageLoadError."""
    rng = np.random.default_rng(2024)
    outcomes = {"loaded": 0, "typed error": 0}
    for syntax in (ExplicitVRLittleEndian, JPEGLSLossless, RLELossless, JPEG2000Lossless):
        base = build_dicom(xray8[:64, :64].copy(), transfer_syntax=syntax, window=(100, 200))
        original = base.read_bytes()
        for trial in range(25):
            data = bytearray(original)
            for _ in range(int(rng.integers(1, 5))):
                position = int(rng.integers(128, len(data)))
                data[position] = int(rng.integers(0, 256))
            path = tmp_path / f"{syntax.name[:8]}_{trial}.dcm"
            path.write_bytes(bytes(data))
            try:
                load_image(path).render()
                outcomes["loaded"] += 1
            except ImageLoadError as error:
                assert path.name in str(error)
                outcomes["typed error"] += 1
    assert outcomes["typed error"] > 0 and outcomes["loaded"] > 0
