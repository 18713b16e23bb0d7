"""Append-only audit log of every AI result (viewer, batch, CLI): one JSON object per line.

Crash safety: each record is encoded first and written with ONE write() on a descriptor opened with O_APPEND,
then fsync'ed, so a crash can at worst leave the last line incomplete; the next writer starts a fresh line after
such a fragment, and the reader skips (and reports) lines that do not parse. Earlier lines are never rewritten.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.errors import AuditLogError
from inference.results import decide_call

AUDIT_LOG_ENV = "XRAYVIEW_AUDIT_LOG"
DATA_DIR_ENV = "XRAYVIEW_DATA_DIR"
ORIGINS = ("viewer", "batch", "cli")
SCHEMA_VERSION = 1
_HASH_CHUNK = 1 << 20


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


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (some containers/services): still log the result
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def make_record(prediction: Any, *, source_path: str | Path | None = None, sop_instance_uid: str | None = None,
                origin: str = "viewer", source_sha256: str | None = None,
                show_anyway: bool = False) -> dict[str, Any]:
    """The audit record for one prediction (what append_ai_result writes). "call" follows the one call rule
    (inference.results: None when the OOD guard warned, unless an expert asked to see it, `show_anyway`);
    "call_status" says which, and "ood" keeps the guard's verdict."""
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
    if source_path is None and not sop_instance_uid and not source_sha256:
        raise ValueError("an audit record needs the source file or its SOP Instance UID")
    if source_path is not None and source_sha256 is None:
        try:
            source_sha256 = file_sha256(source_path)
        except OSError as error:
            raise AuditLogError(source_path, f"cannot hash the source file for the audit log: "
                                             f"{error.strerror or error}") from None
    model = dict(getattr(prediction, "model", None) or {})
    ood = getattr(prediction, "ood", None)
    call = decide_call(prediction.probabilities, getattr(prediction, "positive_label", None),
                       getattr(prediction, "threshold", None), ood, show_anyway=show_anyway)
    return {
        "schema": SCHEMA_VERSION,
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user": _os_user(),
        "origin": origin,
        "source_path": str(source_path) if source_path is not None else None,
        "source_sha256": source_sha256,
        "sop_instance_uid": str(sop_instance_uid) if sop_instance_uid else None,
        "model": {k: model.get(k) for k in ("name", "version", "sha256")},
        "device": str(getattr(prediction, "device", "") or ""),
        "probabilities": {str(k): float(v) for k, v in prediction.probabilities.items()},
        "threshold": getattr(prediction, "threshold", None),
        "positive_label": getattr(prediction, "positive_label", None),
        "call": call.label,
        "call_status": call.status,
        "ood": ood.to_json() if ood is not None else None,
        "cam_method": getattr(prediction, "cam_method", None),
    }


def append_ai_result(prediction: Any, *, source_path: str | Path | None = None,
                     sop_instance_uid: str | None = None, origin: str = "viewer",
                     log_path: str | Path | None = None, show_anyway: bool = False) -> dict[str, Any]:
    """Appends one JSON line for `prediction` to the audit log and returns the record written.

    For a DICOM source pass its SOP Instance UID as well (the viewer has it in image.metadata)."""
    record = make_record(prediction, source_path=source_path, sop_instance_uid=sop_instance_uid, origin=origin,
                         show_anyway=show_anyway)
    append_record(record, log_path)
    return record


def append_ai_result_for_image(prediction: Any, image: Any, *, origin: str = "viewer",
                               log_path: str | Path | None = None, show_anyway: bool = False) -> dict[str, Any]:
    """The one call for the viewer and batch runs: takes the file and SOP Instance UID from a loaded XRayImage."""
    metadata = getattr(image, "metadata", None) or {}
    source_path = getattr(image, "path", None)
    sop_instance_uid = metadata.get("SOPInstanceUID") or None
    return append_ai_result(prediction, source_path=source_path, sop_instance_uid=sop_instance_uid, origin=origin,
                            log_path=log_path, show_anyway=show_anyway)


def append_record(record: dict[str, Any], log_path: str | Path | None = None) -> Path:
    path = Path(log_path) if log_path is not None else default_audit_log_path()
    line = (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags, 0o600)
        try:
            if _ends_mid_line(path):
                line = b"\n" + line  # a crashed writer left a fragment: keep it on its own line
            written = os.write(fd, line)
            if written != len(line):
                raise AuditLogError(path, f"only {written} of {len(line)} bytes reached the audit log (disk full?)")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        raise AuditLogError(path, f"cannot write the audit log: {error.strerror or error}") from None
    return path


def _ends_mid_line(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


@dataclass
class AuditLogContents:
    records: list[dict[str, Any]] = field(default_factory=list)
    # (1-based line number, reason) of lines that were skipped, e.g. the fragment a crash left behind
    skipped: list[tuple[int, str]] = field(default_factory=list)


def read_audit_log(log_path: str | Path | None = None) -> AuditLogContents:
    """Every complete record, oldest first; unreadable lines are skipped and listed in `.skipped`."""
    path = Path(log_path) if log_path is not None else default_audit_log_path()
    contents = AuditLogContents()
    if not path.exists():
        return contents
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AuditLogError(path, f"cannot read the audit log: {error.strerror or error}") from None
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        is_last_unterminated = number == len(lines) and not data.endswith(b"\n")
        try:
            record = json.loads(raw.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (UnicodeDecodeError, ValueError):
            reason = ("incomplete last line (a write was interrupted)" if is_last_unterminated
                      else "not a complete JSON record (a write was interrupted)")
            contents.skipped.append((number, reason))
            continue
        contents.records.append(record)
    return contents


CSV_FIXED_COLUMNS = ("time", "user", "origin", "source_path", "source_sha256", "sop_instance_uid", "model_name",
                     "model_version", "model_sha256", "device", "call", "call_status", "ood_warning", "threshold",
                     "positive_label", "cam_method")
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
                "model_sha256": model.get("sha256"), "ood_warning": _ood_text(record.get("ood")),
                "threshold": _rounded(record.get("threshold"))}
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
