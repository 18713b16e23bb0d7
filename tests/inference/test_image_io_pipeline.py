"""The DICOM pixel pipeline on DICOMs built from a real radiograph: Bits Stored, padding, Modality LUT (rescale
and LUT sequence), window presets and VOI LUT tables, MONOCHROME1 / Presentation LUT Shape, spacing, metadata."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGLSLossless,
    RLELossless,
)

from inference.image_io import WindowPreset, load_image, window_from_range
from tests.helpers.dicom_factory import widen_to_bits

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
needs_dcmtk = pytest.mark.skipif(not shutil.which("dcmconv"), reason="dcmtk not installed")


def linear_window(x, center, width):
    """DICOM PS3.3 C.11.2.1.2.1 LINEAR, written out independently of the implementation."""
    x = np.asarray(x, dtype=np.float64)
    y = np.where(x <= center - 0.5 - (width - 1) / 2, 0.0,
                 np.where(x > center - 0.5 + (width - 1) / 2, 1.0, (x - (center - 0.5)) / (width - 1) + 0.5))
    return y


def test_all_window_presets_kept_with_names(xray8, build_dicom):
    wide = widen_to_bits(xray8, 12)
    presets = [(1200, 1600, "LUNG"), (2048, 4096, "FULL"), (3000, 800, "BONE")]
    image = load_image(build_dicom(wide, bits_stored=12, window=presets, transfer_syntax=JPEGLSLossless))
    assert [(p.name, p.center, p.width) for p in image.windows] == [(n, c, w) for c, w, n in presets]
    assert image.default_window == 0
    for index, (center, width, name) in enumerate(presets):
        np.testing.assert_allclose(image.render(index), linear_window(wide, center, width), atol=1e-6)
        np.testing.assert_array_equal(image.render(name), image.render(index))
    np.testing.assert_array_equal(image.render(), image.render(0))


def test_rescale_slope_intercept_then_window_in_modality_units(xray8, build_dicom):
    wide = widen_to_bits(xray8, 12)
    image = load_image(build_dicom(wide, bits_stored=12, rescale=(0.5, -100.0), window=(400.0, 900.0)))
    expected = wide.astype(np.float64) * 0.5 - 100.0
    np.testing.assert_allclose(image.modality, expected, atol=1e-4)
    np.testing.assert_allclose(image.render(), linear_window(expected, 400.0, 900.0), atol=1e-6)


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, pytest.param(ExplicitVRBigEndian, marks=needs_dcmtk)])
def test_modality_lut_sequence(syntax, xray8, build_dicom):
    wide = widen_to_bits(xray8, 12)
    table = ((np.arange(4096) / 4095.0) ** 0.5 * 65535).astype(np.uint16)  # a square-root response curve
    image = load_image(build_dicom(wide, bits_stored=12, modality_lut={"first_mapped": 0, "lut": table, "bits": 16},
                                   transfer_syntax=syntax))
    np.testing.assert_array_equal(image.modality, table[wide].astype(np.float32))


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                                    pytest.param(ExplicitVRBigEndian, marks=needs_dcmtk)])
def test_voi_lut_sequence_table_applied(syntax, xray8, build_dicom):
    wide = widen_to_bits(xray8, 12)
    first_mapped = 100
    table = np.clip((np.arange(3800) / 3799.0) ** 0.7 * 4095, 0, 4095).astype(np.uint16)  # a gamma VOI LUT
    image = load_image(build_dicom(wide, bits_stored=12, voi_lut={"first_mapped": first_mapped, "lut": table,
                                                                  "bits": 12, "explanation": "GAMMA 0.7"},
                                   transfer_syntax=syntax))
    preset = image.windows[image.default_window]
    assert preset.is_lut and preset.name == "GAMMA 0.7"
    index = np.clip(wide.astype(np.int64) - first_mapped, 0, len(table) - 1)
    np.testing.assert_allclose(image.render(), table[index] / 4095.0, atol=1e-6)


def test_window_and_voi_lut_both_listed(xray8, build_dicom):
    table = np.arange(256, dtype=np.uint16)[::-1].copy()
    image = load_image(build_dicom(xray8, window=[(100, 120, "SOFT")],
                                   voi_lut={"first_mapped": 0, "lut": table, "bits": 8, "explanation": "REVERSED"}))
    assert [p.name for p in image.windows] == ["SOFT", "REVERSED"]
    np.testing.assert_allclose(image.render("REVERSED"), (255 - xray8) / 255.0, atol=1e-6)


@pytest.mark.parametrize("function", ["SIGMOID", "LINEAR_EXACT"])
def test_voi_lut_function(function, xray8, build_dicom):
    image = load_image(build_dicom(xray8, window=(128, 100), voi_lut_function=function))
    x = xray8.astype(np.float64)
    expected = 1 / (1 + np.exp(-4 * (x - 128) / 100)) if function == "SIGMOID" else np.clip((x - 128) / 100 + 0.5, 0, 1)
    np.testing.assert_allclose(image.render(), expected, atol=1e-6)


def test_presentation_lut_shape_inverse_xor_monochrome1(xray8, build_dicom):
    plain = load_image(build_dicom(xray8)).render()
    inverse_m2 = load_image(build_dicom(xray8, presentation_lut_shape="INVERSE"))
    assert inverse_m2.inverted
    np.testing.assert_allclose(inverse_m2.render(), 1.0 - plain, atol=1e-6)
    inverse_m1 = load_image(build_dicom(xray8, photometric="MONOCHROME1", presentation_lut_shape="INVERSE"))
    assert not inverse_m1.inverted  # both flips cancel: stored values displayed as they are
    np.testing.assert_allclose(inverse_m1.render(), (255 - xray8) / 255.0, atol=1e-6)
    # The viewer's invert toggle
    np.testing.assert_allclose(inverse_m1.render(invert=True), xray8 / 255.0, atol=1e-6)


def test_bits_stored_masks_high_bits(xray8, build_dicom):
    wide = widen_to_bits(xray8, 12)
    dirty = wide | np.uint16(0xF000)  # garbage above High Bit (e.g. old overlay planes) must be ignored
    image = load_image(build_dicom(dirty, bits_stored=16, extra={"BitsStored": 12, "HighBit": 11}))
    np.testing.assert_array_equal(image.modality, wide.astype(np.float32))


def test_signed_pixels_with_rescale(xray8, build_dicom):
    signed = (xray8.astype(np.int16) * 8 - 1024).astype(np.int16)
    image = load_image(build_dicom(signed, bits_stored=12, rescale=(1.0, 24.0), transfer_syntax=RLELossless))
    np.testing.assert_array_equal(image.modality, signed.astype(np.float32) + 24.0)
    assert image.windows[0].name == "Min-max"
    assert image.render().min() == 0.0 and image.render().max() == 1.0


def test_pixel_padding_excluded_from_default_window_and_rendered_black(xray8, build_dicom):
    wide = widen_to_bits(xray8, 12).copy()
    wide[:, :20] = 4095  # collimator border stored as the padding value
    image = load_image(build_dicom(wide, bits_stored=12, padding_value=4095))
    assert image.padding_mask is not None and image.padding_mask[:, :20].all()
    assert image.padding_mask.sum() == np.count_nonzero(wide == 4095)
    inside = wide[wide != 4095]
    preset = image.windows[image.default_window]
    assert preset == image.windows[0] and preset.source == "default"
    rendered = image.render()
    assert rendered[:, :20].max() == 0.0
    assert rendered[wide == inside.max()].max() == 1.0 and rendered[wide == inside.min()].min() == 0.0


def test_default_window_identity_for_8_bit_and_min_max_above(xray8, build_dicom):
    eight = load_image(build_dicom(xray8))
    assert (eight.windows[0].center, eight.windows[0].width) == (128.0, 256.0)
    np.testing.assert_array_equal(eight.render(), (xray8.astype(np.float64) / 255.0).astype(np.float32))
    wide = widen_to_bits(xray8, 16) // 4 + 1000
    sixteen = load_image(build_dicom(wide, bits_stored=16))
    low, high = float(wide.min()), float(wide.max())
    np.testing.assert_allclose(sixteen.render(), (wide - low) / (high - low), atol=1e-6)


def test_window_from_range_maps_ends_exactly():
    preset = window_from_range(-1000.0, 3000.0, "x")
    out = preset.apply(np.array([-1000.0, 1000.0, 3000.0]))
    assert out[0] == 0.0 and out[2] == 1.0 and out[1] == pytest.approx(0.5)
    assert isinstance(preset, WindowPreset)


def test_spacing_metadata_and_header_dataset(xray8, build_dicom):
    path = build_dicom(xray8, spacing=(0.143, 0.139), spacing_tag="ImagerPixelSpacing", modality="DX",
                       patient=("DOE^JANE", "PID-42"), view_position="AP", body_part="CHEST")
    image = load_image(path)
    assert image.pixel_spacing_mm == (0.143, 0.139) and image.spacing_source == "ImagerPixelSpacing"
    meta = image.metadata
    assert meta["PatientName"] == "DOE^JANE" and meta["PatientID"] == "PID-42"
    assert meta["Modality"] == "DX" and meta["ViewPosition"] == "AP" and meta["BodyPartExamined"] == "CHEST"
    assert meta["SOPInstanceUID"] == str(image.dataset.SOPInstanceUID) and meta["StudyInstanceUID"]
    assert meta["TransferSyntaxUID"] == "1.2.840.10008.1.2.1"
    assert "PixelData" not in image.dataset and image.dataset.Rows == xray8.shape[0]
    assert image.source_format == "dicom" and image.path == path and image.shape == xray8.shape

    calibrated = load_image(build_dicom(xray8, spacing=(0.2, 0.2), spacing_tag="PixelSpacing",
                                        extra={"ImagerPixelSpacing": ["0.25", "0.25"]}))
    assert calibrated.pixel_spacing_mm == (0.2, 0.2) and calibrated.spacing_source == "PixelSpacing"
    assert load_image(build_dicom(xray8)).pixel_spacing_mm is None


def test_multiframe_built_file_shows_first_frame(xray8, build_dicom):
    frames = np.stack([xray8, 255 - xray8, xray8 // 2])
    image = load_image(build_dicom(frames, transfer_syntax=RLELossless))
    np.testing.assert_array_equal(image.modality, xray8.astype(np.float32))
    assert any("3 frames" in notice for notice in image.notices)


def test_rgb_dicom_matches_rgb_png(xray8, build_dicom, work_dir):
    from PIL import Image

    rgb = np.stack([xray8, np.roll(xray8, 7, axis=1), 255 - xray8], axis=-1).astype(np.uint8)
    png = work_dir / "colour.png"
    Image.fromarray(rgb, "RGB").save(png)
    dicom = load_image(build_dicom(rgb, photometric="RGB", transfer_syntax=RLELossless))
    from_png = load_image(png)
    with Image.open(png) as img:
        pillow_gray = np.asarray(img.convert("L"), dtype=np.float32)
    np.testing.assert_array_equal(dicom.modality, pillow_gray)
    np.testing.assert_array_equal(from_png.modality, pillow_gray)
    assert any("grayscale" in n for n in dicom.notices) and any("grayscale" in n for n in from_png.notices)


def test_render_lookup_path_equals_direct_formula(xray8, build_dicom):
    """Integer images render through a per-value table; it must equal evaluating the preset on every pixel."""
    image = load_image(build_dicom(widen_to_bits(xray8, 12), bits_stored=12, photometric="MONOCHROME1",
                                   window=[(1500, 2000, "A"), (2500, 900, "B")], voi_lut_function="SIGMOID"))
    for index, preset in enumerate(image.windows):
        for invert in (None, False, True):
            flip = image.inverted if invert is None else invert
            np.testing.assert_array_equal(image.render(index, invert=invert),
                                          preset.apply(image.modality, invert=flip))
