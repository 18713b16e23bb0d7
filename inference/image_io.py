"""`load_image(path) -> XRayImage`: the one entry point for reading a radiograph (DICOM, PNG, JPEG, TIFF, BMP).

The format is decided by the file's content, never by its extension (a PNG named .dcm still loads). Every
expected failure raises an `ImageLoadError` subclass naming the file and a reason a person understands.
Images above `MAX_PIXELS` (80 million pixels) are refused from the header, before any pixel is decoded.

Only regular files are opened (a FIFO or device is refused unopened). A DICOM is read up to the end of its Pixel
Data element, never further, with bounded parsing work. Every native decoder (Pillow's codecs, the DICOM codecs)
runs in a decoder worker process with a memory cap and a per-file time limit, so a damaged file that makes a
decoder panic, abort, crash or hang becomes that file's `DecoderCrashedError`/`DecodeTimeoutError`.

Modules behind it: `inference.xray_image` (XRayImage, MAX_PIXELS), `inference.windowing` (WindowPreset, the
DICOM VOI formulas), `inference.dicom_pixels` (DICOM pixel pipeline), `inference.raster_io` (Pillow formats),
`inference.decoder_sandbox` / `decode_worker` / `decode_tasks` / `dicom_codecs` (the decoder worker processes).
"""
from __future__ import annotations

import os
from pathlib import Path

from inference.dicom_pixels import read_dicom
from inference.error_words import in_words
from inference.errors import EmptyFileError, ImageLoadError, NotARegularFileError, UnsupportedFormatError
from inference.image_files import non_regular_kind, sniff_format  # which files are images
from inference.raster_io import read_raster
from inference.windowing import WindowPreset, window_from_range
from inference.xray_image import MAX_PIXELS, XRayImage

__all__ = ["load_image", "sniff_format", "XRayImage", "WindowPreset", "window_from_range", "MAX_PIXELS"]


def load_image(path: str | os.PathLike) -> XRayImage:
    """Reads one radiograph. Raises an ImageLoadError subclass (file name + reason) for every failure a file can
    cause, including a decoder crash, panic or hang (those happen in the decoder worker process)."""
    path = Path(path)
    try:
        return _load(path)
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError(path, "there is not enough memory to open this image") from None
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - e.g. pyo3's PanicException is a BaseException
        # Damaged files reach pydicom/Pillow/codec code paths that raise many exception types (ValueError,
        # struct.error, NotImplementedError for an unknown VR, pydicom's BytesLengthException, ...). For an
        # untrusted file they all mean "damaged", so they are reported, with their type, instead of crashing.
        reason = in_words(f"{type(exc).__name__}: {exc}", path)
        raise ImageLoadError(path, f"the file is damaged or inconsistent and cannot be read: {reason}") from None


def _load(path: Path) -> XRayImage:
    head = _read_head(path)
    kind = sniff_format(head)
    if kind in ("dicom", "dicom?"):
        try:
            return read_dicom(path, has_preamble=kind == "dicom")
        except UnsupportedFormatError:
            if kind == "dicom":
                raise
            # No preamble and nothing DICOM-like: the two leading bytes only looked like a DICOM tag.
    elif kind is not None:
        return read_raster(path)
    # Unknown magic: Pillow knows a few more formats by content (WebP, JPEG 2000 files, ...).
    try:
        return read_raster(path)
    except UnsupportedFormatError:
        raise UnsupportedFormatError(
            path, "the file is neither DICOM nor an image format XRayView reads (PNG, JPEG, TIFF, BMP); "
                  "its content is not recognised") from None


def _refuse_special(path: Path, mode: int) -> None:
    kind = non_regular_kind(mode)  # the image-file policy's one test (inference.image_files)
    if kind == "a folder":
        raise ImageLoadError(path, "this is a folder, not an image file")
    if kind is not None:
        raise NotARegularFileError(path, f"this is {kind}, not an image file; it is not opened (reading it "
                                         "could wait forever)")


def _read_head(path: Path) -> bytes:
    try:
        _refuse_special(path, os.stat(path).st_mode)  # before open(): opening a FIFO blocks until a writer comes
        # O_NONBLOCK: should the path become a FIFO after the check, open() still returns at once
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as handle:
            _refuse_special(path, os.fstat(handle.fileno()).st_mode)
            head = handle.read(132)
    except FileNotFoundError:
        raise ImageLoadError(path, "the file does not exist") from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied: XRayView is not allowed to read this file") from None
    except IsADirectoryError:
        raise ImageLoadError(path, "this is a folder, not an image file") from None
    except OSError as exc:
        raise ImageLoadError(path, f"the file cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise EmptyFileError(path, "the file is empty (0 bytes)")
    return head
