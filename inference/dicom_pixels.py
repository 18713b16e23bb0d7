"""DICOM radiographs into an `XRayImage`, in the DICOM pixel pipeline order:

stored values -> Bits Stored / Pixel Representation -> Pixel Padding Value -> Modality LUT (Rescale
Slope/Intercept or Modality LUT Sequence) = `XRayImage.modality`; the VOI presets (Window Center/Width with
VOI LUT Function, VOI LUT Sequence) and the polarity (MONOCHROME1 XOR Presentation LUT Shape INVERSE) are kept
for `XRayImage.render()`.

Decoding goes through pydicom 3's decoder plugins with permissively licensed back ends only (python-gdcm,
pylibjpeg-openjpeg, pylibjpeg-rle, pyjpegls, Pillow); never pylibjpeg-libjpeg (GPL).
"""
from __future__ import annotations

import io
import math
import os
import struct
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.errors import InvalidDicomError
from pydicom.filereader import _read_file_meta_info, read_partial
from pydicom.pixels import apply_color_lut, get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGExtended12Bit,
)

from inference import decoder_sandbox
from inference.dicom_codecs import DECODER_ATTRIBUTES
from inference.dicom_header import (
    PIXEL_TAGS,
    as_float,
    as_int,
    default_window,
    file_presets,
    functional_group_item,
    header_only,
    little_endian,
    lut_table,
    metadata_of,
    note_lossy,
    pixel_spacing,
)
from inference.errors import (
    DecoderCrashedError,
    DecoderMissingError,
    ImageLoadError,
    MissingPixelDataError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from inference.error_words import decoders_in_words, in_words
from inference.raster_io import rgb_to_gray
from inference.xray_image import XRayImage, check_pixel_count, colourfulness, mask_non_finite

PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

# What to `pip install` for each compressed family (permissive back ends only).
_INSTALL_HINTS = {
    "1.2.840.10008.1.2.5": "pylibjpeg pylibjpeg-rle",
    "1.2.840.10008.1.2.4.50": "python-gdcm (or Pillow)",
    "1.2.840.10008.1.2.4.51": "python-gdcm",
    "1.2.840.10008.1.2.4.57": "python-gdcm",
    "1.2.840.10008.1.2.4.70": "python-gdcm",
    "1.2.840.10008.1.2.4.80": "pyjpegls (or python-gdcm)",
    "1.2.840.10008.1.2.4.81": "pyjpegls (or python-gdcm)",
    "1.2.840.10008.1.2.4.90": "pylibjpeg pylibjpeg-openjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.91": "pylibjpeg pylibjpeg-openjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.201": "pylibjpeg pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg pylibjpeg-openjpeg",
}
# Decoder plugins, fastest first (pydicom's own RLE decoder is pure Python, ~25x slower than pylibjpeg-rle); GDCM
# is tried last. All of them run in the decoder worker process (inference.decoder_sandbox).
_PLUGIN_PREFERENCE = {"pylibjpeg": 0, "pyjpegls": 1, "pillow": 2, "pydicom": 3}
# warnings.catch_warnings swaps process-wide state: one reader at a time (header reads are short, pixel data
# is deferred).
_WARNINGS_LOCK = threading.Lock()
# Values larger than this stay on disk until the size check has passed (pydicom deferred reading).
_DEFER_BYTES = 256 * 1024
# Bounds on reading a header (see _StopAfterPixelData, _BudgetedFile, _check_deflated_size): far above any real
# radiograph header (a few hundred elements; enhanced multi-frame objects a few hundred thousand reads).
MAX_TOP_LEVEL_ELEMENTS = 100_000
MAX_HEADER_READS = 1_000_000
MAX_HEADER_SECONDS = 10.0
MAX_INFLATED_BYTES = 2 << 30


def read_dicom(path: Path, has_preamble: bool = True) -> XRayImage:
    """Reads a DICOM file. `has_preamble` False: the file lacks the 'DICM' marker and is DICOM only if its
    content parses as a data set; failures then mean 'not DICOM' (UnsupportedFormatError)."""
    try:
        ds = _read_dataset(path)
    except ImageLoadError as exc:
        if has_preamble:
            raise
        raise UnsupportedFormatError(path, f"this is not a readable DICOM file ({exc.reason})") from None
    if getattr(ds, "preamble", None) is None and "SOPClassUID" not in ds and "Rows" not in ds:
        # A data set without preamble is recognised only by its content; this one has nothing DICOM-like.
        raise UnsupportedFormatError(path, "this is not a readable DICOM file (no DICOM header found)")
    _require_image(path, ds)
    rows, columns = int(ds.Rows), int(ds.Columns)
    check_pixel_count(path, rows, columns)
    notices: list[str] = []
    frames = as_int(ds.get("NumberOfFrames"), 1)
    if frames > 1:
        notices.append(f"multi-frame image ({frames} frames): showing the first frame")
    transfer_syntax = _transfer_syntax(ds)

    stored, info = _decode_first_frame(path, ds, transfer_syntax)
    photometric = str(info.get("photometric_interpretation", ds.get("PhotometricInterpretation", "MONOCHROME2")))
    bits_stored = int(info.get("bits_stored", ds.get("BitsStored", 8)))
    if stored.dtype.kind == "f":  # Float/Double Float Pixel Data have no Bits Stored: window them min-max
        bits_stored = stored.dtype.itemsize * 8
    signed = int(info.get("pixel_representation", ds.get("PixelRepresentation", 0))) == 1
    is_colour = stored.ndim == 3 or photometric == "PALETTE COLOR"

    chroma = colourfulness(stored) if stored.ndim == 3 else 0.0
    if is_colour:
        stored = _colour_to_gray(path, ds, stored, photometric, notices)
        bits_stored = 8 if stored.dtype == np.uint8 else bits_stored
        photometric = "MONOCHROME2"
        padding_mask = None
    else:
        if np.issubdtype(stored.dtype, np.integer):
            stored = _apply_bits_stored(stored, bits_stored, signed)
        padding_mask = _padding_mask(ds, stored, signed)

    if is_colour:
        modality = stored.astype(np.float32)
        modality_of = None
    else:
        modality_of = _modality_transform(ds, signed, notices)
        modality = modality_of(stored)
        if modality.dtype.kind == "f" and np.isfinite(stored).all() and not np.isfinite(modality).all():
            # finite stored values, finite slope/intercept, yet values overflow float32: the transform is bogus
            notices.append("Modality transform ignored: it maps the stored values beyond the float32 range")
            modality_of = _identity
            modality = modality_of(stored)
    if modality.dtype.kind == "f" and not np.isfinite(modality).all():  # float pixel data can hold NaN/Inf
        modality, padding_mask = mask_non_finite(path, modality, padding_mask, notices)

    windows = [] if is_colour else file_presets(ds, signed, notices)
    if not windows:
        windows = [default_window(modality, padding_mask, bits_stored, signed, modality_of, is_colour)]
    inverted = (photometric == "MONOCHROME1") != (str(ds.get("PresentationLUTShape", "")).upper() == "INVERSE")
    note_lossy(ds, transfer_syntax, notices)
    spacing, spacing_source = pixel_spacing(ds, notices)
    header = header_only(ds, notices)
    metadata = metadata_of(header, transfer_syntax)
    return XRayImage(modality=np.ascontiguousarray(modality, dtype=np.float32), windows=windows, default_window=0,
                     inverted=inverted, padding_mask=padding_mask, metadata=metadata, pixel_spacing_mm=spacing,
                     spacing_source=spacing_source, notices=notices, dataset=header, source_format="dicom",
                     path=path, bits_stored=bits_stored, photometric=photometric, colourfulness=chroma)


# --- reading and decoding ----------------------------------------------------------------------------------------

class _HeaderTooLarge(Exception):
    pass


class _StopAfterPixelData:
    """pydicom `stop_when` for the top-level data set: read the Pixel Data element, then stop. Whatever follows
    (trailing padding, a sparse multi-GB tail, digital signatures) is never read. Also bounds the number of
    top-level elements, so a file of zeros without pixel data cannot keep the parser busy for minutes."""

    def __init__(self):
        self.pixel_data_seen = False
        self.elements = 0

    def __call__(self, tag, vr, length) -> bool:
        self.elements += 1
        if self.elements > MAX_TOP_LEVEL_ELEMENTS:
            raise _HeaderTooLarge()
        if self.pixel_data_seen:
            return True
        if int(tag) in PIXEL_TAGS:
            self.pixel_data_seen = True
        return False


class _BudgetedFile(io.BufferedReader):
    """A file whose read() calls are counted and timed: nested sequences (and a leading run of group 0000
    "command" elements) are parsed without `stop_when`, so this bounds the parser's work on any damaged or
    hostile structure. A radiograph header needs a few hundred reads; 8 MB of zeros would need a million."""

    def __init__(self, path: Path):
        super().__init__(io.FileIO(os.fspath(path), "rb"))  # a str name: pydicom re-opens it for deferred values
        self.reads = 0
        self.deadline = time.monotonic() + MAX_HEADER_SECONDS

    def read(self, size=-1):
        self.reads += 1
        if self.reads > MAX_HEADER_READS or (self.reads % 4096 == 0 and time.monotonic() > self.deadline):
            raise _HeaderTooLarge()
        return super().read(size)


def _read_dataset(path: Path) -> Dataset:
    try:
        _check_deflated_size(path)
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _BudgetedFile(path) as handle:
                ds = read_partial(handle, stop_when=_StopAfterPixelData(), defer_size=_DEFER_BYTES, force=True)
        # pydicom reports a cut-off sequence or encapsulated Pixel Data only as a warning (and may drop data).
        for warning in caught:
            if "end of file" in str(warning.message).lower():
                in_words(str(warning.message), path)  # the parser's words go to the log
                raise TruncatedFileError(path, "the file is cut short: it ends inside a DICOM element")
        return ds
    except _HeaderTooLarge:
        raise ImageLoadError(path, "the DICOM header is damaged: it holds far more elements than any image "
                                   "header, so reading it was stopped") from None
    except InvalidDicomError as exc:
        raise UnsupportedFormatError(path, f"this is not a readable DICOM file ({in_words(str(exc), path)})") from None
    except (EOFError, struct.error) as exc:
        in_words(str(exc), path)
        raise TruncatedFileError(path, "the DICOM file ends before its data is complete") from None
    except zlib.error as exc:
        if "-5" in str(exc) or "truncated" in str(exc):
            raise TruncatedFileError(path, "the deflate-compressed DICOM data ends early; the file is cut short") from None
        in_words(str(exc), path)
        raise ImageLoadError(path, "the deflate-compressed DICOM data is damaged: it cannot be inflated") from None
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, NotImplementedError) as exc:
        raise ImageLoadError(path, f"the DICOM header is damaged and cannot be read: {in_words(str(exc), path)}") \
            from None


