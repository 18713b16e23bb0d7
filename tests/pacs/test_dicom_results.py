"""Secondary Capture and SR builders on their own: text, geometry, UIDs, and a PNG source (no DICOM to refer to)."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image

from inference.deid import Deidentifier
from inference.dicom_results import (
    NOT_FOR_DIAGNOSIS,
    build_results,
    build_secondary_capture,
    build_structured_report,
    result_text_lines,
    save_results,
)
from inference.errors import DicomResultError
from inference.image_io import load_image
from inference.predictor import Predictor
from tests.helpers.dicom_factory import load_gray_image


@pytest.fixture(scope="module")
def predictor(tiny_bundle):
    return Predictor(tiny_bundle, device="cpu")


def test_text_lines_name_result_probabilities_and_model(predictor, source_studies):
    prediction = predictor.predict(load_image(source_studies[0].path), cam_method=None)
    lines = result_text_lines(prediction)
    assert lines[0] == NOT_FOR_DIAGNOSIS == "AI result \u2014 not for diagnostic use"
    assert lines[1] == f"Result: {prediction.label}"
    p = prediction.probabilities["PNEUMONIA"]
    assert f"PNEUMONIA {p:.3f}  (threshold {prediction.threshold:.2f})" in lines
    assert lines[-1] == f"Model: {prediction.model['name']} {prediction.model['version']}"


def test_sc_from_dicom_keeps_study_new_series_and_references_source(predictor, source_studies):
    image = load_image(source_studies[0].path)
    prediction = predictor.predict(image, cam_method=None)
    sc = build_secondary_capture(image, prediction)
    source = image.dataset
    assert sc.StudyInstanceUID == source.StudyInstanceUID
    assert sc.SeriesInstanceUID != source.SeriesInstanceUID and sc.SOPInstanceUID != source.SOPInstanceUID
    assert (sc.PatientID, str(sc.PatientName)) == ("PID-1001", "DOE^JANE")
    assert sc.ReferencedImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert sc.ImageType == ["DERIVED", "SECONDARY"] and sc.ConversionType == "WSD"
    # the picture: a text band on top of the (enlarged) radiograph, gray where there is no heatmap
    pixels = sc.pixel_array
    rows, columns = image.shape
    scale = 512 / columns
    assert pixels.shape[1] == 512 and pixels.shape[0] > round(rows * scale)
    picture = pixels[-round(rows * scale):]
    assert np.array_equal(picture[..., 0], picture[..., 2])  # no heatmap (cam_method=None): still gray
    band = pixels[: pixels.shape[0] - round(rows * scale)]
    assert band.max() > 200 and np.median(band) == 0  # light text on black


def test_png_source_gets_a_new_study_and_no_sr(predictor, shared_data, tmp_path):
    source_file = sorted((shared_data / "chest-xray-pneumonia/train/NORMAL").glob("*.jp*g"))[2]
    png = tmp_path / "chest.png"
    Image.fromarray(load_gray_image(source_file, 128)).save(png)
    image = load_image(png)
    prediction = predictor.predict(image, cam_method="gradcam")
    (sc,) = build_results(image, prediction)
    assert "SourceImageSequence" not in sc and sc.StudyInstanceUID
    with pytest.raises(DicomResultError, match="needs a DICOM source"):
        build_structured_report(image, prediction)
    (path,) = save_results([sc], tmp_path / "out")
    assert pydicom.dcmread(path).SOPInstanceUID == sc.SOPInstanceUID


def test_build_results_deidentified(predictor, source_studies, tmp_path):
    image = load_image(source_studies[1].path)
    prediction = predictor.predict(image, cam_method=None)
    deid = Deidentifier()
    sc, sr = build_results(image, prediction, deidentifier=deid)
    for ds in (sc, sr):
        assert ds.PatientIdentityRemoved == "YES" and ds.PatientID == deid.pseudonym("PID-2002")
        assert ds.StudyInstanceUID == deid.uid_map[image.dataset.StudyInstanceUID]
    paths = save_results([sc, sr], tmp_path)
    for path in paths:
        data = path.read_bytes()
        assert b"ROE^RICHARD" not in data and b"PID-2002" not in data and b"ACC-7002" not in data


def _warned(prediction):
    from dataclasses import replace

    from inference.results import OODResult

    return replace(prediction, ood=OODResult(warning=True, reasons=["colour image"]))


def test_ood_result_objects_carry_no_call_unless_shown_anyway(predictor, source_studies):
    image = load_image(source_studies[0].path)
    prediction = _warned(predictor.predict(image, cam_method=None))
    lines = result_text_lines(prediction)
    assert lines[1] == "Result: No call: image unlike the model's training data"
    assert len(lines) == 5 and all(line.endswith("(not applicable)") for line in lines[2:4])
    sc, sr = build_results(image, prediction)
    assert prediction.label not in sc.DerivationDescription.split("result")[-1]
    assert "No call" in sc.DerivationDescription
    text = str(sr)
    assert "Indeterminate result" in text and "OOD-WARNING" in text and "Image unlike the model's training data" in text
    import highdicom as hd

    call_group = hd.sr.ComprehensiveSR.from_dataset(sr).content.get_image_measurement_groups()[0]
    evaluations = {e.name.meaning: e.value.meaning for e in call_group.get_qualitative_evaluations()}
    assert call_group.finding_type.meaning == "Indeterminate result"  # the withheld label is not the finding
    assert evaluations == {"Out-of-distribution guard": "Image unlike the model's training data"}

    anyway = prediction.call(show_anyway=True)
    sc, sr = build_results(image, prediction, call=anyway)
    assert f"{prediction.label} (shown anyway" in sc.DerivationDescription
    assert "Call shown although the guard warned" in str(sr)
    assert result_text_lines(prediction, anyway)[1].startswith(f"Result: {prediction.label} (shown anyway")

    plain = predictor.predict(image, cam_method=None)
    assert "OOD-NONE" in str(build_structured_report(image, plain))
    assert "Indeterminate result" not in str(build_results(image, plain)[1])


def test_a_call_near_the_threshold_says_so_in_the_sc_text_and_as_an_sr_evaluation(predictor, source_studies,
                                                                                   tmp_path):
    from dataclasses import replace

    import highdicom as hd

    from tests.helpers.dicom_validators import assert_valid

    image = load_image(source_studies[0].path)
    plain = predictor.predict(image, cam_method=None)
    near = replace(plain, call_margin=50.0)  # every probability lies within 50 log-odds of the threshold
    far = replace(plain, call_margin=0.0)
    assert near.call().near_threshold and far.call().near_threshold is False
    assert result_text_lines(near)[1] == f"Result: {plain.label} (near the threshold)"
    assert result_text_lines(far)[1] == f"Result: {plain.label}"
    sc, sr = build_results(image, near)
    assert f"{plain.label} (near the threshold)" in sc.DerivationDescription
    group = hd.sr.ComprehensiveSR.from_dataset(sr).content.get_image_measurement_groups()[0]
    evaluations = {e.name.meaning: e.value.meaning for e in group.get_qualitative_evaluations()}
    assert evaluations["Call within the model's measured moves of its threshold"] == "Yes"
    assert group.finding_type.meaning != "Indeterminate result"  # the call stands
    far_group = hd.sr.ComprehensiveSR.from_dataset(build_results(image, far)[1]).content
    assert "Call within the model's measured moves of its threshold" not in str(far_group)
    for dataset, name in ((sc, "sc.dcm"), (sr, "sr.dcm")):
        dataset.save_as(tmp_path / name, enforce_file_format=True)
        assert_valid(tmp_path / name)


def test_sc_overlay_is_the_shared_blend_with_the_screens_colormap_and_opacity(predictor, shared_data, tmp_path):
    """What is saved looks like what was seen: the SC's picture is inference.overlay.blend at the viewer's
    colormap and opacity (the function the screen layer and the PDF use), not a fixed jet at 0.4."""
    from inference.overlay import blend

    source_file = sorted((shared_data / "samples/chest-xray-fullres/NORMAL").iterdir())[1]
    png = tmp_path / "wide.png"
    Image.fromarray(load_gray_image(source_file, 640)).save(png)  # >= 512 px wide: the SC is not resized
    image = load_image(png)
    prediction = predictor.predict(image, cam_method="gradcam")
    assert prediction.heatmap is not None and prediction.heatmap.max() > 0.5
    for colormap, opacity in (("inferno", 0.8), ("jet", 0.3)):
        sc = build_secondary_capture(image, prediction, colormap=colormap, opacity=opacity)
        expected = blend(image.render(), prediction.heatmap, colormap, opacity)
        picture = sc.pixel_array[-expected.shape[0]:]
        assert picture.shape == expected.shape
        assert np.abs(picture.astype(int) - expected.astype(int)).max() == 0
    other = blend(image.render(), prediction.heatmap, "jet", 0.4)
    assert np.abs(other.astype(int) - expected.astype(int)).max() > 20  # the settings really change the look
