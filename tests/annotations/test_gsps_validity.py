"""Presentation states on ordinary DICOMs pass the standard's validators (dciodvfy, dcmpschk, dcmdump): a DX that
lacks the Type 2 patient/study attributes, marks that leave the image, and the series laterality."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from annotations import Annotation, measure, new_annotation
from annotations.gsps import build_presentation_state, read_presentation_state, save_presentation_state
from annotations.measurements import calibration_of
from dicom_common.derived import TYPE2_PATIENT_STUDY
from inference.image_io import load_image
from tests.annotations.test_gsps import every_kind
from tests.helpers.dicom_validators import assert_valid, dciodvfy, dcmtk


# the seven Type 2 patient/study attributes that many modality and research files leave out (issue 25 item 1)
MISSING = ("PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
           "AccessionNumber")


def _without(project_root, folder: Path, keywords) -> Path:
    ds = pydicom.dcmread(project_root / "resources/samples/chest-pa-sample.dcm")
    for keyword in keywords:
        if keyword in ds:
            delattr(ds, keyword)
    path = folder / "bare-dx.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture(scope="module")
def bare_dx(project_root, tmp_path_factory) -> Path:
    """The bundled DX sample (a real radiograph) without those seven attributes."""
    return _without(project_root, tmp_path_factory.mktemp("bare"), MISSING)


def _labels(annotations, image):
    calibration = calibration_of(image)
    return {a.uid: measure(a, calibration, image.modality).lines for a in annotations}


def _save(image, annotations, folder: Path) -> Path:
    state = build_presentation_state(image.dataset, annotations, labels=_labels(annotations, image))
    return save_presentation_state(state, folder, "image")


def test_dx_without_type2_patient_and_study_attributes(bare_dx, tmp_path):
    image = load_image(bare_dx)
    assert not any(keyword in image.dataset for keyword in MISSING)
    path = _save(image, every_kind(), tmp_path)
    assert_valid(path)
    ds = pydicom.dcmread(path)
    for keyword in MISSING:  # present and empty: the source does not know them
        assert keyword in ds and ds[keyword].value in ("", None), keyword
    assert (str(ds.PatientName), ds.PatientID) == ("ANONYMOUS^SAMPLE", "SAMPLE0001")
    back = read_presentation_state(ds, image.dataset.SOPInstanceUID)
    assert [a.kind for a in back.annotations] == [a.kind for a in every_kind()]


def test_dx_without_any_patient_identity(project_root, tmp_path):
    """No patient name or ID either: the GSPS is still written and valid for dciodvfy; dcmpschk (stricter than
    the standard, where Patient's Name is Type 2) then reports the empty name, its only complaint."""
    image = load_image(_without(project_root, tmp_path, TYPE2_PATIENT_STUDY))
    path = _save(image, every_kind(), tmp_path)
    assert not dciodvfy(path).errors
    (dcmpschk,) = [found for found in dcmtk(path) if found.tool == "dcmpschk"]
    assert [line for line in dcmpschk.output.splitlines() if "Testing" not in line and "Test failed" not in line] \
        == ["W: patientName absent or empty in presentation state"]


def test_marks_that_leave_the_image_are_clipped_at_its_edge(bare_dx, tmp_path):
    image = load_image(bare_dx)  # 1024 x 959
    columns, rows = image.shape[1], image.shape[0]
    drawn = [new_annotation("arrow", [(-60.0, -30.0), (300, 320)], text="from the margin"),
             new_annotation("distance", [(900, 900), (1100, 990)]),
             new_annotation("text", [(-20, 500)], text="beside the film"),
             new_annotation("ellipse", [(400, 400), (500, 480)])]
    path = _save(image, drawn, tmp_path)
    assert_valid(path)
    ds = pydicom.dcmread(path)
    for item in ds.GraphicAnnotationSequence:
        for obj in item.get("GraphicObjectSequence", []):
            data = np.asarray(obj.GraphicData, dtype=float).reshape(-1, 2)
            assert obj.GraphicAnnotationUnits == "PIXEL"
            assert data.min() >= 0 and data[:, 0].max() <= columns and data[:, 1].max() <= rows
    notes = {int(g.GraphicGroupID): str(g.get("GraphicGroupDescription", "")) for g in ds.GraphicGroupSequence}
    assert [("clipped at the image edge" in notes[n]) for n in (1, 2, 3, 4)] == [True, True, True, False]
    back = read_presentation_state(ds, image.dataset.SOPInstanceUID).annotations
    assert [a.kind for a in back] == [a.kind for a in drawn]
    # the arrow keeps its tip and direction, its tail is where the shaft enters the image (x = 0)
    (tail, tip) = back[0].points
    assert tip == pytest.approx((300, 320), abs=1e-3)
    assert tail == pytest.approx((0, -30 + 350 * 60 / 360), abs=1e-3)
    assert back[0].text == "from the margin"
    # the distance is cut where it leaves the image on the right (x = 1024)
    assert back[1].points[0] == pytest.approx((900, 900), abs=1e-3)
    assert back[1].points[1] == pytest.approx((1024, 900 + 90 * 124 / 200), abs=1e-3)
    assert back[2].points[0] == pytest.approx((0, 500)) and back[2].text == "beside the film"
    np.testing.assert_allclose(back[3].points, drawn[3].points, atol=1e-3)  # on the image: untouched


def test_marks_on_the_image_are_written_as_drawn(bare_dx, tmp_path):
    image = load_image(bare_dx)
    path = _save(image, [new_annotation("distance", [(0, 0), (1024, 959)])], tmp_path)
    ds = pydicom.dcmread(path)
    assert "GraphicGroupDescription" not in ds.GraphicGroupSequence[0] or \
        "clipped" not in ds.GraphicGroupSequence[0].GraphicGroupDescription
    area = ds.DisplayedAreaSelectionSequence[0]
    assert list(area.DisplayedAreaTopLeftHandCorner) == [1, 1]
    assert list(area.DisplayedAreaBottomRightHandCorner) == [1024, 959]
    assert ds.GraphicAnnotationSequence[0].GraphicObjectSequence[0].GraphicAnnotationUnits == "PIXEL"


@pytest.mark.parametrize(("body_part", "image_laterality", "expected"), [
    ("CHEST", None, None),  # unpaired: no Laterality
    ("KNEE", "R", "R"),  # paired, the side from the image's Image Laterality
    ("HAND", None, ""),  # paired, side unknown: present and empty
    (None, "L", "L"),
])
def test_series_laterality(bare_dx, tmp_path, body_part, image_laterality, expected):
    ds = pydicom.dcmread(bare_dx)
    ds.BodyPartExamined = body_part
    if body_part is None:
        del ds.BodyPartExamined
    if image_laterality:
        ds.ImageLaterality = image_laterality
    source = tmp_path / "source.dcm"
    ds.save_as(source, enforce_file_format=True)
    image = load_image(source)
    path = _save(image, [Annotation("point", ((10, 10),))], tmp_path)
    assert_valid(path)
    written = pydicom.dcmread(path)
    assert written.get("Laterality") == expected
    assert written.get("BodyPartExamined") == body_part
