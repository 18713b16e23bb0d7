"""The card's call margin (training.stability.call_margin, python -m training.cli_call_margin): measured without
labels from the films' moves under changes no reader sees, stored in the card, scaled with the temperature."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from inference.bundle import load_bundle
from inference.image_io import load_image
from inference.model_card import CallMargin
from inference.predictor import Predictor
from tests.helpers.tiny_models import make_tiny_bundle
from training.cli_call_margin import main as margin_main
from training.stability import MARGIN_CHANGES, call_margin, log_odds


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    return make_tiny_bundle(tmp_path_factory.mktemp("margin") / "tiny", seed=4, logit_gain=5.0)


def _p(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def test_the_margin_is_the_largest_changes_quantile_of_the_moves_rounded_up():
    base = _p(np.linspace(-3, 3, 101))
    moves = {"noise_1": _p(log_odds(base) + np.linspace(0, 0.5, 101)),  # 99th percentile of the moves: 0.495
             "jpeg_75_model": _p(log_odds(base) - 0.1)}
    margin = call_margin(base, moves)
    assert margin["per_change"]["noise_1"] == pytest.approx(0.495, abs=1e-4)
    assert margin["per_change"]["jpeg_75_model"] == pytest.approx(0.1, abs=1e-4)
    assert margin["half_width_log_odds"] == pytest.approx(0.495, abs=1e-9)  # ceil to a thousandth
    assert margin["changes"] == ["noise_1", "jpeg_75_model"] and margin["quantile"] == 0.99
    assert call_margin(base, moves, quantile=1.0)["half_width_log_odds"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        call_margin(base, {})


def test_the_margin_scales_with_the_temperature_and_gives_the_band_around_the_threshold():
    margin = CallMargin(half_width_log_odds=0.2, temperature=2.0, quantile=0.99, measured_on="val", n=10,
                        changes=("noise_1",))
    assert margin.half_width(2.0) == pytest.approx(0.2)
    assert margin.half_width(1.0) == pytest.approx(0.4)  # a sharper site temperature: the moves in log-odds double
    low, high = margin.band(1 / 3, 2.0)
    assert low == pytest.approx(1 / (1 + 2 * np.exp(0.2)), abs=1e-9)
    assert high == pytest.approx(1 / (1 + 2 * np.exp(-0.2)), abs=1e-9)
    assert (round(low, 3), round(high, 3)) == (0.290, 0.379)


def test_the_tool_measures_a_folder_and_writes_a_card_that_loads(tiny_bundle, shared_data, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    folder = shared_data / "chest-xray-pneumonia" / "external-a"
    assert margin_main(["--bundle", str(bundle), "--folder", str(folder), "--limit", "6", "--write-card"]) == 0
    printed = json.loads(capsys.readouterr().out)
    card = load_bundle(bundle).model_card  # the card passes its schema and its new manifest
    assert card.call_margin is not None and card.call_margin.n == 6
    assert card.call_margin.changes == MARGIN_CHANGES
    assert card.call_margin.half_width_log_odds == printed["call_margin"]["half_width_log_odds"] > 0
    assert card.call_margin.temperature == pytest.approx(card.temperature, abs=1e-6)
    low, high = printed["band_p"]
    assert low < card.threshold < high
    # every prediction of the bundle now carries the margin, at the bundle's temperature
    assert Predictor(bundle, device="cpu").call_margin == pytest.approx(card.call_margin.half_width_log_odds)


def test_the_tool_reads_the_bundles_own_split_and_names_what_is_missing(tiny_bundle, shared_data, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    data = shared_data / "chest-xray-pneumonia" / "external-a"
    films = sorted(p.relative_to(data).as_posix() for p in data.rglob("*.jpeg"))[::60]
    with (bundle / "data_manifest.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["split", "label", "relpath", "sha256"])
        writer.writerows([["val", rel.split("/")[0], rel, ""] for rel in films]
                         + [["train", "NORMAL", "NORMAL/not-there.jpeg", ""]])
    assert margin_main(["--bundle", str(bundle), "--data", str(data)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["call_margin"]["n"] == len(films)
    assert "'val' split" in printed["call_margin"]["measured_on"]
    assert load_bundle(bundle).model_card.call_margin is None  # not without --write-card
    assert margin_main(["--bundle", str(bundle), "--data", str(data), "--split", "train"]) == 2
    assert "not-there.jpeg" in capsys.readouterr().err
    assert margin_main(["--bundle", str(bundle), "--data", str(data), "--split", "test"]) == 2
    assert "no films in split 'test'" in capsys.readouterr().err


def test_a_new_temperature_scales_the_margin_every_prediction_carries(tiny_bundle, shared_data, tmp_path):
    """A site calibration writes the card again with its own temperature and keeps the call margin as measured:
    the network's moves are the same, so in the new temperature's log-odds the margin scales by old / new."""
    from inference.bundle import rewrite_bundle

    bundle = load_bundle(tiny_bundle)
    card = json.loads(json.dumps(bundle.card))
    measured_at = bundle.temperature
    card["call_margin"] = {"half_width_log_odds": 0.3, "temperature": measured_at, "quantile": 0.99,
                           "measured_on": "validation", "n": 50, "changes": list(MARGIN_CHANGES)}
    card["calibration"]["temperature"] = measured_at / 2  # a sharper site temperature
    rewrite_bundle(bundle, card, out_dir=tmp_path / "site")
    predictor = Predictor(tmp_path / "site", device="cpu")
    assert predictor.call_margin == pytest.approx(0.6)
    film = sorted((shared_data / "chest-xray-pneumonia" / "external-a" / "NORMAL").glob("*.jpeg"))[0]
    prediction = predictor.predict(load_image(film), cam_method=None)
    assert prediction.call_margin == pytest.approx(0.6)
