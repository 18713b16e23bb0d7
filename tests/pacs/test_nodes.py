"""PACS node settings: validation with clear errors, and a dict round trip for persistence."""
from __future__ import annotations

import datetime as dt

import pytest

from inference.errors import PacsConfigError
from inference.pacs import DicomWebNode, DimseNode, StudyQuery, node_from_dict, node_to_dict


def test_round_trip_through_dicts():
    dimse = DimseNode("Main PACS", "PACS1", "pacs.example", 104, calling_ae="VIEWER", retrieve_method="C-MOVE",
                      local_scp_port=11113, move_destination_ae="VIEWER_SCP")
    web = DicomWebNode("Web", "https://pacs.example/dicom-web/", timeout_s=30, username="u", password="p")
    assert node_from_dict(node_to_dict(dimse)) == dimse
    assert node_from_dict(node_to_dict(web)) == web
    assert web.base_url == "https://pacs.example/dicom-web"  # trailing slash dropped
    # QSettings hands numbers back as strings
    assert node_from_dict({**node_to_dict(dimse), "port": "104", "local_scp_port": "11113"}) == dimse


@pytest.mark.parametrize("kwargs, message", [
    (dict(called_ae=""), "called AE title is empty"),
    (dict(called_ae="A" * 17), "longer than 16"),
    (dict(calling_ae="BAD\\AE"), "not allowed"),
    (dict(port=0), "not a TCP port"),
    (dict(port=70000), "not a TCP port"),
    (dict(host=" "), "host is empty"),
    (dict(retrieve_method="C-TELEPORT"), "retrieve method"),
    (dict(timeout_s=0), "timeout"),
])
def test_invalid_dimse_settings(kwargs, message):
    base = dict(name="n", called_ae="PACS", host="127.0.0.1", port=104)
    with pytest.raises(PacsConfigError, match=message):
        DimseNode(**{**base, **kwargs})


def test_invalid_dicomweb_url_and_kind():
    with pytest.raises(PacsConfigError, match="http"):
        DicomWebNode("w", "ftp://pacs/dicom-web")
    with pytest.raises(PacsConfigError, match="unknown node kind"):
        node_from_dict({"kind": "fax", "name": "x"})
    with pytest.raises(PacsConfigError, match="incomplete"):
        node_from_dict({"kind": "dimse", "name": "x"})


def test_query_matching_keys():
    query = StudyQuery(patient_id=" PID-1 ", patient_name="doe", date_from=dt.date(2024, 1, 2),
                       modality="cr", accession_number="A1")
    assert query.matching_keys() == {"PatientID": "PID-1", "PatientName": "doe*", "StudyDate": "20240102-",
                                     "ModalitiesInStudy": "CR", "AccessionNumber": "A1"}
    assert StudyQuery(patient_name="D?E*").matching_keys() == {"PatientName": "D?E*"}
    day = dt.date(2024, 5, 6)
    assert StudyQuery(date_from=day, date_to=day).matching_keys() == {"StudyDate": "20240506"}
    assert StudyQuery().matching_keys() == {}
