"""training.ood_fit and training.ood_scan end to end (through their command lines, training.cli_ood_fit and
training.cli_ood_scan) on a tiny bundle trained on nothing but with a real manifest of
real chest X-rays: the guard is fitted on a named layer (whole-image or region grid, with the blurred reference),
written into the bundle, and used by the predictor; the scan reproduces the fitted guard."""
import csv
import json
import shutil

import pytest
import torch
from pydicom.data import get_testdata_file

from inference.bundle import load_bundle, rewrite_bundle
from inference.image_io import load_image
from inference.ood import OOD_FILE, FeatureGuard, guard_grid, guard_layer, pool_regions
from inference.predictor import Predictor
from tests.helpers.tiny_models import make_tiny_bundle
from training.cli_ood_fit import main as ood_fit_main
from training.cli_ood_scan import main as scan_main


@pytest.fixture()
def tiny_with_manifest(tmp_path, shared_data):
    data = shared_data / "chest-xray-pneumonia" / "train"
    bundle = load_bundle(make_tiny_bundle(tmp_path / "tiny"))
    rows = []
    for label in ("NORMAL", "PNEUMONIA"):
        files = sorted((data / label).glob("*.jp*g"))[:30]
        for i, path in enumerate(files):
            split = "train" if i < 20 else ("val" if i < 25 else "test")
            rows.append({"split": split, "label": label, "relpath": f"{label}/{path.name}", "sha256": "-"})
    manifest = tmp_path / "data_manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["split", "label", "relpath", "sha256"])
        writer.writeheader()
        writer.writerows(rows)
    rewrite_bundle(bundle, bundle.card, replace_files={"data_manifest.csv": manifest.read_bytes()})
    return bundle.path, data


def test_fits_a_layer_guard_with_blurred_reference(tiny_with_manifest, tmp_path, shared_data, capsys):
    bundle_dir, data = tiny_with_manifest
    out = tmp_path / "guarded"
    held_in = f"fullres=" + str(shared_data / "samples" / "chest-xray-fullres")
    code = ood_fit_main(["--bundle", str(bundle_dir), "--data", str(data), "--out", str(out),
                         "--layer", "features.block4", "--reference-blur", "0.3", "1.0", "--components", "8",
                         "--quantile", "0.9", "--expected-body-part", "chest", "--held-in-set", held_in])
    assert code == 0
    block = json.loads(capsys.readouterr().out)
    card = load_bundle(out).card
    assert card["ood"] == block and guard_layer(card) == "features.block4"
    assert block["expected_body_parts"] == ["CHEST"] and "blurred" in block["reference"]
    rates = {(r["dataset"], r.get("split")): r for r in block["rates"]}
    assert rates[("fullres", None)]["n"] == 20 and rates[("fullres", None)]["kind"] == "in-distribution"
    assert 0.0 <= rates[("fullres", None)]["warning_rate"] <= 1.0
    assert (out / OOD_FILE).is_file() and (out / "data_manifest.csv").is_file()
    assert "--layer features.block4" in block["command"]
    assert block["command"].startswith("python -m training.cli_ood_fit --bundle ")

    predictor = Predictor(out, device="cpu")
    result = predictor.predict(load_image(data / "NORMAL" / sorted(p.name for p in (data / "NORMAL").iterdir())[0]),
                               cam_method="gradcam")
    assert result.ood.score is not None and result.ood.threshold == pytest.approx(block["threshold"], rel=1e-5)


