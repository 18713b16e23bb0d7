"""Predictor: deterministic probabilities, the call at the threshold, batches, folder runs that survive bad
files, cancel/progress, the default-bundle lookup, and DICOM-vs-PNG invariance on a real radiograph."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless

from inference.bundle import load_bundle
from inference.errors import BundleError, EmptyFileError, ImageLoadError
from inference.image_io import load_image
from inference.bundle_catalog import default_bundle_dir
from inference.image_files import expand_paths
from inference.predictor import Predictor, load_default_bundle
from inference.resources import RESOURCES_ENV
from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array, widen_to_bits
from tests.helpers.tiny_models import make_tiny_bundle

CHEST = Path("samples") / "chest-xray-fullres"


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("pred") / "tiny", seed=5)


@pytest.fixture(scope="module")
def predictor(bundle_dir) -> Predictor:
    return Predictor(bundle_dir, device="cpu")


@pytest.fixture(scope="module")
def chest_files(shared_data) -> list[Path]:
    files = sorted((shared_data / CHEST / "NORMAL").glob("*.jpeg"))[:2] + \
        sorted((shared_data / CHEST / "PNEUMONIA").glob("*.jpeg"))[:2]
    assert len(files) == 4
    return files


@pytest.fixture(scope="module")
def small_pngs(chest_files, tmp_path_factory) -> list[Path]:
    """Real radiographs (Kermany et al. 2018, CC BY 4.0) shrunk to a 256 px long side, as 8-bit PNGs."""
    out = tmp_path_factory.mktemp("pngs")
    paths = []
    for src in chest_files:
        path = out / (src.stem + ".png")
        Image.fromarray(load_gray_image(src, size=256)).save(path)
        paths.append(path)
    return paths


def test_prediction_fields(predictor, small_pngs, bundle_dir):
    image = load_image(small_pngs[0])
    prediction = predictor.predict(image, cam_method=None, load_ms=1.5)
    assert set(prediction.probabilities) == {"NORMAL", "PNEUMONIA"}
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert prediction.threshold == 0.5 and prediction.positive_label == "PNEUMONIA"
    assert prediction.device == "cpu"
    assert prediction.model == load_bundle(bundle_dir).identity()
    assert set(prediction.timings_ms) == {"load", "preprocess", "predict", "cam"}
    assert prediction.timings_ms["load"] == 1.5 and prediction.timings_ms["predict"] > 0
    data = prediction.to_json()
    assert set(data) >= {"label", "probabilities", "threshold", "model", "device", "timings_ms"}
    assert "model tiny-test-model 0.0.1-test is experimental" in data["notices"]


def test_predictions_are_deterministic_across_loads(bundle_dir, small_pngs, tmp_path):
    image = load_image(small_pngs[1])
    first = Predictor(bundle_dir, "cpu").predict(image, cam_method=None).probabilities
    again = Predictor(bundle_dir, "cpu").predict(image, cam_method=None).probabilities
    rebuilt = Predictor(make_tiny_bundle(tmp_path / "same-seed", seed=5), "cpu").predict(image, None).probabilities
    assert first == again == rebuilt


def test_different_images_get_clearly_different_probabilities(predictor, small_pngs):
    """The tiny model is input-sensitive, so the invariance test below can fail."""
    probs = [predictor.predict(load_image(p), cam_method=None).probabilities["PNEUMONIA"] for p in small_pngs]
    assert max(probs) - min(probs) > 0.03


def test_call_follows_the_threshold(bundle_dir, small_pngs):
    image = load_image(small_pngs[0])
    p = Predictor(bundle_dir, "cpu").predict(image, cam_method=None).probabilities["PNEUMONIA"]
    assert Predictor(bundle_dir, "cpu", threshold=p - 1e-4).predict(image, None).label == "PNEUMONIA"
    assert Predictor(bundle_dir, "cpu", threshold=min(1.0, p + 1e-4)).predict(image, None).label == "NORMAL"
    assert Predictor(bundle_dir, "cpu", threshold=0.0).predict(image, None).label == "PNEUMONIA"
    with pytest.raises(ValueError):
        Predictor(bundle_dir, "cpu", threshold=1.5)


def test_multiclass_models_call_the_top_label(tmp_path, small_pngs):
    predictor = Predictor(make_tiny_bundle(tmp_path / "three", labels=("A", "B", "C")), "cpu")
    prediction = predictor.predict(load_image(small_pngs[0]), cam_method=None)
    assert prediction.threshold is None and prediction.positive_label is None
    assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)
    with pytest.raises(ValueError, match="binary"):
        Predictor(tmp_path / "three", "cpu", threshold=0.3)


def test_batch_matches_single_predictions(predictor, small_pngs):
    images = [load_image(p) for p in small_pngs]
    batch = predictor.predict_batch(images, batch_size=3)
    for image, got in zip(images, batch):
        single = predictor.predict(image, cam_method=None)
        for label, p in single.probabilities.items():
            assert got.probabilities[label] == pytest.approx(p, abs=1e-5)
    with_cam = predictor.predict_batch(images[:2], batch_size=2, cam_method="gradcam")
    assert [r.heatmap.shape for r in with_cam] == [i.shape for i in images[:2]]


@pytest.fixture()
def folder_with_bad_files(small_pngs, tmp_path) -> Path:
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "a_good.png").write_bytes(small_pngs[0].read_bytes())
    (folder / "b_empty.dcm").write_bytes(b"")
    (folder / "c_random.png").write_bytes(np.random.default_rng(0).bytes(4096))
    (folder / "d_truncated.png").write_bytes(small_pngs[1].read_bytes()[:300])
    (folder / "e_good.png").write_bytes(small_pngs[2].read_bytes())
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_folder_run_continues_past_bad_files(predictor, folder_with_bad_files):
    files = expand_paths([folder_with_bad_files], recursive=False)
    assert [f.name for f in files] == ["a_good.png", "b_empty.dcm", "c_random.png", "d_truncated.png", "e_good.png"]
    seen = []
    results = list(predictor.predict_paths(files, progress=lambda done, total: seen.append((done, total)),
                                           batch_size=2))
    assert [r.path.name for r in results] == [f.name for f in files]
    assert [r.ok for r in results] == [True, False, False, False, True]
    assert isinstance(results[1].error, EmptyFileError)
    assert all(isinstance(r.error, ImageLoadError) for r in results[1:4])
    assert all(r.path.name in str(r.error) for r in results[1:4]), "errors name the file"
    assert seen == [(i, 5) for i in range(1, 6)]
    assert results[1].error_json()["type"] == "EmptyFileError"


def test_cancel_stops_a_folder_run(predictor, small_pngs):
    cancel = threading.Event()

    def progress(done, total):
        if done == 2:
            cancel.set()

    results = list(predictor.predict_paths(small_pngs * 3, progress=progress, cancel=cancel, batch_size=1))
    assert len(results) == 2


def test_default_bundle_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(RESOURCES_ENV, str(tmp_path))
    with pytest.raises(BundleError, match="no bundled model is installed"):
        default_bundle_dir()


def test_default_bundle_is_found_through_the_pointer_file(tmp_path, monkeypatch, bundle_dir):
    models = tmp_path / "models"
    make_tiny_bundle(models / "chest-v1", seed=5)
    (models / "DEFAULT").write_text("chest-v1\n")
    monkeypatch.setenv(RESOURCES_ENV, str(tmp_path))
    assert default_bundle_dir() == models / "chest-v1"
    assert load_default_bundle().sha256 == load_bundle(bundle_dir).sha256
    (models / "DEFAULT").write_text("../elsewhere")
    with pytest.raises(BundleError, match="no valid model folder"):
        default_bundle_dir()


@pytest.fixture(scope="module")
def invariance_case(shared_data, tmp_path_factory):
    src = sorted((shared_data / CHEST / "PNEUMONIA").glob("*.jpeg"))[3]
    gray8 = load_gray_image(src, size=320)
    out = tmp_path_factory.mktemp("invariance")
    png = out / "chest.png"
    Image.fromarray(gray8).save(png)
    return gray8, png, out


# Lossless encodings of the same picture; >8-bit ones carry a window that maps them back onto 0..255.
INVARIANCE_CASES = {
    "8bit-MONOCHROME2-explicit": dict(photometric="MONOCHROME2", transfer_syntax=ExplicitVRLittleEndian),
    "8bit-MONOCHROME1-RLE": dict(photometric="MONOCHROME1", transfer_syntax=RLELossless),
    "12bit-MONOCHROME1-JPEGLS": dict(bits=12, photometric="MONOCHROME1", transfer_syntax=JPEGLSLossless,
                                     window=(2048, 4096)),
    "16bit-MONOCHROME2-J2K": dict(bits=16, photometric="MONOCHROME2", transfer_syntax=JPEG2000Lossless,
                                  window=(32768, 65536)),
}


@pytest.mark.parametrize("case", list(INVARIANCE_CASES))
def test_dicom_and_png_of_the_same_image_predict_the_same(predictor, invariance_case, small_pngs, case):
    gray8, png, out = invariance_case
    kwargs = dict(INVARIANCE_CASES[case])
    bits = kwargs.pop("bits", 8)
    arr = widen_to_bits(gray8, bits) if bits > 8 else gray8
    dicom = make_dicom_from_array(arr, out / f"{case}.dcm", bits_stored=bits, **kwargs)
    from_png = predictor.predict(load_image(png), cam_method=None).probabilities["PNEUMONIA"]
    from_dicom = predictor.predict(load_image(dicom), cam_method=None).probabilities["PNEUMONIA"]
    assert from_dicom == pytest.approx(from_png, abs=0.01)
    other = predictor.predict(load_image(small_pngs[0]), cam_method=None).probabilities["PNEUMONIA"]
    assert abs(other - from_png) > 0.01, "control: a different radiograph must change the probability"
