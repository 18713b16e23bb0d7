"""`XRayImage`: one loaded radiograph, full depth, with everything needed to display and measure it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inference.errors import ImageLoadError, ImageTooLargeError
from inference.windowing import WindowPreset

# Largest image accepted, in pixels per frame: 80 million (e.g. 8,000 x 10,000). The biggest real radiographs
# (full-field mammography, long-length spine/leg DR) stay below ~40 M; 80 M pixels already needs ~320 MB as
# float32. Checked from the header (DICOM Rows/Columns, PNG/JPEG/TIFF size) BEFORE any pixel is decoded.
MAX_PIXELS = 80_000_000

METADATA_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
    "StudyDate", "StudyTime", "AcquisitionDate", "StudyDescription", "AccessionNumber", "StudyID",
    "ReferringPhysicianName",
    "SeriesDescription", "SeriesNumber", "InstanceNumber", "Modality", "BodyPartExamined", "ViewPosition",
    "Laterality", "ImageLaterality", "PatientOrientation", "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID",
    "SeriesInstanceUID", "Manufacturer", "ManufacturerModelName", "InstitutionName",
    "PixelSpacing", "ImagerPixelSpacing", "PhotometricInterpretation", "BitsStored", "Rows", "Columns",
    "NumberOfFrames", "TransferSyntaxUID", "TransferSyntax",
)


def colourfulness(rgb: np.ndarray) -> float:
    """Mean chroma (max - min channel) of an RGB image on a 0..1 scale: 0 for gray, about 0.2+ for a photograph.
    Computed on a strided subsample: it only has to tell photographs from gray images."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] < 3:
        return 0.0
    step = max(1, int(max(rgb.shape[0], rgb.shape[1]) // 512))
    sample = rgb[::step, ::step, :3].astype(np.float32)
    scale = 65535.0 if sample.size and sample.max() > 255 else 255.0
    return float((sample.max(axis=-1) - sample.min(axis=-1)).mean() / scale) if sample.size else 0.0


def check_pixel_count(path: Path, rows: int, columns: int) -> None:
    """Refuses images above MAX_PIXELS, before anything is allocated."""
    if rows <= 0 or columns <= 0:
        raise ImageLoadError(path, f"the image claims a size of {columns} x {rows} pixels, which is not valid")
    if rows * columns > MAX_PIXELS:
        raise ImageTooLargeError(
            path,
            f"the image is {columns:,} x {rows:,} pixels ({rows * columns / 1e6:.0f} million); "
            f"XRayView opens images up to {MAX_PIXELS / 1e6:.0f} million pixels",
        )


def mask_non_finite(path: Path | None, modality: np.ndarray, padding_mask: np.ndarray | None,
                    notices: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """NaN/Inf pixel values (float pixel data can hold them): they become padding (rendered black, outside every
    computed window) with a notice, so no non-finite value reaches the display or the model. All-NaN is refused."""
    bad = ~np.isfinite(modality)
    count = int(bad.sum())
    if count == 0:
        return modality, padding_mask
    if count == modality.size:
        raise ImageLoadError(path, "no pixel holds a finite value (all are NaN or infinite); nothing to display")
    modality = modality.copy()
    modality[bad] = modality[~bad].min()
    notices.append(f"{count:,} pixel(s) hold NaN or infinite values: shown black and left out of the window")
    return modality, bad if padding_mask is None else (padding_mask | bad)


@dataclass(eq=False)
class XRayImage:
    """A radiograph in modality units plus its display presets and metadata.

    modality: float32 HxW, after Bits Stored / Pixel Representation, Pixel Padding and the Modality LUT
        (Rescale Slope/Intercept or Modality LUT Sequence). Not windowed.
    windows / default_window: every VOI preset of the file (windows and VOI LUT tables), or one computed preset
        when the file has none (identity over the stored range for <= 8-bit data, else min..max of the
        non-padding pixels).
    inverted: MONOCHROME1 XOR Presentation LUT Shape INVERSE; render() applies it so that 1.0 is white.
    padding_mask: True where the pixel is Pixel Padding (outside the exposed area), or None when there is none.
    """

    modality: np.ndarray
    windows: list[WindowPreset]
    default_window: int = 0
    inverted: bool = False
    padding_mask: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    pixel_spacing_mm: tuple[float, float] | None = None
    spacing_source: str | None = None
    notices: list[str] = field(default_factory=list)
    dataset: Any = None
    source_format: str = ""
    path: Path | None = None
    bits_stored: int | None = None
    photometric: str = "MONOCHROME2"
    colourfulness: float = 0.0  # of the source before gray conversion (0 for gray files); the OOD guard reads it
    _lookup: tuple[int, np.ndarray] | None = field(default=None, init=False, repr=False)
    _lookup_checked: bool = field(default=False, init=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.modality.shape)  # type: ignore[return-value]

    @property
    def height(self) -> int:
        return int(self.modality.shape[0])

    @property
    def width(self) -> int:
        return int(self.modality.shape[1])

    def window(self, window: int | str | WindowPreset | None = None) -> WindowPreset:
        """The preset for an index, a name, a WindowPreset (returned as is), or None (the default)."""
        if window is None:
            return self.windows[self.default_window]
        if isinstance(window, WindowPreset):
            return window
        if isinstance(window, str):
            for preset in self.windows:
                if preset.name == window:
                    return preset
            raise KeyError(f"no window preset named {window!r}; have {[p.name for p in self.windows]}")
        return self.windows[int(window)]

    def render(self, window: int | str | WindowPreset | None = None, invert: bool | None = None) -> np.ndarray:
        """Display image, float32 HxW in [0, 1] with 1.0 = white as a radiologist expects.

        window: preset index, name or WindowPreset (None = the default preset).
        invert: None applies the file's own polarity (`self.inverted`); True/False force the final polarity
            relative to the VOI output (the viewer's invert toggle passes `not image.inverted`).
        Padding pixels render black.
        """
        flip = self.inverted if invert is None else bool(invert)
        preset = self.window(window)
        lookup = self._integer_lookup()
        if lookup is not None:
            # Integer-valued images (nearly all radiographs): evaluate the preset once per distinct value and
            # index, ~10x faster for interactive window/level, same float64 formula so results are identical.
            low, index = lookup
            table = preset.apply(np.arange(low, low + int(index.max(initial=0)) + 1, dtype=np.float64), invert=flip)
            display = table[index]
        else:
            display = preset.apply(self.modality, invert=flip)
        if self.padding_mask is not None:
            display[self.padding_mask] = 0.0
        return np.ascontiguousarray(display, dtype=np.float32)

    def _integer_lookup(self) -> tuple[int, np.ndarray] | None:
        """(lowest value, per-pixel uint16 offsets) when every modality value is an integer within a 65,536-wide
        range; None otherwise. Computed once."""
        if self._lookup_checked:
            return self._lookup
        self._lookup_checked = True
        values = self.modality
        if values.size == 0 or not np.isfinite(values).all():
            return None
        low, high = float(values.min()), float(values.max())
        if high - low >= 65536 or not np.array_equal(values, np.rint(values)):
            return None
        self._lookup = (int(low), (values - np.float32(low)).astype(np.uint16))
        return self._lookup
