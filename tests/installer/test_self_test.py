"""`xrayview --self-test` from source: passes with a model, fails loudly without one or with a damaged sample."""
from __future__ import annotations

import io
import json
import shutil
import socket

import numpy as np
import pydicom
import pytest

from desktop import self_test
from tests.installer.conftest import REPO

SYNTAXES = REPO / "resources" / "samples" / "syntaxes"
MANIFEST = json.loads((SYNTAXES / "manifest.json").read_text(encoding="utf-8"))


def run_self_test() -> tuple[int, list[str]]:
    stream = io.StringIO()
    code = self_test.run(stream)
    return code, stream.getvalue().splitlines()


def lines_starting(lines: list[str], prefix: str) -> list[str]:
    return [line for line in lines if line.startswith(prefix)]


@pytest.fixture
def resources_copy(tmp_path, monkeypatch):
    """A private copy of resources/samples (no models) that a test may damage."""
    root = tmp_path / "resources"
    shutil.copytree(REPO / "resources" / "samples", root / "samples")
    (root / "models").mkdir()
    monkeypatch.setenv("XRAYVIEW_RESOURCES_DIR", str(root))
    monkeypatch.delenv("XRAYVIEW_MODELS_DIR", raising=False)
    return root


def test_passes_with_a_bundled_model_and_writes_the_pdf(tiny_models_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XRAYVIEW_MODELS_DIR", str(tiny_models_dir))
    monkeypatch.setenv(self_test.OUT_ENV, str(tmp_path / "out"))
    code, lines = run_self_test()
    assert code == 0, "\n".join(lines)
    decoded = lines_starting(lines, "PASS  decode: ")
    assert len(decoded) == len(MANIFEST["files"]) == 13
    assert any("jpeg-2000.dcm" in line and "max error" in line for line in decoded)
    model_line = lines_starting(lines, "PASS  model tiny-chest: ")[0]
    assert "Grad-CAM 1024x959" in model_line and "call " in model_line
    assert lines_starting(lines, "PASS  network: ")
    assert lines[-1] == f"SELF-TEST PASSED: {len(lines_starting(lines, 'PASS'))} checks"
    pdf = (tmp_path / "out" / "self-test-report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 100_000  # two embedded 1024 px images


def test_fails_and_says_so_without_a_bundled_model(resources_copy):
    code, lines = run_self_test()
    assert code == 1
    assert lines_starting(lines, "FAIL  models: no bundled model installed")
    assert lines[-1].startswith("SELF-TEST FAILED: 1 of") and lines[-1].endswith("(models)")
    # everything that does not need a model still ran and passed, the report without an AI result
    assert len(lines_starting(lines, "PASS  decode: ")) == 13
    assert "without an AI result" in lines_starting(lines, "PASS  report: ")[0]


def test_a_default_pointer_to_a_missing_bundle_fails(resources_copy, tiny_models_dir):
    models = resources_copy / "models"
    shutil.copytree(tiny_models_dir / "tiny-chest", models / "tiny-chest")
    (models / "DEFAULT").write_text("gone-model\n", encoding="utf-8")
    code, lines = run_self_test()
    assert code == 1
    assert lines_starting(lines, "FAIL  models: DEFAULT names 'gone-model'")


def test_a_changed_pixel_in_a_lossless_file_fails_naming_the_file(resources_copy):
    path = resources_copy / "samples" / "syntaxes" / "explicit-vr-little-endian.dcm"
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.copy()
    pixels[10, 10] = (int(pixels[10, 10]) + 1) % 256
    ds.PixelData = pixels.astype(np.uint8).tobytes()
    ds.save_as(path)
    code, lines = run_self_test()
    assert code == 1
    failed = lines_starting(lines, "FAIL  decode: ")
    assert len(failed) == 1
    assert "explicit-vr-little-endian.dcm: lossless syntax but 1 pixels differ (max error 1)" in failed[0]


def test_a_dicom_missing_from_the_manifest_fails(resources_copy):
    syntaxes = resources_copy / "samples" / "syntaxes"
    shutil.copy(syntaxes / "rle-lossless.dcm", syntaxes / "extra.dcm")
    code, lines = run_self_test()
    assert code == 1
    assert lines_starting(lines, "FAIL  decode: not in manifest.json, so not checked: extra.dcm")


def test_the_network_check_sees_a_name_lookup(monkeypatch):
    self_test._start_network_watch()
    try:
        with pytest.raises(OSError):
            socket.getaddrinfo("xrayview-self-test.invalid", 443)
    finally:
        self_test._audit_state["recording"] = False
    assert any("socket.getaddrinfo" in attempt for attempt in self_test._network_attempts)


def test_the_syntax_set_matches_its_build_script():
    """reference.png is the bundled sample shrunk by build_syntaxes.py; each file has the syntax it claims."""
    from tests.helpers.dicom_factory import load_gray_image

    from PIL import Image

    with Image.open(SYNTAXES / "reference.png") as png:
        reference = np.asarray(png)
    np.testing.assert_array_equal(reference, load_gray_image(REPO / "resources/samples/chest-pa-sample.png", 192))
    assert sorted(p.name for p in SYNTAXES.glob("*.dcm")) == sorted(e["file"] for e in MANIFEST["files"])
    for entry in MANIFEST["files"]:
        header = pydicom.dcmread(SYNTAXES / entry["file"], stop_before_pixels=True)
        assert str(header.file_meta.TransferSyntaxUID) == entry["transfer_syntax"]
        assert int(header.BitsStored) == entry["bits_stored"]
    assert sum(not e["lossless"] for e in MANIFEST["files"]) == 4
    assert sum(p.stat().st_size for p in SYNTAXES.iterdir()) < 600_000
