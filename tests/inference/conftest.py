"""Fixtures for the image-reading tests: small crops of real radiographs, and DICOMs built from them once per
session (cached by their build arguments)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array

SAMPLE_SUBDIR = Path("samples") / "chest-xray-fullres" / "PNEUMONIA"


@pytest.fixture(scope="session")
def real_xray_jpeg(shared_data: Path) -> Path:
    """One real full-resolution chest radiograph (Kermany et al. 2018, CC BY 4.0)."""
    files = sorted((shared_data / SAMPLE_SUBDIR).glob("*.jpeg"))
    assert files, f"no sample radiographs in {shared_data / SAMPLE_SUBDIR}"
    return files[0]


@pytest.fixture(scope="session")
def xray8(real_xray_jpeg: Path) -> np.ndarray:
    """The real radiograph as 8-bit gray, long side 256 px."""
    return load_gray_image(real_xray_jpeg, size=256)


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("image_io")


@pytest.fixture(scope="session")
def xray8_png(xray8: np.ndarray, work_dir: Path) -> Path:
    path = work_dir / "xray8.png"
    Image.fromarray(xray8).save(path)
    return path


@pytest.fixture(scope="session")
def build_dicom(work_dir: Path):
    """build_dicom(arr, **factory_kwargs) -> Path, cached per session by content and arguments."""
    cache: dict[str, Path] = {}

    def build(arr: np.ndarray, **kwargs) -> Path:
        key = hashlib.sha1(np.ascontiguousarray(arr).tobytes() + str(arr.dtype).encode()
                           + repr(sorted(kwargs.items(), key=lambda kv: kv[0])).encode()).hexdigest()[:16]
        if key not in cache:
            cache[key] = make_dicom_from_array(arr, work_dir / f"{key}.dcm", **kwargs)
        return cache[key]

    return build
