"""Model bundles: schema validation, sha256 integrity, the atomic writer."""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
import torch

from inference.architectures import build_model
from inference.bundle import CARD_FILE, card_schema, load_bundle, validate_card, write_bundle
from inference.errors import BundleError, ModelCardInvalidError, WeightsHashMismatchError
from tests.helpers.tiny_models import make_tiny_bundle, tiny_card


@pytest.fixture()
def bundle_dir(tmp_path) -> Path:
    return make_tiny_bundle(tmp_path / "tiny", seed=3)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_written_bundle_records_the_real_hash_and_size(bundle_dir):
    bundle = load_bundle(bundle_dir)
    weights = bundle_dir / "model.safetensors"
    assert bundle.card["weights"] == {"file": "model.safetensors", "sha256": _sha(weights),
                                      "bytes": weights.stat().st_size}
    assert bundle.sha256 == _sha(weights)
    assert bundle.identity() == {"name": "tiny-test-model", "version": "0.0.1-test", "sha256": _sha(weights),
                                 "manifest_sha256": bundle.card["manifest"]["sha256"]}
    assert len(bundle.manifest_sha256) == 64 and bundle.manifest_sha256 != bundle.sha256
    assert bundle.labels == ["NORMAL", "PNEUMONIA"] and bundle.positive_label == "PNEUMONIA"
    model = bundle.build()
    assert not model.training
    assert sorted(p.name for p in bundle_dir.iterdir()) == ["model.safetensors", "model_card.json"]


def test_same_seed_gives_byte_identical_weights(tmp_path):
    a = make_tiny_bundle(tmp_path / "a", seed=7)
    b = make_tiny_bundle(tmp_path / "b", seed=7)
    c = make_tiny_bundle(tmp_path / "c", seed=8)
    assert load_bundle(a).sha256 == load_bundle(b).sha256 != load_bundle(c).sha256


def test_built_model_carries_the_written_weights(tmp_path):
    torch.manual_seed(0)
    model = build_model("compact_cnn", 2)
    card = tiny_card("compact_cnn", ["NORMAL", "PNEUMONIA"])
    out = write_bundle(tmp_path / "b", model.state_dict(), card)
    rebuilt = load_bundle(out).build()
    for key, value in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], value), key


def test_torch_weights_file_is_read_with_weights_only(tmp_path):
    torch.manual_seed(0)
    model = build_model("compact_cnn", 2)
    out = write_bundle(tmp_path / "b", model.state_dict(), tiny_card("compact_cnn", ["A", "B"]),
                       weights_file="model.pt")
    bundle = load_bundle(out)
    assert bundle.weights_path.name == "model.pt"
    assert torch.equal(bundle.state_dict()["classifier.weight"], model.state_dict()["classifier.weight"])


def test_temperature_from_the_card_scales_logits_before_softmax(tmp_path):
    bundle = load_bundle(make_tiny_bundle(tmp_path / "t", temperature=2.0))
    logits = torch.tensor([[1.0, 3.0]])
    torch.testing.assert_close(bundle.probabilities(logits), torch.softmax(logits / 2.0, dim=-1))
    assert bundle.probabilities(logits)[0, 1].item() == pytest.approx(1 / (1 + 2.718281828 ** -1.0), abs=1e-5)


def _mutations():
    def drop(key):
        return lambda c: c.pop(key)

    def set_(path, value):
        def apply(c):
            target = c
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        return apply

    return {
        "missing name": (drop("name"), "name"),
        "missing labels": (drop("labels"), "labels"),
        "one label": (set_(["labels"], ["ONLY"]), "labels"),
        "intended use without the disclaimer": (set_(["intended_use"], "Screening of patients."), "intended_use"),
        "bad resize mode": (set_(["input", "resize_mode"], "crop"), "resize_mode"),
        "negative std": (set_(["input", "normalisation", "std"], [-1.0]), "std"),
        "threshold above one": (set_(["threshold"], 1.5), "threshold"),
        "positive label not a label": (set_(["positive_label"], "FRACTURE"), "positive_label"),
        "binary without positive label": (drop("positive_label"), "positive_label"),
        "mean length differs from channels": (set_(["input", "normalisation", "mean"], [0.1, 0.2]), "mean"),
        "unknown architecture": (set_(["architecture"], "vgg16"), "architecture"),
        "no limitations": (set_(["limitations"], []), "limitations"),
        "bad sha256": (set_(["weights", "sha256"], "abc"), "sha256"),
        "released model without metrics": (set_(["experimental"], False), "not flagged experimental"),
        "sigmoid activation": (set_(["output_activation"], "sigmoid"), "output_activation"),
        "OOD grid of zero regions": (set_(["ood"], {"layer": "features.block4", "grid": 0}), "grid"),
    }


