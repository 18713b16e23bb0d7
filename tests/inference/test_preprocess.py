"""Model-input geometry: squash / letterbox, antialiased resizing, normalisation, and the inverse for heatmaps."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.errors import ModelCardInvalidError
from inference.model_card import read_card_dict, validate_card
from inference.preprocess import InputSpec, heatmap_to_image, placement, to_model_array, to_model_tensor

BUNDLED = Path(__file__).resolve().parents[2] / "resources" / "models" / "chest-xray-pneumonia"
SQUASH = InputSpec(channels=1, height=64, width=64, resize_mode="squash", mean=(0.5,), std=(0.25,))
LETTERBOX = InputSpec(channels=1, height=64, width=64, resize_mode="letterbox", mean=(0.5,), std=(0.25,))


def test_constant_image_normalises_to_known_values():
    tensor = to_model_tensor(np.full((300, 200), 0.75, np.float32), SQUASH)
    assert tensor.shape == (1, 1, 64, 64)
    assert tensor.dtype.is_floating_point
    # the model input is 8-bit: 0.75 -> 191/255, then (191/255 - 0.5) / 0.25
    np.testing.assert_allclose(tensor.numpy(), (191 / 255 - 0.5) / 0.25, atol=1e-6)


def test_letterbox_keeps_aspect_and_pads_black():
    tensor = to_model_tensor(np.ones((100, 200), np.float32), LETTERBOX)[0, 0].numpy()
    # 200 wide -> scale 0.32 -> 32 rows of content centred at rows 16..47; padding is black (0 -> -2.0).
    assert placement(LETTERBOX, (100, 200)).__dict__ == {"top": 16, "left": 0, "height": 32, "width": 64}
    np.testing.assert_allclose(tensor[16:48], 2.0, atol=1e-6)
    np.testing.assert_allclose(tensor[:16], -2.0, atol=1e-6)
    np.testing.assert_allclose(tensor[48:], -2.0, atol=1e-6)


def test_downscaling_is_antialiased():
    checker = (np.indices((512, 512)).sum(axis=0) % 2).astype(np.float32)  # 1-pixel checkerboard, mean 0.5
    small = to_model_array(checker, SQUASH)
    assert small.shape == (64, 64)
    assert abs(float(small.mean()) - 0.5) < 0.01
    assert float(small.std()) < 0.05, "point sampling would give a 0/1 pattern"


def test_three_channel_spec_replicates_gray_with_per_channel_normalisation():
    spec = InputSpec(channels=3, height=32, width=32, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    tensor = to_model_tensor(np.full((50, 50), 0.5, np.float32), spec)
    assert tensor.shape == (1, 3, 32, 32)
    expected = [(128 / 255 - m) / s for m, s in zip(spec.mean, spec.std)]  # 8-bit input: 0.5 -> 128/255
    np.testing.assert_allclose(tensor[0, :, 0, 0].numpy(), expected, rtol=1e-5)


def test_spec_round_trips_through_the_card_block():
    assert InputSpec.from_card({"input": LETTERBOX.to_card()}) == LETTERBOX
    assert InputSpec.from_card(SQUASH.to_card()) == SQUASH
    with pytest.raises(ValueError):
        InputSpec(channels=1, height=64, width=64, resize_mode="crop")


PER_IMAGE = InputSpec(channels=1, height=64, width=64, mean=(0.449,), std=(0.226,), per_image=True)


def test_per_image_normalisation_uses_the_films_own_mean_and_std():
    # on the 8-bit grid (the model input is 8-bit), from 0.2 to 0.6: mean 0.4, std 0.1169
    gradient = np.tile(np.round(np.linspace(51, 153, 64)).astype(np.float32) / 255, (64, 1))
    tensor = to_model_tensor(gradient, PER_IMAGE)[0, 0].numpy()
    assert float(tensor.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(tensor.std()) == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(tensor[0, [0, -1]], [-1.7047, 1.7047], atol=1e-3)  # (0.2 - 0.4) / 0.1173
    # a brightness offset or a contrast scale of the whole film leaves the model input as it is
    np.testing.assert_allclose(to_model_tensor(gradient + 2 / 255, PER_IMAGE)[0, 0].numpy(), tensor, atol=1e-4)
    # (up to the 8-bit rounding of the scaled film: half a grey level over a spread of 30)
    np.testing.assert_allclose(to_model_tensor(0.5 + (gradient - 0.5) * 1.01, PER_IMAGE)[0, 0].numpy(), tensor,
                               atol=0.035)
    # the fixed normalisation moves with it: (2/255) / 0.226
    fixed = InputSpec(channels=1, height=64, width=64, mean=(0.449,), std=(0.226,))
    shift = to_model_tensor(gradient + 2 / 255, fixed) - to_model_tensor(gradient, fixed)
    assert float(shift.mean()) == pytest.approx(0.0347, abs=1e-3)


def test_per_image_normalisation_of_a_flat_film_stays_finite():
    tensor = to_model_tensor(np.full((40, 40), 0.3, np.float32), PER_IMAGE)
    np.testing.assert_allclose(tensor.numpy(), 0.0, atol=1e-3)


def test_per_image_flag_round_trips_through_the_card_and_its_schema():
    block = PER_IMAGE.to_card()
    assert block["normalisation"] == {"mean": [0.449], "std": [0.226], "per_image": True}
    assert InputSpec.from_card(block) == PER_IMAGE
    assert "per_image" not in SQUASH.to_card()["normalisation"]  # older cards stay byte-identical
    card = read_card_dict(BUNDLED)
    card["input"]["normalisation"]["per_image"] = True
    validate_card(card)
    card["input"]["normalisation"]["per_image"] = "yes"
    with pytest.raises(ModelCardInvalidError, match="per_image"):
        validate_card(card)


def test_rejects_colour_arrays():
    with pytest.raises(ValueError, match="gray"):
        to_model_tensor(np.zeros((10, 10, 3), np.float32), SQUASH)


@pytest.mark.parametrize("spec", [SQUASH, LETTERBOX], ids=["squash", "letterbox"])
@pytest.mark.parametrize("shape", [(300, 150), (120, 480), (256, 256)])
def test_heatmap_maps_back_onto_the_same_anatomy(spec, shape):
    """A blob drawn in the image, pushed through the model geometry and mapped back, lands where it was."""
    rows, cols = np.indices(shape)
    centre = (int(shape[0] * 0.7), int(shape[1] * 0.25))
    sigma = 0.08 * min(shape)
    blob = np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma ** 2)).astype(np.float32)
    model_view = to_model_array(blob, spec)  # what a perfect CAM over the model input would show
    back = heatmap_to_image(model_view, spec, shape)
    assert back.shape == shape and back.dtype == np.float32
    assert 0.0 <= back.min() and back.max() <= 1.0
    peak = np.unravel_index(np.argmax(back), shape)
    tolerance = max(shape) / 64 * 1.5 + 1
    assert abs(peak[0] - centre[0]) <= tolerance and abs(peak[1] - centre[1]) <= tolerance
    assert np.corrcoef(back.ravel(), blob.ravel())[0, 1] > 0.98


def test_letterbox_padding_never_reaches_the_image():
    """Heat placed only on the padding band must vanish when mapped back (it is outside the image)."""
    shape = (100, 200)
    heat = np.zeros((64, 64), np.float32)
    heat[:16] = 1.0  # the top padding band
    back = heatmap_to_image(heat, LETTERBOX, shape)
    assert back.shape == shape
    assert float(back.max()) < 0.05


LOW_PASS = InputSpec(1, 32, 32, "squash", (0.5,), (0.25,), per_image=True, low_pass_sigma=1.0)


def test_low_pass_keeps_a_flat_film_and_damps_noise_by_the_kernels_factor():
    import torch

    from inference.preprocess import gaussian_low_pass

    flat = torch.full((1, 1, 40, 40), 0.3)
    assert torch.allclose(gaussian_low_pass(flat, 1.0), flat, atol=1e-6)
    assert gaussian_low_pass(flat, 0.0) is flat
    noise = torch.randn((1, 1, 400, 400), generator=torch.Generator().manual_seed(0))
    offsets = torch.arange(-3, 4, dtype=torch.float32)
    kernel = torch.exp(-0.5 * offsets ** 2)
    kernel /= kernel.sum()
    # separable: the noise variance shrinks by (sum k^2) per axis, the spread by sum k^2 overall
    expected = float((kernel ** 2).sum())
    got = float(gaussian_low_pass(noise, 1.0)[..., 10:-10, 10:-10].std())
    assert got == pytest.approx(expected, rel=0.05)


def test_the_model_input_is_8_bit_and_the_low_pass_applies_after_it():
    from inference.preprocess import gaussian_low_pass, model_input_u8, normalise_batch

    image = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32) ** 2
    u8 = model_input_u8(image, LOW_PASS)
    assert u8.dtype == np.uint8 and u8.shape == (32, 32)
    np.testing.assert_array_equal(to_model_array(image, LOW_PASS) * 255, u8.astype(np.float32))
    import torch

    x = torch.from_numpy(u8.astype(np.float32) / 255)[None, None]
    expected = normalise_batch(gaussian_low_pass(x, 1.0), (0.5,), (0.25,), per_image=True)
    assert torch.allclose(to_model_tensor(image, LOW_PASS), expected, atol=1e-6)
    sharp = InputSpec(1, 32, 32, "squash", (0.5,), (0.25,), per_image=True)
    assert not torch.allclose(to_model_tensor(image, LOW_PASS), to_model_tensor(image, sharp), atol=1e-3)


def test_low_pass_round_trips_through_the_card_and_its_schema():
    block = LOW_PASS.to_card()
    assert block["normalisation"]["low_pass_sigma"] == 1.0
    assert InputSpec.from_card(block) == LOW_PASS
    assert "low_pass_sigma" not in PER_IMAGE.to_card()["normalisation"]
    card = read_card_dict(BUNDLED)
    card["input"]["normalisation"]["low_pass_sigma"] = 1.5
    validate_card(card)
    card["input"]["normalisation"]["low_pass_sigma"] = -1
    with pytest.raises(ModelCardInvalidError, match="low_pass_sigma"):
        validate_card(card)
    with pytest.raises(ValueError, match="low_pass_sigma"):
        InputSpec(1, 32, 32, low_pass_sigma=20.0)
