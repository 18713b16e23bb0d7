"""training.stability and bench/bench_perturbation.py (issue 24): the perturbations do what their names say,
the statistics and flips are counted right, and a labelled folder also gives the unperturbed ranking."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.model_card import InputSpec
from inference.predictor import Predictor
from tests.helpers.tiny_models import make_tiny_bundle
from training.stability import (TARGETED, expected_flips, measure, measure_folder, perturbations, undecided_band,
                                unperturbed_metrics)

ROOT = Path(__file__).resolve().parents[2]
SPEC = InputSpec.from_card({"input": {"height": 64, "width": 64, "channels": 1, "resize_mode": "squash",
                                      "normalisation": {"mean": [0.5], "std": [0.25]}}})


class MeanBrightness:
    """A 'model' whose P(positive) is the mean grey of its 8-bit input: every change is known in advance."""

    spec = SPEC

    def __call__(self, inputs):
        return np.array([np.asarray(a, dtype=np.float64).mean() / (255.0 if a.dtype == np.uint8 else 1.0)
                         for a in inputs])


def _films(n: int = 6):
    rng = np.random.default_rng(3)
    ramp = np.linspace(0.2, 0.8, 128, dtype=np.float32)
    return [(f"film{i}", np.clip(ramp[None, :] + rng.normal(0, 0.02, (128, 128)), 0, 1).astype(np.float32))
            for i in range(n)]


def test_each_perturbation_moves_a_mean_brightness_model_as_expected():
    result = measure(MeanBrightness(), _films(), threshold=0.5, seed=7)
    changes = result.changes
    assert set(changes) == set(perturbations())
    # +2 grey levels moves the mean by 2/255 on every film (no pixel near white)
    assert changes["brightness_+2"]["median_abs_dp"] == pytest.approx(2 / 255, abs=2e-4)
    # zero-mean noise and contrast about the mean leave the mean (nearly) where it was
    assert changes["noise_1"]["max_abs_dp"] < 0.002 and changes["contrast_x1.01"]["max_abs_dp"] < 0.002
    # the 12-bit window shows 0.4% less contrast: grey v (0.2-0.8) becomes round(16 v 255 / 4095)
    assert 0.0005 < changes["dicom_12bit_window"]["median_abs_dp"] < 0.004
    assert changes["rounding_8bit"]["max_abs_dp"] < 0.5 / 255
    assert all("meets_target" in changes[name] for name in TARGETED)
    assert "meets_target" not in changes["brightness_+2"]
    assert result.probabilities.shape == (6,)


def test_flips_are_counted_at_the_threshold():
    films = _films()
    base = measure(MeanBrightness(), films, threshold=0.5, only=["noise_1"]).probabilities
    threshold = float(base.max()) + 1.0 / 255  # every film 1-2 grey levels below it: +2 carries them all across
    row = measure(MeanBrightness(), films, threshold=threshold, only=["brightness_+2"]).changes["brightness_+2"]
    assert row["calls_flipped"] == 6 and row["flipped_films"] == [name for name, _ in films]
    row = measure(MeanBrightness(), films, threshold=threshold + 2.0 / 255, only=["brightness_+2"]).changes[
        "brightness_+2"]
    assert row["calls_flipped"] == 0
    with pytest.raises(ValueError, match="unknown perturbation"):
        measure(MeanBrightness(), films, threshold=0.5, only=["noise_9"])


def test_expected_flips_weigh_every_films_margin_against_every_move():
    def logit(p):
        return np.log(p / (1 - p))

    def p_of(z):
        return 1 / (1 + np.exp(-z))

    threshold = 0.5
    # four films at log-odds margins 0.1, 0.3, 1.0, 3.0 from the threshold; their moves are 0.2, 0.2, 0.5, 0.0
    base = p_of(np.array([0.1, -0.3, 1.0, -3.0]))
    changed = p_of(logit(base) + np.array([0.2, -0.2, 0.5, 0.0]))
    # moves larger than 0.1: 3 of 4; than 0.3: 1; than 1.0 and 3.0: 0 -> half of (3 + 1) / 4
    assert expected_flips(base, changed, threshold) == pytest.approx(0.5)
    assert expected_flips(base, base, threshold) == 0.0
    # one film right at the threshold: any move at all flips it half the time
    assert expected_flips(np.array([0.5, 0.9]), np.array([0.5001, 0.9]), 0.5) == pytest.approx(0.25)
    row = measure(MeanBrightness(), _films(), threshold=0.5, only=["brightness_+2"]).changes["brightness_+2"]
    assert row["expected_calls_flipped"] >= 0.0


def test_an_undecided_band_counts_what_it_withholds_and_the_calls_that_still_cross():
    def p_of(z):
        return 1 / (1 + np.exp(-z))

    # log-odds about the threshold 0.5: films at -2, -0.15, 0.05, 0.25, 3; moves +0.1, +0.4, -0.3, -0.6, 0
    z = np.array([-2.0, -0.15, 0.05, 0.25, 3.0])
    base, changed = p_of(z), p_of(z + np.array([0.1, 0.4, -0.3, -0.6, 0.0]))
    positive = np.array([False, True, True, True, True])
    none = undecided_band(base, changed, positive, 0.5, 0.0)
    assert none["undecided"] == 0 and none["opposite_calls_drawn"] == 3  # -0.15 up, 0.05 and 0.25 down
    assert none["sensitivity_of_decided"] == 0.75 and none["specificity_of_decided"] == 1.0
    band = undecided_band(base, changed, positive, 0.5, 0.2)
    assert band["undecided"] == 2 and band["undecided_positive"] == 2  # -0.15 and 0.05
    assert band["band_p"] == [round(p_of(-0.2), 3), round(p_of(0.2), 3)]
    # 0.25 moves to -0.35: past the far edge (-0.2), still a crossing; -2 and 3 stay put
    assert band["opposite_calls_drawn"] == 1 and band["sensitivity_of_decided"] == 1.0
    # expected: margins beyond the far edge 2.2, 0.45, 3.2 against moves 0, 0.1, 0.3, 0.4, 0.6 -> (0 + 1 + 0) / 2 / 5
    assert band["opposite_calls_expected"] == 0.1


def test_unperturbed_metrics_of_a_labelled_folder():
    names = ["NORMAL/a.png", "NORMAL/b.png", "NORMAL/c.png", "PNEUMONIA/d.png", "PNEUMONIA/e.png"]
    p = np.array([0.1, 0.6, 0.2, 0.7, 0.4])
    got = unperturbed_metrics(names, p, 0.5, "PNEUMONIA", ("NORMAL", "PNEUMONIA"))
    # pairs (pos, neg) ranked right: 0.7 beats all 3; 0.4 beats 0.1 and 0.2 -> 5 of 6
    assert got == {"n": 5, "auc": round(5 / 6, 4), "accuracy": 0.6, "sensitivity": 0.5,
                   "specificity": round(2 / 3, 4)}
    assert unperturbed_metrics(["a.png", "b.png"], p[:2], 0.5, "PNEUMONIA", ("NORMAL", "PNEUMONIA")) is None
    assert unperturbed_metrics(names[:3], p[:3], 0.5, "PNEUMONIA", ("NORMAL", "PNEUMONIA")) is None


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    return make_tiny_bundle(tmp_path_factory.mktemp("stability") / "tiny", seed=4, logit_gain=5.0)


def test_a_folder_of_real_films_through_a_predictor(tiny_bundle, shared_data):
    predictor = Predictor(tiny_bundle, device="cpu")
    result = measure_folder(predictor, shared_data / "chest-xray-pneumonia" / "external-a", limit=6, seed=1,
                            only=["noise_1", "jpeg_75_model"], guard=False, bands=[0.0, 50.0])
    assert result["films"] == 6 and set(result["changes"]) == {"noise_1", "jpeg_75_model"}
    assert result["unperturbed"]["n"] == 6 and 0.0 <= result["unperturbed"]["auc"] <= 1.0
    assert result["ood_warned"] is None and result["unreadable"] == []
    no_band, everything = result["undecided_band"]["rows"]
    assert result["undecided_band"]["perturbation"] == "noise_1"
    assert no_band["undecided"] == 0
    assert no_band["opposite_calls_drawn"] == result["changes"]["noise_1"]["calls_flipped"]
    assert everything["undecided"] == 6 and everything["sensitivity_of_decided"] is None


def test_the_benchmark_prints_json_and_takes_a_low_pass_what_if(tiny_bundle, shared_data, tmp_path):
    out = tmp_path / "stability.json"
    args = [sys.executable, str(ROOT / "bench" / "bench_perturbation.py"), "--model", str(tiny_bundle),
            "--data", str(shared_data / "chest-xray-pneumonia" / "external-a"), "--limit", "4", "--only",
            "noise_2", "--no-guard", "--seed", "5", "--out", str(out)]
    plain = json.loads(subprocess.run(args, capture_output=True, text=True, check=True, timeout=300).stdout)
    blurred = json.loads(subprocess.run(args + ["--low-pass-sigma", "3"], capture_output=True, text=True,
                                        check=True, timeout=300).stdout)
    assert plain["films"] == blurred["films"] == 4 and json.loads(out.read_text())["films"] == 4
    # a strong low-pass averages the noise away before the model sees it
    assert blurred["changes"]["noise_2"]["max_abs_dp"] < plain["changes"]["noise_2"]["max_abs_dp"]
    assert plain["seed"] == 5 and "--low-pass-sigma 3" in blurred["command"]


def test_the_card_block_keeps_the_expected_flips_and_the_card_still_loads(tiny_bundle, shared_data, tmp_path,
                                                                           capsys):
    import shutil

    from inference.bundle import load_bundle
    from training.cli_stability import main as stability_main

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    folder = shared_data / "chest-xray-pneumonia" / "external-a"
    assert stability_main(["--bundle", str(bundle), "--set", f"half A={folder}", "--limit", "6",
                           "--write-card"]) == 0
    printed = json.loads(capsys.readouterr().out)
    (stored,) = load_bundle(bundle).card["stability"]["sets"]  # the card passes its schema with the new key
    noise = stored["changes"]["noise_1"]
    assert noise["expected_calls_flipped"] == printed["details"][0]["changes"]["noise_1"]["expected_calls_flipped"]
    assert noise["expected_calls_flipped"] >= 0.0
