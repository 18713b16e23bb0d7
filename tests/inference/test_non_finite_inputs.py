"""Issue 17 item 2: NaN/Inf in a header or in the pixels never reaches the display or the model. Non-finite
window, rescale and spacing values are ignored with a notice (a computed window takes over); non-finite pixels
become padding; a rendered image with non-finite values is refused by the model input."""
from __future__ import annotations

import io
import json

import numpy as np
import pydicom
import pytest
from pydicom import config

from inference.errors import ImageLoadError, NonFiniteImageError
from inference.image_io import load_image
from inference.preprocess import InputSpec, to_model_array
from tests.helpers.dicom_factory import make_dicom_from_array
from tests.helpers.tiny_models import make_tiny_bundle


def _edit(path, **values):
    """Writes header values verbatim (pydicom would refuse 'nan' as a DS when validating)."""
    reading, writing = config.settings.reading_validation_mode, config.settings.writing_validation_mode
    config.settings.reading_validation_mode = config.settings.writing_validation_mode = config.IGNORE
    try:
        ds = pydicom.dcmread(path)
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        ds.save_as(path)
    finally:
        config.settings.reading_validation_mode, config.settings.writing_validation_mode = reading, writing
    return path


@pytest.fixture
def xray12(xray8) -> np.ndarray:
    return (xray8.astype(np.uint16) * 16 + 7).astype(np.uint16)


def test_nan_window_and_rescale_are_ignored_with_notices(xray12, tmp_path):
    clean = make_dicom_from_array(xray12, tmp_path / "clean.dcm", bits_stored=12)
    bad = make_dicom_from_array(xray12, tmp_path / "bad.dcm", bits_stored=12, window=(2048, 4096))
    _edit(bad, WindowCenter="nan", WindowWidth="nan", RescaleIntercept="nan", RescaleSlope="inf",
          PixelSpacing=["inf", "0.2"])
    image, reference = load_image(bad), load_image(clean)
    assert any("Rescale Slope inf ignored" in n for n in image.notices)
    assert any("Rescale Intercept nan ignored" in n for n in image.notices)
    assert any("window preset 1 ignored" in n for n in image.notices)
    assert any("PixelSpacing" in n and "finite" in n for n in image.notices) and image.pixel_spacing_mm is None
    np.testing.assert_array_equal(image.modality, xray12.astype(np.float32))
    assert image.window().source == "default"
    rendered = image.render()
    assert np.isfinite(rendered).all() and rendered.max() == 1.0
    np.testing.assert_array_equal(rendered, reference.render())


def test_nan_pixels_become_padding_and_all_nan_is_refused(xray12, tmp_path):
    path = make_dicom_from_array(xray12, tmp_path / "float.dcm", bits_stored=12)
    ds = pydicom.dcmread(path)
    values = xray12.astype(np.float32)
    values[:10, :10] = np.nan
    values[20, 20] = np.inf
    del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    ds.BitsAllocated = 32
    ds.FloatPixelData = values.tobytes()
    ds.save_as(path)
    image = load_image(path)
    assert any("101 pixel(s) hold NaN or infinite values" in n for n in image.notices)
    rendered = image.render()
    assert np.isfinite(rendered).all()
    assert (rendered[:10, :10] == 0).all() and rendered[20, 20] == 0
    finite = xray12.astype(np.float32)
    finite_mask = np.ones_like(finite, dtype=bool)
    finite_mask[:10, :10] = False
    finite_mask[20, 20] = False
    assert image.window().center == pytest.approx((finite[finite_mask].min() + finite[finite_mask].max()) / 2 + 0.5)
    ds.FloatPixelData = np.full_like(values, np.nan).tobytes()
    ds.save_as(path)
    with pytest.raises(ImageLoadError, match="no pixel holds a finite value"):
        load_image(path)


def test_model_input_refuses_non_finite_pixels():
    spec = InputSpec(height=32, width=32, channels=1, mean=(0.5,), std=(0.25,), resize_mode="squash")
    display = np.full((40, 40), 0.5, dtype=np.float32)
    display[3, 3] = np.nan
    with pytest.raises(NonFiniteImageError):
        to_model_array(display, spec)


def test_predictor_names_the_file_of_a_non_finite_rendering(tmp_path, xray12):
    from inference.predictor import Predictor
    from inference.windowing import WindowPreset

    bundle = make_tiny_bundle(tmp_path / "tiny", seed=2)
    image = load_image(make_dicom_from_array(xray12, tmp_path / "a.dcm", bits_stored=12))
    with pytest.raises(NonFiniteImageError, match="a.dcm"):
        Predictor(bundle, device="cpu").predict(image, cam_method=None,
                                                window=WindowPreset("bad", center=float("nan"), width=100.0))


def test_cli_prediction_of_a_nan_header_file_equals_the_clean_file(tmp_path, xray12):
    """The issue's file: NaN window / rescale made the model see black (exit 0, no notice)."""
    from inference.cli_predict import run

    bundle = make_tiny_bundle(tmp_path / "tiny", seed=3)
    clean = make_dicom_from_array(xray12, tmp_path / "clean.dcm", bits_stored=12)
    bad = _edit(make_dicom_from_array(xray12, tmp_path / "bad.dcm", bits_stored=12, window=(2048, 4096)),
                WindowCenter="nan", WindowWidth="nan", RescaleIntercept="nan", RescaleSlope="inf")
    out = io.StringIO()
    assert run([str(clean), str(bad), "--model", str(bundle), "--device", "cpu"], stdout=out,
               stderr=io.StringIO()) == 0
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert second["probabilities"] == first["probabilities"]
    assert any("window preset 1 ignored" in n for n in second["notices"])
