"""Consistency training (training.consistency): the degraded second views, the loss on known logits, and the
trainer's use of them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.errors import TrainingError
from training.consistency import DegradeConfig, consistency_loss, degrade_views
from training.trainer import Normalisation, TensorSplit, TrainConfig, train

NONE = DegradeConfig(noise=0.0, jpeg_quality_min=0, rescale=0.0)


def _films(count: int = 6, size: int = 64, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    # smooth like a radiograph at the model's size: noise averaged over 9 x 9 twice, stretched to [0.1, 0.9]
    smooth = torch.rand(count, 1, size, size, generator=generator)
    for _ in range(2):
        smooth = torch.nn.functional.avg_pool2d(smooth, 9, 1, 4, count_include_pad=False)
    low, high = smooth.amin(dim=(1, 2, 3), keepdim=True), smooth.amax(dim=(1, 2, 3), keepdim=True)
    return 0.1 + 0.8 * (smooth - low) / (high - low)


def test_a_view_without_degradation_is_the_film_rounded_to_8_bits():
    films = _films()
    views = degrade_views(films, NONE, torch.Generator().manual_seed(1))
    assert torch.equal(views, torch.round(films * 255) / 255)


def test_views_are_8_bit_in_range_and_repeat_with_the_seed():
    films = _films()
    config = DegradeConfig()
    first = degrade_views(films, config, torch.Generator().manual_seed(3))
    again = degrade_views(films, config, torch.Generator().manual_seed(3))
    other = degrade_views(films, config, torch.Generator().manual_seed(4))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.shape == films.shape and float(first.min()) >= 0 and float(first.max()) <= 1
    assert torch.equal(first * 255, torch.round(first * 255))
    # small changes: mean absolute difference of a few grey levels, never a different film
    difference = (first - films).abs().mean(dim=(1, 2, 3)) * 255
    assert float(difference.max()) < 8 and float(difference.mean()) > 0.3


def test_noise_of_the_views_has_the_drawn_spread():
    flat = torch.full((200, 1, 32, 32), 0.5)
    views = degrade_views(flat, DegradeConfig(noise=4 / 255, jpeg_quality_min=0, rescale=0.0),
                          torch.Generator().manual_seed(0))
    spreads = (views - 0.5).std(dim=(1, 2, 3)) * 255
    # std drawn uniformly from [0, 4] grey levels, then rounded to whole grey levels
    assert 1.5 < float(spreads.mean()) < 2.6 and float(spreads.max()) < 4.5


def test_a_window_view_moves_grey_levels_by_the_drawn_gain_and_offset():
    films = torch.round(_films(count=400) * 255) / 255  # already 8-bit, as a decoded PNG is
    views = degrade_views(films, DegradeConfig(noise=0.0, jpeg_quality_min=0, rescale=0.0, window=0.004),
                          torch.Generator().manual_seed(0))
    steps = ((views - films) * 255).round().abs()
    changed = (steps > 0).flatten(1).any(dim=1)
    # half of the views get a window: gain 1 +- 0.4% about mid grey (at most 1.6 grey levels at the ends of
    # 0.1..0.9) plus at most 1 grey level of offset, rounded to whole grey levels (so a small draw changes nothing)
    assert 0.25 < float(changed.float().mean()) < 0.55
    assert float(steps.max()) <= 3
    # a window shifts every pixel of a view alike where the film is flat in grey: not noise
    assert float(steps[changed].mean()) > 0.2


def test_the_loss_is_the_jensen_shannon_divergence_of_the_probabilities():
    a = torch.tensor([[0.0, 1.0], [2.0, -1.0], [0.0, 9.0]])
    b = torch.tensor([[0.5, 0.5], [2.0, -1.0], [0.0, 8.0]]) + 7.0  # a shift of both logits changes no probability
    p, q = torch.softmax(a, 1).double().numpy(), torch.softmax(b, 1).double().numpy()
    m = (p + q) / 2
    expected = np.mean(0.5 * (p * np.log(p / m)).sum(1) + 0.5 * (q * np.log(q / m)).sum(1))
    assert float(consistency_loss(a, b)) == pytest.approx(expected, rel=1e-5)
    assert float(consistency_loss(a, a + 3.0)) == pytest.approx(0.0, abs=1e-7)
    assert float(consistency_loss(b, a)) == pytest.approx(float(consistency_loss(a, b)), rel=1e-6)
    # sure views whose log-odds differ by 1 cost far less than a change of p near the threshold
    sure = consistency_loss(torch.tensor([[0.0, 9.0]]), torch.tensor([[0.0, 8.0]]))
    unsure = consistency_loss(torch.tensor([[0.0, -0.7]]), torch.tensor([[0.0, -0.4]]))
    assert float(sure) < float(unsure) / 10
    assert float(consistency_loss(torch.tensor([[0.0, 50.0]]), torch.tensor([[50.0, 0.0]]))) <= np.log(2) + 1e-6


def test_the_log_odds_measure_weighs_sure_and_unsure_films_alike():
    a = torch.tensor([[0.0, 9.0], [0.0, -0.7]])
    b = torch.tensor([[0.0, 8.0], [0.0, -0.4]]) - 2.0
    # squared log-odds differences 1.0 and 0.09, averaged
    assert float(consistency_loss(a, b, "log-odds")) == pytest.approx((1.0 + 0.09) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="measure"):
        consistency_loss(a, b, "l2")
    with pytest.raises(ValueError, match="measure"):
        DegradeConfig(measure="l2")
    from training.consistency import CONSISTENCY_MEASURES
    from training.option_table import BY_NAME

    assert tuple(BY_NAME["consistency-measure"].choices) == CONSISTENCY_MEASURES


def test_the_share_of_films_given_a_second_view():
    assert DegradeConfig(fraction=0.5).views_for(32) == 16
    assert DegradeConfig(fraction=0.01).views_for(8) == 1
    assert DegradeConfig().views_for(7) == 7


def _split(count: int, seed: int) -> TensorSplit:
    generator = torch.Generator().manual_seed(seed)
    images = (torch.rand(count, 1, 64, 64, generator=generator) * 60).to(torch.uint8)
    labels = torch.arange(count) % 2
    images[labels == 1, :, 16:48, 8:28] += 120
    return TensorSplit(images=images, labels=labels)


def test_the_trainer_adds_the_term_records_it_and_refuses_cutmix():
    splits = _split(32, 1), _split(16, 2)
    normalisation = Normalisation((0.5,), (0.25,), low_pass_sigma=1.0)
    base = dict(arch="compact_cnn", epochs=1, batch_size=8, seed=0, early_stopping_patience=0, ema_epochs=0,
                amp=False)
    with pytest.raises(TrainingError, match="CutMix"):
        train(TrainConfig(**base, consistency=1.0, cutmix=0.5), *splits, 2, 1, normalisation, torch.device("cpu"))
    result = train(TrainConfig(**base, consistency=1.0, consistency_views=DegradeConfig(fraction=0.5)), *splits, 2,
                   1, normalisation, torch.device("cpu"))
    agreement = result.history[0]["train_consistency"]
    assert 0.0 < agreement < 10.0 and np.isfinite(result.history[0]["train_loss"])
    plain = train(TrainConfig(**base), *splits, 2, 1, normalisation, torch.device("cpu"))
    assert "train_consistency" not in plain.history[0]


def test_the_config_round_trips_through_the_card_dict():
    config = TrainConfig(consistency=0.7, consistency_views=DegradeConfig(noise=0.01, jpeg_quality_min=70,
                                                                          rescale=0.5, fraction=0.25))
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_both_views_are_answered_by_one_network():
    """Dropout and drop-connect gave each view its own sub-network: on 2.2.0's starting point that difference was
    95% of the consistency term. With them off, two training-mode passes of the same films agree exactly."""
    from inference.architectures import build_model
    from training.consistency import without_random_layers

    torch.manual_seed(0)
    films = torch.rand(4, 1, 64, 64)
    for arch in ("compact_cnn", "efficientnet_lite0"):
        model = build_model(arch, 2, in_channels=1, pretrained=False).train()
        with torch.no_grad():
            assert consistency_loss(model(films), model(films), "log-odds") > 1e-6  # random layers on
            turned_off = without_random_layers(model)
            assert turned_off and all(("dropout" in t) or ("drop-connect" in t) for t in turned_off)
            assert consistency_loss(model(films), model(films), "log-odds").item() == 0.0
    assert without_random_layers(model) == []  # nothing left to turn off


def test_the_relative_log_odds_measure_ignores_the_logit_scale():
    """Shrinking every logit lowers the plain log-odds term but not the relative one (calibration undoes the
    shrinking); the relative term is the squared log-odds difference over the variance of the first views'."""
    generator = torch.Generator().manual_seed(3)
    a = torch.randn(16, 2, generator=generator) * 3
    b = a + torch.randn(16, 2, generator=generator) * 0.2
    plain = consistency_loss(a, b, "log-odds")
    relative = consistency_loss(a, b, "relative-log-odds")
    log_odds = a[:, 1] - a[:, 0]
    assert relative.item() == pytest.approx(plain.item() / log_odds.var().item(), rel=1e-4)
    assert consistency_loss(a / 4, b / 4, "log-odds").item() == pytest.approx(plain.item() / 16, rel=1e-4)
    assert consistency_loss(a / 4, b / 4, "relative-log-odds").item() == pytest.approx(relative.item(), rel=1e-3)
    assert consistency_loss(a, a.clone(), "relative-log-odds").item() == 0.0
