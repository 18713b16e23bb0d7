"""One style for command-line tools: entry points live in `cli_*.py`, library modules have no `main()`; the module
tools (python -m training.cli_*) answer an unusable bundle with exit 2 and one line, and record their own command
in the card they change."""
from __future__ import annotations

import ast
import csv
import json

import pytest

from inference.bundle import load_bundle, rewrite_bundle
from tests.conftest import PROJECT_ROOT
from tests.helpers.tiny_models import make_tiny_bundle

MODULE_TOOLS = ("cli_ood_fit", "cli_ood_scan", "cli_operating_point", "cli_cam_check")


def test_entry_points_live_only_in_cli_modules():
    offenders = []
    for package in ("inference", "training"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            has_main = any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)
            runs_as_script = any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
                                 for node in tree.body)
            if (has_main or runs_as_script) and not path.name.startswith("cli_"):
                offenders.append(str(path.relative_to(PROJECT_ROOT)))
    assert offenders == [], f"main() or a __main__ block outside cli_*.py: {offenders}"


@pytest.mark.parametrize("tool", MODULE_TOOLS)
def test_module_tools_refuse_an_unusable_bundle_with_exit_2(tool, tmp_path, capsys):
    import importlib

    main = importlib.import_module(f"training.{tool}").main
    not_a_bundle = tmp_path / "nope"
    not_a_bundle.mkdir()
    args = ["--bundle", str(not_a_bundle), "--data", str(tmp_path)] + (["--layer", "x"] if tool == "cli_ood_scan"
                                                                      else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"python -m training.{tool}: error: ") and "model_card.json is missing" in err
    assert "Traceback" not in err


@pytest.fixture()
def released_tiny_with_manifest(tmp_path, shared_data):
    """A tiny bundle whose card carries measured metrics (as a released model's does) and a real data manifest of
    chest X-rays, so the operating point can be re-chosen on its validation split."""
    data = shared_data / "chest-xray-pneumonia" / "train"
    bundle = load_bundle(make_tiny_bundle(tmp_path / "tiny"))
    rows = []
    for label in ("NORMAL", "PNEUMONIA"):
        for i, path in enumerate(sorted((data / label).glob("*.jp*g"))[:16]):
            split = "train" if i < 6 else ("val" if i < 11 else "test")
            rows.append({"split": split, "label": label, "relpath": f"{label}/{path.name}", "sha256": "-"})
    manifest = tmp_path / "data_manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["split", "label", "relpath", "sha256"])
        writer.writeheader()
        writer.writerows(rows)
    card = json.loads(json.dumps(bundle.card))
    card["metrics"] = [{"name": "auc", "value": 0.5, "dataset": "Kermany (test subset)", "split": "test",
                        "threshold": None, "n": 10}]
    rewrite_bundle(bundle, card, replace_files={"data_manifest.csv": manifest.read_bytes()})
    return bundle.path, data


