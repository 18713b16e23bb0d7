"""External validation in the card (xrayview-train --external, xrayview-eval --write-card) and site calibration
(xrayview-calibrate) on real films: a tiny compact_cnn trained on Kermany train images, external-a films as the
other site."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from inference.bundle import load_bundle
from tests.training.conftest import link_files
from training.cli_calibrate import main as calibrate_main
from training.cli_eval import main as eval_main


def _external_folder(shared_data: Path, target: Path, per_class: dict[str, int]) -> Path:
    source = shared_data / "chest-xray-pneumonia" / "external-a"
    for label, count in per_class.items():
        link_files(sorted((source / label).iterdir())[:count], target / label)
    return target


def _tree_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _eval(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert eval_main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def _metric(entries: list[dict], name: str) -> dict:
    return next(m for m in entries if m["name"] == name)


@pytest.fixture(scope="module")
def site_small(shared_data, tmp_path_factory) -> Path:
    return _external_folder(shared_data, tmp_path_factory.mktemp("site_small"), {"NORMAL": 20, "PNEUMONIA": 30})


@pytest.fixture(scope="module")
def site_large(shared_data, tmp_path_factory) -> Path:
    return _external_folder(shared_data, tmp_path_factory.mktemp("site_large"), {"NORMAL": 55, "PNEUMONIA": 60})


def test_train_with_external_set_reports_every_epoch_and_writes_the_card(small_kermany, site_small, tmp_path,
                                                                          capsys):
    from training.cli_train import main as train_main

    out = tmp_path / "bundle"
    assert train_main(["--data", str(small_kermany), "--arch", "compact_cnn", "--epochs", "2", "--img-size", "32",
                       "--batch-size", "8", "--quiet", "--seed", "5", "--out", str(out),
                       "--external", f"site X={site_small}"]) == 0
    card = load_bundle(out).card
    history = card["training"]["history"]
    assert [set(h["external"]) for h in history] == [{"site X"}, {"site X"}]
    assert all(0.0 <= h["external"]["site X"]["auc"] <= 1.0 for h in history)
    (section,) = card["external_validation"]
    # the best epoch's report (what the wizard showed) is the card's: same logits, same operating point
    reported = [h for h in history if h["best"]][-1]["external"]["site X"]
    assert reported["temperature"] == pytest.approx(card["calibration"]["temperature"], abs=1e-4)
    for name in ("auc", "accuracy", "sensitivity", "specificity"):
        assert reported[name] == pytest.approx(_metric(section["metrics"], name)["value"], abs=1e-5), name
    assert section["dataset"] == "site X" and section["n"] == 50
    assert section["counts"] == {"NORMAL": 20, "PNEUMONIA": 30}
    assert section["threshold"] == pytest.approx(card["threshold"], abs=1e-6)
    # the card's external numbers are exactly what xrayview-eval measures on the same folder
    result = _eval(capsys, "--model", str(out), "--data", str(site_small))
    for name in ("auc", "accuracy", "sensitivity", "specificity"):
        entry = _metric(section["metrics"], name)
        assert entry["value"] == pytest.approx(result[name], abs=1e-5), name
        assert entry["ci95"][0] <= entry["value"] <= entry["ci95"][1]
        assert entry["dataset"] == "site X" and "external" in entry["split"]
    # nothing of the external set went into the training manifest
    manifest = (out / "data_manifest.csv").read_text()
    assert not any(p.name in manifest for p in (site_small / "NORMAL").iterdir())


def test_eval_write_card_records_and_replaces_the_external_section(trained_bundle, site_small, tmp_path, capsys):
    import shutil

    bundle_dir = tmp_path / "bundle"
    shutil.copytree(trained_bundle[0], bundle_dir)
    weights_before = load_bundle(bundle_dir).sha256
    first = _eval(capsys, "--model", str(bundle_dir), "--data", str(site_small), "--name", "site X",
                  "--description", "50 films", "--write-card")
    card = load_bundle(bundle_dir).card
    (section,) = card["external_validation"]
    assert section == first["card_section"]
    assert section["description"] == "50 films" and section["n"] == 50
    assert _metric(section["metrics"], "sensitivity")["value"] == pytest.approx(first["sensitivity"], abs=1e-6)
    assert len(section["set_sha256"]) == 64 and load_bundle(bundle_dir).sha256 == weights_before
    # measuring the same set again replaces its entry; another set is added beside it
    _eval(capsys, "--model", str(bundle_dir), "--data", str(site_small), "--name", "site X", "--write-card")
    _eval(capsys, "--model", str(bundle_dir), "--data", str(site_small), "--name", "site Y", "--write-card")
    assert [e["dataset"] for e in load_bundle(bundle_dir).card["external_validation"]] == ["site X", "site Y"]


def test_eval_write_card_refuses_the_default_model_and_an_overridden_threshold(site_small, trained_bundle, capsys):
    assert eval_main(["--data", str(site_small), "--write-card"]) == 2
    assert "needs --model" in capsys.readouterr().err
    assert eval_main(["--model", str(trained_bundle[0]), "--data", str(site_small), "--write-card",
                      "--threshold", "0.4"]) == 2
    assert "drop --threshold" in capsys.readouterr().err


def test_calibrate_writes_a_new_version_and_keeps_the_original(trained_bundle, site_large, tmp_path, capsys):
    original = trained_bundle[0]
    before = _tree_digest(original)
    out = tmp_path / "site-version"
    capsys.readouterr()
    assert calibrate_main(["--model", str(original), "--data", str(site_large), "--out", str(out),
                           "--target-sensitivity", "0.9", "--name", "clinic films"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["warnings"] == [] and "warning" not in captured.err
    assert _tree_digest(original) == before  # the original bundle is untouched, byte for byte
    new = load_bundle(out)
    block = new.card["site_calibration"]
    assert block["n"] == 115 and block["counts"] == {"NORMAL": 55, "PNEUMONIA": 60}
    assert block["dataset"] == "clinic films" and len(block["set_sha256"]) == 64
    assert new.threshold == pytest.approx(block["threshold"], abs=1e-6)
    assert new.temperature == pytest.approx(block["temperature"], abs=1e-6)
    assert new.card["version"].startswith(load_bundle(original).card["version"] + "+site.")
    assert new.sha256 == load_bundle(original).sha256  # same weights
    assert (out / "data_manifest.csv").read_bytes() == (original / "data_manifest.csv").read_bytes()
    # the new operating point keeps the target sensitivity on the site set, as xrayview-eval measures it
    result = _eval(capsys, "--model", str(out), "--data", str(site_large))
    assert result["sensitivity"] >= 0.9
    assert result["sensitivity"] == pytest.approx(block["in_sample"]["sensitivity"]["value"], abs=1e-6)
    assert result["specificity"] == pytest.approx(block["in_sample"]["specificity"]["value"], abs=1e-6)
    for rates in (block["in_sample"], block["cross_validated"]):
        for name in ("sensitivity", "specificity", "accuracy"):
            low, high = rates[name]["ci95"]
            assert low <= rates[name]["value"] <= high and high - low > 0.02
    assert block["cross_validated"]["folds"] == 5
    assert new.card["threshold_table"][0]["name"].endswith("fitted on the site set)")


def test_calibrate_warns_on_a_small_site_set(trained_bundle, site_small, tmp_path, capsys):
    capsys.readouterr()
    assert calibrate_main(["--model", str(trained_bundle[0]), "--data", str(site_small),
                           "--out", str(tmp_path / "v2")]) == 0
    captured = capsys.readouterr()
    warnings = json.loads(captured.out)["warnings"]
    assert len(warnings) == 2 and "20 NORMAL" in warnings[0] and "30 PNEUMONIA" in warnings[1]
    assert captured.err.count("xrayview-calibrate: warning:") == 2
    assert load_bundle(tmp_path / "v2").card["site_calibration"]["warnings"] == warnings


def test_calibrate_never_overwrites(trained_bundle, site_small, tmp_path, capsys):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    assert calibrate_main(["--model", str(trained_bundle[0]), "--data", str(site_small),
                           "--out", str(existing)]) == 2
    assert "never replaces" in capsys.readouterr().err
    assert (existing / "notes.txt").read_text() == "mine"
    assert calibrate_main(["--model", str(trained_bundle[0]), "--data", str(site_small),
                           "--out", str(trained_bundle[0])]) == 2


def test_cross_validated_calls_are_fitted_without_the_film_they_call():
    from training.site_calibration import cross_validated_calls

    rng = np.random.default_rng(0)
    labels = np.array([0] * 60 + [1] * 60)
    logits = np.stack([np.zeros(120), rng.normal(0, 1, 120) + 2.0 * labels], axis=1)
    called = cross_validated_calls(logits, labels, 1, 0.9)
    sensitivity = called[labels == 1].mean()
    assert 0.75 <= sensitivity <= 0.97 and called[labels == 0].mean() < 0.6


def test_the_card_says_how_its_operating_point_was_set():
    """A cost rule's threshold follows from the cost alone (only the temperature is fitted on validation films):
    the card must not say it was chosen on the validation split, as 2.2.0's generated card first did."""
    from training.export import operating_point_limitation

    cost = operating_point_limitation("miss_cost=2", "PNEUMONIA")
    assert cost.startswith("Operating point: the threshold is a cost rule on the calibrated probability (a missed "
                           "PNEUMONIA weighs as much as 2 false alarms); the temperature")
    assert "chosen on the validation split" not in cost
    for chosen in ("youden", "target_sensitivity=0.97"):
        assert operating_point_limitation(chosen, "PNEUMONIA").startswith(
            "Operating point: the threshold was chosen on the validation split")
    assert "no threshold" in operating_point_limitation("argmax", None)


