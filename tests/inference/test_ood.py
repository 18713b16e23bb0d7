"""The OOD guard's statistics on data with a known answer, and its header/content rules."""
import numpy as np
import pytest
import torch
from torch import nn

from inference.ood import (FeatureGuard, assess, capture_features, colourfulness, final_linear, guard_grid,
                           header_reasons)


def _gaussian(n, dim, seed, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    # anisotropic: the guard must model the covariance, not just the distance to the mean
    axes = np.linspace(3.0, 0.2, dim)
    return rng.normal(size=(n, dim)) * axes * scale + shift


def test_guard_calibrated_rate_and_separation():
    train = _gaussian(2000, 32, seed=0)
    calib = _gaussian(1000, 32, seed=1)
    held_in = _gaussian(2000, 32, seed=2)
    guard = FeatureGuard.fit(train, n_components=31)
    guard.calibrate(calib, quantile=0.99)
    false_rate = float((guard.score(held_in) > guard.threshold).mean())
    assert 0.0 < false_rate < 0.03  # about 1 % by construction
    # a shift along a LOW-variance axis (invisible to a plain Euclidean distance of this size) is caught
    shifted = _gaussian(500, 32, seed=3)
    shifted[:, -1] += 2.0
    assert float((guard.score(shifted) > guard.threshold).mean()) > 0.95
    # so is a global scale change
    assert float((guard.score(_gaussian(500, 32, seed=4, scale=3.0)) > guard.threshold).mean()) > 0.95


def test_residual_term_catches_features_leaving_the_subspace():
    guard = FeatureGuard.fit(_gaussian(2000, 32, seed=0), n_components=4)
    guard.calibrate(_gaussian(1000, 32, seed=1), quantile=0.99)
    outside = _gaussian(500, 32, seed=3)
    outside[:, 20:] += 6.0  # energy in directions the top-4 subspace does not hold
    assert float((guard.score(outside) > guard.threshold).mean()) > 0.95


def test_guard_round_trips_through_tensors():
    guard = FeatureGuard.fit(_gaussian(300, 16, seed=0), n_components=4)
    guard.calibrate(_gaussian(200, 16, seed=1))
    again = FeatureGuard.from_tensors(guard.tensors())
    probe = _gaussian(10, 16, seed=5)
    np.testing.assert_allclose(again.score(probe), guard.score(probe), rtol=1e-5)
    assert again.threshold == pytest.approx(guard.threshold)



def test_fit_many_gives_the_guards_fit_gives_one_by_one():
    train, probe = _gaussian(300, 16, seed=0), _gaussian(20, 16, seed=7)
    many = FeatureGuard.fit_many(train, [2, 4, 15, 40])
    assert [g.components.shape[0] for g in many] == [2, 4, 15, 15]  # at most dim - 1 components
    for guard, k in zip(many, [2, 4, 15, 40]):
        np.testing.assert_array_equal(guard.score(probe), FeatureGuard.fit(train, n_components=k).score(probe))
    assert not np.allclose(many[0].score(probe), many[1].score(probe))

def test_capture_features_reads_the_final_linear_input():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    assert final_linear(model) is model[3]
    x = torch.randn(3, 1, 8, 8)
    with capture_features(model) as captured:
        model(x)
    expected = model[2](model[1](model[0](x)))
    assert len(captured) == 1
    torch.testing.assert_close(captured[0], expected.detach())


def test_capture_features_of_a_named_layer_is_its_spatial_mean():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    x = torch.randn(3, 1, 8, 8)
    with capture_features(model, "1") as captured:
        model(x)
    torch.testing.assert_close(captured[0], model[1](model[0](x)).mean(dim=(2, 3)).detach())



def test_capture_features_on_a_region_grid_averages_each_region():
    """A 3x3 grid over a 6x6 map: each feature is one channel's mean over one 2x2 block, channel-major."""
    model = nn.Sequential(nn.Identity(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))
    x = torch.arange(72, dtype=torch.float32).view(1, 2, 6, 6)
    with capture_features(model, "0", grid=3) as captured:
        model(x)
    features = captured[0]
    assert features.shape == (1, 18)
    # channel 0, top-left block: values 0, 1, 6, 7; channel 0, bottom-right: 28, 29, 34, 35; channel 1 adds 36
    assert features[0, 0].item() == pytest.approx(3.5)
    assert features[0, 8].item() == pytest.approx(31.5)
    assert features[0, 9].item() == pytest.approx(39.5)
    with pytest.raises(ValueError, match="named layer"):
        with capture_features(model, None, grid=3):
            pass


def test_guard_grid_defaults_to_the_whole_image():
    assert guard_grid({}) == 1 and guard_grid({"ood": {"layer": "x"}}) == 1
    assert guard_grid({"ood": {"layer": "x", "grid": 3}}) == 3

class _Image:
    def __init__(self, modality="DX", body_part="CHEST", chroma=0.0):
        self.metadata = {"Modality": modality, "BodyPartExamined": body_part}
        self.colourfulness = chroma


def test_header_rules():
    card = {"ood": {"expected_body_parts": ["CHEST"]}}
    assert header_reasons(_Image(), card) == []
    assert "modality CT" in header_reasons(_Image(modality="CT"), card)[0]
    assert "body part HAND" in header_reasons(_Image(body_part="HAND"), card)[0]
    assert "colour" in header_reasons(_Image(chroma=0.2), card)[0]
    result = assess(_Image(modality="MR"), None, None, card)
    assert result.warning and result.score is None


def test_colourfulness_of_gray_and_colour():
    gray = np.repeat(np.linspace(0, 255, 64, dtype=np.float32)[None, :, None], 3, axis=2)
    assert colourfulness(gray) == 0.0
    red = np.zeros((4, 4, 3), np.float32)
    red[..., 0] = 255
    assert colourfulness(red) == pytest.approx(1.0)


def test_loaded_images_carry_their_colourfulness(project_root):
    import skimage

    from inference.image_io import load_image

    sample = load_image(project_root / "resources" / "samples" / "chest-pa-sample.png")
    assert sample.colourfulness == 0.0
    astronaut = load_image(f"{skimage.__path__[0]}/data/astronaut.png")
    assert astronaut.colourfulness > 0.15  # measured 0.195
    assert "colour" in header_reasons(astronaut, {})[0]


def test_predictor_reports_the_guard_verdict(tmp_path, shared_data):
    """A tiny model with a guard fitted on real chest X-rays: the predictor runs the guard on every image, puts
    the verdict in the JSON, and refuses a tampered guard file."""
    import hashlib
    import json

    import skimage

    from inference.bundle import load_bundle, write_bundle
    from inference.errors import WeightsHashMismatchError
    from inference.image_io import load_image
    from inference.ood import OOD_FILE
    from inference.predictor import Predictor
    from inference.preprocess import InputSpec, to_model_tensor
    from tests.helpers.tiny_models import make_tiny_bundle
    from training.ood_fit import fit_guard, guard_file_bytes

    tiny = load_bundle(make_tiny_bundle(tmp_path / "tiny"))
    model, spec = tiny.build("cpu"), InputSpec.from_card(tiny.card)
    chest = sorted((shared_data / "chest-xray-pneumonia" / "train" / "NORMAL").glob("*.jp*g"))[:48]

    def features(paths):
        rows = []
        with torch.no_grad(), capture_features(model) as captured:
            for path in paths:
                model(to_model_tensor(load_image(path).render(), spec))
        rows.extend(captured)
        return torch.cat(rows).numpy()

    guard, block = fit_guard(features(chest[:32]), features(chest[32:44]), n_components=8, quantile=0.99)
    payload = guard_file_bytes(guard)
    card = json.loads(json.dumps(tiny.card))
    card["ood"] = dict(block, sha256=hashlib.sha256(payload).hexdigest(), expected_body_parts=["CHEST"])
    guarded = write_bundle(tmp_path / "guarded", tiny.state_dict(), card, extra_files={OOD_FILE: payload})

    predictor = Predictor(guarded, device="cpu")
    photo = predictor.predict(load_image(f"{skimage.__path__[0]}/data/astronaut.png"), cam_method=None)
    assert photo.ood.warning and any("colour" in r for r in photo.ood.reasons)
    held_in = predictor.predict(load_image(chest[44]), cam_method=None)
    assert held_in.ood.score is not None and held_in.ood.threshold == pytest.approx(guard.threshold)
    assert held_in.to_json()["ood"]["score"] == pytest.approx(held_in.ood.score, abs=1e-3)

    (guarded / OOD_FILE).write_bytes(payload[:-8] + b"\0" * 8)
    with pytest.raises(WeightsHashMismatchError):
        Predictor(guarded, device="cpu")
