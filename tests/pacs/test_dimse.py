"""DIMSE client against a real Orthanc: C-ECHO, C-FIND, C-GET, C-MOVE, C-STORE and the failure paths."""
from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import threading
import time

import numpy as np
import pydicom
import pytest

from inference.errors import (
    AssociationRejectedError,
    PacsCancelledError,
    PacsConnectionError,
    PacsOperationError,
    PacsTimeoutError,
    UnknownAETitleError,
)
from inference.pacs import StudyQuery, client_for
from tests.helpers.orthanc import OrthancServer


def test_echo_answers(dimse_node):
    assert client_for(dimse_node).echo() > 0


@pytest.mark.parametrize("query, expected_ids", [
    (StudyQuery(patient_id="PID-1001"), {"PID-1001"}),
    (StudyQuery(patient_name="ROE"), {"PID-2002"}),
    (StudyQuery(patient_name="*RICH*"), {"PID-2002"}),
    (StudyQuery(date_from=dt.date(2024, 3, 1), date_to=dt.date(2024, 3, 31)), {"PID-2002"}),
    (StudyQuery(date_from=dt.date(2024, 1, 1)), {"PID-1001", "PID-2002"}),
    (StudyQuery(modality="DX"), {"PID-1001"}),
    (StudyQuery(accession_number="ACC-7002"), {"PID-2002"}),
    (StudyQuery(patient_id="NOBODY"), set()),
])
def test_find_studies_filters(dimse_node, query, expected_ids):
    found = client_for(dimse_node).find_studies(query)
    assert {s.patient_id for s in found} == expected_ids


def test_find_study_and_series_fields(dimse_node, source_studies):
    source = pydicom.dcmread(source_studies[0].path)
    client = client_for(dimse_node)
    (study,) = client.find_studies(StudyQuery(patient_id="PID-1001"))
    assert study.study_instance_uid == source.StudyInstanceUID
    assert (study.patient_name, study.study_date, study.accession_number) == ("DOE^JANE", "20240115", "ACC-7001")
    assert study.modalities == "DX" and study.number_of_instances == 1
    (series,) = client.find_series(study.study_instance_uid)
    assert series.series_instance_uid == source.SeriesInstanceUID
    assert series.modality == "DX" and series.number_of_instances == 1


@pytest.mark.parametrize("method", ["C-GET", "C-MOVE"])
def test_retrieve_downloads_identical_pixels(dimse_node, source_studies, tmp_path, method):
    source = pydicom.dcmread(source_studies[1].path)
    client = client_for(dataclasses.replace(dimse_node, retrieve_method=method))
    progress = []
    files = client.retrieve(source.StudyInstanceUID, None, tmp_path, progress=lambda *a: progress.append(a))
    assert len(files) == 1
    got = pydicom.dcmread(files[0])
    assert got.SOPInstanceUID == source.SOPInstanceUID
    np.testing.assert_array_equal(got.pixel_array, source.pixel_array)
    assert progress and progress[-1][0] == progress[-1][1] == 1


def test_retrieve_one_series(dimse_node, source_studies, tmp_path):
    source = pydicom.dcmread(source_studies[0].path)
    files = client_for(dimse_node).retrieve(source.StudyInstanceUID, source.SeriesInstanceUID, tmp_path)
    assert [pydicom.dcmread(f).SeriesInstanceUID for f in files] == [source.SeriesInstanceUID]


def test_cancel_before_retrieve_raises_cancelled(dimse_node, source_studies, tmp_path):
    source = pydicom.dcmread(source_studies[0].path)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(PacsCancelledError):
        client_for(dimse_node).retrieve(source.StudyInstanceUID, None, tmp_path, cancel=cancel)


def test_wrong_called_ae_is_rejected_with_both_titles(dimse_node):
    node = dataclasses.replace(dimse_node, called_ae="NOT_ORTHANC", timeout_s=20)
    start = time.monotonic()
    with pytest.raises(AssociationRejectedError) as caught:
        client_for(node).echo()
    assert time.monotonic() - start < 10  # answered by the server's rejection, not by our 20 s timeout
    message = str(caught.value)
    assert isinstance(caught.value, UnknownAETitleError), message
    assert "XRAYVIEW" in message and "NOT_ORTHANC" in message and "called ae title not recognised" in message.lower()


