"""DIMSE client over pynetdicom: C-ECHO, C-FIND (study / series), C-GET or C-MOVE retrieve, C-STORE.

Every call opens its own association and has a timeout at each step (TCP connect, association, each DIMSE
message), so a dead or silent server gives a PacsError quickly instead of a hang.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, StoragePresentationContexts, build_role, evt
from pynetdicom.pdu_primitives import A_ABORT, A_ASSOCIATE, A_P_ABORT
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)
from pynetdicom.status import code_to_category

from inference.errors import (
    AssociationRejectedError,
    PacsCancelledError,
    PacsConnectionError,
    PacsOperationError,
    PacsTimeoutError,
    UnknownAETitleError,
)
from inference.pacs.nodes import DimseNode
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

# offered for every storage SOP class we accept, so the PACS can send what it holds without transcoding
ACCEPTED_TRANSFER_SYNTAXES = [
    ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit,
    JPEGExtended12Bit, JPEGLosslessSV1, JPEGLossless, JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless,
    JPEG2000, RLELossless,
]
STATUS_SUCCESS, STATUS_CANCEL = 0x0000, 0xFE00
STATUS_MOVE_DESTINATION_UNKNOWN = 0xA801
_AE_TITLE_REASONS = ("calling ae title not recognised", "called ae title not recognised")

# pynetdicom logs every association at INFO and failures at ERROR; we report failures through exceptions instead
logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)


def _no_progress(done: int, total: int, message: str) -> None:
    return None


class DimseClient:
    def __init__(self, node: DimseNode):
        self.node = node
        self._operation_started = time.monotonic()

    # --- public operations -------------------------------------------------------------------------------------
    def echo(self) -> float:
        """C-ECHO; returns the round trip in milliseconds."""
        start = time.monotonic()
        with self._association([Verification]) as assoc:
            status = assoc.send_c_echo()
            self._check_final_status(status, "C-ECHO", assoc)
        return (time.monotonic() - start) * 1000.0

    def find_studies(self, query: StudyQuery, cancel: threading.Event | None = None) -> list[StudyResult]:
        identifier = _identifier("STUDY", STUDY_RETURN_KEYS, query.matching_keys())
        return [StudyResult.from_attributes(lambda k, d=ds: d.get(k)) for ds in self._find(identifier, cancel)]

    def find_series(self, study_instance_uid: str, cancel: threading.Event | None = None) -> list[SeriesResult]:
        identifier = _identifier("SERIES", SERIES_RETURN_KEYS, {"StudyInstanceUID": study_instance_uid})
        results = [SeriesResult.from_attributes(lambda k, d=ds: d.get(k)) for ds in self._find(identifier, cancel)]
        return sorted(results, key=lambda s: (s.series_number is None, s.series_number or 0))

    def retrieve(self, study_instance_uid: str, series_instance_uid: str | None, dest_dir: str | Path, *,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> list[Path]:
        """Downloads a study (or one series) into dest_dir with C-GET or C-MOVE; returns the files written."""
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "SERIES" if series_instance_uid else "STUDY"
        identifier.StudyInstanceUID = study_instance_uid
        if series_instance_uid:
            identifier.SeriesInstanceUID = series_instance_uid
        received: list[Path] = []
        lock = threading.Lock()

        def on_store(event) -> int:
            try:
                dataset = event.dataset
                dataset.file_meta = event.file_meta
                path = instance_path(dest, dataset.SOPInstanceUID)
                dataset.save_as(path, enforce_file_format=True)
            except Exception:  # noqa: BLE001 - tell the PACS this one failed, keep the association going
                return 0xA700
            with lock:
                received.append(path)
            return STATUS_SUCCESS

        if self.node.retrieve_method == "C-MOVE":
            self._retrieve_by_move(identifier, on_store, progress or _no_progress, cancel)
        else:
            self._retrieve_by_get(identifier, on_store, progress or _no_progress, cancel)
        with lock:
            return sorted(set(received))

    def store(self, items: Iterable[str | Path | Dataset], *, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> StoreResult:
        """C-STORE each file or dataset; a rejected instance is listed in the result, a network failure raises."""
        datasets = [item if isinstance(item, Dataset) else _read_for_store(item, self.node.label) for item in items]
        report = progress or _no_progress
        result = StoreResult()
        contexts: dict[str, set[str]] = {}
        for ds in datasets:
            syntaxes = contexts.setdefault(str(ds.SOPClassUID), {ExplicitVRLittleEndian, ImplicitVRLittleEndian})
            syntaxes.add(str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in getattr(ds, "file_meta", {})
                         else ExplicitVRLittleEndian)
        with self._association([(uid, sorted(ts)) for uid, ts in contexts.items()]) as assoc:
            for index, ds in enumerate(datasets):
                _raise_if_cancelled(cancel, self.node.label, assoc)
                report(index, len(datasets), f"sending {ds.SOPInstanceUID}")
                _raise_if_cancelled(cancel, self.node.label, assoc)
                try:
                    status = assoc.send_c_store(ds, msg_id=index + 1)
                except (ValueError, AttributeError) as error:  # no accepted context for its SOP class / syntax
                    result.failed[str(ds.SOPInstanceUID)] = f"not sent: {error}"
                    continue
                code = self._status_code(status, "C-STORE", assoc)
                if code_to_category(code) in ("Success", "Warning"):
                    result.stored.append(str(ds.SOPInstanceUID))
                else:
                    result.failed[str(ds.SOPInstanceUID)] = _describe_status(status, code)
            report(len(datasets), len(datasets), "sent")
        return result

    # --- internals ---------------------------------------------------------------------------------------------
    def _find(self, identifier: Dataset, cancel: threading.Event | None) -> list[Dataset]:
        matches: list[Dataset] = []
        with self._association([StudyRootQueryRetrieveInformationModelFind]) as assoc:
            for status, found in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
                code = self._status_code(status, "C-FIND", assoc)
                if code in (0xFF00, 0xFF01):
                    if found is not None:
                        matches.append(found)
                    _raise_if_cancelled(cancel, self.node.label, assoc)
                elif code != STATUS_SUCCESS:
                    raise PacsOperationError(self.node.label, f"C-FIND failed: {_describe_status(status, code)}")
        return matches

    def _retrieve_by_get(self, identifier: Dataset, on_store, report: ProgressFn,
                         cancel: threading.Event | None) -> None:
        model = StudyRootQueryRetrieveInformationModelGet
        contexts = [model] + [(cx.abstract_syntax, ACCEPTED_TRANSFER_SYNTAXES) for cx in StoragePresentationContexts]
        # C-GET sends the images back on the same association, so we must accept the SCP role for storage
        roles = [build_role(cx.abstract_syntax, scp_role=True) for cx in StoragePresentationContexts]
        with self._association(contexts, ext_neg=roles, handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
            responses = assoc.send_c_get(identifier, model)
            self._follow_retrieve(responses, "C-GET", assoc, report, cancel)

    def _retrieve_by_move(self, identifier: Dataset, on_store, report: ProgressFn,
                          cancel: threading.Event | None) -> None:
        node = self.node
        scp_ae = AE(ae_title=node.move_destination)
        for cx in StoragePresentationContexts:
            scp_ae.add_supported_context(cx.abstract_syntax, ACCEPTED_TRANSFER_SYNTAXES)
        _apply_timeouts(scp_ae, node.timeout_s)
        try:
            server = scp_ae.start_server((node.local_scp_bind, node.local_scp_port), block=False,
                                         evt_handlers=[(evt.EVT_C_STORE, on_store)])
        except OSError as error:
            raise PacsConnectionError(node.label, f"cannot listen for C-MOVE results on port "
                                                  f"{node.local_scp_port}: {error.strerror or error}") from None
        try:
            model = StudyRootQueryRetrieveInformationModelMove
            with self._association([model]) as assoc:
                responses = assoc.send_c_move(identifier, node.move_destination, model)
                self._follow_retrieve(responses, "C-MOVE", assoc, report, cancel)
        finally:
            server.shutdown()

    def _follow_retrieve(self, responses: Iterator, operation: str, assoc, report: ProgressFn,
                         cancel: threading.Event | None) -> None:
        for status, _identifier in responses:
            code = self._status_code(status, operation, assoc)
            done = sum(int(status.get(k, 0) or 0) for k in ("NumberOfCompletedSuboperations",
                                                              "NumberOfFailedSuboperations",
                                                              "NumberOfWarningSuboperations"))
            total = done + int(status.get("NumberOfRemainingSuboperations", 0) or 0)
            if code in (0xFF00, 0xFF01):
                report(done, total, f"{operation}: {done} of {total} images")
                _raise_if_cancelled(cancel, self.node.label, assoc)
                continue
            if code == STATUS_MOVE_DESTINATION_UNKNOWN:
                raise UnknownAETitleError(self.node.label, self.node.calling_ae, self.node.called_ae,
                                          f"the PACS does not know the C-MOVE destination "
                                          f"{self.node.move_destination!r}; add it to the PACS's modalities")
            failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
            if code == STATUS_CANCEL:
                raise PacsCancelledError(self.node.label, f"{operation} cancelled")
            if code_to_category(code) == "Failure" or failed:
                hint = ""
                if operation == "C-MOVE" and not done:
                    hint = (f"; check that the PACS knows the C-MOVE destination {self.node.move_destination!r} "
                            f"with this computer's address and port {self.node.local_scp_port}")
                raise PacsOperationError(self.node.label, f"{operation} failed ({failed} images not received): "
                                                          f"{_describe_status(status, code)}{hint}")
            report(total if total else done, total if total else done, f"{operation} complete")
            _raise_if_cancelled(cancel, self.node.label, assoc)

    def _status_code(self, status: Dataset, operation: str, assoc) -> int:
        """The status code; an empty status means the peer went silent or dropped the association."""
        if status is None or "Status" not in status:
            waited = time.monotonic() - self._operation_started
            hint = (f" (the PACS may refuse {operation} from AE title {self.node.calling_ae!r}: check that it "
                    "lists this AE title with this computer's address)"
                    if operation in ("C-FIND", "C-GET", "C-MOVE") else "")
            if waited >= self.node.timeout_s * 0.9:
                raise PacsTimeoutError(self.node.label, f"{operation}: no answer within {self.node.timeout_s:g} s"
                                                        f"{hint}")
            raise PacsOperationError(self.node.label, f"{operation}: the server closed the association without "
                                                      f"answering{hint}")
        return int(status.Status)

    def _check_final_status(self, status: Dataset, operation: str, assoc) -> None:
        code = self._status_code(status, operation, assoc)
        if code != STATUS_SUCCESS:
            raise PacsOperationError(self.node.label, f"{operation} failed: {_describe_status(status, code)}")

    @contextmanager
    def _association(self, contexts: list, ext_neg: list | None = None, handlers: list | None = None):
        node = self.node
        _check_reachable(node)
        ae = AE(ae_title=node.calling_ae)
        _apply_timeouts(ae, node.timeout_s)
        for context in contexts:
            if isinstance(context, tuple):
                ae.add_requested_context(*context)
            else:
                ae.add_requested_context(context)
        self._operation_started = time.monotonic()
        received: list = []
        all_handlers = [(evt.EVT_ACSE_RECV, lambda event: received.append(event.primitive))] + list(handlers or [])
        start = time.monotonic()
        assoc = ae.associate(node.host, node.port, ae_title=node.called_ae, ext_neg=ext_neg,
                             evt_handlers=all_handlers)
        if not assoc.is_established:
            self._raise_for_failed_association(assoc, received, time.monotonic() - start)
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()
            ae.shutdown()

    def _raise_for_failed_association(self, assoc, received: list, elapsed: float) -> None:
        node = self.node
        answer = next((p for p in received if isinstance(p, (A_ASSOCIATE, A_ABORT, A_P_ABORT))), None)
        if isinstance(answer, A_ASSOCIATE) and answer.result in (0x01, 0x02):
            reason = f"{answer.reason_str} ({answer.result_str}, by the {answer.source_str})"
            error_cls = (UnknownAETitleError if answer.reason_str.lower() in _AE_TITLE_REASONS
                         else AssociationRejectedError)
            raise error_cls(node.label, node.calling_ae, node.called_ae, reason)
        if assoc.is_rejected:
            raise AssociationRejectedError(node.label, node.calling_ae, node.called_ae, "rejected by the server")
        if isinstance(answer, A_ASSOCIATE) and not assoc.accepted_contexts:
            raise PacsOperationError(node.label, "the server accepted the association but none of the requested "
                                                 "services (presentation contexts)")
        if answer is not None:
            raise PacsConnectionError(node.label, "the server aborted the association request")
        if elapsed >= node.timeout_s * 0.9:
            raise PacsTimeoutError(node.label, f"no answer to the association request within {node.timeout_s:g} s")
        raise PacsConnectionError(node.label, "the connection closed before the association was established")


def _apply_timeouts(ae: AE, timeout_s: float) -> None:
    ae.connection_timeout = timeout_s
    ae.acse_timeout = timeout_s
    ae.dimse_timeout = timeout_s
    ae.network_timeout = timeout_s
    ae.maximum_pdu_size = 0  # no limit on what we receive


def _check_reachable(node: DimseNode) -> None:
    """A plain TCP connect first, so 'not running', 'unknown host' and 'no route' get their own clear errors."""
    try:
        with socket.create_connection((node.host, node.port), timeout=node.timeout_s):
            pass
    except socket.gaierror as error:
        raise PacsConnectionError(node.label, f"unknown host {node.host!r} ({error.strerror})") from None
    except TimeoutError:
        raise PacsTimeoutError(node.label, f"no TCP answer within {node.timeout_s:g} s "
                                           "(host down or a firewall drops the connection)") from None
    except ConnectionRefusedError:
        raise PacsConnectionError(node.label, f"connection refused: nothing listens on {node.host}:{node.port} "
                                              "(server stopped or wrong port)") from None
    except OSError as error:
        raise PacsConnectionError(node.label, f"cannot connect: {error.strerror or error}") from None


def _identifier(level: str, return_keys: Iterable[str], matches: dict[str, str]) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword in return_keys:
        setattr(ds, keyword, "")
    for keyword, value in matches.items():
        setattr(ds, keyword, value)
    return ds


def _read_for_store(path: str | Path, node_label: str) -> Dataset:
    try:
        return dcmread(path)
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported with its name
        raise PacsOperationError(node_label, f"cannot send {path}: not a readable DICOM file ({error})") from None


def _raise_if_cancelled(cancel: threading.Event | None, node_label: str, assoc) -> None:
    if cancel is not None and cancel.is_set():
        assoc.abort()
        raise PacsCancelledError(node_label, "cancelled by the user")


def _describe_status(status: Dataset, code: int) -> str:
    comment = str(status.get("ErrorComment", "") or "").strip()
    text = f"status 0x{code:04X} ({code_to_category(code)})"
    return f"{text}: {comment}" if comment else text
