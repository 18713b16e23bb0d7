"""DICOM header reading for `inference.dicom_pixels`: LUT tables, VOI presets, spacing, metadata and the
pixel-free header copy shown in the viewer's tag tree."""
from __future__ import annotations

import math

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from inference.error_words import in_words
from inference.windowing import LINEAR, VOI_FUNCTIONS, WindowPreset, lut_preset, window_from_range
from inference.xray_image import METADATA_KEYWORDS

PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}  # Pixel Data, Float Pixel Data, Double Float Pixel Data


def lut_table(item: Dataset, signed: bool, little_endian: bool = True) -> tuple[np.ndarray, int, int]:
    """(table, first mapped stored value, output bits) from a Modality/VOI LUT item (PS3.3 C.11.1.1)."""
    entries, first_mapped, bits = (int(v) for v in item.LUTDescriptor)
    entries = entries or 65536
    if signed and first_mapped >= 32768:  # descriptor written as US for signed data
        first_mapped -= 65536
    element = item["LUTData"]
    data = element.value
    if isinstance(data, (bytes, bytearray)):
        dtype = "<u2" if little_endian else ">u2"  # OW bytes stay in the file's byte order
        table = np.frombuffer(data, dtype=dtype)
        if bits <= 8 and len(table) * 2 == entries:  # 8-bit entries packed into OW
            table = np.frombuffer(data, dtype=np.uint8)
    else:
        table = np.asarray(data if isinstance(data, (list, tuple, pydicom.multival.MultiValue)) else [data])
    table = table[:entries].astype(np.int64)
    if len(table) == 0:
        raise ValueError("empty LUT")
    return table, first_mapped, bits


def file_presets(ds: Dataset, signed: bool, notices: list[str]) -> list[WindowPreset]:
    """Every VOI preset in the file: Window Center/Width values (named by their explanations), then the VOI LUT
    Sequence tables; enhanced objects' Frame VOI LUT functional group when the top level has none."""
    sources = [ds]
    for keyword in ("FrameVOILUTSequence",):
        item = functional_group_item(ds, keyword)
        if item is not None:
            sources.append(item)
    presets: list[WindowPreset] = []
    for source in sources:
        presets.extend(_window_presets(source, notices))
        for number, item in enumerate(source.get("VOILUTSequence", []) or [], start=1):
            try:
                lut, first_mapped, bits = lut_table(item, signed, little_endian(ds))
            except (ValueError, AttributeError, IndexError, KeyError) as exc:
                notices.append(f"VOI LUT {number} ignored: it is malformed ({in_words(str(exc))})")
                continue
            name = str(item.get("LUTExplanation", "") or f"VOI LUT {number}")
            presets.append(lut_preset(name, lut, first_mapped, bits))
        if presets:
            break
    return presets


def _window_presets(source: Dataset, notices: list[str]) -> list[WindowPreset]:
    if "WindowCenter" not in source or "WindowWidth" not in source:
        return []
    centers, widths = as_list(source.WindowCenter), as_list(source.WindowWidth)
    names = as_list(source.get("WindowCenterWidthExplanation", []))
    function = str(source.get("VOILUTFunction", LINEAR) or LINEAR).upper()
    if function not in VOI_FUNCTIONS:
        notices.append(f"unknown VOI LUT Function {function!r}; using LINEAR")
        function = LINEAR
    presets = []
    for index, (center, width) in enumerate(zip(centers, widths)):
        c, w = as_float(center, None), as_float(width, None)
        minimum_width = 1.0 if function == LINEAR else 0.0
        if c is None or w is None or not (math.isfinite(c) and math.isfinite(w)) or w < minimum_width or (
                function != LINEAR and w <= 0):
            notices.append(f"window preset {index + 1} ignored: center {center!r}, width {width!r} is not valid")
            continue
        name = str(names[index]).strip() if index < len(names) and str(names[index]).strip() else f"Window {index + 1}"
        presets.append(WindowPreset(name=name, center=c, width=w, function=function))
    return presets


