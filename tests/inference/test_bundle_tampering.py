"""A tampered bundle never runs: the card is covered by the manifest hash, its numbers are bounded, the files it
names stay inside the bundle, and a bad OOD guard is a BundleError at load. `xrayview-predict` answers each case
with exit status 2 and one line naming the file and the reason (no traceback, no per-image error)."""
from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_tensors

from inference.bundle import load_bundle, write_bundle
from inference.cli_predict import EXIT_USAGE, run
from inference.errors import BundleError, ManifestMismatchError, ModelCardInvalidError
from inference.model_card import CARD_FILE, manifest_block, manifest_sha256
from inference.ood import OOD_FILE, FeatureGuard
from tests.helpers.tiny_models import make_tiny_bundle

FEATURES = 128  # compact_cnn's classifier input


def _guard_bytes(dim: int = FEATURES, seed: int = 0) -> tuple[FeatureGuard, bytes]:
    rng = np.random.default_rng(seed)
    guard = FeatureGuard.fit(rng.normal(size=(200, dim)), n_components=8)
    guard.calibrate(rng.normal(size=(50, dim)), quantile=0.99)
    return guard, save_tensors(guard.tensors())


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def guarded(tmp_path) -> Path:
    """A tiny bundle with an OOD guard on the classifier's input, written by write_bundle (so: sealed)."""
    tiny = load_bundle(make_tiny_bundle(tmp_path / "tiny"))
    guard, payload = _guard_bytes()
    card = json.loads(json.dumps(tiny.card))
    card["ood"] = {"method": "mahalanobis-pca", "file": OOD_FILE, "sha256": _sha(payload), "n_components": 8,
                   "feature_dim": FEATURES, "quantile": 0.99, "threshold": round(guard.threshold, 6)}
    return write_bundle(tmp_path / "guarded", tiny.state_dict(), card, extra_files={OOD_FILE: payload})


def _edit_card(bundle_dir: Path, mutate, *, reseal: bool = False) -> None:
    """Change the card by hand. reseal=True also records a fresh manifest hash, as someone who knows the format
    could: the deeper checks (guard, layers, files) must then still refuse the bundle."""
    path = bundle_dir / CARD_FILE
    card = json.loads(path.read_text(encoding="utf-8"))
    mutate(card)
    if reseal:
        card.pop("manifest", None)
        card["manifest"] = manifest_block(card)
    path.write_text(json.dumps(card, indent=2), encoding="utf-8")


