"""xrayview-predict --dicom-out DIR [--report] [--deidentify]: per input DICOM the SR, the heatmap SC and the
Encapsulated PDF report, in the image's study, valid for dciodvfy and dcmtk, never overwriting a file; a PNG gets
a note, a damaged file an error record, and the run goes on."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from PIL import Image

from desktop.cli_predict import report_renderer
from inference.cli_predict import EXIT_IMAGE_FAILED, EXIT_OK, EXIT_USAGE, run
from inference.dicom_out import NOT_DICOM_NOTE
from inference.encapsulated_pdf import ENCAPSULATED_PDF_SOP_CLASS, pdf_of
from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_image
from tests.helpers.dicom_validators import assert_valid
from tests.helpers.tiny_models import make_tiny_bundle

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("cli-dicom") / "tiny", seed=5)


@pytest.fixture(scope="module")
def inputs(shared_data, tmp_path_factory) -> dict[str, Path]:
    """Real radiographs: the bundled DX sample, two DICOMs with the same file name in two folders, a PNG and a
    damaged DICOM."""
    root = tmp_path_factory.mktemp("cli-dicom-inputs")
    sources = sorted((shared_data / "samples/chest-xray-fullres/PNEUMONIA").glob("*.jpeg"))
    (root / "a").mkdir()
    (root / "b").mkdir()
    first = make_dicom_from_image(sources[0], root / "a" / "IM1.dcm", size=200, patient=("DOE^JANE", "PID-77"))
    second = make_dicom_from_image(sources[1], root / "b" / "IM1.dcm", size=200, patient=("ROE^RICHARD", "PID-78"))
    sample = Path(shutil.copy(PROJECT_ROOT / "resources/samples/chest-pa-sample.dcm", root / "sample.dcm"))
    png = root / "chest.png"
    Image.fromarray(load_gray_image(sources[2], 200)).save(png)
    damaged = root / "damaged.dcm"
    damaged.write_bytes(sample.read_bytes()[:2000])
    return {"first": first, "second": second, "sample": sample, "png": png, "damaged": damaged}


def _run(args, renderer=report_renderer) -> tuple[int, list[dict], str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run([str(a) for a in args], stdout=stdout, stderr=stderr, report_renderer=renderer)
    return code, [json.loads(line) for line in stdout.getvalue().splitlines()], stderr.getvalue()


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_dicom_gets_sr_sc_and_report_valid_and_nothing_is_overwritten(bundle_dir, inputs, tmp_path):
    out = tmp_path / "out"
    order = ["first", "second", "png", "damaged", "sample"]
    code, records, err = _run([*(inputs[k] for k in order), "--model", bundle_dir, "--device", "cpu",
                               "--dicom-out", out, "--report"])
    assert code == EXIT_IMAGE_FAILED, err  # the damaged file failed; the run went on past it
    by_path = {r["path"]: r for r in records}
    assert list(by_path) == [str(inputs[k]) for k in order]
    assert by_path[str(inputs["png"])]["dicom_out"] == {"note": NOT_DICOM_NOTE}
    assert "error" in by_path[str(inputs["damaged"])] and "dicom_out" not in by_path[str(inputs["damaged"])]
    written = {k: by_path[str(inputs[k])]["dicom_out"] for k in ("first", "second", "sample")}
    assert {Path(p).name for p in written["first"].values()} == {"IM1.ai-sr.dcm", "IM1.ai-heatmap-sc.dcm",
                                                                  "IM1.ai-report.dcm"}
    assert {Path(p).name for p in written["second"].values()} == {"IM1.ai-sr-2.dcm", "IM1.ai-heatmap-sc-2.dcm",
                                                                   "IM1.ai-report-2.dcm"}
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for w in written.values()
                                                          for p in w.values())
    for key, paths in written.items():
        source = pydicom.dcmread(inputs[key], stop_before_pixels=True)
        for kind, path in paths.items():
            assert_valid(path)
            ds = pydicom.dcmread(path)
            assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.PatientID == source.PatientID
            assert ds.SeriesInstanceUID != source.SeriesInstanceUID
        report = pydicom.dcmread(paths["report"])
        assert report.SOPClassUID == ENCAPSULATED_PDF_SOP_CLASS and report.Modality == "DOC"
        assert report.SourceInstanceSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
        assert report.MIMETypeOfEncapsulatedDocument == "application/pdf"
        text = _pdf_text(pdf_of(report), tmp_path)
        assert "NOT FOR DIAGNOSTIC USE" in text and str(source.PatientID) in text
    # a second run into the same folder writes new files and leaves the first run's untouched
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    code, records, err = _run([inputs["first"], "--model", bundle_dir, "--device", "cpu", "--dicom-out", out])
    assert code == EXIT_OK, err
    assert {Path(p).name for p in records[0]["dicom_out"].values()} == {"IM1.ai-sr-3.dcm", "IM1.ai-heatmap-sc-3.dcm"}
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.name in before} == before


def test_deidentified_objects_and_report_leave_the_patient_out(bundle_dir, inputs, tmp_path):
    out = tmp_path / "deid"
    code, records, err = _run([inputs["first"], "--model", bundle_dir, "--device", "cpu", "--dicom-out", out,
                               "--report", "--deidentify"])
    assert code == EXIT_OK, err
    paths = records[0]["dicom_out"]
    uids = set()
    for path in paths.values():
        assert_valid(path)
        data = Path(path).read_bytes()
        assert b"DOE^JANE" not in data and b"PID-77" not in data
        ds = pydicom.dcmread(path)
        assert ds.PatientIdentityRemoved == "YES"
        uids.add(ds.StudyInstanceUID)
    assert len(uids) == 1 and uids != {pydicom.dcmread(inputs["first"]).StudyInstanceUID}
    text = _pdf_text(pdf_of(pydicom.dcmread(paths["report"])), tmp_path)
    assert "DOE" not in text and "PID-77" not in text and "NOT FOR DIAGNOSTIC USE" in text


def test_usage_errors_and_the_default_output_unchanged(bundle_dir, inputs, tmp_path):
    code, _, err = _run([inputs["first"], "--model", bundle_dir, "--report"])
    assert code == EXIT_USAGE and "--report and --deidentify go with --dicom-out" in err
    code, _, err = _run([inputs["first"], "--model", bundle_dir, "--dicom-out", tmp_path / "x", "--report"],
                        renderer=None)
    assert code == EXIT_USAGE and "--report needs the viewer's PDF renderer" in err
    code, records, err = _run([inputs["first"], "--model", bundle_dir, "--device", "cpu"])
    assert code == EXIT_OK and "dicom_out" not in records[0]
    stdout = io.StringIO()
    assert run([str(inputs["first"]), "--model", str(bundle_dir), "--format", "csv"], stdout=stdout,
               stderr=io.StringIO()) == EXIT_OK
    assert stdout.getvalue().splitlines()[0].endswith(",call_status,ood_warning,model_manifest_sha256,near_threshold")


def test_the_installed_command_writes_the_report_without_a_display(bundle_dir, inputs, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run([sys.executable, "-m", "desktop.cli_predict", str(inputs["sample"]), "--model",
                           str(bundle_dir), "--device", "cpu", "--dicom-out", str(tmp_path / "o"), "--report"],
                          capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)
    assert done.returncode == EXIT_OK, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert Path(record["dicom_out"]["report"]).name == "sample.ai-report.dcm"
    assert_valid(record["dicom_out"]["report"])
