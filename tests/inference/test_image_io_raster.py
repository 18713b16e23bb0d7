"""PNG (8/16-bit), JPEG and TIFF radiographs through Pillow, colour -> gray with a notice."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inference.image_io import load_image
from tests.helpers.dicom_factory import widen_to_bits


def test_png_8_bit_identity_window(xray8, xray8_png):
    image = load_image(xray8_png)
    assert image.source_format == "png" and image.dataset is None and image.bits_stored == 8
    np.testing.assert_array_equal(image.modality, xray8.astype(np.float32))
    np.testing.assert_array_equal(image.render(), (xray8.astype(np.float64) / 255.0).astype(np.float32))
    assert image.render().max() <= 1.0 and not image.inverted and image.padding_mask is None
    assert image.pixel_spacing_mm is None and image.spacing_source is None and image.notices == []
    assert image.metadata["PatientName"] == "" and image.metadata["Rows"] == xray8.shape[0]


def test_png_16_bit_keeps_full_depth(xray8, tmp_path):
    wide = widen_to_bits(xray8, 16)
    path = tmp_path / "wide.png"
    Image.fromarray(wide).save(path)
    image = load_image(path)
    assert image.bits_stored == 16
    np.testing.assert_array_equal(image.modality, wide.astype(np.float32))
    low, high = float(wide.min()), float(wide.max())
    np.testing.assert_allclose(image.render(), (wide - low) / (high - low), atol=1e-6)


def test_full_resolution_jpeg(real_xray_jpeg):
    image = load_image(real_xray_jpeg)
    with Image.open(real_xray_jpeg) as jpeg:
        reference = np.asarray(jpeg.convert("L"), dtype=np.float32)
        assert image.shape == (jpeg.height, jpeg.width)
    assert image.source_format == "jpeg"
    np.testing.assert_array_equal(image.modality, reference)


@pytest.mark.parametrize("bits", [8, 16])
def test_tiff(bits, xray8, tmp_path):
    pixels = xray8 if bits == 8 else widen_to_bits(xray8, 16)
    path = tmp_path / f"xray{bits}.tif"
    Image.fromarray(pixels).save(path, compression="tiff_lzw")
    image = load_image(path)
    assert image.source_format == "tiff" and image.bits_stored == bits
    np.testing.assert_array_equal(image.modality, pixels.astype(np.float32))


def test_multipage_tiff_first_page_with_notice(xray8, tmp_path):
    path = tmp_path / "pages.tif"
    pages = [Image.fromarray(xray8), Image.fromarray(255 - xray8)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    image = load_image(path)
    np.testing.assert_array_equal(image.modality, xray8.astype(np.float32))
    assert any("2 images" in notice for notice in image.notices)


def test_rgb_jpeg_with_equal_channels_is_read_as_gray(xray8, tmp_path):
    path = tmp_path / "rgb_gray.png"
    Image.fromarray(np.stack([xray8] * 3, axis=-1), "RGB").save(path)
    image = load_image(path)
    np.testing.assert_array_equal(image.modality, xray8.astype(np.float32))
    assert any("identical channels" in notice for notice in image.notices)


def test_rgba_png_alpha_ignored_and_colour_converted(xray8, tmp_path):
    rgba = np.stack([xray8, 255 - xray8, xray8 // 2, np.full_like(xray8, 200)], axis=-1)
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    image = load_image(path)
    with Image.open(path) as img:
        expected = np.asarray(img.convert("RGB").convert("L"), dtype=np.float32)
    np.testing.assert_array_equal(image.modality, expected)
    assert any("alpha" in n for n in image.notices) and any("grayscale" in n for n in image.notices)


def test_exif_orientation_applied(xray8, tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    Image.fromarray(xray8).save(path, quality=98, exif=exif)
    image = load_image(path)
    assert image.shape == (xray8.shape[1], xray8.shape[0])
    assert any("EXIF" in notice for notice in image.notices)


def test_sniff_format_by_content(xray8_png, real_xray_jpeg, build_dicom, xray8):
    from inference.image_io import sniff_format

    assert sniff_format(xray8_png.read_bytes()[:132]) == "png"
    assert sniff_format(real_xray_jpeg.read_bytes()[:132]) == "jpeg"
    assert sniff_format(build_dicom(xray8).read_bytes()[:132]) == "dicom"
    assert sniff_format(b"hello world, not an image at all" * 5) is None
