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


class BundleError(_PathError):
    """A model bundle is missing, malformed, or fails its integrity checks."""


class ModelCardInvalidError(BundleError):
    pass


class WeightsHashMismatchError(BundleError):
    pass


class DeviceUnavailableError(XRayViewError):
    """An explicitly requested compute device is not available on this machine."""


class TrainingError(XRayViewError):
    """Training could not start or continue (bad dataset, bad options)."""


class DatasetError(_PathError):
    """A dataset folder is unusable (missing, no classes, class names not matching the model)."""