def test_move_to_unknown_destination_names_the_ae(dimse_node, source_studies, tmp_path):
    source = pydicom.dcmread(source_studies[0].path)
    node = dataclasses.replace(dimse_node, retrieve_method="C-MOVE", move_destination_ae="NOWHERE")
    # a PACS may answer 0xA801 (UnknownAETitleError) or a general failure (Orthanc: 0xC000); both name the AE
    with pytest.raises((UnknownAETitleError, PacsOperationError), match="NOWHERE"):
        client_for(node).retrieve(source.StudyInstanceUID, None, tmp_path)


def test_stopped_server_gives_connection_error_fast(tmp_path, dimse_node):
    server = OrthancServer(tmp_path / "short-lived").start()
    node = dataclasses.replace(dimse_node, port=server.dicom_port)
    assert client_for(node).echo() > 0
    server.kill()
    start = time.monotonic()
    with pytest.raises(PacsConnectionError, match="connection refused"):
        client_for(node).echo()
    assert time.monotonic() - start < 2


def test_silent_server_times_out(dimse_node):
    # accepts TCP connections but never speaks DICOM: the association request must time out, not hang
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        node = dataclasses.replace(dimse_node, port=listener.getsockname()[1], timeout_s=1)
        start = time.monotonic()
        with pytest.raises(PacsTimeoutError):
            client_for(node).echo()
        assert time.monotonic() - start < 5


@pytest.mark.parametrize("method", ["C-GET", "C-MOVE"])
def test_cancel_during_retrieve(dimse_node, source_studies, tmp_path, method):
    source = pydicom.dcmread(source_studies[0].path)
    cancel = threading.Event()
    client = client_for(dataclasses.replace(dimse_node, retrieve_method=method))
    with pytest.raises(PacsCancelledError):
        client.retrieve(source.StudyInstanceUID, None, tmp_path, cancel=cancel,
                        progress=lambda done, total, message: cancel.set())
    # the association was aborted cleanly: the next call works
    assert client.echo() > 0


def test_cancel_during_store(dimse_node, source_studies):
    cancel = threading.Event()
    with pytest.raises(PacsCancelledError):
        client_for(dimse_node).store([source_studies[0].path], cancel=cancel,
                                     progress=lambda done, total, message: cancel.set())


def test_store_reports_an_instance_the_pacs_cannot_take(dimse_node, source_studies, orthanc):
    # Orthanc 1.10 does not accept this SOP class in JPEG-LS: that instance fails alone, the other is stored
    from pydicom.uid import JPEGLSLossless, generate_uid

    good = pydicom.dcmread(source_studies[0].path)
    good.SOPInstanceUID = good.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    odd = pydicom.dcmread(source_studies[0].path)
    odd.SOPInstanceUID = odd.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    odd.SOPClassUID = odd.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.5.1"  # ophthalmic
    odd.compress(JPEGLSLossless)
    result = client_for(dimse_node).store([good, odd])
    assert good.SOPInstanceUID in result.stored
    assert "No presentation context" in result.failed[odd.SOPInstanceUID] and not result.ok
    assert orthanc.find_instance(good.SOPInstanceUID) is not None


def test_query_from_an_ae_title_the_pacs_does_not_know(dimse_node, tmp_path):
    # Orthanc answers C-ECHO from anyone but drops C-FIND / C-GET from AE titles missing from its modalities
    node = dataclasses.replace(dimse_node, calling_ae="STRANGER", timeout_s=10)
    client = client_for(node)
    assert client.echo() > 0
    for operation in (lambda: client.find_studies(StudyQuery()), lambda: client.retrieve("1.2.3", None, tmp_path)):
        start = time.monotonic()
        with pytest.raises((PacsOperationError, PacsTimeoutError), match="STRANGER"):
            operation()
        assert time.monotonic() - start < 10
