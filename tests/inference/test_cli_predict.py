"""xrayview-predict: JSON/CSV output, exit codes 0/1/2, --cam-out overlays that never overwrite a source."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference.bundle import load_bundle
from inference.cli_predict import run
from inference.device import cuda_available
from inference.resources import RESOURCES_ENV
from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array
from tests.helpers.tiny_models import make_tiny_bundle

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("cli") / "tiny", seed=11)


@pytest.fixture(scope="module")
def images(shared_data, tmp_path_factory) -> dict[str, Path]:
    """Real radiographs (Kermany et al. 2018, CC BY 4.0), shrunk: two PNGs and an extensionless DICOM."""
    out = tmp_path_factory.mktemp("cli_images")
    sources = sorted((shared_data / "samples" / "chest-xray-fullres" / "NORMAL").glob("*.jpeg"))[:2]
    a = out / "a.png"
    Image.fromarray(load_gray_image(sources[0], size=200)).save(a)
    b = out / "b.png"
    Image.fromarray(load_gray_image(sources[1], size=200)).save(b)
    dicom = make_dicom_from_array(load_gray_image(sources[0], size=200), out / "IM000001")
    return {"a": a, "b": b, "dicom": dicom}


def _run(args) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run([str(a) for a in args], stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def test_all_good_images_exit_0_with_one_json_object_each(bundle_dir, images):
    code, out, err = _run([images["a"], images["b"], images["dicom"], "--model", bundle_dir, "--device", "cpu"])
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in records] == [str(images["a"]), str(images["b"]), str(images["dicom"])]
    bundle = load_bundle(bundle_dir)
    sha, manifest = bundle.sha256, bundle.manifest_sha256
    for r in records:
        assert {"path", "label", "probabilities", "threshold", "model", "device", "timings_ms"} <= set(r)
        assert r["label"] in ("NORMAL", "PNEUMONIA")
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert r["model"] == {"name": "tiny-test-model", "version": "0.0.1-test", "sha256": sha,
                              "manifest_sha256": manifest}
        assert r["device"] == "cpu" and r["threshold"] == 0.5
        assert set(r["timings_ms"]) == {"load", "preprocess", "predict", "cam"}
        assert r["timings_ms"]["load"] > 0 and r["timings_ms"]["cam"] is None
    # The DICOM holds the same pixels as a.png: same probabilities.
    assert records[2]["probabilities"]["NORMAL"] == pytest.approx(records[0]["probabilities"]["NORMAL"], abs=1e-4)


def test_a_bad_file_gives_an_error_record_and_exit_1(bundle_dir, images, tmp_path):
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    code, out, _ = _run([images["a"], corrupt, tmp_path / "missing.dcm", images["b"], "--model", bundle_dir])
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 4
    assert "label" in records[0] and "label" in records[3]
    for bad, name in ((records[1], "broken.png"), (records[2], "missing.dcm")):
        assert set(bad) == {"path", "error"}
        assert set(bad["error"]) == {"type", "message"}
        assert name in bad["error"]["message"]
        assert bad["error"]["type"].endswith("Error")


def test_folders_expand_recursive_only_on_request(bundle_dir, images, tmp_path):
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    (top / "one.png").write_bytes(images["a"].read_bytes())
    (top / "SERIES1").write_bytes(images["dicom"].read_bytes())  # extensionless DICOM, found by content
    (top / "readme.txt").write_text("skip me")
    (top / "sub" / "two.png").write_bytes(images["b"].read_bytes())
    code, out, _ = _run([top, "--model", bundle_dir])
    assert code == 0
    assert sorted(Path(json.loads(l)["path"]).name for l in out.splitlines()) == ["SERIES1", "one.png"]
    code, out, _ = _run([top, "--model", bundle_dir, "--recursive"])
    assert code == 0
    assert sorted(Path(json.loads(l)["path"]).name for l in out.splitlines()) == ["SERIES1", "one.png", "two.png"]


def test_cam_out_writes_overlays_and_never_overwrites_a_source(bundle_dir, images, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    a = folder / "a.png"
    a.write_bytes(images["a"].read_bytes())
    decoy = folder / "a.gradcam.png"  # a source image that happens to carry the overlay's name
    decoy.write_bytes(images["b"].read_bytes())
    decoy_bytes = decoy.read_bytes()
    code, out, err = _run([a, decoy, "--model", bundle_dir, "--cam", "eigencam", "--cam-out", folder])
    assert code == 0, err
    assert decoy.read_bytes() == decoy_bytes
    records = [json.loads(line) for line in out.splitlines()]
    overlays = [Path(r["cam"]["overlay"]) for r in records]
    assert len(set(overlays)) == 2 and decoy not in overlays and a not in overlays
    for record, overlay, source in zip(records, overlays, (a, decoy)):
        assert record["cam"]["method"] == "eigencam" and record["timings_ms"]["cam"] > 0
        with Image.open(overlay) as png, Image.open(source) as src:
            assert png.mode == "RGB" and png.size == src.size
            rgb = np.asarray(png)
            assert (rgb[..., 0] != rgb[..., 2]).any(), "the heatmap colours the overlay"


def test_csv_format(bundle_dir, images, tmp_path):
    code, out, _ = _run([images["a"], tmp_path / "nope.png", "--model", bundle_dir, "--format", "csv"])
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 2
    assert rows[0]["label"] in ("NORMAL", "PNEUMONIA")
    assert float(rows[0]["p_NORMAL"]) + float(rows[0]["p_PNEUMONIA"]) == pytest.approx(1.0, abs=1e-5)
    assert rows[1]["error_type"] and "nope.png" in rows[1]["error_message"]


def test_threshold_override_changes_the_call(bundle_dir, images):
    _, low, _ = _run([images["a"], "--model", bundle_dir, "--threshold", "0"])
    _, high, _ = _run([images["a"], "--model", bundle_dir, "--threshold", "1"])
    assert json.loads(low)["label"] == "PNEUMONIA" and json.loads(low)["threshold"] == 0.0
    assert json.loads(high)["label"] == "NORMAL"


@pytest.mark.parametrize("args, message", [
    (["--threshold", "1.5"], "outside"),
    (["--cam", "scorecam"], "invalid choice"),
    (["--device", "tpu"], "invalid choice"),
    (["--format", "xml"], "invalid choice"),
])
def test_bad_arguments_exit_2(bundle_dir, images, args, message, capsys):
    code, _, _ = _run([images["a"], "--model", bundle_dir, *args])
    assert code == 2
    assert message in capsys.readouterr().err


def test_missing_model_and_no_default_exit_2(images, tmp_path, monkeypatch):
    code, out, err = _run([images["a"], "--model", tmp_path / "no-such-model"])
    assert code == 2 and out == ""
    assert "model bundle folder not found" in err and "Traceback" not in err
    monkeypatch.setenv(RESOURCES_ENV, str(tmp_path))
    code, _, err = _run([images["a"]])
    assert code == 2 and "no bundled model is installed" in err


def test_unavailable_device_exit_2(bundle_dir, images):
    code, _, err = _run([images["a"], "--model", bundle_dir, "--device", "cuda"])
    if cuda_available():
        assert code == 0
    else:
        assert code == 2 and "cuda" in err


def test_empty_folder_is_a_usage_error(bundle_dir, tmp_path):
    code, _, err = _run([tmp_path, "--model", bundle_dir])
    assert code == 2 and "no image files found" in err


def test_installed_console_script_runs(bundle_dir, images, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    script = Path(sys.executable).with_name("xrayview-predict")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "inference.cli_predict"]
    done = subprocess.run([*command, str(images["a"]), str(tmp_path / "gone.png"), "--model", str(bundle_dir)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert "label" in lines[0] and "error" in lines[1]
    usage = subprocess.run([*command, "--model", str(bundle_dir)], capture_output=True, text=True, env=env,
                           timeout=300)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


@pytest.fixture(scope="module")
def colour_photo(tmp_path_factory) -> Path:
    """A colour photograph (scikit-image's astronaut): the OOD guard warns on any colour image."""
    from skimage import data

    path = tmp_path_factory.mktemp("ood") / "astronaut.png"
    Image.fromarray(data.astronaut()).resize((128, 128)).save(path)
    return path


def test_out_of_distribution_image_gets_no_call_but_keeps_probabilities_and_warning(bundle_dir, colour_photo,
                                                                                    images, tmp_path, monkeypatch):
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(log))
    code, out, err = _run([colour_photo, images["a"], "--model", bundle_dir, "--cam", "gradcam"])
    assert code == 0, err
    photo, film = (json.loads(line) for line in out.splitlines())
    assert photo["label"] is None and photo["call_status"] == "no_call"
    assert photo["ood"]["warning"] is True and any("colour" in reason for reason in photo["ood"]["reasons"])
    assert sum(photo["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert photo["cam"]["label"] is None  # the heatmap's label would name the withheld call
    assert film["label"] in ("NORMAL", "PNEUMONIA") and film["call_status"] == "call"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["call"] for r in records] == [None, film["label"]]
    assert records[0]["call_status"] == "no_call" and records[0]["ood"]["warning"] is True
    assert records[0]["ood"]["reasons"] == photo["ood"]["reasons"]
    assert records[1]["ood"]["warning"] is False

    code, out, _ = _run([colour_photo, "--model", bundle_dir, "--show-ood-call", "--format", "csv"])
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["label"] in ("NORMAL", "PNEUMONIA") and row["call_status"] == "shown_anyway"
    assert row["ood_warning"].startswith("yes: ")
    assert json.loads(log.read_text().splitlines()[-1])["call_status"] == "shown_anyway"
    code, out, _ = _run([colour_photo, "--model", bundle_dir, "--format", "csv"])
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["label"] == "" and row["call_status"] == "no_call"
