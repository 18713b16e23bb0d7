"""PACS node settings: a DIMSE peer (AE title, host, port) or a DICOMweb server (base URL). Plain, validated
dataclasses that round-trip through dicts, so the desktop can persist them (QSettings) without knowing the fields."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from urllib.parse import urlparse

from inference.errors import PacsConfigError

DEFAULT_CALLING_AE = "XRAYVIEW"
DEFAULT_TIMEOUT_S = 10.0
RETRIEVE_METHODS = ("C-GET", "C-MOVE")


def validate_ae_title(title: str, what: str, node_name: str) -> str:
    """AE titles: 1-16 characters of the DICOM default repertoire, no backslash or control characters."""
    stripped = title.strip()
    if not stripped:
        raise PacsConfigError(node_name, f"{what} is empty")
    if len(stripped) > 16:
        raise PacsConfigError(node_name, f"{what} {stripped!r} is longer than 16 characters")
    if any(ch == "\\" or not (32 <= ord(ch) < 127) for ch in stripped):
        raise PacsConfigError(node_name, f"{what} {stripped!r} contains characters not allowed in an AE title")
    return stripped


def _validate_timeout(timeout_s: float, node_name: str) -> float:
    if not 0 < float(timeout_s) <= 600:
        raise PacsConfigError(node_name, f"timeout {timeout_s!r} s must be between 0 and 600 seconds")
    return float(timeout_s)


@dataclass(frozen=True)
class DimseNode:
    """A DICOM peer reached with DIMSE. `retrieve_method` C-MOVE makes the PACS send the images to our own
    storage SCP, listening on `local_scp_port` under `calling_ae` (the PACS must know that AE title)."""

    name: str
    called_ae: str
    host: str
    port: int
    calling_ae: str = DEFAULT_CALLING_AE
    timeout_s: float = DEFAULT_TIMEOUT_S
    retrieve_method: str = "C-GET"
    local_scp_port: int = 11112
    local_scp_bind: str = "0.0.0.0"
    move_destination_ae: str = ""  # C-MOVE destination; empty = calling_ae (our storage SCP's title)

    kind = "dimse"

    def __post_init__(self) -> None:
        label = self.name or f"{self.called_ae}@{self.host}:{self.port}"
        object.__setattr__(self, "called_ae", validate_ae_title(self.called_ae, "called AE title", label))
        object.__setattr__(self, "calling_ae", validate_ae_title(self.calling_ae, "calling AE title", label))
        if self.move_destination_ae.strip():
            object.__setattr__(self, "move_destination_ae",
                               validate_ae_title(self.move_destination_ae, "C-MOVE destination AE title", label))
        if not self.host.strip():
            raise PacsConfigError(label, "host is empty")
        for what, port in (("port", self.port), ("local storage port", self.local_scp_port)):
            if not isinstance(port, int) or not 1 <= port <= 65535:
                raise PacsConfigError(label, f"{what} {port!r} is not a TCP port (1-65535)")
        if self.retrieve_method not in RETRIEVE_METHODS:
            raise PacsConfigError(label, f"retrieve method {self.retrieve_method!r} is not one of {RETRIEVE_METHODS}")
        object.__setattr__(self, "timeout_s", _validate_timeout(self.timeout_s, label))

    @property
    def label(self) -> str:
        return f"{self.name or 'PACS'} ({self.called_ae}@{self.host}:{self.port})"

    @property
    def move_destination(self) -> str:
        return self.move_destination_ae or self.calling_ae


@dataclass(frozen=True)
class DicomWebNode:
    """A DICOMweb server; `base_url` is the service root, e.g. http://pacs:8042/dicom-web."""

    name: str
    base_url: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    username: str = ""
    password: str = ""
    verify_tls: bool = True

    kind = "dicomweb"

    def __post_init__(self) -> None:
        label = self.name or self.base_url
        parsed = urlparse(self.base_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise PacsConfigError(label, f"DICOMweb URL {self.base_url!r} must start with http:// or https://")
        object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))
        object.__setattr__(self, "timeout_s", _validate_timeout(self.timeout_s, label))

    @property
    def label(self) -> str:
        return f"{self.name or 'DICOMweb'} ({self.base_url})"


PacsNode = DimseNode | DicomWebNode


def node_to_dict(node: PacsNode) -> dict:
    return {"kind": node.kind, **asdict(node)}


def node_from_dict(data: dict) -> PacsNode:
    """Inverse of node_to_dict; unknown keys are ignored so older settings keep loading."""
    kind = data.get("kind")
    cls = {"dimse": DimseNode, "dicomweb": DicomWebNode}.get(kind)
    if cls is None:
        raise PacsConfigError(str(data.get("name", "<node>")), f"unknown node kind {kind!r}")
    known = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in known}
    for int_key in ("port", "local_scp_port"):
        if int_key in values:
            try:
                values[int_key] = int(values[int_key])
            except (TypeError, ValueError):
                raise PacsConfigError(str(data.get("name", "<node>")), f"{int_key} {values[int_key]!r} is not a number")
    if "verify_tls" in values and isinstance(values["verify_tls"], str):
        values["verify_tls"] = values["verify_tls"].lower() in ("1", "true", "yes")
    try:
        return cls(**values)
    except TypeError as error:
        raise PacsConfigError(str(data.get("name", "<node>")), f"incomplete settings: {error}") from None
