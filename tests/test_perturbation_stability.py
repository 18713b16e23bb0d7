"""One film, one answer under what no radiologist can see (issue 24): a fast seeded subset of
bench/bench_perturbation.py against the shipped default bundle (8 full-resolution films with their 224 px copies,
24 external-a films; a few seconds).

Issue 24's targets (noise of 1 grey level and JPEG q >= 75: median |dp| <= 0.01, max <= 0.05, no call flip;
originals within 0.02 mean / 0.05 max of their copies) are NOT all met by the shipped 2.2.0 (its card: a call on
external-a flips under noise, the max under noise depends on the draw, originals within 0.079 of their copies), nor
by any candidate trained so far (docs/model-development.md). What this test holds the shipped bundle to:
- its card never claims more stability than the bundle has: a set on which this subset misses the targets is not
  marked as meeting them;
- no bundle ships less stable than 2.2.0: every targeted change stays within 2.2.0's numbers on this subset
  (measured 2026-12-06 with seed 24; 2.1.0, the default before it, moved up to 0.47 here), so a pipeline change
  that makes answers move more fails here;
- a call that turns under one of these changes was marked "near the threshold" (the card's call margin, measured
  on the validation split): no call the product shows as standing flips.
"""
from __future__ import annotations

import pytest

from inference.bundle import load_bundle
from inference.model_card import ModelCard
from inference.predictor import Predictor, default_bundle_dir
from inference.image_io import load_image
from training.stability import MARGIN_CHANGES, TARGETED, ProbabilityOf, measure, measure_folder

FULLRES_FILMS = 8
EXTERNAL_FILMS = 24
SEED = 24
# 2.2.0 on this subset: perturbation -> (median |dp|, max |dp|, calls flipped)
FULLRES_2_2_0 = {"noise_1": (0.00068, 0.02156, 0), "jpeg_95_model": (0.00096, 0.02246, 0),
                 "jpeg_90_model": (0.00414, 0.01889, 0), "jpeg_75_model": (0.00356, 0.08953, 0),
                 "jpeg_95_full": (0.00054, 0.00411, 0), "jpeg_90_full": (0.00025, 0.00557, 0),
                 "jpeg_75_full": (0.00022, 0.00562, 0)}
COPIES_2_2_0 = (0.01328, 0.03817)  # mean, max |dp| of original vs its copy
EXTERNAL_2_2_0 = {"noise_1": (0.00691, 0.03367, 0), "jpeg_90_model": (0.00426, 0.03075, 0),
                  "jpeg_75_model": (0.0, 0.00148, 0)}
SLACK_MEDIAN, SLACK_MAX = 0.005, 0.01  # platform arithmetic and nothing more


@pytest.fixture(scope="module")
def predictor():
    return Predictor(default_bundle_dir(), device="cpu")


@pytest.fixture(scope="module")
def card_sets():
    card = ModelCard(load_bundle(default_bundle_dir()).card)
    return {entry.dataset.split(" (")[0]: entry for entry in card.stability}


def _no_less_stable(changes: dict, reference: dict) -> list[str]:
    worse = []
    for name, (median, worst, flips) in reference.items():
        row = changes[name]
        if (row["median_abs_dp"] > median + SLACK_MEDIAN or row["max_abs_dp"] > worst + SLACK_MAX
                or row["calls_flipped"] > flips):
            worse.append(f"{name}: median {row['median_abs_dp']}, max {row['max_abs_dp']}, flips "
                         f"{row['calls_flipped']} (2.2.0: {median}, {worst}, {flips}; worst film {row['worst']})")
    return worse


def _unmarked_flips(result: dict) -> list[str]:
    """Changes under which a call flipped that was not marked near the threshold."""
    assert result["near_threshold"] is not None, "the shipped card has no call margin"
    return [f"{name}: {row['flipped_films']}" for name, row in result["changes"].items()
            if row["calls_flipped_unmarked"]]


def test_full_resolution_films(predictor, shared_data, card_sets):
    result = measure_folder(predictor, shared_data / "samples" / "chest-xray-fullres",
                            copies_root=shared_data / "chest-xray-pneumonia" / "train", limit=FULLRES_FILMS,
                            seed=SEED, only=TARGETED, guard=False)
    assert result["films"] == FULLRES_FILMS and result["unperturbed"]["n"] == FULLRES_FILMS
    assert _no_less_stable(result["changes"], FULLRES_2_2_0) == []
    assert _unmarked_flips(result) == []
    copies = result["full_resolution_vs_copy"]
    assert copies["n"] == FULLRES_FILMS
    assert copies["mean_abs_dp"] <= COPIES_2_2_0[0] + SLACK_MEDIAN
    assert copies["max_abs_dp"] <= COPIES_2_2_0[1] + SLACK_MAX
    recorded = card_sets["full-resolution chest X-rays"]
    assert recorded.n == 20 and recorded.copies is not None
    if not result["meets_targets"]:
        assert recorded.meets_targets is False


def test_external_films(predictor, shared_data, card_sets):
    result = measure_folder(predictor, shared_data / "chest-xray-pneumonia" / "external-a", limit=EXTERNAL_FILMS,
                            seed=SEED, only=tuple(EXTERNAL_2_2_0), guard=False)
    assert result["films"] == EXTERNAL_FILMS
    assert _no_less_stable(result["changes"], EXTERNAL_2_2_0) == []
    assert _unmarked_flips(result) == []
    recorded = card_sets["Kermany test half A"]
    assert recorded.n == 312
    if not result["meets_targets"]:
        assert recorded.meets_targets is False


# half A films at the card's call margin (P 0.283-0.388 about 1/3): two inside, which the changes turn, and the two
# nearest outside it, which they must not (xrayview-predict: P 0.335, 0.318, 0.278, 0.390)
MARKED = ("PNEUMONIA/person34_virus_76.jpeg", "PNEUMONIA/person71_virus_131.jpeg")
JUST_OUTSIDE = ("NORMAL/IM-0091-0001.jpeg", "PNEUMONIA/person45_virus_95.jpeg")


def test_the_calls_that_turn_are_the_marked_ones(predictor, shared_data):
    half_a = shared_data / "chest-xray-pneumonia" / "external-a"
    films = [(name, load_image(half_a / name).render()) for name in MARKED + JUST_OUTSIDE]
    probability = ProbabilityOf(predictor.model, predictor.bundle, predictor.spec, predictor.device)
    turned: dict[str, int] = {name: 0 for name, _ in films}
    for seed in range(4):
        result = measure(probability, films, predictor.threshold, seed=seed, only=MARGIN_CHANGES,
                         margin=predictor.call_margin)
        assert result.near_threshold["films"] == len(MARKED)
        for row in result.changes.values():
            for name in row["flipped_films"]:
                turned[name] += 1
            assert row["calls_flipped_unmarked"] == 0, row["flipped_films"]
    assert sum(turned[name] for name in MARKED) > 0  # the changes do turn the marked calls (measured: 5 and 4 of 16)
    assert all(turned[name] == 0 for name in JUST_OUTSIDE)
