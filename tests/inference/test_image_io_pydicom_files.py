"""pydicom's own shipped test files, one per transfer syntax it carries, with pixel values pydicom's test suite
documents (tests/pixels/pixels_reference.py) and values checked against an independent decoder (dcmtk)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from inference.errors import MissingPixelDataError, TruncatedFileError
from inference.image_io import load_image

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def shipped(name: str) -> Path:
    path = get_testdata_file(name, download=False)  # never download: only files inside the pydicom wheel
    assert path is not None, f"{name} is not shipped with pydicom"
    return Path(path)


MR_SMALL_SYNTAXES = {
    "MR_small.dcm": "1.2.840.10008.1.2.1",
    "MR_small_implicit.dcm": "1.2.840.10008.1.2",
    "MR_small_bigendian.dcm": "1.2.840.10008.1.2.2",
    "MR_small_RLE.dcm": "1.2.840.10008.1.2.5",
    "MR_small_jpeg_ls_lossless.dcm": "1.2.840.10008.1.2.4.80",
    "MR_small_jp2klossless.dcm": "1.2.840.10008.1.2.4.90",
    "MR_small_padded.dcm": "1.2.840.10008.1.2.1",
}


@pytest.mark.parametrize("name", sorted(MR_SMALL_SYNTAXES))
def test_mr_small_known_values_in_every_lossless_syntax(name):
    image = load_image(shipped(name))
    assert image.metadata["TransferSyntaxUID"] == MR_SMALL_SYNTAXES[name]
    assert image.shape == (64, 64) and image.modality.dtype == np.float32
    assert tuple(image.modality[0, 31:34]) == (422, 319, 361)
    assert tuple(image.modality[31, :3]) == (366, 363, 322)
    assert tuple(image.modality[-1, -3:]) == (1369, 1129, 862)
    # The file's own window (C 600, W 1600) is the default preset.
    preset = image.windows[image.default_window]
    assert (preset.center, preset.width) == (600.0, 1600.0)
    expected = np.clip((862 - (600 - 0.5)) / (1600 - 1) + 0.5, 0, 1)
    assert image.render()[-1, -1] == pytest.approx(expected, abs=1e-6)


def test_mr_small_syntaxes_decode_identically():
    reference = load_image(shipped("MR_small.dcm")).modality
    for name in MR_SMALL_SYNTAXES:
        np.testing.assert_array_equal(load_image(shipped(name)).modality, reference, err_msg=name)


def test_deflated_explicit_little_endian():
    image = load_image(shipped("image_dfl.dcm"))
    assert image.metadata["TransferSyntaxUID"] == "1.2.840.10008.1.2.1.99"
    assert image.modality[10].min() == 41 and image.modality[10].max() == 255
    assert tuple(image.modality[300, 255:263]) == (138, 65, 65, 65, 65, 35, 35, 35)
    # 8-bit without VOI: identity window, so render == stored / 255 exactly.
    np.testing.assert_allclose(image.render(), image.modality / 255.0, atol=1e-6)


def test_ct_rescale_slope_intercept_gives_hounsfield_units():
    raw = pydicom.dcmread(shipped("CT_small.dcm")).pixel_array.astype(np.float64)
    image = load_image(shipped("CT_small.dcm"))
    ds = image.dataset
    assert float(ds.RescaleIntercept) == -1024.0 and float(ds.RescaleSlope) == 1.0
    np.testing.assert_array_equal(image.modality, (raw * 1.0 - 1024.0).astype(np.float32))
    assert image.modality.min() == -896.0 and image.modality.max() == 1167.0


@pytest.mark.parametrize("name", ["JPGExtended.dcm", "JPEG-lossy.dcm"])
def test_jpeg_extended_12_bit_known_values(name):
    image = load_image(shipped(name))
    assert image.metadata["TransferSyntaxUID"] == "1.2.840.10008.1.2.4.51"
    assert image.bits_stored == 12
    assert image.modality[420, 140] == 244
    assert image.modality[230, 120] == 95


@pytest.mark.skipif(not shutil.which("dcmdjpeg"), reason="dcmtk not installed")
def test_jpeg_extended_12_bit_matches_dcmtk_decoder(tmp_path):
    decoded = tmp_path / "dcmtk.dcm"
    subprocess.run(["dcmdjpeg", str(shipped("JPGExtended.dcm")), str(decoded)], check=True, capture_output=True)
    np.testing.assert_array_equal(load_image(shipped("JPGExtended.dcm")).modality,
                                  pydicom.dcmread(decoded).pixel_array.astype(np.float32))


def test_jpeg_2000_lossy_signed_16_bit():
    image = load_image(shipped("JPEG2000.dcm"))
    assert image.metadata["TransferSyntaxUID"] == "1.2.840.10008.1.2.4.91"
    assert image.shape == (1024, 256)
    assert image.modality.min() < 0  # Pixel Representation 1 kept signed
    assert (image.modality.min(), image.modality.max()) == (-30.0, 245.0)


def test_jpeg_ls_near_lossless_16_bit_known_values():
    image = load_image(shipped("JPEGLSNearLossless_16.dcm"))
    assert image.metadata["TransferSyntaxUID"] == "1.2.840.10008.1.2.4.81"
    column = image.modality[:, 0]
    assert [column[r] for r in range(0, 45, 5)] == [65535, 32765, 16385, 4095, 1025, 255, 65, 15, 5]


def test_rgb_rle_converted_to_gray_with_notice():
    image = load_image(shipped("SC_rgb_rle.dcm"))
    assert any("converted to grayscale" in notice for notice in image.notices)
    # Known RGB samples (255,0,0), (0,255,0), (0,0,255), (64,64,64), (255,255,255) -> BT.601 luma.
    assert [image.modality[r, 50] for r in (5, 25, 45, 75, 95)] == [76, 150, 29, 64, 255]


def test_jpeg_baseline_rgb_dicom():
    image = load_image(shipped("SC_rgb_jpeg_dcmtk.dcm"))
    assert image.metadata["TransferSyntaxUID"] == "1.2.840.10008.1.2.4.50"
    # Decoded RGB (pydicom reference) about (255,0,0) and (255,255,255); lossy, so allow a few levels.
    assert abs(image.modality[5, 50] - 76) <= 3 and abs(image.modality[95, 50] - 255) <= 2


def test_multiframe_shows_first_frame_with_notice():
    image = load_image(shipped("SC_rgb_rle_2frame.dcm"))
    assert any("2 frames" in notice and "first frame" in notice for notice in image.notices)
    assert image.modality[5, 50] == 76  # frame 1 is (255, 0, 0) there; frame 2 is its inverse


def test_palette_colour_converted_to_gray():
    image = load_image(shipped("examples_palette.dcm"))
    assert image.shape == (350, 800)
    assert any("palette" in notice for notice in image.notices)


def test_structured_report_has_no_pixel_data():
    with pytest.raises(MissingPixelDataError) as info:
        load_image(shipped("test-SR.dcm"))
    assert "test-SR.dcm" in str(info.value) and "no image" in str(info.value)


def test_truncated_pixel_data_is_reported():
    with pytest.raises(TruncatedFileError) as info:
        load_image(shipped("MR_truncated.dcm"))
    assert "MR_truncated.dcm" in str(info.value) and "cut short" in str(info.value)


def corpus(name: str) -> Path:
    """A file of pydicom's public test corpus (the pydicom-data package, a dev dependency; never downloaded)."""
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name}: pydicom's test corpus is missing (pip install pydicom-data)"
    return Path(path)


def test_big_endian_palette_colour_renders_as_its_little_endian_twin():
    """OBXXXX1A_expb.dcm is OBXXXX1A.dcm in Explicit VR Big Endian. pydicom 3.0.2's apply_color_lut reads the
    palette's OW words as little endian, which rendered it near black; it must match its twin pixel for pixel."""
    little = load_image(corpus("OBXXXX1A.dcm"))
    big = load_image(corpus("OBXXXX1A_expb.dcm"))
    assert big.metadata["TransferSyntaxUID"] == "1.2.840.10008.1.2.2"
    assert big.shape == little.shape == (600, 800)
    np.testing.assert_array_equal(big.modality, little.modality)
    np.testing.assert_array_equal(big.render(), little.render())
    assert little.modality.max() == 254  # the palette reaches near white: not the black of the misread LUT
    for name in ("OBXXXX1A_expb_2frame.dcm", "OBXXXX1A_rle.dcm"):
        np.testing.assert_array_equal(load_image(corpus(name)).modality, little.modality)
