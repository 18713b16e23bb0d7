"""A presentation state (measurements, annotations, window) made for a study that came from a real Orthanc goes
back by C-STORE and by STOW-RS, is filed in the source study, comes back by C-GET / WADO-RS, passes dcmtk's
dcmpschk, and reads back to the same annotations."""
from __future__ import annotations

import subprocess

import numpy as np
import pydicom
import pytest

from annotations import measure, new_annotation
from annotations.gsps import ViewState, build_presentation_state, read_presentation_state
from annotations.measurements import calibration_of
from inference.image_io import load_image
from inference.pacs import StudyQuery, client_for


@pytest.mark.parametrize("transport", ["dimse", "dicomweb"])
def test_presentation_state_round_trip_through_orthanc(transport, dimse_node, dicomweb_node, orthanc, tmp_path):
    node = dimse_node if transport == "dimse" else dicomweb_node
    client = client_for(node)
    (study,) = client.find_studies(StudyQuery(patient_id="PID-2002"))
    (series,) = [s for s in client.find_series(study.study_instance_uid) if s.modality == "CR"]
    (path,) = client.retrieve(study.study_instance_uid, series.series_instance_uid, tmp_path / "image")
    image = load_image(path)
    height, width = image.shape
    annotations = [new_annotation("distance", [(10, 20), (width - 10, 20)]),
                   new_annotation("ellipse", [(width * 0.3, height * 0.3), (width * 0.6, height * 0.5)]),
                   new_annotation("text", [(12, height - 20)], text=f"via {transport}")]
    labels = {a.uid: measure(a, calibration_of(image), image.modality).lines for a in annotations}
    state = build_presentation_state(image.dataset, annotations, ViewState(100, 150, "NARROW"), labels=labels)

    result = client.store([state])
    assert result.ok and result.stored == [state.SOPInstanceUID]
    orthanc_id = orthanc.find_instance(state.SOPInstanceUID)
    assert orthanc_id is not None
    tags = orthanc.get(f"/instances/{orthanc_id}/simplified-tags").json()
    assert tags["StudyInstanceUID"] == image.dataset.StudyInstanceUID and tags["Modality"] == "PR"

    pr_series = [s for s in client.find_series(study.study_instance_uid)
                 if s.modality == "PR" and s.series_instance_uid == state.SeriesInstanceUID]
    assert len(pr_series) == 1
    (back_path,) = client.retrieve(study.study_instance_uid, pr_series[0].series_instance_uid, tmp_path / "pr")
    check = subprocess.run(["dcmpschk", str(back_path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "Test passed" in check.stdout + check.stderr, check.stdout + check.stderr
    back = read_presentation_state(pydicom.dcmread(back_path), image.dataset.SOPInstanceUID)
    assert [a.kind for a in back.annotations] == ["distance", "ellipse", "text"]
    for got, sent in zip(back.annotations, annotations):
        np.testing.assert_allclose(got.points, sent.points, atol=1e-3)
    assert back.annotations[2].text == f"via {transport}"
    assert (back.view.window_center, back.view.window_width, back.view.window_name) == (100, 150, "NARROW")
