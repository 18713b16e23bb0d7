"""The typed views of a model card's nested blocks (metrics, threshold table, training data, external validation,
site calibration) that the viewer reads instead of raw dicts: they give what the card says, and a card written
before a field existed reads as "not given" (None), never as an error."""
from __future__ import annotations

import json

import pytest

from inference.bundle_catalog import default_bundle_dir
from inference.errors import BundleError
from inference.model_card import CARD_FILE, Metric, ModelCard, Rate, ThresholdRow, read_card


@pytest.fixture(scope="module")
def shipped():
    try:
        folder = default_bundle_dir()
    except BundleError as error:
        pytest.skip(str(error))
    return read_card(folder), json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))


def test_the_shipped_cards_blocks_read_as_written(shipped):
    card, raw = shipped
    assert [m.name for m in card.metrics] == [m["name"] for m in raw["metrics"]]
    first = card.metrics[0]
    assert (first.value, first.n, first.dataset, first.split) == (raw["metrics"][0]["value"], raw["metrics"][0]["n"],
                                                                 raw["metrics"][0]["dataset"],
                                                                 raw["metrics"][0]["split"])
    assert first.ci95 == tuple(raw["metrics"][0]["ci95"])
    assert [(r.threshold, r.sensitivity, r.specificity) for r in card.threshold_table] == \
        [(r["threshold"], r["sensitivity"], r["specificity"]) for r in raw["threshold_table"]]
    assert card.threshold_table[0].name == raw["threshold_table"][0].get("name", "")
    assert [(d.name, d.n_images, d.licence) for d in card.training_data] == \
        [(d["name"], d["n_images"], d["licence"]) for d in raw["training_data"]]
    assert card.created_utc == raw["created_utc"]
    for entry, written in zip(card.external_validation, raw.get("external_validation", []), strict=True):
        assert (entry.dataset, entry.n, entry.counts, entry.threshold, entry.temperature, entry.set_sha256) == \
            (written["dataset"], written["n"], written["counts"], written["threshold"], written["temperature"],
             written["set_sha256"])
        assert {m.name: m.value for m in entry.metrics} == {m["name"]: m["value"] for m in written["metrics"]}
        assert entry.metric("sensitivity").value == next(m["value"] for m in written["metrics"]
                                                          if m["name"] == "sensitivity")
    assert card.site_calibration is None and "site_calibration" not in raw


def test_a_site_calibration_block_reads_with_its_rates_and_what_it_replaced():
    rate = {"value": 0.95, "ci95": [0.835, 0.986], "k": 38, "n": 40}
    card = ModelCard({"site_calibration": {
        "dataset": "site-x", "set_sha256": "ef" * 32, "n": 60, "counts": {"NORMAL": 20, "PNEUMONIA": 40},
        "measured_utc": "2026-12-01T08:00:00Z", "target_sensitivity": 0.95, "temperature": 1.4, "threshold": 0.62,
        "in_sample": {"sensitivity": rate, "specificity": rate, "accuracy": rate},
        "cross_validated": {"sensitivity": rate, "specificity": rate, "accuracy": rate, "folds": 5},
        "warnings": ["only 20 NORMAL film(s)"], "previous": {"version": "2.0", "threshold": 0.3, "temperature": 1.2}}})
    site = card.site_calibration
    assert (site.dataset, site.n, site.counts, site.threshold) == ("site-x", 60, {"NORMAL": 20, "PNEUMONIA": 40},
                                                                   0.62)
    assert site.in_sample.rate("sensitivity") == Rate(0.95, (0.835, 0.986), 38, 40)
    assert site.in_sample.folds is None and site.cross_validated.folds == 5
    assert site.previous.version == "2.0" and site.previous.threshold == 0.3
    assert site.warnings == ("only 20 NORMAL film(s)",)


def test_a_card_without_the_blocks_reads_as_not_given():
    card = ModelCard({"metrics": [{"name": "auc"}], "threshold_table": [{"threshold": 0.5}, {"sensitivity": 1.0}],
                      "external_validation": [{"metrics": []}]})
    assert card.metrics == [Metric(name="auc", value=None)]
    assert card.threshold_table == [ThresholdRow(threshold=0.5, sensitivity=None, specificity=None)]  # no threshold:
    entry, = card.external_validation  # not a row
    assert entry.dataset == "external set" and entry.n is None and entry.metric("sensitivity") is None
    assert card.site_calibration is None and card.training_data == [] and card.created_utc == ""


def test_a_changed_card_writes_typed_values_back_as_the_card_gave_them(shipped):
    """ModelCard.changed (what the training wizard saves a user-chosen threshold and a name with): the shipped
    card's metrics and threshold table written back from their typed values are the very entries read; the copy
    validates, the original is untouched, and the training record keeps its entries beside the new ones."""
    from inference.model_card import validate_card

    card, raw = shipped
    same = card.changed(metrics=card.metrics, threshold_table=card.threshold_table)
    assert same.data["metrics"] == raw["metrics"]
    assert same.data["threshold_table"] == [row for row in raw["threshold_table"] if "threshold" in row]
    assert card.training_seed == raw["training"]["seed"]

    auc = Metric(name="auc", value=0.9, dataset="d", split="test", n=12, ci95=(0.8, 0.97))
    row = ThresholdRow(threshold=0.42, sensitivity=0.9, specificity=0.7, name="operating point")
    changed = card.changed(name="renamed", threshold=0.42, metrics=[auc], threshold_table=[row],
                           training={"threshold_method": "chosen by hand"})
    assert changed.name == "renamed" and changed.threshold == 0.42
    assert changed.data["metrics"] == [{"name": "auc", "value": 0.9, "dataset": "d", "split": "test",
                                        "threshold": None, "n": 12, "ci95": [0.8, 0.97]}]
    assert changed.data["threshold_table"] == [{"threshold": 0.42, "sensitivity": 0.9, "specificity": 0.7,
                                                "name": "operating point"}]
    assert changed.data["training"]["threshold_method"] == "chosen by hand"
    assert changed.data["training"]["seed"] == raw["training"]["seed"]  # the rest of the record stays
    validate_card(changed.data, "changed card")
    assert card.data == raw and card.name == raw["name"]  # the original view is unchanged
    assert ModelCard({}).training_seed is None
