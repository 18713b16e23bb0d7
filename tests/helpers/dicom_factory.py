"""Builds real DICOM files from pixel arrays (usually real radiographs from ../shared/data) for tests.

Reused by the image I/O, predictor, viewer and PACS tests. Every file is a complete, standard DICOM Part 10 file
(DX / CR / Secondary Capture) with real UIDs; compressed transfer syntaxes are produced by real encoders:
pydicom's encoder plugins (RLE, JPEG-LS via pyjpegls, JPEG 2000 via pylibjpeg-openjpeg, deflate) and dcmtk
(`dcmcjpeg` for the JPEG processes, `dcmconv` for big endian), never by hand-made byte streams.

Convention: the array you pass is *display oriented* (higher = whiter). For MONOCHROME1 the factory stores the
complement (max_stored - value) so that a correct reader renders the same picture for MONOCHROME1 and
MONOCHROME2; pass `store_inverted_for_monochrome1=False` to store the values untouched instead.

Quick examples::

    make_dicom_from_array(arr8, tmp / "a.dcm")                                   # DX, MONOCHROME2, 8 bit
    make_dicom_from_array(arr12, tmp / "b.dcm", bits_stored=12, photometric="MONOCHROME1",
                          transfer_syntax=JPEGLSLossless, window=[(2048, 4096, "FULL")])
    make_dicom_from_image(shared_data / "samples/.../x.jpeg", tmp / "c.dcm", size=256)
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    PYDICOM_IMPLEMENTATION_UID,
    RLELossless,
    generate_uid,
)

DX_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.1")
CR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.1")
SECONDARY_CAPTURE = UID("1.2.840.10008.5.1.4.1.1.7")
BASIC_TEXT_SR = UID("1.2.840.10008.5.1.4.1.1.88.11")

SOP_CLASS_FOR_MODALITY = {"DX": DX_FOR_PRESENTATION, "CR": CR_IMAGE_STORAGE}

# Transfer syntaxes written by pydicom directly (native) or via its encoder plugins.
_NATIVE = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
_PYDICOM_ENCODED = {RLELossless, JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000}
# Transfer syntaxes written with dcmtk from an explicit little endian file: tool + arguments.
_DCMTK = {
    ExplicitVRBigEndian: ["dcmconv", "+tb"],
    JPEGBaseline8Bit: ["dcmcjpeg", "+eb", "+q", "95"],
    JPEGExtended12Bit: ["dcmcjpeg", "+ee", "+q", "95"],
    JPEGLosslessSV1: ["dcmcjpeg", "+e1"],
}
SUPPORTED_TRANSFER_SYNTAXES = tuple(sorted(_NATIVE | _PYDICOM_ENCODED | set(_DCMTK)))
LOSSLESS_TRANSFER_SYNTAXES = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    RLELossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEG2000Lossless,
)

WindowSpec = tuple[float, float] | tuple[float, float, str]


def load_gray_image(path: str | Path, size: int | None = 256) -> np.ndarray:
    """Reads a real image as 8-bit gray (Pillow's ITU-R 601 luma), optionally shrunk so its long side is `size`."""
    with Image.open(path) as img:
        gray = img.convert("L")
        if size is not None and max(gray.size) > size:
            scale = size / max(gray.size)
            gray = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))),
                               Image.Resampling.LANCZOS)
        return np.asarray(gray, dtype=np.uint8).copy()


