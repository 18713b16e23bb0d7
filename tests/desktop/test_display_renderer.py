"""The lookup-table renderer gives exactly XRayImage.render() quantised to 8 bits, for every preset kind."""
from __future__ import annotations

import numpy as np
import pytest

from desktop.display_renderer import DisplayRenderer, to_gray8
from inference.image_io import load_image
from inference.windowing import SIGMOID, WindowPreset
from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array, widen_to_bits


@pytest.fixture(scope="module")
def twelve_bit_monochrome1(tmp_path_factory, chest_source):
    arr = widen_to_bits(load_gray_image(chest_source, 128), 12)
    path = tmp_path_factory.mktemp("r") / "m1.dcm"
    return make_dicom_from_array(arr, path, bits_stored=12, photometric="MONOCHROME1", window=[(2048, 4096, "FULL")],
                                 rescale=(1.0, -1024.0))


@pytest.mark.parametrize("preset", [
    None,
    WindowPreset(name="narrow", center=500.0, width=800.0),
    WindowPreset(name="sigmoid", center=0.0, width=2000.0, function=SIGMOID),
])
@pytest.mark.parametrize("user_invert", [False, True])
def test_lookup_table_equals_render(twelve_bit_monochrome1, preset, user_invert):
    image = load_image(twelve_bit_monochrome1)
    assert image.inverted  # MONOCHROME1
    renderer = DisplayRenderer(image)
    assert renderer.uses_lookup_table
    assert renderer.value_range == (float(image.modality.min()), float(image.modality.max()))
    preset = preset or image.window(None)
    expected = to_gray8(image.render(preset, invert=image.inverted != user_invert))
    np.testing.assert_array_equal(renderer.render8(preset, user_invert), expected)


def test_non_integer_values_fall_back_to_render(twelve_bit_monochrome1):
    image = load_image(twelve_bit_monochrome1)
    image.modality = image.modality * np.float32(0.37)  # e.g. a fractional rescale slope
    renderer = DisplayRenderer(image)
    assert not renderer.uses_lookup_table
    preset = WindowPreset(name="w", center=300.0, width=600.0)
    np.testing.assert_array_equal(renderer.render8(preset, False), to_gray8(image.render(preset, invert=image.inverted)))