def _check_deflated_size(path: Path) -> None:
    """Deflated Explicit VR files are inflated whole by pydicom: refuse one that inflates past the size of the
    largest image XRayView opens (a small "deflate bomb" would otherwise fill the memory)."""
    with open(path, "rb") as handle:
        preamble = handle.read(132)
        if preamble[128:132] != b"DICM":
            return
        try:
            meta = _read_file_meta_info(handle)
        except Exception:  # noqa: BLE001 - a damaged meta group is reported by the real read below
            return
        if str(meta.get("TransferSyntaxUID", "")) != DeflatedExplicitVRLittleEndian:
            return
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        inflated = 0
        while chunk := handle.read(1 << 20):
            while chunk:
                inflated += len(inflater.decompress(chunk, 1 << 24))
                chunk = inflater.unconsumed_tail
                if inflated > MAX_INFLATED_BYTES:
                    raise ImageLoadError(path, f"the deflate-compressed data set inflates to more than "
                                               f"{MAX_INFLATED_BYTES >> 20:,} MB; refused")
            if inflater.eof:
                return


def _require_image(path: Path, ds: Dataset) -> None:
    has_pixels = any(keyword in ds for keyword in PIXEL_DATA_KEYWORDS)
    if not has_pixels and "Rows" in ds and "Columns" in ds:
        # pydicom stops quietly at a cut-off encapsulated Pixel Data element: the header promises an image.
        raise TruncatedFileError(
            path, f"the header describes a {ds.Columns} x {ds.Rows} image but the pixel data is missing; "
                  "the file is cut short or its pixels were stripped")
    if not has_pixels and "SOPClassUID" not in ds:
        raise ImageLoadError(path, "the DICOM file is damaged: it holds no readable image and no SOP Class")
    if not has_pixels:
        kind = _sop_class_name(ds)
        raise MissingPixelDataError(path, f"this DICOM file contains no image ({kind}); nothing to display")
    if "Rows" not in ds or "Columns" not in ds:
        raise ImageLoadError(path, "the DICOM image has no Rows/Columns, so its size is unknown")


