"""The JPEG round trip that makes resized inputs look like the Kermany training copies (224x224, quality 90)."""
import numpy as np
import pytest
from PIL import Image

from inference.image_io import load_image
from inference.preprocess import InputSpec, jpeg_round_trip, to_model_array
from training.jpeg_source import jpeg_quality_of, source_jpeg_quality

SPEC = InputSpec(channels=1, height=224, width=224, resize_mode="squash", mean=(0.449,), std=(0.226,))


def test_kermany_copies_are_224px_quality_90(shared_data):
    train = shared_data / "chest-xray-pneumonia" / "train"
    files = sorted((train / "NORMAL").glob("*.jp*g"))[:20] + sorted((train / "PNEUMONIA").glob("*.jp*g"))[:20]
    assert jpeg_quality_of(files[0]) == 90
    assert source_jpeg_quality(files, 224, 224) == 90
    assert source_jpeg_quality(files, 256, 256) is None  # not at the input size: nothing to mimic
    fullres = sorted((shared_data / "samples" / "chest-xray-fullres").rglob("*.jpeg"))
    assert source_jpeg_quality(fullres, 224, 224) is None


def test_png_is_not_a_jpeg_source(project_root):
    sample = project_root / "resources" / "samples" / "chest-pa-sample.png"
    assert jpeg_quality_of(sample) is None
    assert source_jpeg_quality([sample], 959, 1024) is None


def test_round_trip_applies_only_to_resized_inputs(shared_data):
    spec = InputSpec(**{**SPEC.__dict__, "jpeg_quality": 90})
    copy = load_image(next((shared_data / "chest-xray-pneumonia" / "train" / "NORMAL").glob("*.jp*g"))).render()
    assert copy.shape == (224, 224)
    np.testing.assert_array_equal(to_model_array(copy, spec), to_model_array(copy, SPEC))  # untouched
    full = load_image(sorted((shared_data / "samples" / "chest-xray-fullres").rglob("*.jpeg"))[0]).render()
    plain, round_tripped = to_model_array(full, SPEC), to_model_array(full, spec)
    np.testing.assert_array_equal(round_tripped, jpeg_round_trip(plain, 90))
    difference = np.abs(round_tripped - plain)
    assert 0 < difference.mean() < 0.01 and difference.max() < 0.1  # compression texture, not a new image
    assert spec.to_card()["jpeg_quality"] == 90 and InputSpec.from_card(spec.to_card()) == spec
    assert "jpeg_quality" not in SPEC.to_card()


def test_round_trip_brings_full_resolution_closer_to_the_training_copy(shared_data):
    """The 224 px copy in train/ and our rendering of its full-resolution original: the round trip (what the
    redistributor did after resizing) must bring them closer, pixel for pixel."""
    spec = InputSpec(**{**SPEC.__dict__, "jpeg_quality": 90})
    distances = []
    for original in sorted((shared_data / "samples" / "chest-xray-fullres").rglob("*.jpeg"))[:6]:
        copy = shared_data / "chest-xray-pneumonia" / "train" / original.parent.name / (original.stem + ".jpg")
        target = np.asarray(Image.open(copy).convert("L"), dtype=np.float32) / 255.0
        full = load_image(original).render()
        distances.append((np.abs(to_model_array(full, SPEC) - target).mean(),
                          np.abs(to_model_array(full, spec) - target).mean()))
    plain, round_tripped = np.mean(distances, axis=0)
    assert round_tripped <= plain + 1e-4, (plain, round_tripped)
    assert plain == pytest.approx(2.16 / 255, abs=0.003)
