"""Measurements and annotations on a radiograph, without Qt and without torch.

`model` holds the annotation records (image-pixel coordinates, as DICOM GSPS "PIXEL" units), `measurements`
turns them into numbers (mm where the spacing is known, modality-value statistics for regions), `store` keeps the
list with undo/redo, and `gsps` writes and reads them as a DICOM Grayscale Softcopy Presentation State
(`presentation` holds what it says in the viewer's terms, importable without numpy). The viewer's tools
(desktop/tools) and the GSPS code both work on these records, so what is drawn is what is saved.
"""
from annotations.model import KINDS, Annotation, new_annotation
from annotations.store import AnnotationStore

__all__ = ["KINDS", "Annotation", "AnnotationStore", "Calibration", "Measurement", "measure", "new_annotation"]
_MEASURE_NAMES = ("Calibration", "Measurement", "measure")


def __getattr__(name: str):
    """The measurement names load numpy: only when first used (the viewer's window opens without numpy)."""
    if name in _MEASURE_NAMES:
        import importlib

        value = getattr(importlib.import_module("annotations.measurements"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'annotations' has no attribute {name!r}")
