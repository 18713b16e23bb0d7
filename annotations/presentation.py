"""What a presentation state says about one image, in the viewer's terms (no numpy, no highdicom: the window
imports this at start-up; annotations.gsps writes and reads the DICOM objects)."""
from __future__ import annotations

from dataclasses import dataclass, field

from annotations.model import Annotation


@dataclass(frozen=True)
class ViewState:
    """How the image is shown, in the viewer's terms: window in modality units, whether the picture is shown
    inverted relative to MONOCHROME2 (`display_inverted`), rotation (clockwise, applied first) and flips."""

    window_center: float | None = None
    window_width: float | None = None
    window_name: str = ""
    window_function: str = "LINEAR"
    display_inverted: bool | None = None
    rotation: int = 0
    flip_horizontal: bool = False
    flip_vertical: bool = False


@dataclass(frozen=True)
class PresentationState:
    sop_instance_uid: str
    referenced_sop_instance_uids: tuple[str, ...]
    annotations: tuple[Annotation, ...]
    view: ViewState
    content_label: str = ""
    content_description: str = ""
    creator: str = ""
    foreign_objects: int = 0  # graphics that came from another viewer (not an XRayView group)
    skipped: tuple[str, ...] = field(default_factory=tuple)  # what could not be shown, and why

    def applies_to(self, sop_instance_uid: str) -> bool:
        return sop_instance_uid in self.referenced_sop_instance_uids
