"""DICOMs built from a real radiograph in every transfer syntax radiography uses: lossless encodings must render
exactly like the source PNG, lossy ones within the codec's error; MONOCHROME1 renders like MONOCHROME2."""
from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from inference.image_io import load_image
from tests.helpers.dicom_factory import img2dcm, load_gray_image, widen_to_bits

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

LOSSLESS = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
            RLELossless, JPEGLosslessSV1, JPEGLSLossless, JPEG2000Lossless]
needs_dcmtk = pytest.mark.skipif(not shutil.which("dcmcjpeg"), reason="dcmtk not installed")


def _dcmtk_if_needed(syntax):
    return [needs_dcmtk] if syntax in (ExplicitVRBigEndian, JPEGLosslessSV1, JPEGBaseline8Bit,
                                       JPEGExtended12Bit) else []


@pytest.mark.parametrize("syntax", [pytest.param(s, id=s.name, marks=_dcmtk_if_needed(s)) for s in LOSSLESS])
@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_lossless_8_bit_renders_identically_to_png(syntax, photometric, xray8, xray8_png, build_dicom):
    path = build_dicom(xray8, transfer_syntax=syntax, photometric=photometric, modality="DX")
    image = load_image(path)
    assert pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    assert image.inverted is (photometric == "MONOCHROME1")
    expected_stored = xray8 if photometric == "MONOCHROME2" else 255 - xray8
    np.testing.assert_array_equal(image.modality, expected_stored.astype(np.float32))
    np.testing.assert_array_equal(image.render(), load_image(xray8_png).render())
    assert image.notices == []


@pytest.mark.parametrize("syntax", [pytest.param(s, id=s.name, marks=_dcmtk_if_needed(s)) for s in LOSSLESS])
@pytest.mark.parametrize("bits", [12, 16])
def test_lossless_high_bit_depth_keeps_every_value(syntax, bits, xray8, build_dicom, work_dir):
    wide = widen_to_bits(xray8, bits)
    path = build_dicom(wide, bits_stored=bits, transfer_syntax=syntax, photometric="MONOCHROME1", modality="CR")
    image = load_image(path)
    assert image.bits_stored == bits and image.metadata["Modality"] == "CR"
    np.testing.assert_array_equal(image.modality, ((1 << bits) - 1 - wide.astype(np.int64)).astype(np.float32))
    # Same picture as a 16-bit PNG of the display-oriented values (both default to the min..max window).
    png16 = work_dir / f"wide{bits}.png"
    Image.fromarray(wide.astype(np.uint16)).save(png16)
    np.testing.assert_allclose(image.render(), load_image(png16).render(), atol=1e-6)


@pytest.mark.parametrize(
    "syntax, bits, max_error, max_mean_error",
    [
        pytest.param(JPEGBaseline8Bit, 8, 12, 1.5, marks=needs_dcmtk, id="jpeg-baseline-8"),
        pytest.param(JPEGExtended12Bit, 12, 24, 3, marks=needs_dcmtk, id="jpeg-extended-12"),
        pytest.param(JPEGLSNearLossless, 8, 2, 2, id="jpeg-ls-near-lossless-8"),
        pytest.param(JPEGLSNearLossless, 16, 2, 2, id="jpeg-ls-near-lossless-16"),
        pytest.param(JPEG2000, 8, 40, 3, id="j2k-lossy-8"),
        pytest.param(JPEG2000, 12, 40 * 16, 3 * 16, id="j2k-lossy-12"),
    ],
)
def test_lossy_syntaxes_stay_close_to_the_source(syntax, bits, max_error, max_mean_error, xray8, build_dicom):
    source = xray8 if bits == 8 else widen_to_bits(xray8, bits)
    image = load_image(build_dicom(source, bits_stored=bits, transfer_syntax=syntax))
    assert image.metadata["TransferSyntaxUID"] == syntax
    error = np.abs(image.modality.astype(np.float64) - source)
    assert error.max() <= max_error
    assert 0 < error.mean() <= max_mean_error  # lossy for real, yet close
    assert any("lossy-compressed" in notice for notice in image.notices)


@needs_dcmtk
def test_img2dcm_wraps_the_real_jpeg_and_decodes_like_pillow(real_xray_jpeg, work_dir):
    """dcmtk's img2dcm puts the original JPEG bitstream, unchanged, into a DICOM: decoding it must give
    Pillow's pixels for the same JPEG (two JPEG decoders may differ by one level from IDCT rounding)."""
    path = img2dcm(real_xray_jpeg, work_dir / "img2dcm.dcm")
    image = load_image(path)
    with Image.open(real_xray_jpeg) as jpeg:
        reference = np.asarray(jpeg.convert("L"), dtype=np.float32)
    assert image.metadata["TransferSyntaxUID"] == JPEGBaseline8Bit
    assert image.shape == reference.shape and max(image.shape) > 1000  # the full-resolution original
    difference = np.abs(image.modality - reference)
    assert difference.max() <= 1 and difference.mean() < 0.05
    np.testing.assert_allclose(image.render(), load_image(real_xray_jpeg).render(), atol=1.0 / 255 + 1e-6)


def test_png_named_dcm_and_dicom_named_png_load_by_content(xray8, xray8_png, build_dicom, work_dir):
    png_as_dcm = work_dir / "really_a_png.dcm"
    png_as_dcm.write_bytes(xray8_png.read_bytes())
    assert load_image(png_as_dcm).source_format == "png"
    dcm_as_png = work_dir / "really_a_dicom.png"
    dcm_as_png.write_bytes(build_dicom(xray8).read_bytes())
    image = load_image(dcm_as_png)
    assert image.source_format == "dicom"
    np.testing.assert_array_equal(image.modality, xray8.astype(np.float32))


def test_factory_source_helper_reads_real_image(real_xray_jpeg):
    arr = load_gray_image(real_xray_jpeg, size=128)
    assert arr.dtype == np.uint8 and max(arr.shape) == 128 and 20 < arr.mean() < 235
