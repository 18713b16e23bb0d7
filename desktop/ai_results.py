"""The AI result of the image on screen as DICOM objects (Secondary Capture + Structured Report), optionally
de-identified. Qt-free; the main window asks where to save or where to send. `call` is the call on screen
(AiPanel.current_call: the one rule at the slider's threshold), colormap/opacity the heatmap's look on screen."""
from __future__ import annotations

from pathlib import Path

from inference.overlay import DEFAULT_OPACITY


def build_result_datasets(image, prediction, deidentify: bool = False, *, call=None, colormap: str = "jet",
                          opacity: float = DEFAULT_OPACITY, threshold: float | None = None) -> list:
    from inference.dicom_results import build_results

    deidentifier = None
    if deidentify:
        from inference.deid import Deidentifier

        deidentifier = Deidentifier()
    return build_results(image, prediction, deidentifier=deidentifier, call=call, colormap=colormap,
                         opacity=opacity, threshold=threshold)


def save_result_datasets(image, prediction, folder: str | Path, deidentify: bool = False, *, call=None,
                         colormap: str = "jet", opacity: float = DEFAULT_OPACITY,
                         threshold: float | None = None) -> list[Path]:
    from inference.dicom_results import save_results

    return save_results(build_result_datasets(image, prediction, deidentify, call=call, colormap=colormap,
                                              opacity=opacity, threshold=threshold), folder)
