"""Which files the viewer offers to open, and the recursive folder walk (no Qt)."""
from __future__ import annotations

import os
from pathlib import Path

IMAGE_SUFFIXES = (".dcm", ".dicom", ".dic", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
FILE_DIALOG_FILTER = ("Radiographs (*.dcm *.dicom *.dic *.png *.jpg *.jpeg *.tif *.tiff *.bmp);;"
                      "DICOM (*.dcm *.dicom *.dic);;All files (*)")


def looks_like_image(path: Path) -> bool:
    """By suffix, or a suffix-less file (DICOM files from PACS exports often have none)."""
    suffix = path.suffix.lower()
    return suffix in IMAGE_SUFFIXES or (suffix == "" and path.is_file() and not path.name.startswith("."))


def find_images(folder: str | Path) -> list[Path]:
    """Image files under `folder`, recursively, in a stable (sorted) order; hidden folders skipped."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if looks_like_image(path) and name.upper() != "DICOMDIR":
                found.append(path)
    return found


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files stay as given; folders become the images inside them."""
    result: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            result.extend(find_images(path))
        else:
            result.append(path)
    return result
