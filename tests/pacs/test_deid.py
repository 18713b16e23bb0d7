"""De-identified exports: no original identifier survives anywhere in the output bytes, and references stay
consistent (the SC and SR still point at the same, renamed, source image)."""
from __future__ import annotations

import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from inference.deid import ANONYMOUS_NAME, ANONYMOUS_PERSON_NAME, Deidentifier
from inference.dicom_results import build_secondary_capture, build_structured_report, save_results
from inference.image_io import load_image
from inference.predictor import Predictor
from tests.helpers.dicom_factory import make_dicom_from_image

IDENTIFIERS = {
    "PatientName": "SMITHERSON^JOHNATHAN^QUINCY",
    "PatientID": "MRN-77889911",
    "PatientBirthDate": "19670412",
    "PatientAddress": "42 Wallaby Way, Sydney",
    "OtherPatientIDs": "OTHERID-556677",
    "AccessionNumber": "ACCX-99127",
    "InstitutionName": "Saint Elsewhere General Hospital",
    "InstitutionAddress": "1 Hospital Road, Springfield",
    "ReferringPhysicianName": "HOUSEMAN^GREGORY",
    "PerformingPhysicianName": "CARTERSON^JOHN",
    "OperatorsName": "NURSEWORTH^JACKIE",
    "StationName": "XRAYROOM-7",
    "DeviceSerialNumber": "SN-4451299",
    "StudyID": "STUDY-31337",
    "StudyDate": "20230917",
    "SeriesDate": "20230917",
    "StudyDescription": "CHEST PA FOR SMITHERSON",
    "PatientAge": "056Y",
}


@pytest.fixture(scope="module")
def identified(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("identified")
    image_file = sorted((shared_data / "chest-xray-pneumonia/train/PNEUMONIA").glob("*.jp*g"))[3]
    path = make_dicom_from_image(image_file, folder / "identified.dcm", size=128,
                                 patient=(IDENTIFIERS["PatientName"], IDENTIFIERS["PatientID"]),
                                 extra={k: v for k, v in IDENTIFIERS.items() if k not in ("PatientName", "PatientID")})
    ds = pydicom.dcmread(path)
    ds.add_new(0x00091010, "LO", "PRIVATE-VENDOR-SECRET")
    ds.add_new(0x00090010, "LO", "ACME PRIVATE")
    ds.save_as(path, enforce_file_format=True)
    return path


def _needles(source: Dataset) -> list[bytes]:
    values = [v for v in IDENTIFIERS.values()] + ["SMITHERSON", "JOHNATHAN", "HOUSEMAN", "PRIVATE-VENDOR-SECRET",
                                                   source.StudyInstanceUID, source.SeriesInstanceUID,
                                                   source.SOPInstanceUID]
    return [v.encode() for v in values]


def test_no_identifier_survives_in_sc_sr_and_source_exports(identified, tiny_bundle, tmp_path):
    image = load_image(identified)
    prediction = Predictor(tiny_bundle, device="cpu").predict(image, cam_method="gradcam")
    source = pydicom.dcmread(identified)
    deid = Deidentifier()
    exported = [deid.deidentify_dataset(build_secondary_capture(image, prediction)),
                deid.deidentify_dataset(build_structured_report(image, prediction)),
                deid.deidentify_dataset(source)]
    paths = save_results(exported, tmp_path / "out")
    for path in paths:
        data = path.read_bytes()
        leaked = [n.decode() for n in _needles(source) if n in data]
        assert leaked == [], f"{path.name} leaks {leaked}"
        assert not any(n.decode() in path.name for n in _needles(source))
        done = subprocess.run(["dcmdump", "-q", str(path)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and "E:" not in done.stderr, done.stderr

    sc, sr, dx = (pydicom.dcmread(p) for p in paths)
    new_source_uid = deid.uid_map[source.SOPInstanceUID]
    assert dx.SOPInstanceUID == new_source_uid
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == new_source_uid
    assert sc.StudyInstanceUID == sr.StudyInstanceUID == dx.StudyInstanceUID == deid.uid_map[source.StudyInstanceUID]
    assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"  # standard UIDs are not remapped
    assert {sc.PatientID, sr.PatientID, dx.PatientID} == {deid.pseudonym(IDENTIFIERS["PatientID"])}
    assert str(dx.PatientName) == ANONYMOUS_PERSON_NAME and dx.PatientIdentityRemoved == "YES"
    assert dx.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert not any(element.tag.is_private for element in dx.iterall())
    np.testing.assert_array_equal(dx.pixel_array, source.pixel_array)  # the picture itself is kept
    hd.sr.srread(paths[1])  # the de-identified SR is still a valid highdicom SR


def test_same_session_same_mapping_new_session_new_mapping(identified):
    source = pydicom.dcmread(identified)
    first = Deidentifier()
    a, b = first.deidentify_dataset(source), first.deidentify_dataset(source)
    other = Deidentifier().deidentify_dataset(source)
    assert a.SOPInstanceUID == b.SOPInstanceUID != other.SOPInstanceUID
    assert a.PatientID == b.PatientID != other.PatientID
    assert source.PatientID == IDENTIFIERS["PatientID"]  # the input is not modified


def test_metadata_and_text_for_png_pdf_csv_exports(identified):
    image = load_image(identified)
    deid = Deidentifier()
    clean = deid.deidentify_metadata(image.metadata)
    printed = " ".join(f"{k}={v}" for k, v in clean.items())
    for value in IDENTIFIERS.values():
        assert value not in printed
    assert image.metadata["SOPInstanceUID"] not in printed and clean["PatientName"] == ANONYMOUS_NAME
    assert clean["Modality"] == "DX" and clean["Rows"] == 128  # non-identifying fields stay
    caption = f"SMITHERSON^JOHNATHAN^QUINCY_{IDENTIFIERS['PatientID']}_{image.metadata['SOPInstanceUID']}.png"
    scrubbed = deid.scrub_text(caption, image.metadata)
    assert "SMITHERSON" not in scrubbed and "MRN-77889911" not in scrubbed
    assert deid.pseudonym("MRN-77889911") in scrubbed and deid.uid_map[image.metadata["SOPInstanceUID"]] in scrubbed
