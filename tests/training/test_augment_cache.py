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


def _only(**kwargs) -> AugmentConfig:
    """Every option off except the given ones."""
    return AugmentConfig(rotation_deg=0.0, shift_frac=0.0, zoom_range=0.0, shear_deg=0.0, brightness=0.0,
                         contrast=0.0, hflip_prob=0.0, **kwargs)


def _box_extent(image: torch.Tensor) -> tuple[int, int]:
    rows, cols = np.nonzero(image.numpy() > 0.5)
    return cols.max() - cols.min() + 1, rows.max() - rows.min() + 1


def test_aspect_jitter_stretches_width_against_height_and_warps_masks_alike():
    images = torch.zeros(16, 1, 96, 96)
    images[:, :, 28:68, 28:68] = 1.0  # a 40 x 40 square
    out, masks = augment_batch(images, _only(aspect=0.25), torch.Generator().manual_seed(1), masks=images.clone())
    ratios = []
    for image, mask in zip(out[:, 0], masks[:, 0]):
        width, height = _box_extent(image)
        ratios.append(width / height)
        assert width * height == pytest.approx(1600, rel=0.12)  # the area is kept
        assert _box_extent(mask) == (width, height)
    ratios = np.array(ratios)
    assert ratios.min() >= 1 / 1.25 - 0.06 and ratios.max() <= 1.25 + 0.06
    assert ratios.min() < 0.92 and ratios.max() > 1.08  # both stretched and squeezed


def test_resolution_and_sharpness_jitter_change_fine_detail_only():
    generator = torch.Generator().manual_seed(0)
    images = (torch.rand(8, 1, 64, 64, generator=generator) > 0.5).float() * 0.5 + 0.25

    def detail(batch: torch.Tensor) -> float:
        return float((batch[..., 1:] - batch[..., :-1]).abs().mean())

    blurred = augment_batch(images, _only(downscale=1.0), torch.Generator().manual_seed(2))
    assert detail(blurred) < 0.7 * detail(images)
    assert float(blurred.mean()) == pytest.approx(float(images.mean()), abs=0.01)  # brightness unchanged
    mixed = augment_batch(images, _only(blur_sigma=1.5, sharpen=1.0), torch.Generator().manual_seed(3))
    per_image = [detail(m[None]) / detail(i[None]) for m, i in zip(mixed, images)]
    assert min(per_image) < 0.8 and max(per_image) > 1.05  # some blurred, some sharpened


def test_gamma_noise_and_jpeg_jitter():
    ramp = torch.linspace(0.05, 0.95, 64).view(1, 1, 1, 64).expand(8, 1, 64, 64).contiguous()
    gamma = augment_batch(ramp, _only(gamma=0.5), torch.Generator().manual_seed(4))
    middles = gamma[:, 0, 32, 32]
    assert middles.min() < ramp[0, 0, 32, 32] - 0.03 and middles.max() > ramp[0, 0, 32, 32] + 0.03
    assert torch.all(gamma[..., 1:] >= gamma[..., :-1] - 1e-6)  # gamma keeps the order of grey levels
    noisy = augment_batch(ramp, _only(noise=0.05), torch.Generator().manual_seed(5))
    spread = (noisy - ramp).std(dim=(1, 2, 3))
    assert spread.max() > 0.02 and spread.max() <= 0.055
    jpeg = augment_batch(ramp, _only(jpeg_quality_min=30), torch.Generator().manual_seed(6))
    changed = [(j - r).abs().max().item() for j, r in zip(jpeg, ramp)]
    assert sum(c > 0.003 for c in changed) in range(1, 8)  # about half the images take the round trip
    assert max(changed) < 0.1
    assert jpeg.min() >= 0.0 and jpeg.max() <= 1.0


def test_acquisition_jitter_off_leaves_the_old_random_stream_alone():
    images = torch.rand(4, 1, 48, 48, generator=torch.Generator().manual_seed(7))
    plain = augment_batch(images, AugmentConfig(), torch.Generator().manual_seed(8))
    again = augment_batch(images, AugmentConfig(aspect=0.0, noise=0.0), torch.Generator().manual_seed(8))
    assert torch.equal(plain, again)
    assert not AugmentConfig().acquisition_jitter and AugmentConfig(gamma=0.1).acquisition_jitter
