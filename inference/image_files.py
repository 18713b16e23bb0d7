"""Which files are images: the one policy for the viewer (file dialog, folder panel, drag and drop), Analyze
Folder, `xrayview-predict`, the training datasets and the OOD tools. No torch, no numpy, no image decoders.

A file is an image candidate when it is a regular, non-hidden file (never a FIFO, socket or device: opening one
could block forever; `non_regular_kind` is the one test, which `inference.image_io.load_image` also applies to a
path given explicitly, refusing it unopened) other than a DICOMDIR, and
- its suffix is one of IMAGE_SUFFIXES, or
- its first bytes are those of DICOM or of a raster format XRayView reads (`sniff_format`): DICOM files from PACS
  exports often have no suffix, or one made of their UID's last digits (`1.2.840.113619.2.5`).
Whether a candidate really decodes is `inference.image_io.load_image`'s call, which reports it per file.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", ".ima")
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
IMAGE_SUFFIXES = DICOM_SUFFIXES + RASTER_SUFFIXES
SNIFF_BYTES = 132  # the DICOM preamble (128 bytes) and its "DICM" magic
NOT_IMAGES = ("DICOMDIR",)  # a DICOM media directory: DICOM by content, but no image

_RASTER_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
    (b"BM", "bmp"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
# First tags of a DICOM data set written without the 128-byte preamble: group 0002 or 0008, either byte order.
_RAW_DICOM_GROUPS = (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")


_NON_REGULAR_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                      (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def non_regular_kind(mode: int) -> str | None:
    """None for a regular file (the only kind ever opened); otherwise what it is, e.g. "a named pipe (FIFO)"."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _NON_REGULAR_KINDS if test(mode)), "not a regular file")


def is_regular_file(path: str | os.PathLike) -> bool:
    """Whether `path` (links followed) is a regular file; False when it cannot be examined."""
    try:
        return non_regular_kind(os.stat(path).st_mode) is None
    except (OSError, ValueError):
        return False


def sniff_format(head: bytes) -> str | None:
    """'dicom', 'png', 'jpeg', 'tiff', 'bmp', 'gif', 'dicom?' (a DICOM data set without preamble, maybe) or None."""
    if len(head) >= SNIFF_BYTES and head[128:132] == b"DICM":
        return "dicom"
    for magic, name in _RASTER_MAGIC:
        if head.startswith(magic):
            return name
    if head[:2] in _RAW_DICOM_GROUPS and len(head) >= 8:
        return "dicom?"
    return None


def sniff_file(path: Path) -> str | None:
    """sniff_format of a regular file's first bytes (None when it cannot be read or is not a regular file)."""
    try:
        if not is_regular_file(path):
            return None
        with path.open("rb") as handle:
            return sniff_format(handle.read(SNIFF_BYTES))
    except OSError:
        return None


def is_image_file(path: str | os.PathLike) -> bool:
    """The policy in the module docstring, for one path."""
    path = Path(path)
    if path.name.startswith(".") or path.name.upper() in NOT_IMAGES:
        return False
    if not is_regular_file(path):  # folders, FIFOs, sockets, devices, dangling links
        return False
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    return sniff_file(path) is not None


def find_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """The image files in `folder` (and its sub-folders when `recursive`), sorted; hidden files and folders are
    skipped, and linked folders are not followed (no loops, no leaving the tree)."""
    folder = Path(folder)
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found.extend(Path(root) / name for name in files if is_image_file(Path(root) / name))
    return sorted(found)


def expand_paths(paths: Iterable[str | os.PathLike], recursive: bool = True) -> list[Path]:
    """Folders become the images inside them (find_images); every other path is kept as given, even a missing
    or non-image one, so the caller reports it for that file."""
    result: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            result.extend(find_images(path, recursive=recursive))
        else:
            result.append(path)
    return result


def file_dialog_filter() -> str:
    """The filter string of a Qt file dialog offering these files (and any file: suffix-less DICOMs)."""
    def patterns(suffixes) -> str:
        return " ".join(f"*{suffix}" for suffix in suffixes)

    return f"Radiographs ({patterns(IMAGE_SUFFIXES)});;DICOM ({patterns(DICOM_SUFFIXES)});;All files (*)"