def test_operating_point_tool_records_its_own_command(released_tiny_with_manifest, tmp_path, capsys):
    from training.cli_operating_point import main

    bundle_dir, data = released_tiny_with_manifest
    out = tmp_path / "rechosen"
    assert main(["--bundle", str(bundle_dir), "--data", str(data), "--target-sensitivity", "0.8",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    rechosen = load_bundle(out)  # a valid bundle with a fresh manifest
    assert rechosen.threshold == pytest.approx(summary["threshold"])
    record = rechosen.card["training"]["operating_point_rechosen"]
    assert record["command"].startswith("python -m training.cli_operating_point --bundle ")
    assert "--target-sensitivity 0.8" in record["command"]
    assert rechosen.card["manifest"]["sha256"] == rechosen.manifest_sha256 != load_bundle(bundle_dir).manifest_sha256


def test_cam_check_writes_its_result_and_command_into_the_card(tmp_path):
    from training.cam_check import CAM_LIMITATION_PREFIX, write_to_card

    bundle_dir = make_tiny_bundle(tmp_path / "tiny")
    before = load_bundle(bundle_dir).manifest_sha256
    result = {"n_true_positives": 40, "split": "test", "atlas_lung_area_share": 0.26,
              "atlas_lung_field_mass": {"median": 0.81}, "share_mostly_inside_atlas": 0.97,
              "outside_patient_mass": {"median": 0.02}}
    write_to_card(bundle_dir, result, command="python -m training.cli_cam_check --bundle X --write-card")
    bundle = load_bundle(bundle_dir)
    check = bundle.card["cam"]["lung_field_check"]
    assert check["command"] == "python -m training.cli_cam_check --bundle X --write-card"
    assert check["atlas_lung_field_mass"]["median"] == 0.81
    assert sum(text.startswith(CAM_LIMITATION_PREFIX) for text in bundle.card["limitations"]) == 1
    assert bundle.manifest_sha256 != before
    assert "detail_layer" not in bundle.card["cam"]


def test_cam_check_card_draws_the_layers_it_measured(tmp_path):
    """A check measured with a detail layer sets the card's cam.detail_layer (the viewer then draws that map);
    a later check without one removes it, so the card's numbers always describe the heatmap shown."""
    from inference.predictor import Predictor
    from training.cam_check import write_to_card

    bundle_dir = make_tiny_bundle(tmp_path / "tiny")
    result = {"n_true_positives": 40, "split": "test", "atlas_lung_area_share": 0.26,
              "atlas_lung_field_mass": {"median": 0.75}, "share_mostly_inside_atlas": 0.9,
              "outside_patient_mass": {"median": 0.02}, "target_layer": "features.block5",
              "detail_layer": "features.block4", "target_power": 2.0}
    write_to_card(bundle_dir, dict(result))
    card = load_bundle(bundle_dir).card
    assert card["cam"]["detail_layer"] == "features.block4" and card["cam"]["target_power"] == 2.0
    assert any("product of a 7x7 and a 14x14" in text for text in card["limitations"])
    predictor = Predictor(bundle_dir, "cpu")
    assert predictor.cam_detail_layer == "features.block4" and predictor.cam_target_power == 2.0
    write_to_card(bundle_dir, {**result, "detail_layer": None, "target_power": None})
    assert not {"detail_layer", "target_power"} & set(load_bundle(bundle_dir).card["cam"])


def test_cam_check_refuses_a_detail_layer_the_model_lacks(tmp_path, capsys, shared_data):
    from training.cli_cam_check import main

    bundle_dir = make_tiny_bundle(tmp_path / "tiny")
    code = main(["--bundle", str(bundle_dir), "--data", str(shared_data / "chest-xray-pneumonia" / "train"),
                 "--detail-layer", "features.block9"])
    assert code == 2
    assert "'features.block9' is not a layer of compact_cnn" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["--bundle", str(bundle_dir), "--data", str(tmp_path), "--target-power", "2"])
    assert exited.value.code == 2 and "--target-power needs --detail-layer" in capsys.readouterr().err


def test_seal_tool_records_a_new_manifest_after_a_card_edit(tmp_path, capsys):
    from inference.errors import ManifestMismatchError
    from training.cli_seal_bundle import main

    bundle_dir = make_tiny_bundle(tmp_path / "tiny")
    before = load_bundle(bundle_dir).manifest_sha256
    card_path = bundle_dir / "model_card.json"
    card = json.loads(card_path.read_text())
    card["description"] = "edited by hand"
    card_path.write_text(json.dumps(card))
    with pytest.raises(ManifestMismatchError):
        load_bundle(bundle_dir)
    assert main(["--bundle", str(bundle_dir)]) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    sealed = load_bundle(bundle_dir)
    assert sealed.card["description"] == "edited by hand"
    assert summary["previous_manifest_sha256"] == before != summary["manifest_sha256"] == sealed.manifest_sha256
    assert summary["weights_sha256"] == sealed.sha256


def test_seal_tool_refuses_an_unusable_bundle_with_exit_2(tmp_path, capsys):
    from training.cli_seal_bundle import main

    bundle_dir = make_tiny_bundle(tmp_path / "tiny")
    (bundle_dir / "model.safetensors").write_bytes(b"not weights")
    card_before = (bundle_dir / "model_card.json").read_bytes()
    assert main(["--bundle", str(bundle_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m training.cli_seal_bundle: error: ") and "Traceback" not in err
    assert "model.safetensors" in err
    assert main(["--bundle", str(bundle_dir), "--record-file-hashes"]) == 2  # hashes recorded, but unreadable
    assert "model.safetensors" in capsys.readouterr().err
    assert (bundle_dir / "model_card.json").read_bytes() == card_before
    missing = tmp_path / "nope"
    missing.mkdir()
    assert main(["--bundle", str(missing)]) == 2
    assert "model_card.json is missing" in capsys.readouterr().err
