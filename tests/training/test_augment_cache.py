"""Training sees exactly what inference sees (the RAM cache vs the predictor's preprocessing), and the tensor
augmentation does what its parameters say."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inference.image_io import load_image
from inference.preprocess import InputSpec, to_model_tensor
from training.augment import AugmentConfig, augment_batch
from training.cache import decode_images
from training.trainer import Normalisation


@pytest.mark.parametrize("resize_mode", ["squash", "letterbox"])
def test_cache_matches_inference_preprocessing_on_full_resolution_images(shared_data, resize_mode):
    files = sorted((shared_data / "samples" / "chest-xray-fullres" / "PNEUMONIA").iterdir())[:2]
    spec = InputSpec(channels=1, height=64, width=64, resize_mode=resize_mode, mean=(0.449,), std=(0.226,))
    decoded = decode_images(files, spec)
    assert decoded.ok.all()
    assert decoded.original_shapes[0] == load_image(files[0]).render().shape
    assert min(decoded.original_shapes[0]) > 500  # really the full-resolution originals
    training_input = Normalisation(spec.mean, spec.std).apply(decoded.images.float() / 255.0)
    for i, path in enumerate(files):
        inference_input = to_model_tensor(load_image(path).render(), spec)[0]
        # the cache keeps 8 bits: at most half a grey level apart, in normalised units
        assert torch.max(torch.abs(training_input[i] - inference_input)) <= 0.5 / 255 / 0.226 + 1e-6


def test_cache_is_lossless_for_8bit_images_at_input_size(shared_data):
    path = shared_data / "chest-xray-pneumonia" / "train" / "NORMAL" / "IM-0115-0001.jpg"
    spec = InputSpec(channels=1, height=224, width=224)
    decoded = decode_images([path], spec)
    expected = to_model_tensor(load_image(path).render(), spec)[0]
    got = Normalisation(spec.mean, spec.std).apply(decoded.images.float() / 255.0)[0]
    assert torch.allclose(got, expected, atol=1e-6)


def test_unreadable_file_is_reported_not_raised(tmp_path):
    bad = tmp_path / "empty.png"
    bad.write_bytes(b"")
    decoded = decode_images([bad], InputSpec(channels=1, height=32, width=32))
    assert not decoded.ok[0] and decoded.errors[0]


def test_augment_identity_flip_and_range():
    images = torch.rand(3, 1, 24, 24)
    off = AugmentConfig(0, 0, 0, 0, 0, 0, hflip_prob=0.0)
    assert torch.equal(augment_batch(images, off), images)
    flipped = augment_batch(images, AugmentConfig(0, 0, 0, 0, 0, 0, hflip_prob=1.0))
    assert torch.equal(flipped, images.flip(-1))
    # a tiny rotation takes the resampling path: within rounding of the flipped image away from the border
    tilted = augment_batch(images, AugmentConfig(1e-4, 0, 0, 0, 0, 0, hflip_prob=1.0))
    assert torch.allclose(tilted[:, :, 2:-2, 2:-2], images.flip(-1)[:, :, 2:-2, 2:-2], atol=1e-3)
    assert torch.equal(augment_batch(images, AugmentConfig.none()), images)
    strong = augment_batch(images, AugmentConfig(rotation_deg=30, brightness=0.5, contrast=0.5),
                           torch.Generator().manual_seed(0))
    assert strong.min() >= 0 and strong.max() <= 1 and not torch.allclose(strong, images)
    again = augment_batch(images, AugmentConfig(rotation_deg=30, brightness=0.5, contrast=0.5),
                          torch.Generator().manual_seed(0))
    assert torch.equal(strong, again)  # seeded


def test_augment_shift_moves_content():
    image = torch.zeros(1, 1, 20, 20)
    image[0, 0, 8:12, 8:12] = 1.0
    # a fixed shift: shift_frac draws from [-s, s]; with a 1-sample batch and a seeded generator the centre moves
    moved = augment_batch(image, AugmentConfig(0, 0.2, 0, 0, 0, 0, 0.0), torch.Generator().manual_seed(1))
    ys, xs = np.nonzero(moved[0, 0].numpy() > 0.5)
    assert moved.sum() == pytest.approx(16, abs=3)
    assert (ys.mean(), xs.mean()) != pytest.approx((9.5, 9.5), abs=0.5)
