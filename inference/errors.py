"""The typed error family. Every expected failure raises one of these; `str(err)` names the file and a reason
a person understands, so the CLI and the viewer can show it without a traceback."""
from __future__ import annotations

from pathlib import Path


class XRayViewError(Exception):
    """Base of every expected XRayView failure."""


class _PathError(XRayViewError):
    def __init__(self, path: str | Path | None, reason: str):
        self.path = Path(path) if path is not None else None
        self.reason = reason
        where = f"{self.path}" if self.path is not None else "<input>"
        super().__init__(f"{where}: {reason}")


class ImageLoadError(_PathError):
    """An image file could not be read."""


class EmptyFileError(ImageLoadError):
    pass


class TruncatedFileError(ImageLoadError):
    pass


class UnsupportedFormatError(ImageLoadError):
    pass


class MissingPixelDataError(ImageLoadError):
    pass


class ImageTooLargeError(ImageLoadError):
    pass


class DecoderMissingError(ImageLoadError):
    """The DICOM's transfer syntax needs a decoder that is not installed (the reason says which to install)."""


class DecoderCrashedError(ImageLoadError):
    """The decoder process died on this file (a native crash, an abort, or the memory cap); see
    inference.decoder_sandbox. The viewer and the run go on."""


class DecodeTimeoutError(ImageLoadError):
    """Decoding this file took longer than the per-file limit; the decoder process was stopped."""


class NonFiniteImageError(ImageLoadError):
    """The rendered image holds NaN or infinite values; it is never given to the model."""


class NotARegularFileError(ImageLoadError):
    """The path is a FIFO, socket or device: reading it could block forever, so it is refused unopened."""


class BundleError(_PathError):
    """A model bundle is missing, malformed, or fails its integrity checks."""


class ModelCardInvalidError(BundleError):
    pass


class WeightsHashMismatchError(BundleError):
    pass


class ManifestMismatchError(BundleError):
    """The model card no longer matches the manifest hash recorded when the bundle was written."""


class DeviceUnavailableError(XRayViewError):
    """An explicitly requested compute device is not available on this machine."""


class TrainingError(XRayViewError):
    """Training could not start or continue (bad dataset, bad options)."""


class DatasetError(_PathError):
    """A dataset folder is unusable (missing, no classes, class names not matching the model)."""


class PacsError(XRayViewError):
    """A PACS operation (DIMSE or DICOMweb) failed; `node` names the server, `reason` says why in plain words."""

    def __init__(self, node: str, reason: str):
        self.node = node
        self.reason = reason
        super().__init__(f"{node}: {reason}")


class PacsConnectionError(PacsError):
    """The server could not be reached (not running, wrong host/port, connection refused or dropped)."""


class PacsTimeoutError(PacsError):
    """The server did not answer within the configured timeout."""


class AssociationRejectedError(PacsError):
    """The DICOM server refused the association; names both AE titles and the reason it gave."""

    def __init__(self, node: str, calling_ae: str, called_ae: str, reason: str):
        self.calling_ae = calling_ae
        self.called_ae = called_ae
        super().__init__(node, f"association from {calling_ae!r} to {called_ae!r} rejected: {reason}")


class UnknownAETitleError(AssociationRejectedError):
    """The server does not know one of the AE titles (ours, its own, or a C-MOVE destination)."""


class PacsOperationError(PacsError):
    """The server answered but the operation failed (DIMSE failure status, HTTP error, malformed reply)."""


class PacsCancelledError(PacsError):
    """The operation was cancelled by the user before it completed."""


class DicomResultError(_PathError):
    """A DICOM result object (Secondary Capture, Structured Report) could not be built from the inputs."""


class AuditLogError(_PathError):
    """The audit log could not be written or read."""


class PacsConfigError(PacsError):
    """A PACS node's settings are invalid (AE title, host, port, URL)."""
