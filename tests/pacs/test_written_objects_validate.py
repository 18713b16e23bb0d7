"""Every kind of DICOM object the product writes for an AI result passes the standard's validators: dciodvfy
(dicom3tools) against its IOD with 0 errors, and dcmtk's dcmdump / dsrdump (tests/helpers/dicom_validators.py).
Sources: the bundled DX sample (a real radiograph), the factory DX/CR studies, a DX that lacks the Type 2
patient/study attributes, and a PNG (no DICOM to refer to)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from PIL import Image

from inference.deid import Deidentifier
from inference.dicom_results import build_results, save_results
from inference.image_io import load_image
from inference.predictor import Predictor
from inference.result_codes import LOCAL_SCHEME
from inference.results import OODResult
from tests.helpers.dicom_factory import load_gray_image
from tests.helpers.dicom_validators import assert_valid, dciodvfy

# the Type 2 patient/study attributes many modality and research files leave out
MISSING = ("PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
           "AccessionNumber")


@pytest.fixture(scope="module")
def predictor(tiny_bundle):
    return Predictor(tiny_bundle, device="cpu")


@pytest.fixture(scope="module")
def sources(project_root, source_studies, shared_data, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("validate-sources")
    sample = project_root / "resources/samples/chest-pa-sample.dcm"
    ds = pydicom.dcmread(sample)
    for keyword in MISSING:
        if keyword in ds:
            delattr(ds, keyword)
    bare = folder / "bare-dx.dcm"
    ds.save_as(bare, enforce_file_format=True)
    png = folder / "chest.png"
    Image.fromarray(load_gray_image(sorted((shared_data / "chest-xray-pneumonia/train/NORMAL").glob("*.jp*g"))[3],
                                    160)).save(png)
    return {"sample": sample, "dx": source_studies[0].path, "cr": source_studies[1].path, "bare": bare, "png": png}


def _kinds(paths: list[Path]) -> list[str]:
    return [str(pydicom.dcmread(path, stop_before_pixels=True).Modality) for path in paths]


@pytest.mark.parametrize("name", ["sample", "dx", "cr", "bare", "png"])
@pytest.mark.parametrize("deidentified", [False, True])
def test_sc_and_sr_pass_dciodvfy_and_dcmtk(predictor, sources, tmp_path, name, deidentified):
    image = load_image(sources[name])
    prediction = predictor.predict(image, cam_method="gradcam")
    datasets = build_results(image, prediction, deidentifier=Deidentifier() if deidentified else None)
    paths = save_results(datasets, tmp_path)
    assert _kinds(paths) == (["OT"] if name == "png" else ["OT", "SR"])  # Secondary Capture: modality OT
    for path in paths:
        assert_valid(path)
    if name != "png":
        sr = pydicom.dcmread(paths[1])
        assert "ReferencedPerformedProcedureStepSequence" in sr  # Type 2, kept (emptied) by de-identification


def test_the_secondary_capture_laterality(predictor, sources, tmp_path):
    """Laterality (Type 2C) is written when the body part is paired and no Image Laterality is: empty when no side
    is known; it is left out for a chest (unpaired), and when the SC carries the source's Image Laterality."""
    for body_part, image_laterality, expected in (("CHEST", None, None), ("KNEE", "L", None), ("HAND", None, "")):
        ds = pydicom.dcmread(sources["sample"])
        ds.BodyPartExamined = body_part
        if image_laterality:
            ds.ImageLaterality = image_laterality
        source = tmp_path / f"{body_part}.dcm"
        ds.save_as(source, enforce_file_format=True)
        image = load_image(source)
        (sc_path, _) = save_results(build_results(image, predictor.predict(image, cam_method=None)),
                                    tmp_path / body_part)
        sc = pydicom.dcmread(sc_path)
        assert sc.get("Laterality") == expected and sc.BodyPartExamined == body_part
        assert sc.get("ImageLaterality") == image_laterality
        assert not dciodvfy(sc_path).errors


def _codes(ds) -> list[tuple[str, str, str]]:
    found = []
    for item in ds.get("ContentSequence", []):
        for key in ("ConceptNameCodeSequence", "ConceptCodeSequence", "MeasurementUnitsCodeSequence"):
            for code in item.get(key, []):
                found.append((str(code.CodeValue), str(code.CodingSchemeDesignator), str(code.CodeMeaning)))
        for measured in item.get("MeasuredValueSequence", []):
            for code in measured.get("MeasurementUnitsCodeSequence", []):
                found.append((str(code.CodeValue), str(code.CodingSchemeDesignator), str(code.CodeMeaning)))
        found += _codes(item)
    return found


def test_the_sr_uses_standard_codes_and_private_ones_only_for_the_guard(predictor, sources, tmp_path):
    image = load_image(sources["dx"])
    prediction = predictor.predict(image, cam_method=None)
    call = prediction.call()
    sr = build_results(image, prediction)[1]
    codes = _codes(sr)
    assert ("121071", "DCM", "Finding") in codes
    assert ("122157", "DCM", "Probability") in codes and ("122411", "DCM", "Threshold Value") in codes
    assert ("233604007", "SCT", "Pneumonia") in codes and ("17621005", "SCT", "Normal") in codes
    private = {meaning for _, scheme, meaning in codes if scheme == LOCAL_SCHEME}
    assert private == {"Out-of-distribution guard", "Image like the model's training data"}
    finding = {"PNEUMONIA": ("233604007", "SCT", "Pneumonia"), "NORMAL": ("17621005", "SCT", "Normal")}
    text = str(sr)
    assert finding[call.label][0] in text

    withheld = replace(prediction, ood=OODResult(warning=True, reasons=["colour image"]))
    sr = build_results(image, withheld)[1]
    codes = _codes(sr)
    assert ("280416009", "SCT", "Indeterminate result") in codes  # no call: the finding is indeterminate
    assert {m for _, s, m in codes if s == LOCAL_SCHEME} == {"Out-of-distribution guard",
                                                            "Image unlike the model's training data"}
    anyway = build_results(image, withheld, call=withheld.call(show_anyway=True))[1]
    assert ("373066001", "SCT", "Yes") in _codes(anyway)
    for ds in (sr, anyway):
        (path,) = save_results([ds], tmp_path / ds.SOPInstanceUID)
        assert_valid(path)
