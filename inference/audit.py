"""Append-only, hash-chained audit log of every AI result (viewer, batch, CLI): one JSON object per line.

Crash safety: each record is encoded first and written with ONE write() on a descriptor opened with O_APPEND,
then fsync'ed, so a crash can at worst leave the last line incomplete; the next writer starts a fresh line after
such a fragment, and the reader skips (and reports) lines that do not parse. Earlier lines are never rewritten.

Tamper evidence (schema 2): every record carries `seq` (1, 2, 3, ...) and `prev`, the SHA-256 of the previous
record's line exactly as stored (64 zeros for the first record of a log). Writers hold an exclusive lock on the log
while they read its last record and append, so concurrent viewer/CLI writers keep one chain. `read_audit_log`
verifies the chain: an edited record breaks the link to the record after it; removed or inserted records break
the sequence or the links. What it cannot show from the file alone: the newest records cut off at the end (the
last `seq` and hash are shown so they can be compared with a copy), or a whole log rewritten with a freshly
computed chain (there is no secret key). Records written before the chain (schema 1) are counted as unchained.

Privacy: `source_path_policy="folder"` stores only the folder of the source file (and, as always, its SHA-256),
for file names that identify a patient (e.g. DOE_JOHN_MRN123456.dcm).

The log lives in the user data folder; XRAYVIEW_AUDIT_LOG (a file) or XRAYVIEW_DATA_DIR (a folder) override it.
"""
from __future__ import annotations

import csv
import datetime as dt
import getpass
import hashlib
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.errors import AuditLogError
from inference.file_hash import sha256_file
from inference.json_output import json_safe, text
from inference.results import decide_call, near_threshold_cell

AUDIT_LOG_ENV = "XRAYVIEW_AUDIT_LOG"
DATA_DIR_ENV = "XRAYVIEW_DATA_DIR"
ORIGINS = ("viewer", "batch", "cli")
SOURCE_PATH_POLICIES = ("full", "folder")
SCHEMA_VERSION = 2
GENESIS_HASH = "0" * 64


def default_audit_log_path() -> Path:
    """XRAYVIEW_AUDIT_LOG, else <data dir>/audit/ai-results.jsonl (XRAYVIEW_DATA_DIR or the platform's per-user
    data folder: %LOCALAPPDATA%\\XRayView, ~/Library/Application Support/XRayView, $XDG_DATA_HOME/XRayView)."""
    override = os.environ.get(AUDIT_LOG_ENV)
    if override:
        return Path(override)
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        base = Path(data_dir)
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "XRayView"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "XRayView"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "XRayView"
    return base / "audit" / "ai-results.jsonl"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (some containers/services): still log the result
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def make_record(prediction: Any, *, source_path: str | Path | None = None, sop_instance_uid: str | None = None,
                origin: str = "viewer", source_sha256: str | None = None,
                show_anyway: bool = False, source_path_policy: str = "full") -> dict[str, Any]:
    """The audit record for one prediction (what append_ai_result writes; `seq`/`prev` are added on append).
    "call" follows the one call rule (inference.results: None when the OOD guard warned, unless an expert asked
    to see it, `show_anyway`); "call_status" says which, "near_threshold" whether the call lies within the card's
    call margin of the threshold, and "ood" keeps the guard's verdict. `source_path_policy`
    "folder" keeps only the source file's folder (and its SHA-256), not its name."""
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
    if source_path_policy not in SOURCE_PATH_POLICIES:
        raise ValueError(f"source_path_policy must be one of {SOURCE_PATH_POLICIES}, got {source_path_policy!r}")
    if source_path is None and not sop_instance_uid and not source_sha256:
        raise ValueError("an audit record needs the source file or its SOP Instance UID")
    if source_path is not None and source_sha256 is None:
        try:
            source_sha256 = sha256_file(source_path)
        except OSError as error:
            raise AuditLogError(source_path, f"cannot hash the source file for the audit log: "
                                             f"{error.strerror or error}") from None
    model = dict(getattr(prediction, "model", None) or {})
    ood = getattr(prediction, "ood", None)
    call = decide_call(prediction.probabilities, getattr(prediction, "positive_label", None),
                       getattr(prediction, "threshold", None), ood, show_anyway=show_anyway,
                       margin=getattr(prediction, "call_margin", None))
    return {
        "schema": SCHEMA_VERSION,
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user": _os_user(),
        "origin": origin,
        **_source_fields(source_path, source_path_policy),
        "source_sha256": source_sha256,
        "sop_instance_uid": str(sop_instance_uid) if sop_instance_uid else None,
        "model": {k: model.get(k) for k in ("name", "version", "sha256", "manifest_sha256")},
        "device": str(getattr(prediction, "device", "") or ""),
        "probabilities": {str(k): float(v) for k, v in prediction.probabilities.items()},
        "threshold": getattr(prediction, "threshold", None),
        "positive_label": getattr(prediction, "positive_label", None),
        "call": call.label,
        "call_status": call.status,
        "near_threshold": call.near_threshold,  # None: the model's card has no call margin
        "ood": ood.to_json() if ood is not None else None,
        "cam_method": getattr(prediction, "cam_method", None),
    }


