"""The lung-focus objective: masks follow the augmentation, the penalty measures what Grad-CAM shows, the prior
comes from real chest films, and the trainer uses it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.errors import TrainingError
from inference.preprocess import InputSpec
from training.augment import AugmentConfig, augment_batch
from training.cache import decode_images
from training.lung_focus import (FeatureTap, build_lung_prior, classifier_head, log_odds_weights,
                                 map_fill_fraction, mirror_ramp, mirrored, outside_share, shared_map_correlation)
from training.trainer import Normalisation, TensorSplit, TrainConfig, train

GEOMETRY_ONLY = AugmentConfig(rotation_deg=20, shift_frac=0.1, zoom_range=0.2, shear_deg=8, brightness=0.0,
                              contrast=0.0, hflip_prob=0.5)


def _half_mask(size: int = 64) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    mask[..., : size // 2] = 1.0
    return mask


def test_masks_get_the_images_warp_and_the_same_draws():
    images = _half_mask().repeat(6, 1, 1, 1)
    warped, masks = augment_batch(images, GEOMETRY_ONLY, torch.Generator().manual_seed(4), masks=images.clone())
    assert torch.allclose(warped, masks, atol=1e-6)  # same geometry (the images are the mask itself)
    assert not torch.allclose(warped, images)  # and it did move
    with_jitter = AugmentConfig(rotation_deg=20, brightness=0.3, contrast=0.3, hflip_prob=0.5)
    alone = augment_batch(images, with_jitter, torch.Generator().manual_seed(9))
    paired, masks = augment_batch(images, with_jitter, torch.Generator().manual_seed(9), masks=images.clone())
    assert torch.equal(alone, paired)  # masks do not change the random draws
    assert not torch.allclose(paired, masks, atol=1e-3)  # photometric jitter is the images' only
    assert float(masks.min()) >= 0.0 and float(masks.max()) <= 1.0


def test_outside_share_of_known_maps():
    mask = _half_mask(64).expand(3, -1, -1, -1)
    features = torch.zeros(3, 2, 8, 8)
    features[0, 0, :, :2] = 1.0  # channel 0 evidence in the left (masked) columns only
    features[1, 0, :, 6:] = 1.0  # in the right columns only
    channel_weights = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # sample 2: channel 1 is all zero
    share = outside_share(features, channel_weights, mask)
    assert share[0].item() == pytest.approx(0.0, abs=1e-6)
    assert share[1].item() == pytest.approx(1.0, abs=1e-6)
    assert share[2].item() == pytest.approx(1.0)  # no map at all is not a perfect score
    leaf = features.clone().requires_grad_(True)
    outside_share(leaf, channel_weights, mask).sum().backward()
    assert leaf.grad is not None and leaf.grad[1, 0, :, 6:].abs().sum() == 0  # saturated: all outside
    with pytest.raises(TrainingError, match="GAP \\+ linear"):
        outside_share(torch.zeros(1, 3, 8, 8), channel_weights[:1], mask[:1])


@pytest.mark.parametrize("classes", [2, 3])
def test_log_odds_weights_are_the_gradient_of_the_cam_target(classes):
    from inference.cam import log_odds

    torch.manual_seed(classes)
    head = torch.nn.Linear(5, classes)
    pooled = torch.randn(4, 5, requires_grad=True)
    targets = torch.arange(4) % classes
    logits = head(pooled)
    torch.stack([log_odds(logits[i], int(targets[i])) for i in range(4)]).sum().backward()
    assert torch.allclose(log_odds_weights(head.weight, logits, targets), pooled.grad, atol=1e-5)
    if classes == 2:  # the logit margin: w_t - w_other, whatever the logits
        assert torch.allclose(log_odds_weights(head.weight, logits, targets)[1], head.weight[1] - head.weight[0])


def test_prior_from_real_normal_films(shared_data):
    folder = shared_data / "chest-xray-pneumonia" / "train" / "NORMAL"
    paths = sorted(folder.iterdir())[:16]
    spec = InputSpec(channels=1, height=224, width=224, resize_mode="squash", mean=(0.449,), std=(0.226,))
    decoded = decode_images(paths, spec, workers=1)
    prior = build_lung_prior(decoded.images)
    assert prior.candidates == 16 and 4 <= prior.atlas_images <= 16
    assert 0.15 < prior.area_share < 0.40  # lungs are about a quarter of a squashed chest film
    mask = prior.mask[0, 0].numpy()
    assert mask.shape == (224, 224)
    assert mask[:, :112].sum() == pytest.approx(mask[:, 112:].sum(), rel=0.35)  # both lungs
    assert mask[:20].sum() == 0 and mask[-20:].sum() == 0  # not the neck or the abdomen
    assert mask[112, 112] == 0  # the mediastinum between them
    with pytest.raises(TrainingError, match="none of 3"):
        build_lung_prior(torch.zeros(3, 1, 224, 224, dtype=torch.uint8))


def test_feature_tap_and_head_on_a_tiny_model():
    from inference.architectures import build_model, default_cam_layer

    model = build_model("compact_cnn", 2)
    tap = FeatureTap(model, default_cam_layer("compact_cnn"))
    model(torch.zeros(2, 1, 64, 64))
    assert tap.output is not None and tap.output.shape[1] == classifier_head(model).in_features
    with torch.no_grad():
        model(torch.zeros(1, 1, 64, 64))
    assert tap.output is None  # evaluation forwards keep nothing
    tap.remove()
    with pytest.raises(TrainingError, match="no layer"):
        FeatureTap(model, "features.nope")


def _synthetic_split(count: int, seed: int) -> TensorSplit:
    generator = torch.Generator().manual_seed(seed)
    images = (torch.rand(count, 1, 64, 64, generator=generator) * 60).to(torch.uint8)
    labels = torch.arange(count) % 2
    images[labels == 1, :, 16:48, 8:28] += 120  # the finding sits in the left half
    return TensorSplit(images=images, labels=labels)


def test_trainer_adds_the_penalty_and_records_it():
    config = TrainConfig(arch="compact_cnn", epochs=1, batch_size=8, seed=0, early_stopping_patience=0,
                         ema_epochs=0, lung_focus=1.0, amp=False)
    splits = _synthetic_split(32, 1), _synthetic_split(16, 2)
    normalisation = Normalisation((0.5,), (0.25,))
    with pytest.raises(TrainingError, match="needs a lung prior"):
        train(config, *splits, 2, 1, normalisation, torch.device("cpu"))
    result = train(config, *splits, 2, 1, normalisation, torch.device("cpu"), lung_prior=_half_mask(64))
    outside = result.history[0]["train_cam_outside_lungs"]
    assert 0.0 <= outside <= 1.0 and np.isfinite(result.history[0]["train_loss"])
    plain = train(TrainConfig(arch="compact_cnn", epochs=1, batch_size=8, seed=0, early_stopping_patience=0,
                              ema_epochs=0, amp=False), *splits, 2, 1, normalisation, torch.device("cpu"))
    assert "train_cam_outside_lungs" not in plain.history[0]


def test_shared_map_correlation_of_known_maps():
    """Identity channel weights: each film's map is its one feature channel. Same spot on every film -> 1;
    a spot in a different place on each of four films -> the correlation of disjoint one-hot maps, -1/15."""
    weights = torch.ones(4, 1)
    same = torch.zeros(4, 1, 4, 4)
    same[:, 0, 1, 2] = 1.0
    chosen = torch.ones(4, dtype=torch.bool)
    assert float(shared_map_correlation(same, weights, chosen)) == pytest.approx(1.0, abs=1e-5)
    moving = torch.zeros(4, 1, 4, 4)
    for film in range(4):
        moving[film, 0, film, film] = 1.0
    assert float(shared_map_correlation(moving, weights, chosen)) == pytest.approx(-1 / 15, abs=1e-5)
    # films that are not chosen (e.g. the normal ones) do not count; one chosen film gives no term
    mixed = torch.cat([same[:2], moving[2:]])
    assert float(shared_map_correlation(mixed, weights, torch.tensor([True, True, False, False]))) == \
        pytest.approx(1.0, abs=1e-5)
    assert shared_map_correlation(same, weights, torch.tensor([True, False, False, False])) is None


def test_shared_map_correlation_inside_the_lung_prior():
    """With masks, only the map inside each film's prior counts: four films with the same spot in the left
    half (the prior) and a different spot each in the right half are fully correlated inside the prior, and the
    frame-wide measure sees them as partly different."""
    weights = torch.ones(4, 1)
    maps = torch.zeros(4, 1, 4, 4)
    maps[:, 0, 1, 0] = 1.0
    for film in range(4):
        maps[film, 0, film, 3] = 1.0
    chosen = torch.ones(4, dtype=torch.bool)
    left_half = torch.zeros(4, 1, 8, 8)
    left_half[..., :4] = 1.0  # the prior at twice the map's resolution: area-averaged onto the grid
    frame = float(shared_map_correlation(maps, weights, chosen))
    assert frame == pytest.approx(3 / 7, abs=1e-5)  # two spots each, one shared
    assert float(shared_map_correlation(maps, weights, chosen, left_half)) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("penalty, recorded, low, absent", [
    ("map_specificity", "train_cam_map_correlation", -1.0, "train_cam_map_fill"),
    ("map_focus", "train_cam_map_fill", 0.0, "train_cam_map_correlation"),
])
def test_trainer_adds_the_map_penalty(penalty, recorded, low, absent):
    """Each map penalty needs the lung-focus tap, goes into the loss and is recorded per epoch on its own."""
    splits = _synthetic_split(32, 1), _synthetic_split(16, 2)
    normalisation = Normalisation((0.5,), (0.25,))
    with pytest.raises(TrainingError, match="--lung-focus"):
        train(TrainConfig(arch="compact_cnn", epochs=1, batch_size=8, amp=False, **{penalty: 0.5}),
              *splits, 2, 1, normalisation, torch.device("cpu"))
    config = TrainConfig(arch="compact_cnn", epochs=1, batch_size=8, seed=0, early_stopping_patience=0,
                         ema_epochs=0, lung_focus=1.0, amp=False, **{penalty: 0.5})
    result = train(config, *splits, 2, 1, normalisation, torch.device("cpu"), lung_prior=_half_mask(64))
    value = result.history[0][recorded]
    assert low <= value <= 1.0 and np.isfinite(result.history[0]["train_loss"])
    assert absent not in result.history[0]


def test_map_fill_fraction_of_known_maps():
    """Identity channel weights: a single hot cell of a 7 x 7 grid fills 1/49 of it; a ramp over the grid
    (0..48, min subtracted) fills its mean / max = 24/48; a flat or empty map counts as full (1), so an empty map
    is never the cheap way out; films that are not chosen do not count."""
    weights = torch.ones(4, 1)
    maps = torch.zeros(4, 1, 7, 7)
    maps[0, 0, 3, 3] = 2.0
    maps[1, 0] = torch.arange(49, dtype=torch.float32).view(7, 7)
    maps[2, 0] = 5.0  # flat: nothing left after the min is subtracted
    everything = torch.ones(4, dtype=torch.bool)
    first = torch.tensor([True, False, False, False])
    assert float(map_fill_fraction(maps, weights, first)) == pytest.approx(1 / 49, abs=1e-4)
    assert float(map_fill_fraction(maps, weights, torch.tensor([False, True, False, False]))) == \
        pytest.approx(0.5, abs=1e-4)
    assert float(map_fill_fraction(maps, weights, everything)) == pytest.approx((1 / 49 + 0.5 + 1 + 1) / 4, abs=1e-4)
    assert map_fill_fraction(maps, weights, torch.zeros(4, dtype=torch.bool)) is None


def test_shared_map_correlation_compares_only_films_mirrored_alike():
    """A map fixed on one side of the patient: the same spot on two films, the mirrored spot on two mirrored
    films. Compared across the mirror too, the four look partly film-specific (-1/3); within each mirror group
    they are identical (1)."""
    weights = torch.ones(4, 1)
    maps = torch.zeros(4, 1, 4, 4)
    maps[:2, 0, 1, 0] = 1.0
    maps[2:, 0, 1, 3] = 1.0
    chosen = torch.ones(4, dtype=torch.bool)
    groups = torch.tensor([0, 0, 1, 1])
    assert float(shared_map_correlation(maps, weights, chosen)) == pytest.approx(1 / 3 - 2 / 3 * 1 / 15, abs=1e-5)
    assert float(shared_map_correlation(maps, weights, chosen, groups=groups)) == pytest.approx(1.0, abs=1e-5)
    # one film per group: no pair to compare
    assert shared_map_correlation(maps[1:3], weights[1:3], chosen[1:3], groups=groups[1:3]) is None


def test_mirror_state_follows_the_augmentation():
    """The ramp warped with each film tells the mirrored films apart under rotation, shear, zoom, shift and aspect
    jitter; the draws of augment_batch are reproduced to know which films it mirrored."""
    from training.augment import _uniform

    config = AugmentConfig(rotation_deg=10, shift_frac=0.06, zoom_range=0.15, shear_deg=5, hflip_prob=0.5,
                           aspect=0.25)
    images, prior = torch.rand(48, 1, 64, 64), torch.ones(1, 1, 64, 64)
    _, warped = augment_batch(images, config, torch.Generator().manual_seed(3),
                              masks=torch.cat([prior, mirror_ramp(prior)], dim=1).expand(48, -1, -1, -1))
    replay = torch.Generator().manual_seed(3)
    for _ in range(5):  # angle, shear, zoom, shift x, shift y
        _uniform(48, 0.0, 1.0, replay)
    flipped = torch.rand(48, generator=replay) < 0.5
    assert 0 < int(flipped.sum()) < 48
    assert torch.equal(mirrored(warped[:, 1:]).bool(), flipped)