@pytest.mark.parametrize("case", list(_mutations()))
def test_invalid_cards_are_refused_naming_the_field(bundle_dir, case):
    mutate, field = _mutations()[case]
    card_path = bundle_dir / CARD_FILE
    card = json.loads(card_path.read_text())
    mutate(card)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelCardInvalidError) as info:
        load_bundle(bundle_dir)
    assert field in str(info.value)
    assert str(card_path) in str(info.value)


def test_released_model_card_with_metrics_and_data_validates(bundle_dir):
    card = json.loads((bundle_dir / CARD_FILE).read_text())
    card["experimental"] = False
    card["metrics"] = [{"name": "auroc", "value": 0.95, "dataset": "chest-xray-pneumonia", "split": "test",
                        "threshold": None, "n": 600}]
    card["threshold_table"] = [{"threshold": 0.5, "sensitivity": 0.9, "specificity": 0.8}]
    card["training_data"] = [{"name": "chest-xray-pneumonia", "licence": "CC BY 4.0",
                              "attribution": "Kermany et al. 2018", "n_images": 4000,
                              "manifest_sha256": "0" * 64}]
    card["ood"] = {"method": "anything the guard needs", "threshold": 3.2}
    validate_card(card)


def test_schema_file_is_valid_json_schema():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(card_schema())


def test_card_that_is_not_json_is_refused(bundle_dir):
    (bundle_dir / CARD_FILE).write_text("{ not json")
    with pytest.raises(ModelCardInvalidError, match="not valid JSON"):
        load_bundle(bundle_dir)


def test_missing_pieces_are_bundle_errors(tmp_path, bundle_dir):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BundleError, match="model_card.json is missing"):
        load_bundle(empty)
    (bundle_dir / "model.safetensors").unlink()
    with pytest.raises(BundleError, match="weights file named in the model card is missing"):
        load_bundle(bundle_dir)


def test_changed_weights_are_refused(bundle_dir):
    weights = bundle_dir / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF  # same size, different content
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsHashMismatchError, match="sha256"):
        load_bundle(bundle_dir)
    weights.write_bytes(bytes(data) + b"\0")
    with pytest.raises(WeightsHashMismatchError, match="bytes"):
        load_bundle(bundle_dir)


def test_failed_rewrite_leaves_the_old_bundle_intact(bundle_dir):
    before = {p.name: p.read_bytes() for p in bundle_dir.iterdir()}
    good = load_bundle(bundle_dir)
    bad_card = copy.deepcopy(good.card)
    bad_card["intended_use"] = "clinical triage"
    with pytest.raises(ModelCardInvalidError):
        write_bundle(bundle_dir, good.state_dict(), bad_card)
    # Weights that do not fit the architecture fail validation after they were written to the staging folder.
    wrong = build_model("compact_cnn", 3).state_dict()
    with pytest.raises(BundleError, match="do not fit"):
        write_bundle(bundle_dir, wrong, good.card)
    assert {p.name: p.read_bytes() for p in bundle_dir.iterdir()} == before
    assert load_bundle(bundle_dir).sha256 == good.sha256
    assert [p.name for p in bundle_dir.parent.iterdir()] == [bundle_dir.name], "no staging leftovers"


def test_successful_rewrite_replaces_the_bundle(bundle_dir):
    old = load_bundle(bundle_dir)
    torch.manual_seed(99)
    new_state = build_model("compact_cnn", 2).state_dict()
    card = copy.deepcopy(old.card)
    card["version"] = "0.0.2-test"
    write_bundle(bundle_dir, new_state, card)
    new = load_bundle(bundle_dir)
    assert new.version == "0.0.2-test" and new.sha256 != old.sha256
    assert [p.name for p in bundle_dir.parent.iterdir()] == [bundle_dir.name]


def test_writer_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(BundleError, match="not a model bundle"):
        make_tiny_bundle(folder)
    assert (folder / "holiday.jpg").read_bytes() == b"precious"


def test_rewrite_bundle_changes_the_card_and_keeps_weights_and_extras(tmp_path):
    from inference.bundle import rewrite_bundle

    source = make_tiny_bundle(tmp_path / "tiny", seed=5)
    (source / "notes.txt").write_bytes(b"kept")
    (source / "evaluation.json").write_bytes(b'{"old": 1}')
    bundle = load_bundle(source)
    card = copy.deepcopy(bundle.card)
    card["threshold"] = 0.25
    out = rewrite_bundle(bundle, card, tmp_path / "copy", replace_files={"evaluation.json": b'{"new": 2}'})
    rewritten = load_bundle(out)
    assert rewritten.card["threshold"] == 0.25 and rewritten.sha256 == bundle.sha256
    assert (out / "notes.txt").read_bytes() == b"kept"
    assert (out / "evaluation.json").read_bytes() == b'{"new": 2}'
    assert load_bundle(source).card["threshold"] != 0.25  # the source is untouched when writing elsewhere