def _source_fields(source_path: str | Path | None, policy: str) -> dict[str, Any]:
    if source_path is None:
        return {"source_path": None}
    if policy == "folder":
        return {"source_path": None, "source_folder": text(str(Path(source_path).parent))}
    return {"source_path": text(str(source_path))}


def append_ai_result(prediction: Any, *, source_path: str | Path | None = None,
                     sop_instance_uid: str | None = None, origin: str = "viewer",
                     log_path: str | Path | None = None, show_anyway: bool = False,
                     source_path_policy: str = "full") -> dict[str, Any]:
    """Appends one JSON line for `prediction` to the audit log and returns the record written.

    For a DICOM source pass its SOP Instance UID as well (the viewer has it in image.metadata)."""
    record = make_record(prediction, source_path=source_path, sop_instance_uid=sop_instance_uid, origin=origin,
                         show_anyway=show_anyway, source_path_policy=source_path_policy)
    append_record(record, log_path)
    return record


def append_ai_result_for_image(prediction: Any, image: Any, *, origin: str = "viewer",
                               log_path: str | Path | None = None, show_anyway: bool = False,
                               source_path_policy: str = "full") -> dict[str, Any]:
    """The one call for the viewer, batch runs and the CLI: takes the file and SOP Instance UID from a loaded
    XRayImage."""
    metadata = getattr(image, "metadata", None) or {}
    source_path = getattr(image, "path", None)
    sop_instance_uid = metadata.get("SOPInstanceUID") or None
    return append_ai_result(prediction, source_path=source_path, sop_instance_uid=sop_instance_uid, origin=origin,
                            log_path=log_path, show_anyway=show_anyway, source_path_policy=source_path_policy)


def line_hash(line: bytes) -> str:
    """The chain's hash of one stored record line (without its newline)."""
    return hashlib.sha256(line).hexdigest()