def test_unknown_layer_is_a_clear_error(tiny_with_manifest, tmp_path, capsys):
    bundle_dir, data = tiny_with_manifest
    code = ood_fit_main(["--bundle", str(bundle_dir), "--data", str(data), "--out", str(tmp_path / "x"),
                         "--layer", "no_such_layer"])
    assert code == 2 and "no layer 'no_such_layer'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_region_grid_guard_scores_what_the_predictor_sees(tiny_with_manifest, tmp_path, shared_data, capsys):
    """--grid 2: the guard models the layer's output averaged over 4 image regions; the predictor pools the same
    way (its score equals the guard's score of a hand-pooled forward pass of the same preprocessed image)."""
    bundle_dir, data = tiny_with_manifest
    out = tmp_path / "grid"
    code = ood_fit_main(["--bundle", str(bundle_dir), "--data", str(data), "--out", str(out),
                         "--layer", "features.block4", "--grid", "2", "--components", "8", "--quantile", "0.9"])
    assert code == 0
    block = json.loads(capsys.readouterr().out)
    card = load_bundle(out).card
    assert guard_grid(card) == 2 and block["grid"] == 2 and "2x2 grid" in block["description"]
    predictor = Predictor(out, device="cpu")
    channels = predictor.model.get_submodule("features.block4")
    image = load_image(data / "PNEUMONIA" / sorted(p.name for p in (data / "PNEUMONIA").iterdir())[0])
    maps = []
    handle = channels.register_forward_hook(lambda _m, _i, output: maps.append(output))
    with torch.no_grad():
        predictor.model(predictor.preprocess(image, None).to(memory_format=predictor.memory_format))
    handle.remove()
    pooled = pool_regions(maps[0], 2)
    assert block["feature_dim"] == pooled.shape[1] == 4 * maps[0].shape[1]
    expected = FeatureGuard.load(out / OOD_FILE).score(pooled.numpy())[0]
    assert predictor.predict(image, cam_method=None).ood.score == pytest.approx(expected, rel=1e-4)


def test_grid_without_a_layer_is_a_clear_error(tiny_with_manifest, tmp_path, capsys):
    bundle_dir, data = tiny_with_manifest
    code = ood_fit_main(["--bundle", str(bundle_dir), "--data", str(data), "--out", str(tmp_path / "x"),
                         "--grid", "3"])
    assert code == 2 and "needs --layer" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_scan_reproduces_the_fitted_guard(tiny_with_manifest, tmp_path, shared_data, capsys):
    """training.ood_scan fits each setting the way ood_fit does: its row for --grid 2 --components 8 has the same
    threshold and test rate as the guard ood_fit writes, and margins on the sets it was given."""
    bundle_dir, data = tiny_with_manifest
    assert ood_fit_main(["--bundle", str(bundle_dir), "--data", str(data), "--out", str(tmp_path / "g"),
                         "--layer", "features.block4", "--grid", "2", "--components", "8", "--quantile", "0.9"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    fullres = str(shared_data / "samples" / "chest-xray-fullres")
    ct_folder = str(tmp_path / "ct")
    (tmp_path / "ct").mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm", download=False), tmp_path / "ct" / "ct.dcm")
    assert scan_main(["--bundle", str(bundle_dir), "--data", str(data), "--layer", "features.block4",
                      "--grids", "1", "2", "--components", "4", "8", "--quantile", "0.9",
                      "--ood-set", f"ct={ct_folder}", "--held-in-set", f"fullres={fullres}"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["grid"], r["components"]) for r in rows] == [(1, 4), (1, 8), (2, 4), (2, 8)]
    row = rows[3]
    test_rate = next(r["warning_rate"] for r in fitted["rates"] if r.get("split") == "test")
    assert row["threshold"] == pytest.approx(fitted["threshold"], rel=1e-4)
    assert row["rates"]["test"] == test_rate and row["rates"]["val"] == pytest.approx(0.1, abs=0.001)
    assert set(row["margins"]) == {"ct lowest", "fullres highest"} and row["margins"]["fullres highest"] > 0


def test_scan_of_an_unknown_layer_is_a_clear_error(tiny_with_manifest, capsys):
    bundle_dir, data = tiny_with_manifest
    assert scan_main(["--bundle", str(bundle_dir), "--data", str(data), "--layer", "nope"]) == 2
    assert "no layer 'nope'" in capsys.readouterr().err
