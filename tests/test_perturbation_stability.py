"""One film, one answer under what no radiologist can see (issue 24): a fast seeded subset of
bench/bench_perturbation.py against the shipped default bundle (8 full-resolution films with their 224 px copies,
24 external-a films; a few seconds).

Issue 24's targets (noise of 1 grey level and JPEG q >= 75: median |dp| <= 0.01, max <= 0.05, no call flip;
originals within 0.02 mean / 0.05 max of their copies) are NOT met by the shipped 2.1.0, nor by any candidate
trained so far (docs/model-development.md). What this test holds the shipped bundle to:
- its card never claims more stability than the bundle has: a set on which this subset misses the targets is not
  marked as meeting them;
- no bundle ships less stable than 2.1.0: every targeted change stays within 2.1.0's numbers on this subset
  (measured 2026-12-05 with seed 24), so a pipeline change that makes answers move more fails here.
"""
from __future__ import annotations

import pytest

from inference.bundle import load_bundle
from inference.model_card import ModelCard
from inference.predictor import Predictor, default_bundle_dir
from training.stability import TARGETED, measure_folder

FULLRES_FILMS = 8
EXTERNAL_FILMS = 24
SEED = 24
# 2.1.0 on this subset: perturbation -> (median |dp|, max |dp|, calls flipped)
FULLRES_2_1_0 = {"noise_1": (0.00481, 0.22919, 0), "jpeg_95_model": (0.02058, 0.14963, 0),
                 "jpeg_90_model": (0.01072, 0.35313, 0), "jpeg_75_model": (0.01041, 0.47469, 0),
                 "jpeg_95_full": (0.00366, 0.02244, 0), "jpeg_90_full": (0.00398, 0.0535, 0),
                 "jpeg_75_full": (0.00133, 0.00313, 0)}
COPIES_2_1_0 = (0.09033, 0.34463)  # mean, max |dp| of original vs its copy
EXTERNAL_2_1_0 = {"noise_1": (0.02576, 0.26801, 2), "jpeg_90_model": (0.01608, 0.07418, 0),
                  "jpeg_75_model": (0.0, 0.00335, 0)}
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
                         f"{row['calls_flipped']} (2.1.0: {median}, {worst}, {flips}; worst film {row['worst']})")
    return worse


def test_full_resolution_films(predictor, shared_data, card_sets):
    result = measure_folder(predictor, shared_data / "samples" / "chest-xray-fullres",
                            copies_root=shared_data / "chest-xray-pneumonia" / "train", limit=FULLRES_FILMS,
                            seed=SEED, only=TARGETED, guard=False)
    assert result["films"] == FULLRES_FILMS and result["unperturbed"]["n"] == FULLRES_FILMS
    assert _no_less_stable(result["changes"], FULLRES_2_1_0) == []
    copies = result["full_resolution_vs_copy"]
    assert copies["n"] == FULLRES_FILMS
    assert copies["mean_abs_dp"] <= COPIES_2_1_0[0] + SLACK_MEDIAN
    assert copies["max_abs_dp"] <= COPIES_2_1_0[1] + SLACK_MAX
    recorded = card_sets["full-resolution chest X-rays"]
    assert recorded.n == 20 and recorded.copies is not None
    if not result["meets_targets"]:
        assert recorded.meets_targets is False


def test_external_films(predictor, shared_data, card_sets):
    result = measure_folder(predictor, shared_data / "chest-xray-pneumonia" / "external-a", limit=EXTERNAL_FILMS,
                            seed=SEED, only=tuple(EXTERNAL_2_1_0), guard=False)
    assert result["films"] == EXTERNAL_FILMS
    assert _no_less_stable(result["changes"], EXTERNAL_2_1_0) == []
    recorded = card_sets["Kermany test half A"]
    assert recorded.n == 312
    if not result["meets_targets"]:
        assert recorded.meets_targets is False