def default_window(modality: np.ndarray, padding_mask: np.ndarray | None, bits_stored: int, signed: bool,
                    modality_of, is_colour: bool) -> WindowPreset:
    if bits_stored <= 8 or is_colour:
        low, high = ((-(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1) if signed
                     else (0, (1 << bits_stored) - 1))
        if modality_of is not None:
            ends = modality_of(np.array([low, high]))
            low, high = float(min(ends)), float(max(ends))
        return window_from_range(low, high, f"Full range ({bits_stored}-bit)")
    values = modality[~padding_mask] if padding_mask is not None else modality
    if values.size == 0:
        values = modality
    return window_from_range(float(values.min()), float(values.max()), "Min-max")


_LOSSY_SYNTAXES = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
                   "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.203"}


def note_lossy(ds: Dataset, transfer_syntax: UID, notices: list[str]) -> None:
    """Says when the pixels went through lossy compression (now or earlier in the image's life)."""
    if str(transfer_syntax) in _LOSSY_SYNTAXES or str(ds.get("LossyImageCompression", "")).strip() == "01":
        ratio = as_list(ds.get("LossyImageCompressionRatio"))
        detail = f", ratio {float(ratio[0]):.3g}:1" if ratio and as_float(ratio[0], None) else ""
        notices.append(f"lossy-compressed image ({transfer_syntax.name}{detail}): fine detail may be altered")


def pixel_spacing(ds: Dataset, notices: list[str]) -> tuple[tuple[float, float] | None, str | None]:
    measures = functional_group_item(ds, "PixelMeasuresSequence")
    for source, keyword in ((ds, "PixelSpacing"), (ds, "ImagerPixelSpacing"), (measures, "PixelSpacing")):
        if source is None or keyword not in source:
            continue
        values = as_list(source[keyword].value)
        try:
            row, column = float(values[0]), float(values[1])
        except (ValueError, TypeError, IndexError):
            notices.append(f"{keyword} {values!r} is not valid; distances are shown in pixels")
            continue
        if row > 0 and column > 0 and math.isfinite(row) and math.isfinite(column):
            return (row, column), keyword
        notices.append(f"{keyword} {values!r} is not a positive finite number; distances are shown in pixels")
    return None, None


def functional_group_item(ds: Dataset, keyword: str) -> Dataset | None:
    """`keyword`'s first item from the Shared (else first Per-Frame) Functional Groups of enhanced objects."""
    for group_keyword in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        groups = ds.get(group_keyword)
        if groups and keyword in groups[0] and groups[0][keyword].value:
            return groups[0][keyword].value[0]
    return None


def header_only(ds: Dataset, notices: list[str]) -> Dataset:
    """The data set without its pixel data, for the viewer's tag tree. Elements too damaged to decode (an
    unknown VR, a broken value) are left out with a notice instead of making the whole image unreadable."""
    header = Dataset()
    skipped = []
    for tag in ds.keys():
        if int(tag) in PIXEL_TAGS:
            continue
        try:
            header[tag] = ds[tag]
        except Exception:  # noqa: BLE001 - pydicom converts values lazily and fails in many ways on damage
            skipped.append(str(tag))
    if skipped:
        notices.append(f"{len(skipped)} damaged header element(s) skipped: {', '.join(skipped[:5])}")
    header.file_meta = ds.file_meta
    header.preamble = getattr(ds, "preamble", None)
    return header


def metadata_of(ds: Dataset, transfer_syntax: UID) -> dict:
    metadata: dict = {}
    for keyword in METADATA_KEYWORDS:
        value = ds.get(keyword, "")
        if isinstance(value, pydicom.multival.MultiValue):
            value = "\\".join(str(v) for v in value)
        metadata[keyword] = value if isinstance(value, (int, float)) else str(value if value is not None else "")
    metadata["TransferSyntaxUID"] = str(transfer_syntax)
    metadata["TransferSyntax"] = transfer_syntax.name
    return metadata


def little_endian(ds: Dataset) -> bool:
    encoding = getattr(ds, "original_encoding", (None, True))
    return encoding[1] is not False


def as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return list(value)
    return [value]


def as_int(value, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def as_float(value, default):
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default
