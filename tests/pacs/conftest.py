"""Fixtures for the PACS tests: one real Orthanc per module, DICOMs made from real radiographs, a tiny model."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from inference.pacs import DicomWebNode, DimseNode
from tests.helpers.dicom_factory import make_dicom_from_image
from tests.helpers.orthanc import OrthancServer
from tests.helpers.tiny_models import make_tiny_bundle


@dataclass(frozen=True)
class SourceStudy:
    path: Path
    patient_name: str
    patient_id: str
    study_date: str
    accession: str
    modality: str
    image_file: Path


# Two patients, different dates / modalities / accession numbers, so each search criterion can miss as well as hit.
STUDIES = (
    ("DOE^JANE", "PID-1001", "20240115", "ACC-7001", "DX", "chest-xray-pneumonia/train/NORMAL"),
    ("ROE^RICHARD", "PID-2002", "20240320", "ACC-7002", "CR", "chest-xray-pneumonia/train/PNEUMONIA"),
)


@pytest.fixture(scope="module")
def source_studies(shared_data, tmp_path_factory) -> list[SourceStudy]:
    out = tmp_path_factory.mktemp("sources")
    studies = []
    for index, (name, pid, date, accession, modality, folder) in enumerate(STUDIES):
        image_file = sorted((shared_data / folder).glob("*.jp*g"))[index]
        path = make_dicom_from_image(image_file, out / f"source{index}.dcm", size=160, modality=modality,
                                     patient=(name, pid),
                                     extra={"StudyDate": date, "SeriesDate": date, "AccessionNumber": accession})
        studies.append(SourceStudy(path, name, pid, date, accession, modality, image_file))
    return studies


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory, source_studies):
    server = OrthancServer(tmp_path_factory.mktemp("orthanc")).start()
    try:
        for study in source_studies:
            assert server.upload(study.path.read_bytes())["Status"] == "Success"
        yield server
    finally:
        server.stop()


@pytest.fixture()
def dimse_node(orthanc) -> DimseNode:
    return DimseNode(name="test-orthanc", called_ae=orthanc.ae_title, host="127.0.0.1", port=orthanc.dicom_port,
                     calling_ae=orthanc.client_ae_title, timeout_s=5, local_scp_port=orthanc.client_scp_port,
                     local_scp_bind="127.0.0.1")


@pytest.fixture()
def dicomweb_node(orthanc) -> DicomWebNode:
    return DicomWebNode(name="test-orthanc-web", base_url=orthanc.dicomweb_url, timeout_s=5)


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")
