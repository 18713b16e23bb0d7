"""DICOMweb client over requests: QIDO-RS (search), WADO-RS (retrieve instances), STOW-RS (store).

Same interface as the DIMSE client. Every request has the node's timeout; retrieval goes instance by instance so
progress is exact and cancel takes effect between instances.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

import requests
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO

from inference.errors import PacsCancelledError, PacsConnectionError, PacsOperationError, PacsTimeoutError
from inference.pacs.nodes import DicomWebNode
from inference.pacs.query import (
    ProgressFn,
    SERIES_RETURN_KEYS,
    STUDY_RETURN_KEYS,
    SeriesResult,
    StoreResult,
    StudyQuery,
    StudyResult,
    instance_path,
)

DICOM_JSON = "application/dicom+json"
MULTIPART_DICOM = 'multipart/related; type="application/dicom"'


def _no_progress(done: int, total: int, message: str) -> None:
    return None


class DicomWebClient:
    def __init__(self, node: DicomWebNode):
        self.node = node
        self._session = requests.Session()
        if node.username:
            self._session.auth = (node.username, node.password)
        self._session.verify = node.verify_tls

    # --- public operations -------------------------------------------------------------------------------------
    def echo(self) -> float:
        """A minimal QIDO-RS query; returns the round trip in milliseconds."""
        start = time.monotonic()
        self._request("GET", "/studies", params={"limit": "1"}, headers={"Accept": DICOM_JSON})
        return (time.monotonic() - start) * 1000.0

    def find_studies(self, query: StudyQuery, cancel: threading.Event | None = None) -> list[StudyResult]:
        params: dict = dict(query.matching_keys())
        params["includefield"] = list(STUDY_RETURN_KEYS)  # repeated parameter: the form every server accepts
        return [StudyResult.from_attributes(lambda k, d=ds: d.get(k)) for ds in self._qido("/studies", params)]

    def find_series(self, study_instance_uid: str, cancel: threading.Event | None = None) -> list[SeriesResult]:
        params = {"includefield": list(SERIES_RETURN_KEYS)}
        found = self._qido(f"/studies/{study_instance_uid}/series", params)
        results = []
        for ds in found:
            if "StudyInstanceUID" not in ds:
                ds.StudyInstanceUID = study_instance_uid
            results.append(SeriesResult.from_attributes(lambda k, d=ds: d.get(k)))
        return sorted(results, key=lambda s: (s.series_number is None, s.series_number or 0))

    def find_instances(self, study_instance_uid: str, series_instance_uid: str | None = None) -> list[Dataset]:
        path = f"/studies/{study_instance_uid}"
        path += f"/series/{series_instance_uid}/instances" if series_instance_uid else "/instances"
        return self._qido(path, {"includefield": ["SeriesInstanceUID", "SOPInstanceUID"]})

    def retrieve(self, study_instance_uid: str, series_instance_uid: str | None, dest_dir: str | Path, *,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> list[Path]:
        """WADO-RS: downloads every instance of the study (or series) into dest_dir; returns the files."""
        report = progress or _no_progress
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        instances = self.find_instances(study_instance_uid, series_instance_uid)
        written: list[Path] = []
        for index, inst in enumerate(instances):
            self._raise_if_cancelled(cancel)
            report(index, len(instances), f"WADO-RS: {index} of {len(instances)} images")
            self._raise_if_cancelled(cancel)
            series_uid = inst.get("SeriesInstanceUID", series_instance_uid)
            url = (f"/studies/{study_instance_uid}/series/{series_uid}/instances/{inst.SOPInstanceUID}")
            response = self._request("GET", url, headers={"Accept": f"{MULTIPART_DICOM}; transfer-syntax=*"})
            for part in _multipart_parts(response, self.node.label):
                dataset = dcmread(BytesIO(part), force=True)
                path = instance_path(dest, dataset.SOPInstanceUID)
                path.write_bytes(part)
                written.append(path)
        report(len(instances), len(instances), "WADO-RS complete")
        return sorted(set(written))

    def store(self, items: Iterable[str | Path | Dataset], *, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> StoreResult:
        """STOW-RS, one request per instance so progress and cancel work; rejected instances are listed."""
        report = progress or _no_progress
        payloads = [_part10_bytes(item) for item in items]
        result = StoreResult()
        for index, (sop_uid, payload) in enumerate(payloads):
            self._raise_if_cancelled(cancel)
            report(index, len(payloads), f"STOW-RS: sending {sop_uid}")
            self._raise_if_cancelled(cancel)
            boundary = uuid.uuid4().hex
            body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + payload
                    + f"\r\n--{boundary}--\r\n".encode())
            headers = {"Content-Type": f'{MULTIPART_DICOM}; boundary={boundary}', "Accept": DICOM_JSON}
            response = self._request("POST", "/studies", data=body, headers=headers, accept_status=(409,))
            failure = _stow_failure(response, sop_uid)
            if failure:
                result.failed[sop_uid] = failure
            else:
                result.stored.append(sop_uid)
        report(len(payloads), len(payloads), "STOW-RS complete")
        return result

    # --- internals ---------------------------------------------------------------------------------------------
    def _qido(self, path: str, params: dict) -> list[Dataset]:
        response = self._request("GET", f"{path}?{_query_string(params)}", headers={"Accept": DICOM_JSON})
        if response.status_code == 204 or not response.content.strip():
            return []
        try:
            return [Dataset.from_json(item) for item in response.json()]
        except (ValueError, TypeError, KeyError) as error:
            raise PacsOperationError(self.node.label, f"QIDO-RS answer is not DICOM JSON: {error}") from None

    def _request(self, method: str, path: str, accept_status: tuple[int, ...] = (), **kwargs) -> requests.Response:
        url = f"{self.node.base_url}{path}"
        try:
            response = self._session.request(method, url, timeout=self.node.timeout_s, **kwargs)
        except requests.Timeout:
            raise PacsTimeoutError(self.node.label, f"no answer from {url} within {self.node.timeout_s:g} s") from None
        except requests.ConnectionError as error:
            raise PacsConnectionError(self.node.label, f"cannot connect to {self.node.base_url} "
                                                       f"(server stopped, wrong host or port): {_root_cause(error)}") from None
        except requests.RequestException as error:
            raise PacsOperationError(self.node.label, f"{method} {url} failed: {error}") from None
        if response.status_code in (401, 403):
            raise PacsOperationError(self.node.label, f"access denied ({response.status_code}): check user/password")
        if response.status_code >= 400 and response.status_code not in accept_status:
            detail = response.text.strip()[:300]
            raise PacsOperationError(self.node.label, f"{method} {url} answered HTTP {response.status_code}"
                                                      + (f": {detail}" if detail else ""))
        return response

    def _raise_if_cancelled(self, cancel: threading.Event | None) -> None:
        if cancel is not None and cancel.is_set():
            raise PacsCancelledError(self.node.label, "cancelled by the user")


def _query_string(params: dict) -> str:
    """QIDO-RS parameters with wildcards and DICOM separators left literal: some servers (Orthanc) match the
    raw text, so a percent-encoded '*' would never act as a wildcard."""
    pairs = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append(f"{quote(str(key), safe='')}={quote(str(item), safe='*?^,-.:')}")
    return "&".join(pairs)


def _root_cause(error: Exception) -> str:
    while error.__cause__ is not None or (error.args and isinstance(error.args[0], Exception)):
        error = error.__cause__ or error.args[0]
    return str(error)


def _multipart_parts(response: requests.Response, node_label: str) -> list[bytes]:
    """The bodies of a multipart/related answer (WADO-RS)."""
    content_type = response.headers.get("Content-Type", "")
    boundary = None
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip().strip('"')
    if not content_type.lower().startswith("multipart/") or not boundary:
        raise PacsOperationError(node_label, f"WADO-RS answer is not multipart (Content-Type {content_type!r})")
    delimiter = b"--" + boundary.encode()
    parts = []
    for chunk in response.content.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        header_end = chunk.find(b"\r\n\r\n")
        if header_end < 0:
            continue
        body = chunk[header_end + 4:]
        parts.append(body[:-2] if body.endswith(b"\r\n") else body)
    return parts


def _part10_bytes(item: str | Path | Dataset) -> tuple[str, bytes]:
    if isinstance(item, Dataset):
        buffer = DicomBytesIO()
        item.save_as(buffer, enforce_file_format=True)
        return str(item.SOPInstanceUID), buffer.getvalue()
    data = Path(item).read_bytes()
    header = dcmread(BytesIO(data), stop_before_pixels=True)
    return str(header.SOPInstanceUID), data


def _stow_failure(response: requests.Response, sop_uid: str) -> str | None:
    """None when the instance was stored, else the reason from the STOW-RS response."""
    try:
        answer = Dataset.from_json(response.json()) if response.content.strip() else Dataset()
    except ValueError:
        answer = Dataset()
    for item in answer.get("FailedSOPSequence", []):
        if item.get("ReferencedSOPInstanceUID") == sop_uid:
            return f"rejected by the server (failure reason {item.get('FailureReason', '?')})"
    stored = {str(item.get("ReferencedSOPInstanceUID")) for item in answer.get("ReferencedSOPSequence", [])}
    if sop_uid in stored:
        return None
    if response.status_code >= 400:
        return f"HTTP {response.status_code}"
    return "the server did not confirm storing it"