def widen_to_bits(arr8: np.ndarray, bits: int) -> np.ndarray:
    """Spreads an 8-bit image over `bits` (e.g. 12) so that every stored bit is used: v * (2^bits-1) / 255."""
    top = (1 << bits) - 1
    return ((arr8.astype(np.uint32) * top + 127) // 255).astype(np.uint16)


def make_dicom_from_image(src: str | Path, path: str | Path, *, size: int | None = 256, bits_stored: int = 8,
                          **kwargs) -> Path:
    """A DICOM built from a real PNG/JPEG: gray, shrunk to `size`, widened to `bits_stored` (8, 12 or 16)."""
    arr = load_gray_image(src, size)
    if bits_stored > 8:
        arr = widen_to_bits(arr, bits_stored)
    return make_dicom_from_array(arr, path, bits_stored=bits_stored, **kwargs)


def make_dicom_from_array(
    arr: np.ndarray,
    path: str | Path,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    window: WindowSpec | Sequence[WindowSpec] | None = None,
    voi_lut: dict | None = None,
    voi_lut_function: str | None = None,
    rescale: tuple[float, float] | None = None,
    modality_lut: dict | None = None,
    padding_value: int | None = None,
    presentation_lut_shape: str | None = None,
    spacing: tuple[float, float] | None = None,
    spacing_tag: str = "ImagerPixelSpacing",
    modality: str = "DX",
    patient: tuple[str, str] = ("ANONYMOUS^TEST", "TEST0001"),
    body_part: str = "CHEST",
    view_position: str = "PA",
    store_inverted_for_monochrome1: bool = True,
    near_lossless_error: int = 2,
    j2k_compression_ratio: float = 10.0,
    extra: dict | None = None,
) -> Path:
    """Writes `arr` as a DICOM file at `path` and returns the path.

    arr: HxW integer array (display oriented), HxWx3 uint8 (written as RGB), or FxHxW (multi-frame).
    bits_stored: default 8 for uint8/int8 input, otherwise the smallest of 12/16 that holds the values.
    Signed input (int8/int16) is written with Pixel Representation 1.
    window: (center, width) or (center, width, explanation), or a list of them (multi-valued presets).
    voi_lut: {"first_mapped": int, "lut": uint16 array, "bits": int, "explanation": str} (VOI LUT Sequence item).
    modality_lut: {"first_mapped": int, "lut": uint16 array, "bits": int, "type": "US"} (Modality LUT Sequence).
    rescale: (slope, intercept). padding_value: Pixel Padding Value in stored units.
    spacing: (row_mm, col_mm) written to `spacing_tag` ("ImagerPixelSpacing" or "PixelSpacing").
    transfer_syntax: any of SUPPORTED_TRANSFER_SYNTAXES. `extra`: more attributes, {keyword: value}.
    """
    path = Path(path)
    arr = np.asarray(arr)
    is_rgb = arr.ndim == 3 and arr.shape[-1] == 3 and photometric == "RGB"
    if photometric == "RGB" and not is_rgb:
        raise ValueError("photometric RGB needs an HxWx3 array")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"pixel arrays must be integer, got {arr.dtype}")
    signed = np.issubdtype(arr.dtype, np.signedinteger)
    if bits_stored is None:
        bits_stored = _smallest_bits(arr, signed)
    bits_allocated = 8 if bits_stored <= 8 else 16
    stored = _stored_values(arr, photometric, bits_stored, signed, store_inverted_for_monochrome1)

    ds = _base_dataset(modality, patient, body_part, view_position)
    ds.Rows, ds.Columns = stored.shape[-3:-1] if is_rgb else stored.shape[-2:]
    ds.SamplesPerPixel = 3 if is_rgb else 1
    if is_rgb:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    frames = stored.shape[0] if stored.ndim == (4 if is_rgb else 3) else 1
    if frames > 1:
        ds.NumberOfFrames = frames
    dtype = np.dtype(f"{'i' if signed else 'u'}{bits_allocated // 8}")
    ds.PixelData = stored.astype(dtype).astype(dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OB" if bits_allocated == 8 else "OW"

    _add_grayscale_transforms(ds, window, voi_lut, voi_lut_function, rescale, modality_lut, padding_value,
                              presentation_lut_shape, signed)
    if spacing is not None:
        setattr(ds, spacing_tag, [f"{spacing[0]:.6g}", f"{spacing[1]:.6g}"])
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    if transfer_syntax in (JPEGBaseline8Bit,) and bits_stored > 8:
        raise ValueError("JPEG baseline holds 8-bit samples only; use JPEGExtended12Bit or a lossless syntax")
    if transfer_syntax in (JPEGExtended12Bit,) and bits_stored > 12:
        raise ValueError("JPEG extended holds at most 12-bit samples")
    return _write(ds, path, UID(transfer_syntax), near_lossless_error, j2k_compression_ratio)


def make_sr_document(path: str | Path, patient: tuple[str, str] = ("ANONYMOUS^TEST", "TEST0001")) -> Path:
    """A real Basic Text SR (a DICOM with no pixel data at all), for the 'no image in this file' path."""
    ds = _base_dataset("SR", patient, "CHEST", "")
    ds.SOPClassUID = BASIC_TEXT_SR
    ds.file_meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    for keyword in ("BodyPartExamined", "ViewPosition", "ImageType"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = "18748-4", "LN", "Diagnostic imaging report"
    ds.ConceptNameCodeSequence = DicomSequence([concept])
    text = Dataset()
    text.RelationshipType, text.ValueType, text.TextValue = "CONTAINS", "TEXT", "No acute cardiopulmonary findings."
    ds.ContentSequence = DicomSequence([text])
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    return _write(ds, Path(path), ExplicitVRLittleEndian, 0, 0)


def make_oversized_dicom(path: str | Path, rows: int = 20000, columns: int = 20000, bits_stored: int = 16) -> Path:
    """A DICOM whose header claims rows x columns pixels but that carries only a few bytes of pixel data.

    A reader must refuse it from the header alone (allocating rows*columns*2 bytes would be the bug under test).
    """
    ds = _base_dataset("DX", ("ANONYMOUS^TEST", "TEST0001"), "CHEST", "PA")
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = 8 if bits_stored <= 8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits_stored, bits_stored - 1, 0
    ds.PixelData = bytes(1024)
    ds["PixelData"].VR = "OW" if ds.BitsAllocated == 16 else "OB"
    return _write(ds, Path(path), ExplicitVRLittleEndian, 0, 0)


def have_dcmtk() -> bool:
    return all(shutil.which(tool) for tool in ("dcmcjpeg", "dcmconv", "img2dcm"))


def img2dcm(src_jpeg: str | Path, path: str | Path, *extra_args: str) -> Path:
    """dcmtk's img2dcm: wraps a JPEG file's own bytes, unchanged, as an encapsulated JPEG DICOM."""
    path = Path(path)
    _run(["img2dcm", *extra_args, str(src_jpeg), str(path)])
    return path


# --- internals -------------------------------------------------------------------------------------------------

def _smallest_bits(arr: np.ndarray, signed: bool) -> int:
    if arr.dtype.itemsize == 1:
        return 8
    span = int(max(abs(int(arr.max())), abs(int(arr.min())))) if arr.size else 0
    for bits in (12, 16):
        if span < (1 << (bits - 1 if signed else bits)):
            return bits
    raise ValueError("values do not fit 16 bits")


def _stored_values(arr: np.ndarray, photometric: str, bits_stored: int, signed: bool, invert_m1: bool) -> np.ndarray:
    low, high = (-(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1) if signed else (0, (1 << bits_stored) - 1)
    if arr.size and (int(arr.min()) < low or int(arr.max()) > high):
        raise ValueError(f"values {arr.min()}..{arr.max()} do not fit {bits_stored} stored bits")
    if photometric == "MONOCHROME1" and invert_m1:
        if signed:
            raise ValueError("storing MONOCHROME1 inverted is only defined here for unsigned data")
        return (high - arr.astype(np.int64)).astype(arr.dtype)
    return arr


def _base_dataset(modality: str, patient: tuple[str, str], body_part: str, view_position: str) -> Dataset:
    sop_class = SOP_CLASS_FOR_MODALITY.get(modality, SECONDARY_CAPTURE)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyDate, ds.StudyTime = "20240115", "093000"
    ds.SeriesDate, ds.ContentDate, ds.ContentTime = "20240115", "20240115", "093012"
    ds.AccessionNumber = "ACC0001"
    ds.Modality = modality
    ds.Manufacturer = "XRayView test factory"
    ds.StudyDescription = "XR CHEST PA"
    ds.SeriesDescription = f"{view_position} view" if view_position else "Report"
    ds.PatientName, ds.PatientID = patient
    ds.PatientBirthDate, ds.PatientSex = "19800101", "O"
    ds.BodyPartExamined = body_part
    if modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ViewPosition = view_position
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1, 1
    ds.PatientOrientation = ["L", "F"] if view_position else ""
    return ds


def _add_grayscale_transforms(ds, window, voi_lut, voi_lut_function, rescale, modality_lut, padding_value,
                              presentation_lut_shape, signed) -> None:
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = f"{rescale[0]:.10g}", f"{rescale[1]:.10g}"
        ds.RescaleType = "US"
    if modality_lut is not None:
        ds.ModalityLUTSequence = DicomSequence([_lut_item(modality_lut, signed, "ModalityLUTType")])
    if window is not None:
        presets = [window] if isinstance(window[0], (int, float, np.number)) else list(window)
        ds.WindowCenter = [f"{p[0]:.10g}" for p in presets] if len(presets) > 1 else f"{presets[0][0]:.10g}"
        ds.WindowWidth = [f"{p[1]:.10g}" for p in presets] if len(presets) > 1 else f"{presets[0][1]:.10g}"
        names = [p[2] if len(p) > 2 else f"WINDOW{i + 1}" for i, p in enumerate(presets)]
        ds.WindowCenterWidthExplanation = names if len(names) > 1 else names[0]
    if voi_lut is not None:
        items = voi_lut if isinstance(voi_lut, (list, tuple)) else [voi_lut]
        ds.VOILUTSequence = DicomSequence([_lut_item(item, signed, None) for item in items])
    if voi_lut_function is not None:
        ds.VOILUTFunction = voi_lut_function
    if padding_value is not None:
        ds.PixelPaddingValue = int(padding_value)
        ds["PixelPaddingValue"].VR = "SS" if signed else "US"
    if presentation_lut_shape is not None:
        ds.PresentationLUTShape = presentation_lut_shape


def _lut_item(spec: dict, signed: bool, type_keyword: str | None) -> Dataset:
    lut = np.asarray(spec["lut"], dtype=np.uint16)
    item = Dataset()
    item.LUTDescriptor = [len(lut) if len(lut) < 65536 else 0, int(spec.get("first_mapped", 0)), int(spec["bits"])]
    item["LUTDescriptor"].VR = "SS" if signed and spec.get("first_mapped", 0) < 0 else "US"
    item.LUTData = lut.astype("<u2").tobytes()
    item["LUTData"].VR = "OW"
    if "explanation" in spec:
        item.LUTExplanation = spec["explanation"]
    if type_keyword:
        setattr(item, type_keyword, spec.get("type", "US"))
    return item


def _write(ds: Dataset, path: Path, transfer_syntax: UID, near_error: int, j2k_ratio: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if transfer_syntax in _NATIVE:
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        ds.save_as(path, enforce_file_format=True)
        return path
    if transfer_syntax in _PYDICOM_ENCODED:
        kwargs = {}
        if transfer_syntax == JPEGLSNearLossless:
            kwargs["jls_error"] = near_error
        elif transfer_syntax == JPEG2000:
            kwargs["j2k_cr"] = [j2k_ratio]
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(transfer_syntax, **kwargs)
        ds.save_as(path, enforce_file_format=True)
        return path
    if transfer_syntax in _DCMTK:
        tool_args = _DCMTK[transfer_syntax]
        if not shutil.which(tool_args[0]):
            raise RuntimeError(f"{tool_args[0]} (dcmtk) is needed to write {transfer_syntax.name}; "
                               "apt-get install dcmtk")
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "plain.dcm"
            ds.save_as(plain, enforce_file_format=True)
            _run([*tool_args, str(plain), str(path)])
        return path
    raise ValueError(f"the test factory cannot write transfer syntax {transfer_syntax!r}")


def _run(cmd: Iterable[str]) -> None:
    cmd = list(cmd)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
