"""Issue 17 item 7: what the tools write is always valid. File names that are not UTF-8 give valid UTF-8 JSON
(the exact bytes in hex beside them); no NaN token is ever written; exit status 1 (some images failed) and 3 (the
tool crashed) are told apart; an invalid EXIF orientation is reported, not claimed as applied."""
from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference.json_output import dumps, json_safe, path_fields
from tests.helpers.tiny_models import make_tiny_bundle

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("hygiene") / "tiny", seed=9)


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="file names are bytes only on Linux/BSD")
def test_non_utf8_file_name_gives_valid_utf8_json(tmp_path, xray8, bundle):
    name = b"DOE_\xff\xfe_scan.png"
    good = os.path.join(os.fsencode(tmp_path), name)
    Image.fromarray(xray8).save(open(good, "wb"), format="PNG")
    bad = os.path.join(os.fsencode(tmp_path), b"broken_\xe9.dcm")
    with open(bad, "wb") as handle:
        handle.write(b"\x00" * 300)
    env = dict(os.environ, PYTHONIOENCODING="utf-8", LC_ALL="C.UTF-8")
    done = subprocess.run([sys.executable, "-m", "inference.cli_predict", os.fsdecode(good), os.fsdecode(bad),
                           "--model", str(bundle), "--device", "cpu"], cwd=PROJECT_ROOT, capture_output=True,
                          env=env, timeout=300)
    assert done.returncode == 1, done.stderr.decode(errors="replace")
    text = done.stdout.decode("utf-8")  # strict: raises on invalid UTF-8
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["path"].endswith("DOE_\\xff\\xfe_scan.png") and "label" in first
    assert bytes.fromhex(first["path_bytes_hex"]) == good
    assert bytes.fromhex(second["path_bytes_hex"]) == bad and "error" in second
    assert "broken_\\xe9.dcm" in second["error"]["message"]


def test_json_output_never_writes_nan():
    value = {"auc": float("nan"), "n": 3, "ci": [0.1, float("inf")], "per": {"x": np.float32("nan")}}
    assert json_safe(value) == {"auc": None, "n": 3, "ci": [0.1, None], "per": {"x": None}}
    assert json.loads(dumps(value)) == {"auc": None, "n": 3, "ci": [0.1, None], "per": {"x": None}}
    assert path_fields("plain.dcm") == {"path": "plain.dcm"}


def test_a_model_giving_nan_is_a_per_image_error_not_nan_output(tmp_path, xray8):
    """NaN probabilities never become a call, an audit record or a NaN token (here: NaN weights)."""
    from safetensors.torch import load_file, save_file

    from inference.bundle import load_bundle, seal_bundle
    from inference.cli_predict import run

    broken = make_tiny_bundle(tmp_path / "nan-model", seed=1)
    bundle = load_bundle(broken)
    state = load_file(bundle.weights_path)
    first = next(k for k, v in state.items() if v.is_floating_point() and v.ndim > 1)
    state[first] = torch.full_like(state[first], float("nan"))
    save_file(state, bundle.weights_path)
    seal_bundle(broken, record_file_hashes=True)  # a bundle whose card matches its (NaN) weights
    image = tmp_path / "a.png"
    Image.fromarray(xray8).save(image)
    out = io.StringIO()
    code = run([str(image), "--model", str(broken), "--device", "cpu"], stdout=out, stderr=io.StringIO())
    (record,) = (json.loads(line) for line in out.getvalue().splitlines())
    assert code == 1 and "NaN" not in out.getvalue().replace("NaN or infinite", "")
    assert record["error"]["type"] == "BundleError" and "NaN or infinite probabilities" in record["error"]["message"]


def test_exit_status_tells_a_crash_from_failed_images(tmp_path, monkeypatch, capsys, bundle, xray8):
    from inference import cli_predict

    image = tmp_path / "a.png"
    Image.fromarray(xray8).save(image)
    with pytest.raises(SystemExit) as exited:
        cli_predict.main([str(image), str(tmp_path / "missing.png"), "--model", str(bundle), "--device", "cpu"])
    assert exited.value.code == cli_predict.EXIT_IMAGE_FAILED == 1
    capsys.readouterr()

    def bug(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cli_predict, "_predict_all", bug)
    with pytest.raises(SystemExit) as exited:
        cli_predict.main([str(image), "--model", str(bundle), "--device", "cpu"])
    err = capsys.readouterr().err
    assert exited.value.code == cli_predict.EXIT_INTERNAL_ERROR == 3
    assert "internal error (this is a bug" in err and "RuntimeError: simulated bug" in err


def test_eval_and_train_exit_3_on_a_bug(tmp_path, monkeypatch, capsys, bundle):
    import training.evaluate
    import training.pipeline
    from training import cli_eval, cli_train

    def bug(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(training.evaluate, "score_bundle", bug)
    assert cli_eval.main(["--model", str(bundle), "--data", str(tmp_path)]) == 3
    monkeypatch.setattr(training.pipeline, "run_training", bug)
    (tmp_path / "data" / "a").mkdir(parents=True)
    assert cli_train.main(["--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--arch",
                           "compact_cnn", "--device", "cpu", "--quiet"]) == 3
    assert capsys.readouterr().err.count("internal error (this is a bug") == 2


@pytest.mark.parametrize("orientation, rotated", [(6, True), (9, False), (0, False)])
def test_exif_orientation_is_applied_only_when_valid(tmp_path, xray8, orientation, rotated):
    from inference.image_io import load_image

    path = tmp_path / f"o{orientation}.png"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(xray8).save(path, exif=exif)
    image = load_image(path)
    if rotated:
        np.testing.assert_array_equal(image.modality, np.rot90(xray8, -1).astype(np.float32))
        assert any("rotated 90 degrees upright" in n for n in image.notices)
    else:
        np.testing.assert_array_equal(image.modality, xray8.astype(np.float32))
        assert any(f"EXIF orientation {orientation} is not a valid value" in n for n in image.notices)
        assert not any("upright" in n for n in image.notices)
    assert all(math.isfinite(v) for v in image.render().ravel()[:10])