def _predict(bundle_dir: Path, image: Path) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run([str(image), "--model", str(bundle_dir), "--device", "cpu"], stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def _assert_refused(bundle_dir: Path, image: Path, *expected: str) -> str:
    code, out, err = _predict(bundle_dir, image)
    assert code == EXIT_USAGE, (code, out, err)
    assert out == "" and "Traceback" not in err
    assert err.startswith("xrayview-predict: error: ") and len(err.strip().splitlines()) == 1
    for text in expected:
        assert text in err, err
    return err


def test_the_untouched_bundle_predicts_and_names_its_manifest(guarded, xray8_png):
    code, out, err = _predict(guarded, xray8_png)
    assert code == 0, err
    record = json.loads(out)
    card = json.loads((guarded / CARD_FILE).read_text())
    assert record["model"]["manifest_sha256"] == card["manifest"]["sha256"] == manifest_sha256(card)
    assert record["ood"]["score"] is not None


def test_swapped_labels_are_refused(guarded, xray8_png):
    _edit_card(guarded, lambda c: c.__setitem__("labels", list(reversed(c["labels"]))))
    with pytest.raises(ManifestMismatchError, match="changed after the bundle was written"):
        load_bundle(guarded)
    _assert_refused(guarded, xray8_png, str(guarded / CARD_FILE), "manifest sha256")


def test_another_input_size_is_refused(guarded, xray8_png):
    def enlarge(card):
        card["input"]["height"] = card["input"]["width"] = 512

    _edit_card(guarded, enlarge)
    _assert_refused(guarded, xray8_png, "changed after the bundle was written")


def test_resealed_edits_change_the_reported_identity(guarded, xray8_png):
    """Whoever recomputes the manifest still cannot keep the identity: it is what every result reports."""
    before = json.loads(_predict(guarded, xray8_png)[1])["model"]["manifest_sha256"]
    _edit_card(guarded, lambda c: c.__setitem__("threshold", 0.01), reseal=True)
    code, out, err = _predict(guarded, xray8_png)
    assert code == 0, err
    record = json.loads(out)
    assert record["model"]["manifest_sha256"] != before
    assert record["model"]["sha256"] == load_bundle(guarded).sha256  # same weights, another bundle


@pytest.mark.parametrize("field, value, reason", [
    (("calibration", "temperature"), 1e-320, "temperature"),
    (("calibration", "temperature"), 0.0, "temperature"),
    (("calibration", "temperature"), 1e6, "temperature"),
    (("input", "normalisation", "std"), [1e-9], "std"),
    (("input", "normalisation", "mean"), [255.0], "mean"),
    (("ood", "threshold"), -1.0, "threshold"),
    (("ood", "quantile"), 5.0, "quantile"),
    (("input", "height"), 100000, "height"),
    (("weights", "bytes"), 10 ** 15, "bytes"),
])
def test_numbers_out_of_range_are_refused(guarded, xray8_png, field, value, reason):
    def mutate(card):
        target = card
        for key in field[:-1]:
            target = target[key]
        target[field[-1]] = value

    _edit_card(guarded, mutate, reseal=True)
    with pytest.raises(ModelCardInvalidError, match=reason):
        load_bundle(guarded)
    _assert_refused(guarded, xray8_png, reason)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(guarded, xray8_png, literal):
    path = guarded / CARD_FILE
    text = path.read_text()
    path.write_text(text.replace('"temperature": 1.0', f'"temperature": {literal}', 1))
    assert literal in path.read_text()
    _assert_refused(guarded, xray8_png, str(path), "not valid JSON")


def test_a_key_given_twice_is_refused(guarded, xray8_png):
    """JSON readers keep the last of two equal keys: a second "labels" could change the model silently."""
    path = guarded / CARD_FILE
    text = path.read_text()
    path.write_text(text.replace('"labels": [', '"labels": ["PNEUMONIA", "NORMAL"], "labels": [', 1))
    _assert_refused(guarded, xray8_png, "appears twice")


@pytest.mark.parametrize("name", ["../../../../../../etc/hostname", "/etc/hostname", "..", "sub/ood.safetensors",
                                  "..\\..\\ood_guard.safetensors"])
def test_the_guard_file_must_be_a_plain_name_inside_the_bundle(guarded, xray8_png, name):
    _edit_card(guarded, lambda c: c["ood"].__setitem__("file", name), reseal=True)
    with pytest.raises(ModelCardInvalidError, match="ood"):
        load_bundle(guarded)
    _assert_refused(guarded, xray8_png, "ood")


def test_a_guard_linked_from_outside_the_bundle_is_refused(guarded, xray8_png, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    outside.write_bytes((guarded / OOD_FILE).read_bytes())
    (guarded / OOD_FILE).unlink()
    (guarded / OOD_FILE).symlink_to(outside)
    _assert_refused(guarded, xray8_png, "outside the bundle folder")


def test_a_missing_guard_file_is_a_bundle_error(guarded, xray8_png):
    (guarded / OOD_FILE).unlink()
    with pytest.raises(BundleError, match="OOD guard file named in the model card is missing"):
        load_bundle(guarded)
    _assert_refused(guarded, xray8_png, str(guarded / OOD_FILE), "missing")


def test_a_damaged_guard_file_is_a_bundle_error(guarded, xray8_png):
    payload = (guarded / OOD_FILE).read_bytes()
    (guarded / OOD_FILE).write_bytes(payload[: len(payload) // 2])
    _assert_refused(guarded, xray8_png, str(guarded / OOD_FILE), "sha256")
    # ... and so when the card's hash was updated to match the damaged file
    _edit_card(guarded, lambda c: c["ood"].__setitem__("sha256", _sha(payload[: len(payload) // 2])), reseal=True)
    _assert_refused(guarded, xray8_png, str(guarded / OOD_FILE), "not a readable safetensors file")


def test_a_pickle_as_the_guard_is_refused_without_running_it(guarded, xray8_png, tmp_path):
    marker = tmp_path / "pickle-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    payload = pickle.dumps(Payload())
    (guarded / OOD_FILE).write_bytes(payload)
    _edit_card(guarded, lambda c: c["ood"].__setitem__("sha256", _sha(payload)), reseal=True)
    _assert_refused(guarded, xray8_png, "not a readable safetensors file")
    assert not marker.exists()


def test_a_guard_with_the_wrong_tensors_is_refused(guarded, xray8_png):
    guard, _ = _guard_bytes()
    tensors = guard.tensors()
    tensors["eigenvalues"] = -tensors["eigenvalues"]
    payload = save_tensors(tensors)
    (guarded / OOD_FILE).write_bytes(payload)
    _edit_card(guarded, lambda c: c["ood"].__setitem__("sha256", _sha(payload)), reseal=True)
    _assert_refused(guarded, xray8_png, "not a usable guard", "positive")


def test_a_layer_the_model_lacks_is_refused_at_load(guarded, xray8_png):
    _edit_card(guarded, lambda c: c["ood"].__setitem__("layer", "features.block9"), reseal=True)
    with pytest.raises(ModelCardInvalidError, match="ood.layer 'features.block9' is not a layer"):
        load_bundle(guarded).build()
    _assert_refused(guarded, xray8_png, "ood.layer", "features.block9")


def test_a_guard_for_another_layer_is_refused_at_load(guarded, xray8_png):
    """features.block4 exists but gives 96 features; the guard models 128."""
    def other_layer(card):
        card["ood"]["layer"] = "features.block4"
        card["ood"].pop("feature_dim")

    _edit_card(guarded, other_layer, reseal=True)
    _assert_refused(guarded, xray8_png, "models 128 features", "gives 96")


def test_a_guard_threshold_other_than_the_cards_is_refused(guarded, xray8_png):
    _edit_card(guarded, lambda c: c["ood"].__setitem__("threshold", 1000.0), reseal=True)
    _assert_refused(guarded, xray8_png, "threshold", "do not belong together")


def test_reformatting_the_card_is_not_an_edit(guarded, xray8_png):
    """The manifest covers the card's content, not its spacing or key order."""
    path = guarded / CARD_FILE
    card = json.loads(path.read_text())
    path.write_text(json.dumps(dict(reversed(list(card.items()))), indent=7, ensure_ascii=True))
    code, _, err = _predict(guarded, xray8_png)
    assert code == 0, err


def test_tools_that_change_a_card_record_a_new_manifest(guarded):
    from inference.bundle import rewrite_bundle

    bundle = load_bundle(guarded)
    card = json.loads(json.dumps(bundle.card))
    card["threshold"] = 0.3
    rewrite_bundle(bundle, card)
    again = load_bundle(guarded)
    assert again.threshold == 0.3 and again.manifest_sha256 != bundle.manifest_sha256
    assert again.card["manifest"]["sha256"] == again.manifest_sha256


def test_a_card_without_a_manifest_loads_with_a_notice(guarded, xray8_png):
    """Bundles written before manifests existed still load, and every result says their card is unprotected."""
    _edit_card(guarded, lambda c: c.pop("manifest"))
    code, out, err = _predict(guarded, xray8_png)
    assert code == 0, err
    record = json.loads(out)
    assert any("no manifest hash" in notice for notice in record["notices"])
    assert record["model"]["manifest_sha256"] == manifest_sha256(json.loads((guarded / CARD_FILE).read_text()))


def test_weights_that_do_not_fit_the_labels_are_named_as_such(tmp_path, xray8_png):
    three = make_tiny_bundle(tmp_path / "three", labels=("A", "B", "C"))
    two = make_tiny_bundle(tmp_path / "two")
    (two / "model.safetensors").write_bytes((three / "model.safetensors").read_bytes())
    meta = json.loads((three / CARD_FILE).read_text())["weights"]
    _edit_card(two, lambda c: c.__setitem__("weights", meta), reseal=True)
    assert torch.__version__  # the weights load (same file format); only the card's labels disagree
    _assert_refused(two, xray8_png, "3 outputs", "2 labels")


# ---------------------------------------------------------------- sealing a change made on purpose
def test_sealing_an_edited_card_records_a_new_identity_and_keeps_the_files(guarded, xray8_png):
    from inference.bundle import seal_bundle

    before = load_bundle(guarded).manifest_sha256
    files_before = {p.name: p.read_bytes() for p in guarded.iterdir() if p.name != CARD_FILE}
    _edit_card(guarded, lambda c: c.__setitem__("threshold", 0.25))
    with pytest.raises(ManifestMismatchError):
        load_bundle(guarded)
    sealed = seal_bundle(guarded)
    assert sealed.threshold == 0.25 and sealed.notices == []
    assert sealed.manifest_sha256 == json.loads((guarded / CARD_FILE).read_text())["manifest"]["sha256"] != before
    assert {p.name: p.read_bytes() for p in guarded.iterdir() if p.name != CARD_FILE} == files_before
    code, out, err = _predict(guarded, xray8_png)
    assert code == 0, err
    assert json.loads(out)["model"]["manifest_sha256"] == sealed.manifest_sha256
    assert seal_bundle(guarded).manifest_sha256 == sealed.manifest_sha256  # sealing twice changes nothing


def test_sealing_never_writes_a_card_that_would_not_load(guarded):
    from inference.bundle import seal_bundle

    _edit_card(guarded, lambda c: c["calibration"].__setitem__("temperature", 1e-320))
    tampered = (guarded / CARD_FILE).read_bytes()
    with pytest.raises(ModelCardInvalidError, match="temperature"):
        seal_bundle(guarded)
    assert (guarded / CARD_FILE).read_bytes() == tampered
    _edit_card(guarded, lambda c: (c["calibration"].__setitem__("temperature", 1.0),
                                   c["ood"].__setitem__("layer", "features.block9")))
    tampered = (guarded / CARD_FILE).read_bytes()
    with pytest.raises(ModelCardInvalidError, match="features.block9"):
        seal_bundle(guarded)
    assert (guarded / CARD_FILE).read_bytes() == tampered
    assert [p.name for p in guarded.iterdir() if p.name.startswith(".")] == []


def test_a_replaced_guard_is_sealed_only_with_its_hash_recorded_and_a_card_that_fits_it(guarded, xray8_png):
    from inference.bundle import seal_bundle

    new_guard, payload = _guard_bytes(seed=1)
    (guarded / OOD_FILE).write_bytes(payload)
    card_before = (guarded / CARD_FILE).read_bytes()
    with pytest.raises(BundleError, match="sha256"):
        seal_bundle(guarded)  # the card still pins the old guard
    with pytest.raises(BundleError, match="do not belong together"):
        seal_bundle(guarded, record_file_hashes=True)  # the card's threshold is the old guard's
    assert (guarded / CARD_FILE).read_bytes() == card_before
    _edit_card(guarded, lambda c: c["ood"].__setitem__("threshold", round(new_guard.threshold, 6)))
    sealed = seal_bundle(guarded, record_file_hashes=True)
    assert sealed.card["ood"]["sha256"] == _sha(payload)
    code, out, err = _predict(guarded, xray8_png)
    assert code == 0, err
    assert json.loads(out)["ood"]["threshold"] == pytest.approx(new_guard.threshold, abs=1e-4)