def append_record(record: dict[str, Any], log_path: str | Path | None = None) -> Path:
    """Appends `record` (adding its `seq` and `prev` chain fields, in place) under the log's exclusive lock.
    Non-finite numbers are stored as null (strict JSON), also in `record`."""
    path = Path(log_path) if log_path is not None else default_audit_log_path()
    safe = json_safe(record)
    record.clear()
    record.update(safe)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags, 0o600)
        try:
            with _exclusive_lock(fd, path):
                last = _last_record_line(fd)
                if last is None:
                    record["seq"], record["prev"] = 1, GENESIS_HASH
                else:
                    raw, previous = last
                    seq = previous.get("seq")
                    record["seq"] = seq + 1 if isinstance(seq, int) and not isinstance(seq, bool) else 1
                    record["prev"] = line_hash(raw)
                encoded = json.dumps(record, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")
                line = encoded + b"\n"
                if _ends_mid_line(fd):
                    line = b"\n" + line  # a crashed writer left a fragment: keep it on its own line
                written = os.write(fd, line)
                if written != len(line):
                    raise AuditLogError(path, f"only {written} of {len(line)} bytes reached the audit log "
                                              "(disk full?)")
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        raise AuditLogError(path, f"cannot write the audit log: {error.strerror or error}") from None
    return path


@contextmanager
def _exclusive_lock(fd: int, path: Path):
    """One writer at a time (between processes too), so that two writers never extend the chain from the same
    record. POSIX: flock on the log; Windows: a lock on byte 0 of the log (msvcrt retries for ~10 s)."""
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return
    import msvcrt  # Windows

    lock_fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        msvcrt.locking(lock_fd, msvcrt.LK_LOCK, 1)
        try:
            yield
        finally:
            os.lseek(lock_fd, 0, os.SEEK_SET)
            msvcrt.locking(lock_fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(lock_fd)


def _last_record_line(fd: int) -> tuple[bytes, dict[str, Any]] | None:
    """The last line of the log that is a complete JSON record, read backwards from the end (a torn fragment at
    the end is passed over), or None for a log without records."""
    size = os.fstat(fd).st_size
    chunk = 1 << 16
    while True:
        start = max(0, size - chunk)
        data = os.pread(fd, size - start, start) if hasattr(os, "pread") else _read_at(fd, start, size - start)
        lines = data.split(b"\n")
        if start > 0:
            lines = lines[1:]  # may be the tail of a line that began before this chunk
        for raw in reversed(lines):
            record = _parse(raw)
            if record is not None:
                return raw, record
        if start == 0:
            return None
        chunk *= 4


def _read_at(fd: int, offset: int, count: int) -> bytes:
    position = os.lseek(fd, 0, os.SEEK_CUR)
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, count)
    finally:
        os.lseek(fd, position, os.SEEK_SET)


def _parse(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _ends_mid_line(fd: int) -> bool:
    size = os.fstat(fd).st_size
    if size == 0:
        return False
    last = os.pread(fd, 1, size - 1) if hasattr(os, "pread") else _read_at(fd, size - 1, 1)
    return last != b"\n"


@dataclass
class AuditLogContents:
    records: list[dict[str, Any]] = field(default_factory=list)
    # (1-based line number, reason) of lines that were skipped, e.g. the fragment a crash left behind
    skipped: list[tuple[int, str]] = field(default_factory=list)
    # the hash chain: (1-based line number, what is wrong) for every place it breaks
    chain_breaks: list[tuple[int, str]] = field(default_factory=list)
    chained: int = 0  # records with a sequence number (schema 2)
    unchained: int = 0  # records written before the chain existed (schema 1), at the start of the log
    last_seq: int | None = None
    last_hash: str | None = None  # of the newest record's line: note it to detect a later cut-off at the end

    @property
    def chain_intact(self) -> bool:
        return not self.chain_breaks

    def chain_summary(self) -> str:
        """One sentence for people: what the chain check found."""
        if not self.records:
            return "The log is empty."
        if self.chain_breaks:
            where = "; ".join(f"line {line}: {reason}" for line, reason in self.chain_breaks[:5])
            more = f" (and {len(self.chain_breaks) - 5} more)" if len(self.chain_breaks) > 5 else ""
            return (f"HASH CHAIN BROKEN at {len(self.chain_breaks)} place(s): {where}{more}. Records were edited, "
                    "removed or inserted there.")
        if not self.chained:
            return (f"No record is hash-chained: the {self.unchained} record(s) predate the chain and cannot be "
                    "verified.")
        text_ = f"Hash chain intact over {self.chained} record(s) (last #{self.last_seq}, hash {self.last_hash[:12]})."
        if self.unchained:
            text_ += f" {self.unchained} older record(s) predate the chain and cannot be verified."
        return text_


def read_audit_log(log_path: str | Path | None = None) -> AuditLogContents:
    """Every complete record, oldest first; unreadable lines are skipped and listed in `.skipped`; the hash chain
    is verified (`.chain_breaks`, `.chain_summary()`)."""
    path = Path(log_path) if log_path is not None else default_audit_log_path()
    contents = AuditLogContents()
    if not path.exists():
        return contents
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AuditLogError(path, f"cannot read the audit log: {error.strerror or error}") from None
    lines = data.split(b"\n")
    previous_raw: bytes | None = None
    previous_number = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        is_last_unterminated = number == len(lines) and not data.endswith(b"\n")
        record = _parse(raw)
        if record is None:
            reason = ("incomplete last line (a write was interrupted)" if is_last_unterminated
                      else "not a complete JSON record (a write was interrupted, or the line was damaged)")
            contents.skipped.append((number, reason))
            continue
        _verify_link(contents, number, record, previous_raw, previous_number)
        contents.records.append(record)
        previous_raw, previous_number = raw, number
    if previous_raw is not None and contents.last_seq is not None:
        contents.last_hash = line_hash(previous_raw)
    return contents


def _verify_link(contents: AuditLogContents, number: int, record: dict, previous_raw: bytes | None,
                 previous_number: int) -> None:
    seq, prev = record.get("seq"), record.get("prev")
    if seq is None and prev is None:
        if contents.chained:
            contents.chain_breaks.append((number, "a record without sequence number inside the chain "
                                                  "(inserted, or its chain fields were removed)"))
        else:
            contents.unchained += 1
        return
    if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(prev, str):
        contents.chain_breaks.append((number, "the chain fields (seq, prev) are damaged"))
        return
    expected_seq = 1 if contents.last_seq is None else contents.last_seq + 1
    expected_prev = GENESIS_HASH if previous_raw is None else line_hash(previous_raw)
    if seq != expected_seq:
        if contents.last_seq is None:
            problem = f"the first record is #{seq}, not #1: records #1-#{seq - 1} are missing"
        elif seq > expected_seq:
            problem = (f"record #{seq} follows #{contents.last_seq}: "
                       f"{'record' if seq - expected_seq == 1 else 'records'} "
                       f"#{expected_seq}{'' if seq - expected_seq == 1 else f'-#{seq - 1}'} missing")
        else:
            problem = f"record #{seq} follows #{contents.last_seq}: the sequence goes backwards (inserted or reordered)"
        contents.chain_breaks.append((number, problem))
    elif prev != expected_prev and previous_raw is None:
        contents.chain_breaks.append((number, f"record #{seq} should start the log but links to a record before it "
                                              "(the records before it were removed)"))
    elif prev != expected_prev:
        contents.chain_breaks.append((previous_number, f"record #{seq - 1} was changed after it was written "
                                                       f"(record #{seq} holds another hash of it)"))
    contents.chained += 1
    contents.last_seq = seq


CSV_FIXED_COLUMNS = ("seq", "time", "user", "origin", "source_path", "source_folder", "source_sha256",
                     "sop_instance_uid", "model_name", "model_version", "model_sha256", "model_manifest_sha256",
                     "device", "call", "call_status", "near_threshold", "ood_warning", "threshold", "positive_label",
                     "cam_method", "prev")
THRESHOLD_DIGITS = 6  # a threshold is stored at full precision; tables print it rounded


def records_to_rows(records: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Flat table of the records: fixed columns, then one `p_<label>` column per label seen."""
    labels: list[str] = []
    for record in records:
        for label in record.get("probabilities", {}):
            if label not in labels:
                labels.append(label)
    header = list(CSV_FIXED_COLUMNS) + [f"p_{label}" for label in labels]
    rows = []
    for record in records:
        model = record.get("model") or {}
        flat = {**record, "model_name": model.get("name"), "model_version": model.get("version"),
                "model_sha256": model.get("sha256"), "model_manifest_sha256": model.get("manifest_sha256"),
                "ood_warning": _ood_text(record.get("ood")), "threshold": _rounded(record.get("threshold")),
                "near_threshold": near_threshold_cell(record.get("near_threshold"))}
        row = ["" if flat.get(col) is None else str(flat.get(col)) for col in CSV_FIXED_COLUMNS]
        probabilities = record.get("probabilities", {})
        row += ["" if label not in probabilities else f"{probabilities[label]:.6f}" for label in labels]
        rows.append(row)
    return header, rows


def _rounded(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{float(value):.{THRESHOLD_DIGITS}f}".rstrip("0").rstrip(".") if value else "0"
    return None if value is None else str(value)


def _ood_text(ood: Any) -> str | None:
    """The guard's verdict as one cell: "" (not run, older records), "no", or "yes: reason; reason"."""
    if not isinstance(ood, dict):
        return None
    if not ood.get("warning"):
        return "no"
    reasons = "; ".join(str(r) for r in ood.get("reasons") or [])
    return "yes" + (f": {reasons}" if reasons else "")


def export_csv(records: list[dict[str, Any]], out_path: str | Path) -> Path:
    out = Path(out_path)
    header, rows = records_to_rows(records)
    try:
        with open(out, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    except OSError as error:
        raise AuditLogError(out, f"cannot write the CSV export: {error.strerror or error}") from None
    return out