def test_calibrating_on_a_recorded_external_set_makes_it_the_calibration_set(trained_bundle, site_small, tmp_path,
                                                                           capsys):
    """Issue 25.8: after xrayview-calibrate on a set the card already listed as external validation, the card
    still called it independent ("not used for training, threshold or calibration"), the card dialog showed its
    hash under both "External validation" and "Site calibration", and the limitations still said the threshold
    was "chosen on the validation split"."""
    import shutil

    from desktop import card_facts
    from desktop.model_card_dialog import card_html
    from inference.model_card import ModelCard

    bundle_dir = tmp_path / "bundle"
    shutil.copytree(trained_bundle[0], bundle_dir)
    _eval(capsys, "--model", str(bundle_dir), "--data", str(site_small), "--name", "site X", "--write-card")
    before = ModelCard(load_bundle(bundle_dir).card)
    assert [measured.kind for measured, _ in card_facts.external_sets(before)] == ["external"]
    assert any(text.startswith("Operating point: the threshold was chosen on the validation split")
               for text in before.limitations)
    out = tmp_path / "calibrated"
    capsys.readouterr()
    assert calibrate_main(["--model", str(bundle_dir), "--data", str(site_small), "--out", str(out),
                           "--name", "site X"]) == 0
    card = load_bundle(out).card
    (entry,) = card["external_validation"]
    assert entry["set_sha256"] == card["site_calibration"]["set_sha256"]
    assert entry["selected_on"] == "the site-calibrated threshold and temperature"
    assert all("not an independent estimate" in m["split"] and "not used for" not in m["split"]
               for m in entry["metrics"])
    limitations = " ".join(card["limitations"])
    assert "chosen on the validation split" not in limitations
    assert "Operating point: the threshold and temperature were re-fitted on the site set site X (n=50, " in limitations
    assert sum(text.startswith("Operating point:") for text in card["limitations"]) == 1

    typed = ModelCard(card)
    (measured, _), = card_facts.external_sets(typed)
    assert measured.kind == "calibration" and "site calibration set" in measured.description
    assert "not used for training" not in " ".join(card_facts.external_lines(typed))
    assert [row.measured.kind for row in card_facts.table_rows(typed, typed.threshold)] == \
        ["site"] * len(card_facts.table_rows(typed, typed.threshold))  # no row at the replaced operating point
    page = card_html(typed)
    assert "External validation" not in page and "<h3>Site calibration</h3>" in page
    assert page.count(entry["set_sha256"][:12]) == 1  # the set named once, as the calibration set


def test_a_model_retrained_on_kermany_says_whom_it_is_for_in_plain_words(trained_bundle):
    """Issue 25.9: the card carries its intended population (machine-readable, schema-checked) and its
    limitations name no internal field."""
    from inference.model_card import IntendedPopulation, ModelCard

    card = ModelCard(load_bundle(trained_bundle[0]).card)
    population = card.intended_population
    assert population == IntendedPopulation("children of 1-5 years: pediatric chest X-rays from one hospital "
                                            "(Guangzhou Women and Children's Medical Center)", 1.0, 5.0)
    text = " ".join(card.limitations)
    for internal in ("resize_mode", "'squash'", "threshold_table", "cam.", "lung_field_check"):
        assert internal not in text, internal
