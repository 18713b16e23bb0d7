"""One image-file policy (inference.image_files) for the viewer's folder panel and Analyze Folder
(tests/desktop/test_image_file_policy_viewer.py), xrayview-predict, the training datasets and the OOD tools: the same folder gives the same files everywhere,
`.ima` and suffix-less or UID-named DICOMs included, non-images, hidden files, DICOMDIR and FIFOs left out."""
from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference.image_files import (IMAGE_SUFFIXES, expand_paths, file_dialog_filter, find_images, is_image_file,
                                   non_regular_kind, sniff_format)
from tests.helpers.dicom_factory import make_dicom_from_array

EXPECTED = ["1.2.840.113619.2.5", "IM000001", "a.png", "b.JPEG", "scan.ima", "sub/c.dcm"]


def make_mixed_folder(root: Path) -> Path:
    """root/CLASS holding images every tool must find (EXPECTED) and files none may take."""
    folder = root / "CLASS"
    (folder / "sub").mkdir(parents=True)
    (folder / ".cache").mkdir()
    pixels = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 4096)
    make_dicom_from_array(pixels, folder / "scan.ima")  # Siemens' suffix
    make_dicom_from_array(pixels, folder / "IM000001")  # PACS export: no suffix
    make_dicom_from_array(pixels, folder / "1.2.840.113619.2.5")  # named by its UID: suffix ".5"
    make_dicom_from_array(pixels, folder / "sub" / "c.dcm")
    Image.fromarray((pixels >> 4).astype(np.uint8)).save(folder / "a.png")
    Image.fromarray((pixels >> 4).astype(np.uint8)).save(folder / "b.JPEG", format="JPEG")
    Image.fromarray((pixels >> 4).astype(np.uint8)).save(folder / ".hidden.png")
    Image.fromarray((pixels >> 4).astype(np.uint8)).save(folder / ".cache" / "thumb.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "README").write_text("no suffix, and not an image either")
    (folder / "Thumbs.db").write_bytes(b"\0" * 512)
    make_dicom_from_array(pixels, folder / "DICOMDIR")  # a media directory, not an image
    os.mkfifo(folder / "pipe.dcm")  # opening it would block: never opened
    return folder


@pytest.fixture()
def mixed_folder(tmp_path) -> Path:
    return make_mixed_folder(tmp_path)


def names(paths, root: Path) -> list[str]:
    return sorted(str(Path(p).relative_to(root)) for p in paths)


def bounded(fn, *args, seconds: float = 60):
    """Runs fn in a thread: a FIFO that got opened would block it forever, failing the test instead of hanging."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(fn(*args)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"{fn.__name__} did not return (blocked on the FIFO?)"
    return result[0]


def test_the_policy(mixed_folder):
    assert ".ima" in IMAGE_SUFFIXES and "*.ima" in file_dialog_filter()
    assert names(bounded(find_images, mixed_folder), mixed_folder) == EXPECTED
    assert names(find_images(mixed_folder, recursive=False), mixed_folder) == [n for n in EXPECTED if "/" not in n]
    assert not is_image_file(mixed_folder / "pipe.dcm") and not is_image_file(mixed_folder / "missing.png")
    assert sniff_format((mixed_folder / "IM000001").read_bytes()[:132]) == "dicom"
    # files given by name stay as given (the caller reports a missing or unreadable one for that file)
    given = [mixed_folder / "notes.txt", mixed_folder / "missing.dcm"]
    assert expand_paths(given + [mixed_folder / "sub"]) == given + [mixed_folder / "sub" / "c.dcm"]


def test_a_fifo_named_explicitly_is_refused_unopened_by_the_same_rule(mixed_folder):
    """Listing skips non-regular files; a path given by name is kept and load_image refuses it with the kind the
    policy's one test (`non_regular_kind`) names, without opening it (issue 17 item 6)."""
    from inference.errors import NotARegularFileError
    from inference.image_io import load_image

    fifo = mixed_folder / "pipe.dcm"
    assert non_regular_kind(os.stat(fifo).st_mode) == "a named pipe (FIFO)"
    assert non_regular_kind(os.stat("/dev/null").st_mode) == "a character device"
    assert non_regular_kind(os.stat(mixed_folder / "a.png").st_mode) is None
    assert expand_paths([fifo]) == [fifo]

    def refusal(path):
        try:
            load_image(path)
        except NotARegularFileError as exc:
            return str(exc)
        return "loaded"

    message = bounded(refusal, fifo)
    assert "pipe.dcm" in message and "a named pipe (FIFO)" in message and "not opened" in message


def test_xrayview_predict_uses_it(mixed_folder, tmp_path):
    from inference.cli_predict import run
    from tests.helpers.tiny_models import make_tiny_bundle

    bundle = make_tiny_bundle(tmp_path / "model")
    stdout, stderr = io.StringIO(), io.StringIO()
    code = bounded(run, [str(mixed_folder), "--recursive", "--model", str(bundle), "--device", "cpu"],
                    stdout, stderr)
    records = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert code == 0, stderr.getvalue()
    assert names([r["path"] for r in records], mixed_folder) == EXPECTED
    assert all("label" in r for r in records)


def test_training_datasets_use_it(mixed_folder):
    from training.datasets import scan_class_folder

    (mixed_folder.parent / "OTHER").mkdir()
    Image.new("L", (32, 32), 128).save(mixed_folder.parent / "OTHER" / "x.png")
    classes, files = bounded(scan_class_folder, mixed_folder.parent)
    assert classes == ["CLASS", "OTHER"]
    assert names([f.path for f in files if f.label == "CLASS"], mixed_folder) == EXPECTED


def test_ood_tools_use_it(mixed_folder):
    from training.ood_fit import folder_set

    name, files = bounded(folder_set, f"mixed={mixed_folder}")
    assert name == "mixed" and names(files, mixed_folder) == EXPECTED
