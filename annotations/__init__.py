"""Measurements and annotations on a radiograph, without Qt and without torch.

`model` holds the annotation records (image-pixel coordinates, as DICOM GSPS "PIXEL" units), `measure` turns them
into numbers (mm where the spacing is known, modality-value statistics for regions), `store` keeps the list with
undo/redo, and `gsps` writes and reads them as a DICOM Grayscale Softcopy Presentation State. The viewer's tools
(desktop/tools) and the GSPS code both work on these records, so what is drawn is what is saved.
"""
from annotations.measure import Calibration, Measurement, measure
from annotations.model import KINDS, Annotation, new_annotation
from annotations.store import AnnotationStore

__all__ = ["KINDS", "Annotation", "AnnotationStore", "Calibration", "Measurement", "measure", "new_annotation"]
