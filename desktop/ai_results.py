"""The AI result of the image on screen as DICOM objects (Secondary Capture + Structured Report), optionally
de-identified. Qt-free; the main window asks where to save or where to send."""
from __future__ import annotations

from pathlib import Path


def build_result_datasets(image, prediction, deidentify: bool = False) -> list:
    from inference.dicom_results import build_results

    deidentifier = None
    if deidentify:
        from inference.deid import Deidentifier

        deidentifier = Deidentifier()
    return build_results(image, prediction, deidentifier=deidentifier)


def save_result_datasets(image, prediction, folder: str | Path, deidentify: bool = False) -> list[Path]:
    from inference.dicom_results import save_results

    return save_results(build_result_datasets(image, prediction, deidentify), folder)
