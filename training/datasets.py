"""Dataset folders: discovery of the two supported layouts and the file inventory.

Layouts: `ROOT/CLASS/*` (the tool makes the splits) or `ROOT/{train,val,test}/CLASS/*` (already split;
a missing `val`/`test` is carved out of `train`). Explicit `--val`/`--test` folders (each `DIR/CLASS/*`)
override the corresponding split. Which files are images is the viewer's and the CLI's policy too
(`inference.image_files`: an image suffix, or DICOM/raster content, so suffix-less DICOMs count); whether a
candidate really decodes is decided by `inference.image_io.load_image` when the report/cache reads it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from inference.errors import DatasetError
from inference.file_hash import sha256_file
from inference.image_files import find_images

SPLIT_DIR_NAMES = ("train", "val", "test")
_VAL_ALIASES = ("val", "valid", "validation")


@dataclass(frozen=True)
class ImageFile:
    path: Path
    label: str
    sha256: str
    size_bytes: int


@dataclass
class DatasetInventory:
    """All candidate files, by split name ('unsplit' when the tool must make the splits)."""
    root: Path
    classes: list[str]
    files: dict[str, list[ImageFile]] = field(default_factory=dict)

    @property
    def presplit(self) -> bool:
        return "unsplit" not in self.files


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_class_folder(folder: Path, classes: list[str] | None = None) -> tuple[list[str], list[ImageFile]]:
    """Files of a `DIR/CLASS/*` folder. With `classes`, the folder must hold exactly those class names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(folder, "is not a folder")
    found = [d.name for d in _class_dirs(folder)]
    if not found:
        raise DatasetError(folder, "has no class sub-folders (expected DIR/CLASS/image files)")
    if classes is not None and sorted(found) != sorted(classes):
        raise DatasetError(folder, f"class folders {found} do not match the expected classes {sorted(classes)}")
    files: list[ImageFile] = []
    for name in found:
        for path in find_images(folder / name):
            files.append(ImageFile(path=path, label=name, sha256=sha256_file(path),
                                   size_bytes=path.stat().st_size))
    empty = [name for name in found if not any(f.label == name for f in files)]
    if empty:
        raise DatasetError(folder, f"class folder(s) {empty} contain no files")
    return found, files


def discover(root: Path, val: Path | None = None, test: Path | None = None) -> DatasetInventory:
    """Inventory of a dataset root in either layout, plus optional explicit val/test folders."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "dataset folder does not exist")
    subdirs = {d.name.lower(): d for d in _class_dirs(root)}
    files: dict[str, list[ImageFile]] = {}
    if "train" in subdirs:
        classes, files["train"] = scan_class_folder(subdirs["train"])
        for alias in _VAL_ALIASES:
            if alias in subdirs and val is None:
                val = subdirs[alias]
                break
        if test is None and "test" in subdirs:
            test = subdirs["test"]
    else:
        classes, files["unsplit"] = scan_class_folder(root)
    if val is not None:
        _, files["val"] = scan_class_folder(val, classes)
    if test is not None:
        _, files["test"] = scan_class_folder(test, classes)
    if len(classes) < 2:
        raise DatasetError(root, f"needs at least two class folders, found {classes}")
    return DatasetInventory(root=root, classes=classes, files=files)