def _sop_class_name(ds: Dataset) -> str:
    uid = ds.get("SOPClassUID") or ds.get("file_meta", Dataset()).get("MediaStorageSOPClassUID")
    if not uid:
        return "no SOP Class given"
    name = UID(str(uid)).name
    return f"a {name}" if name and name != str(uid) else f"SOP Class {uid}"


def _transfer_syntax(ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if not uid:  # no file meta (raw data set): use the encoding pydicom detected
        implicit, little = ds.original_encoding
        uid = ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
        if meta is None:
            ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = uid
    return UID(str(uid))


def _decode_first_frame(path: Path, ds: Dataset, transfer_syntax: UID) -> tuple[np.ndarray, dict]:
    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError:
        name = transfer_syntax.name if transfer_syntax.is_valid else transfer_syntax
        raise UnsupportedFormatError(
            path, f"its transfer syntax {name} ({transfer_syntax}) is not one XRayView can decode") from None
    if not decoder.is_available:
        raise DecoderMissingError(
            path, f"decoding {transfer_syntax.name} ({transfer_syntax}) needs a decoder that is not installed: "
                  f"pip install {_INSTALL_HINTS.get(str(transfer_syntax), 'python-gdcm')}")
    _check_native_length(path, ds, transfer_syntax)
    if not transfer_syntax.is_compressed:
        # native pixel data: NumPy reshapes the bytes in this process; no native codec is involved
        try:
            return decoder.as_array(ds, index=0, as_rgb=True)
        except Exception as exc:  # noqa: BLE001 - reported as damage below
            raise _decode_error(path, transfer_syntax, [("", str(exc))]) from None

    # Compressed: every codec runs in the decoder worker process (a panic, abort or crash there is this file's
    # error); each plugin is tried in its own request, so a crash in one still lets the next one try.
    attrs = _decoder_attributes(ds)
    deadline = time.monotonic() + (decoder_sandbox.timeout_s() or 1e9)
    failures: list[str] = []
    twelve_bit_jpeg = transfer_syntax == JPEGExtended12Bit and as_int(ds.get("BitsStored"), 8) > 8
    if twelve_bit_jpeg:
        if "gdcm" not in decoder.available_plugins:
            raise DecoderMissingError(
                path, f"decoding 12-bit {transfer_syntax.name} ({transfer_syntax}) needs python-gdcm: "
                      "pip install python-gdcm")
        requests = [("gdcm", "dicom_gdcm_file", [os.fsencode(path)])]
    else:
        frame = _first_frame(path, ds)
        plugins = sorted((name for name in decoder.available_plugins if name != "gdcm"),
                         key=lambda name: _PLUGIN_PREFERENCE.get(name, len(_PLUGIN_PREFERENCE)))
        plugins += ["gdcm"] if "gdcm" in decoder.available_plugins else []  # last: the slowest and least robust
        requests = [(plugin, "dicom_frame", [frame]) for plugin in plugins]
    for plugin, task, blobs in requests:
        try:
            info, (array,) = decoder_sandbox.run(task, {"transfer_syntax": str(transfer_syntax), "plugin": plugin,
                                                        "attrs": attrs}, blobs, path, deadline)
            return array, info
        except decoder_sandbox.DecoderFailed as exc:
            failures.append((plugin, str(exc)))
        except DecoderCrashedError as exc:
            failures.append((plugin, exc.reason))
    raise _decode_error(path, transfer_syntax, failures)


def _decoder_attributes(ds: Dataset) -> dict:
    """What the decoder needs from the header, as JSON values (a malformed one is left out: the decoder then
    reports it missing)."""
    attrs: dict = {}
    for keyword in DECODER_ATTRIBUTES:
        try:
            value = ds.get(keyword)
        except Exception:  # noqa: BLE001 - an element too damaged to convert counts as missing
            value = None
        if value is None:
            continue
        if keyword == "PhotometricInterpretation":
            attrs[keyword] = str(value)
            continue
        number = as_int(value, None)
        if number is not None and -(1 << 31) <= number < (1 << 32):
            attrs[keyword] = number
    return attrs


def _first_frame(path: Path, ds: Dataset) -> bytes:
    """Frame 0's encapsulated bytes, found the way pydicom's decoders find it (Basic/Extended Offset Table,
    one fragment per frame, or JPEG markers); pure Python, in this process."""
    frames = max(1, as_int(ds.get("NumberOfFrames"), 1))
    extended = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        extended = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    try:
        return bytes(get_frame(ds.PixelData, 0, extended_offsets=extended, number_of_frames=frames))
    except (ValueError, IndexError, KeyError, TypeError, struct.error) as exc:
        raise _decode_error(path, _transfer_syntax(ds), [("", f"encapsulated pixel data: {exc}")]) from None


def _decode_error(path: Path, transfer_syntax: UID, failures: list[tuple[str, str]]) -> ImageLoadError:
    """failures: (decoder, its exception text) for every decoder tried; the message says in words what is wrong
    (inference.error_words), the decoders' own text goes to the log."""
    lowered = " ".join(text for _, text in failures).lower()
    if any(word in lowered for word in ("truncat", "end of file", "premature end", "insufficient",
                                        "not enough", "shorter than")):
        in_words(lowered, path)
        return TruncatedFileError(path, f"the {transfer_syntax.name} pixel data is cut short")
    reason = decoders_in_words(failures, path) if failures else "no decoder produced an image"
    return ImageLoadError(path, f"the {transfer_syntax.name} pixel data is damaged and could not be decoded: "
                                f"{reason}")


def _check_native_length(path: Path, ds: Dataset, transfer_syntax: UID) -> None:
    if transfer_syntax.is_compressed or "PixelData" not in ds:
        return
    samples = as_int(ds.get("SamplesPerPixel"), 1)
    if samples == 3 and str(ds.get("PhotometricInterpretation", "")) == "YBR_FULL_422":
        samples = 2  # native 4:2:2 stores two chroma samples per two pixels
    expected = (int(ds.Rows) * int(ds.Columns) * samples * as_int(ds.get("BitsAllocated"), 8) + 7) // 8
    actual = len(ds.PixelData) if ds.PixelData is not None else 0
    if actual < expected:  # only the first frame is needed
        raise TruncatedFileError(
            path, f"the pixel data holds {actual:,} bytes but one {ds.Columns} x {ds.Rows} frame needs "
                  f"{expected:,}; the file is cut short or damaged")


# --- pixel pipeline ----------------------------------------------------------------------------------------------

def _apply_bits_stored(stored: np.ndarray, bits_stored: int, signed: bool) -> np.ndarray:
    """Keeps only the Bits Stored low bits (values above High Bit are other data, e.g. old overlays) and
    sign-extends them for Pixel Representation 1."""
    if bits_stored >= stored.dtype.itemsize * 8:
        return stored
    mask = (1 << bits_stored) - 1
    if not signed:
        if int(stored.max(initial=0)) <= mask:  # the usual case: nothing above High Bit, no copy needed
            return stored
        return np.bitwise_and(stored, stored.dtype.type(mask))
    values = stored.astype(np.int32) & mask
    sign_bit = 1 << (bits_stored - 1)
    return (values ^ sign_bit) - sign_bit


def _padding_mask(ds: Dataset, stored: np.ndarray, signed: bool) -> np.ndarray | None:
    if "PixelPaddingValue" not in ds:
        return None
    first = _signed_value(ds.PixelPaddingValue, signed, ds)
    last = _signed_value(ds.PixelPaddingRangeLimit, signed, ds) if "PixelPaddingRangeLimit" in ds else first
    low, high = min(first, last), max(first, last)
    mask = (stored >= low) & (stored <= high)
    return mask if mask.any() else None


def _signed_value(value, signed: bool, ds: Dataset) -> int:
    value = int(value[0] if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else value)
    bits = as_int(ds.get("BitsAllocated"), 16)
    if signed and value >= 1 << (bits - 1):  # written as US although the data are signed
        value -= 1 << bits
    return value


def _modality_transform(ds: Dataset, signed: bool, notices: list[str]):
    """Returns stored -> modality values as a function (also used on the stored range for default windows)."""
    source = ds
    if "RescaleSlope" not in ds and "ModalityLUTSequence" not in ds:
        source = functional_group_item(ds, "PixelValueTransformationSequence") or ds
    if "ModalityLUTSequence" in source:
        item = source.ModalityLUTSequence[0]
        try:
            lut, first_mapped, _bits = lut_table(item, signed, little_endian(ds))
        except (ValueError, AttributeError, IndexError) as exc:
            notices.append(f"Modality LUT ignored: it is malformed ({in_words(str(exc))})")
        else:
            table = lut.astype(np.float32)

            def through_lut(values: np.ndarray) -> np.ndarray:
                index = np.clip(np.asarray(values, dtype=np.int64) - first_mapped, 0, len(table) - 1)
                return table[index]

            return through_lut
    slope = as_float(source.get("RescaleSlope"), 1.0)
    intercept = as_float(source.get("RescaleIntercept"), 0.0)
    if not math.isfinite(slope):
        notices.append(f"Rescale Slope {slope} ignored: not a finite number (treated as 1)")
        slope = 1.0
    if not math.isfinite(intercept):
        notices.append(f"Rescale Intercept {intercept} ignored: not a finite number (treated as 0)")
        intercept = 0.0
    if slope == 0.0:
        notices.append("Rescale Slope 0 ignored (treated as 1)")
        slope = 1.0

    def rescale(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        if slope == 1.0 and intercept == 0.0:
            return values.astype(np.float32)
        return (values.astype(np.float64) * slope + intercept).astype(np.float32)

    return rescale


def _identity(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype(np.float32)


_PALETTE_DATA = tuple(f"{prefix}{colour}PaletteColorLookupTableData" for prefix in ("", "Segmented")
                      for colour in ("Red", "Green", "Blue", "Alpha"))


def _palette_in_little_endian(ds: Dataset) -> Dataset:
    """pydicom 3.0.2's apply_color_lut reads the palette's OW words in little-endian order whatever the file's byte
    order, so a big-endian file renders near black: its words are swapped to little endian first (in a copy)."""
    if _transfer_syntax(ds) != ExplicitVRBigEndian:
        return ds
    swapped = Dataset()
    for element in ds:
        if element.keyword in _PALETTE_DATA and element.VR in ("OW", "OB or OW", "US or OW") \
                and isinstance(element.value, (bytes, bytearray)) and len(element.value) % 2 == 0:
            words = np.frombuffer(element.value, dtype=">u2").astype("<u2").tobytes()
            swapped.add_new(element.tag, "OW", words)
        else:
            swapped.add(element)
    return swapped


def _colour_to_gray(path: Path, ds: Dataset, stored: np.ndarray, photometric: str, notices: list[str]) -> np.ndarray:
    if photometric == "PALETTE COLOR":
        try:
            stored = apply_color_lut(stored, _palette_in_little_endian(ds))
        except Exception as exc:  # noqa: BLE001 - malformed palettes come in many shapes
            raise ImageLoadError(path, f"the PALETTE COLOR lookup table is unusable: {in_words(str(exc), path)}") \
                from None
        if stored.dtype != np.uint8:
            stored = (stored.astype(np.float64) / 257.0).round().astype(np.uint8)
        notices.append("palette colour image converted to grayscale (ITU-R BT.601 luma)")
    else:
        notices.append(f"colour image ({photometric}) converted to grayscale (ITU-R BT.601 luma)")
    return rgb_to_gray(stored)
