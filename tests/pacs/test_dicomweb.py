"""DICOMweb client against a real Orthanc (DICOMweb plugin): QIDO-RS, WADO-RS, STOW-RS and failures."""
from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import threading
import time

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from inference.errors import PacsCancelledError, PacsConnectionError, PacsOperationError, PacsTimeoutError
from inference.pacs import StudyQuery, client_for
from tests.helpers.orthanc import OrthancServer


def test_qido_searches_like_c_find(dicomweb_node, dimse_node):
    web, dimse = client_for(dicomweb_node), client_for(dimse_node)
    for query in (StudyQuery(patient_name="DOE"), StudyQuery(modality="CR"),
                  StudyQuery(date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 1, 31)),
                  StudyQuery(accession_number="ACC-7002"), StudyQuery(patient_id="NOBODY")):
        by_web = sorted((s.study_instance_uid, s.patient_id, s.accession_number) for s in web.find_studies(query))
        by_dimse = sorted((s.study_instance_uid, s.patient_id, s.accession_number)
                          for s in dimse.find_studies(query))
        assert by_web == by_dimse, query


def test_qido_series_and_wado_retrieve(dicomweb_node, source_studies, tmp_path):
    source = pydicom.dcmread(source_studies[1].path)
    client = client_for(dicomweb_node)
    series = client.find_series(source.StudyInstanceUID)
    assert source.SeriesInstanceUID in [s.series_instance_uid for s in series]
    progress = []
    files = client.retrieve(source.StudyInstanceUID, source.SeriesInstanceUID, tmp_path,
                            progress=lambda *a: progress.append(a))
    (got,) = [pydicom.dcmread(f) for f in files]
    assert got.SOPInstanceUID == source.SOPInstanceUID and got.PatientName == "ROE^RICHARD"
    np.testing.assert_array_equal(got.pixel_array, source.pixel_array)
    assert progress[0][:2] == (0, 1) and progress[-1][:2] == (1, 1)


def test_stow_stores_a_file_and_reports_it(dicomweb_node, orthanc, source_studies, tmp_path):
    ds = pydicom.dcmread(source_studies[0].path)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    path = tmp_path / "copy.dcm"
    ds.save_as(path, enforce_file_format=True)
    result = client_for(dicomweb_node).store([path])
    assert result.stored == [ds.SOPInstanceUID] and result.ok
    assert orthanc.find_instance(ds.SOPInstanceUID) is not None


def test_cancelled_retrieve_stops(dicomweb_node, source_studies, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(PacsCancelledError):
        client_for(dicomweb_node).retrieve(pydicom.dcmread(source_studies[0].path).StudyInstanceUID, None,
                                           tmp_path, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_unknown_study_is_an_empty_result_not_a_crash(dicomweb_node, tmp_path):
    client = client_for(dicomweb_node)
    assert client.find_series("1.2.3.4.5.6.7.8.9") == []
    assert client.retrieve("1.2.3.4.5.6.7.8.9", None, tmp_path) == []


def test_wrong_base_url_is_an_operation_error(dicomweb_node):
    node = dataclasses.replace(dicomweb_node, base_url=dicomweb_node.base_url.replace("dicom-web", "no-such-api"))
    with pytest.raises(PacsOperationError, match="HTTP 404"):
        client_for(node).echo()


def test_stopped_server_gives_connection_error_fast(tmp_path, dicomweb_node):
    server = OrthancServer(tmp_path / "short-lived").start()
    node = dataclasses.replace(dicomweb_node, base_url=server.dicomweb_url)
    assert client_for(node).echo() > 0
    server.kill()
    start = time.monotonic()
    with pytest.raises(PacsConnectionError, match="cannot connect"):
        client_for(node).find_studies(StudyQuery())
    assert time.monotonic() - start < 2


def test_cancel_during_wado_and_stow(dicomweb_node, source_studies, tmp_path):
    client = client_for(dicomweb_node)
    cancel = threading.Event()
    with pytest.raises(PacsCancelledError):
        client.retrieve(pydicom.dcmread(source_studies[0].path).StudyInstanceUID, None, tmp_path, cancel=cancel,
                        progress=lambda done, total, message: cancel.set())
    cancel.clear()
    with pytest.raises(PacsCancelledError):
        client.store([source_studies[0].path], cancel=cancel, progress=lambda *a: cancel.set())


def test_silent_http_server_times_out(dicomweb_node):
    # accepts the TCP connection (backlog) but never answers the HTTP request
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        node = dataclasses.replace(dicomweb_node, base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/dicom-web",
                                   timeout_s=1)
        start = time.monotonic()
        with pytest.raises(PacsTimeoutError, match="within 1 s"):
            client_for(node).echo()
        assert time.monotonic() - start < 5
