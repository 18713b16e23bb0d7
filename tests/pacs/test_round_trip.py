"""The whole loop against a real Orthanc: query, retrieve, predict with a real (tiny) model, build the Secondary
Capture and the SR, send them back by C-STORE and STOW-RS, and check in Orthanc (REST API) that they arrived and
parse with dcmtk's dcmdump and highdicom."""
from __future__ import annotations

import io
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest

from inference.dicom_results import NOT_FOR_DIAGNOSIS_ASCII, build_secondary_capture, build_structured_report
from inference.image_io import load_image
from inference.pacs import StudyQuery, client_for
from inference.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(tiny_bundle):
    return Predictor(tiny_bundle, device="cpu")


def _dcmdump(data: bytes, tmp_path) -> str:
    path = tmp_path / "check.dcm"
    path.write_bytes(data)
    done = subprocess.run(["dcmdump", "-q", "+L", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "E:" not in done.stderr, done.stderr
    return done.stdout


def _retrieve_and_predict(node, predictor, tmp_path):
    client = client_for(node)
    (study,) = client.find_studies(StudyQuery(patient_id="PID-1001"))
    # the study may already hold results stored by an earlier test: take the original DX series
    (series,) = [s for s in client.find_series(study.study_instance_uid) if s.modality == "DX"]
    (path,) = client.retrieve(study.study_instance_uid, series.series_instance_uid, tmp_path / "retrieved")
    image = load_image(path)
    prediction = predictor.predict(image, cam_method="gradcam")
    return client, study, image, prediction


def _text_items(ds) -> dict[str, list[str]]:
    """Every TEXT content item of the SR tree, by concept name."""
    found: dict[str, list[str]] = {}
    for item in ds.get("ContentSequence", []):
        if item.ValueType == "TEXT":
            found.setdefault(item.ConceptNameCodeSequence[0].CodeMeaning, []).append(item.TextValue)
        for name, values in _text_items(item).items():
            found.setdefault(name, []).extend(values)
    return found


def _measurements(sr: hd.sr.ComprehensiveSR) -> dict[str, dict[str, float]]:
    """Each label group's measurements, by the group's finding (Pneumonia, Normal, ...)."""
    return {group.finding_type.meaning: {m.name.meaning: m.value for m in group.get_measurements()}
            for group in sr.content.get_image_measurement_groups()[1:]}


@pytest.mark.parametrize("transport", ["dimse", "dicomweb"])
def test_results_go_back_to_the_pacs(request, transport, dimse_node, dicomweb_node, orthanc, predictor, tmp_path):
    _, study, image, prediction = _retrieve_and_predict(dimse_node, predictor, tmp_path)
    assert prediction.heatmap is not None and prediction.heatmap.shape == image.shape
    sc = build_secondary_capture(image, prediction)
    sr = build_structured_report(image, prediction)
    sender = client_for(dimse_node if transport == "dimse" else dicomweb_node)
    result = sender.store([sc, sr])
    assert result.ok and result.stored == [sc.SOPInstanceUID, sr.SOPInstanceUID]

    source = image.dataset
    for sent in (sc, sr):
        orthanc_id = orthanc.find_instance(sent.SOPInstanceUID)
        assert orthanc_id is not None, f"{sent.SOPInstanceUID} not in Orthanc"
        tags = orthanc.get(f"/instances/{orthanc_id}/simplified-tags").json()
        assert tags["StudyInstanceUID"] == source.StudyInstanceUID
        assert tags["SeriesInstanceUID"] not in (source.SeriesInstanceUID, "")
        assert tags["PatientID"] == "PID-1001"
        stored = orthanc.instance_file(orthanc_id)
        dump = _dcmdump(stored, tmp_path)
        assert source.SOPInstanceUID in dump  # the reference to the source image

    sc_back = pydicom.dcmread(io.BytesIO(orthanc.instance_file(orthanc.find_instance(sc.SOPInstanceUID))))
    assert sc_back.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7" and sc_back.BurnedInAnnotation == "YES"
    assert sc_back.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert sc_back.SamplesPerPixel == 3 and sc_back.pixel_array.shape[-1] == 3
    assert NOT_FOR_DIAGNOSIS_ASCII in sc_back.SeriesDescription

    sr_path = tmp_path / "sr_back.dcm"
    sr_path.write_bytes(orthanc.instance_file(orthanc.find_instance(sr.SOPInstanceUID)))
    sr_back = hd.sr.srread(sr_path)
    measured = _measurements(sr_back)
    finding = {"PNEUMONIA": "Pneumonia", "NORMAL": "Normal"}  # the SNOMED CT concepts of the tiny model's labels
    for label, p in prediction.probabilities.items():
        assert measured[finding[label]]["Probability"] == pytest.approx(p, abs=1e-6)
    assert measured["Pneumonia"]["Threshold Value"] == pytest.approx(prediction.threshold)
    group = sr_back.content.get_image_measurement_groups()[0]  # the call
    evaluations = {item.name.meaning: item.value.meaning for item in group.get_qualitative_evaluations()}
    assert group.finding_type.meaning == finding[prediction.label]
    assert evaluations["Out-of-distribution guard"] == ("Image unlike the model's training data"
                                                        if prediction.ood.warning else
                                                        "Image like the model's training data")
    texts = _text_items(sr_back)
    assert prediction.model["name"] in texts["Algorithm Name"]
    assert prediction.model["version"] in texts["Algorithm Version"]
    assert f"sha256={prediction.model['sha256']}" in texts["Algorithm Parameters"]
    evidence = sr_back.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID


def test_secondary_capture_pixels_show_the_heatmap(dimse_node, predictor, tmp_path):
    _, _, image, prediction = _retrieve_and_predict(dimse_node, predictor, tmp_path)
    plain = build_secondary_capture(image, prediction, lines=[])
    heat = prediction.heatmap
    pixels = plain.pixel_array.astype(int)
    assert pixels.shape[1] >= 512  # small sources are enlarged so the text stays legible
    # where the heat is highest the overlay is coloured (channels differ), where it is zero it stays gray
    assert heat.max() > 0.5
    colourful = np.abs(pixels[..., 0] - pixels[..., 2]).mean()
    assert colourful > 2.0


@pytest.mark.parametrize("transport", ["dimse", "dicomweb"])
def test_the_report_as_encapsulated_pdf_goes_to_the_pacs(transport, dimse_node, dicomweb_node, orthanc, predictor,
                                                        tmp_path):
    """The PDF report's DICOM form (the GUI's File > Send PDF Report to PACS and xrayview-predict --report send
    this object) is stored next to the study by C-STORE and STOW-RS, and comes back with the same PDF."""
    from inference.encapsulated_pdf import build_encapsulated_pdf, pdf_of

    _, study, image, _ = _retrieve_and_predict(dimse_node, predictor, tmp_path)
    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
           b"trailer<</Root 1 0 R>>\n%%EOF\n")
    report = build_encapsulated_pdf(pdf, image.dataset)
    sender = client_for(dimse_node if transport == "dimse" else dicomweb_node)
    result = sender.store([report])
    assert result.ok and result.stored == [report.SOPInstanceUID]
    orthanc_id = orthanc.find_instance(report.SOPInstanceUID)
    tags = orthanc.get(f"/instances/{orthanc_id}/simplified-tags").json()
    assert tags["StudyInstanceUID"] == study.study_instance_uid and tags["Modality"] == "DOC"
    back = pydicom.dcmread(io.BytesIO(orthanc.instance_file(orthanc_id)))
    assert pdf_of(back) == pdf
