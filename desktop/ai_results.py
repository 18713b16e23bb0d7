"""The AI result of the image on screen as DICOM objects (Secondary Capture + Structured Report), optionally
de-identified. Qt-free; desktop.exports asks where to save or where to send. `call` is the call on screen and
`threshold` the one it was made at (the AI session's viewport state and operating point: the objects never decide
a call themselves), colormap/opacity the heatmap's look on screen."""
from __future__ import annotations

from pathlib import Path

from inference.overlay import DEFAULT_OPACITY
from inference.results import Call


def build_result_datasets(image, prediction, deidentify: bool = False, *, call: Call, colormap: str = "jet",
                          opacity: float = DEFAULT_OPACITY, threshold: float | None = None) -> list:
    from inference.dicom_results import build_results

    deidentifier = None
    if deidentify:
        from inference.deid import Deidentifier

        deidentifier = Deidentifier()
    return build_results(image, prediction, deidentifier=deidentifier, call=call, colormap=colormap,
                         opacity=opacity, threshold=threshold)


def save_result_datasets(image, prediction, folder: str | Path, deidentify: bool = False, *, call: Call,
                         colormap: str = "jet", opacity: float = DEFAULT_OPACITY,
                         threshold: float | None = None) -> list[Path]:
    from inference.dicom_results import save_results

    return save_results(build_result_datasets(image, prediction, deidentify, call=call, colormap=colormap,
                                              opacity=opacity, threshold=threshold), folder)
