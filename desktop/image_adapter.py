"""What the viewer reads from `inference.image_io.XRayImage`, in one place: display rendering for a window,
window presets, pixel spacing and the corner-text lines."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.windowing import WindowPreset

# Standard radiography windows expressed relative to the image's own value range (radiographs have no fixed
# units, unlike CT HU), offered beside the file's own DICOM presets.
RELATIVE_PRESETS = (
    ("Full range", 0.5, 1.0),
    ("Soft tissue (low)", 0.35, 0.6),
    ("Bone / high contrast (high)", 0.65, 0.6),
    ("Narrow (mid)", 0.5, 0.4),
)


def render_display(image, preset: WindowPreset, user_invert: bool) -> np.ndarray:
    """float32 [0,1] HxW, 1.0 = white: the file's polarity (MONOCHROME1 etc.), flipped once more when the user
    pressed Invert."""
    polarity = bool(image.inverted) != bool(user_invert)
    return np.asarray(image.render(preset, invert=polarity), dtype=np.float32)


def user_window(center: float, width: float) -> WindowPreset:
    """A LINEAR window the user dialled in (right-drag)."""
    return WindowPreset(name="Custom", center=float(center), width=max(float(width), 1.0e-6), source="user")


def window_presets(image, value_range: tuple[float, float]) -> list[WindowPreset]:
    """The file's own presets (or the reader's computed default) first, then the standard relative ones."""
    presets = list(getattr(image, "windows", None) or [])
    low, high = value_range
    span = max(high - low, 1e-6)
    for name, rel_center, rel_width in RELATIVE_PRESETS:
        presets.append(WindowPreset(name=name, center=low + rel_center * span, width=rel_width * span,
                                    source="standard"))
    return presets


def default_window_of(image) -> WindowPreset:
    return image.window(None)


def spacing_mm(image) -> tuple[float, float] | None:
    """(row_mm, col_mm) or None when the file does not say."""
    spacing = getattr(image, "pixel_spacing_mm", None)
    if spacing is None:
        return None
    if isinstance(spacing, (int, float)):
        return float(spacing), float(spacing)
    row, col = spacing[0], spacing[1]
    if not row or not col:
        return None
    return float(row), float(col)


def spacing_description(image) -> str:
    """The spacing and where it comes from: PixelSpacing is calibrated in the patient, ImagerPixelSpacing at the
    detector (the patient is magnified on it, so mm measured with it are a little too long)."""
    from annotations.measurements import SPACING_NOTES

    spacing = spacing_mm(image)
    if spacing is None:
        return "pixel spacing unknown: distances in pixels"
    source = getattr(image, "spacing_source", "") or ""
    text = f"{spacing[0]:.4g} x {spacing[1]:.4g} mm/pixel"
    note = SPACING_NOTES.get(source, "")
    return f"{text} ({source}{', ' + note if note else ''})" if source else text


def first_metadata(image, *keys: str) -> str:
    """The first non-empty of these metadata keys, as text ('' when none)."""
    metadata = getattr(image, "metadata", None) or {}
    for key in keys:
        value = metadata.get(key)
        if value not in (None, "", []):
            return str(value)
    return ""


def display_name(image) -> str:
    path = getattr(image, "path", None)
    return Path(path).name if path else "image"


OPPOSITE_DIRECTION = {"L": "R", "R": "L", "A": "P", "P": "A", "H": "F", "F": "H"}


def orientation_labels(image) -> dict[str, str] | None:
    """Patient directions of the image's +x and +y axes from Patient Orientation (e.g. "L\\F"), as
    {"+x": "L", "-x": "R", "+y": "F", "-y": "H"}; None when the file does not say."""
    value = first_metadata(image, "PatientOrientation")
    parts = [p.strip().upper() for p in value.replace("/", "\\").split("\\")] if value else []
    if len(parts) != 2 or not all(parts):
        return None

    def opposite(direction: str) -> str:
        return "".join(OPPOSITE_DIRECTION.get(ch, "?") for ch in direction)

    return {"+x": parts[0], "-x": opposite(parts[0]), "+y": parts[1], "-y": opposite(parts[1])}


def corner_texts(image) -> dict[str, list[str]]:
    """Patient / study / series lines for the four corners in the default layout; empty lines are dropped."""
    from desktop.corner_overlay import corner_lines

    return corner_lines(image)
