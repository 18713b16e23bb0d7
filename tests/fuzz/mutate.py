"""Seeded mutations of DICOM files (see tests.fuzz). Every function takes a random.Random and the file bytes."""
from __future__ import annotations

import io
import random
import struct
import warnings
from pathlib import Path

import numpy as np
import pydicom
from pydicom import config
from pydicom.encaps import encapsulate, get_frame

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"

# element keyword -> values tried (strings are written verbatim with validation off)
ELEMENT_VALUES = {
    "Rows": [0, 1, 2, 7, 63, 65, 255, 4096, 65535],
    "Columns": [0, 1, 3, 64, 191, 193, 8191, 65535],
    "BitsAllocated": [0, 1, 7, 8, 12, 16, 24, 32, 64, 255],
    "BitsStored": [0, 1, 7, 8, 11, 12, 15, 16, 17, 32, 255],
    "HighBit": [0, 7, 11, 15, 16, 31, 255],
    "PixelRepresentation": [0, 1, 2, 255],
    "SamplesPerPixel": [0, 1, 2, 3, 4, 255],
    "PlanarConfiguration": [0, 1, 2],
    "PhotometricInterpretation": ["MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422",
                                  "YBR_ICT", "YBR_RCT", "ARGB", "", "X" * 40],
    "NumberOfFrames": ["0", "1", "2", "100", "-1", "abc", "99999999"],
    "WindowCenter": ["nan", "inf", "-inf", "1e308", "-1e308", "0", "abc", "", "40\\nan", "1e-320"],
    "WindowWidth": ["nan", "inf", "0", "-1", "1", "1e308", "abc", "", "1e-320"],
    "RescaleSlope": ["nan", "inf", "-inf", "0", "-1", "1e308", "1e-320", "abc", ""],
    "RescaleIntercept": ["nan", "inf", "-1e308", "1e308", "abc", ""],
    "PixelSpacing": [["nan", "nan"], ["inf", "0.1"], ["0", "0"], ["-1", "1"], ["abc", "x"], ["1e308", "1e308"]],
    "VOILUTFunction": ["SIGMOID", "LINEAR_EXACT", "BOGUS", ""],
    "PixelPaddingValue": [0, 1, 255, 4095, 65535],
    "PresentationLUTShape": ["INVERSE", "IDENTITY", "X"],
    "LossyImageCompressionRatio": ["nan", "abc", "0"],
}
TRANSFER_SYNTAXES = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
                     "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
                     "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
                     "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.5", "1.2.999.1", ""]
INTERESTING_BYTES = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]


def seed_files(work: Path) -> list[Path]:
    """The sample DICOMs plus derived 12/16-bit seeds (RLE, JPEG-LS, JPEG 2000 lossless, MONOCHROME1 native) made
    from the samples' own reference pixels with pydicom's encoders. Deterministic except for UIDs."""
    from PIL import Image

    from tests.helpers.dicom_factory import make_dicom_from_array

    seeds = sorted((SAMPLES / "syntaxes").glob("*.dcm")) + [SAMPLES / "chest-pa-sample.dcm"]
    with Image.open(SAMPLES / "syntaxes" / "reference.png") as reference:
        pixels = np.asarray(reference.convert("L"))[:96, :96]
    twelve = (pixels.astype(np.uint16) * 16 + 5).astype(np.uint16)
    derived = [("rle16.dcm", dict(transfer_syntax="1.2.840.10008.1.2.5")),
               ("jpegls16.dcm", dict(transfer_syntax="1.2.840.10008.1.2.4.80")),
               ("j2k16.dcm", dict(transfer_syntax="1.2.840.10008.1.2.4.90")),
               ("mono1_native16.dcm", dict(transfer_syntax="1.2.840.10008.1.2.1", photometric="MONOCHROME1",
                                           window=(2048, 4096)))]
    work.mkdir(parents=True, exist_ok=True)
    for name, options in derived:
        seeds.append(make_dicom_from_array(twelve, work / name, bits_stored=12, **options))
    return seeds


def _without_validation():
    class _Quiet:
        def __enter__(self):
            self.saved = (config.settings.reading_validation_mode, config.settings.writing_validation_mode)
            config.settings.reading_validation_mode = config.settings.writing_validation_mode = config.IGNORE
            self.warnings = warnings.catch_warnings()
            self.warnings.__enter__()
            warnings.simplefilter("ignore")

        def __exit__(self, *exc):
            self.warnings.__exit__(*exc)
            config.settings.reading_validation_mode, config.settings.writing_validation_mode = self.saved
    return _Quiet()


def _pixel_region(data: bytes) -> tuple[int, int]:
    """(start, end) of the Pixel Data value, best effort (the last 7FE0,0010 tag)."""
    tag = data.rfind(b"\xe0\x7f\x10\x00")
    return (tag + 12, len(data)) if tag > 0 else (132, len(data))


def byte_flips(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    out = bytearray(data)
    start, end = _pixel_region(data) if rng.random() < 0.6 else (132, len(data))
    count = rng.choice([1, 1, 2, 4, 8, 16])
    for _ in range(count):
        position = rng.randrange(start, max(start + 1, end))
        if position < len(out):
            out[position] = rng.choice(INTERESTING_BYTES) if rng.random() < 0.3 else rng.randrange(256)
    return bytes(out), f"byte_flips({count})"


def truncation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    start, end = _pixel_region(data) if rng.random() < 0.7 else (0, len(data))
    cut = rng.randrange(start, max(start + 1, end))
    return data[:cut], f"truncate({cut}/{len(data)})"


def padding(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    kind = rng.choice(["zeros", "ff", "random", "trailing_tag"])
    size = rng.choice([1, 7, 8, 1024, 65536])
    if kind == "zeros":
        tail = bytes(size)
    elif kind == "ff":
        tail = b"\xff" * size
    elif kind == "random":
        tail = rng.randbytes(size)
    else:  # a Data Set Trailing Padding element claiming more than is there
        tail = b"\xfc\xff\xfc\xff" + b"OB\x00\x00" + struct.pack("<I", 0xFFFFFFF0) + bytes(size)
    return data + tail, f"padding({kind},{size})"


def element_edit(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    with _without_validation():
        try:
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
        except Exception:  # noqa: BLE001 - an unparseable seed mutates at the byte level instead
            return byte_flips(rng, data)
        edits = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            if rng.random() < 0.15:
                keyword = rng.choice(["TransferSyntaxUID"])
                value = rng.choice(TRANSFER_SYNTAXES)
                ds.file_meta.TransferSyntaxUID = value
                edits.append(f"{keyword}={value!r}")
                continue
            keyword = rng.choice(sorted(ELEMENT_VALUES))
            if rng.random() < 0.15 and keyword in ds:
                delattr(ds, keyword)
                edits.append(f"del {keyword}")
                continue
            value = rng.choice(ELEMENT_VALUES[keyword])
            try:
                setattr(ds, keyword, value)
            except Exception:  # noqa: BLE001 - pydicom refused the value type: skip this edit
                continue
            edits.append(f"{keyword}={value!r}")
        buffer = io.BytesIO()
        try:
            ds.save_as(buffer, enforce_file_format=False)
        except Exception:  # noqa: BLE001
            return byte_flips(rng, data)
    return buffer.getvalue(), "element_edit(" + "; ".join(edits) + ")"


def _mutate_rle(rng: random.Random, frame: bytearray) -> str:
    choice = rng.randrange(4)
    if choice == 0 and len(frame) >= 4:
        frame[0:4] = struct.pack("<I", rng.choice([0, 1, 2, 3, 15, 16, 255]))
        return "rle_segment_count"
    if choice == 1 and len(frame) >= 64:
        index = rng.randrange(1, 16)
        frame[index * 4:index * 4 + 4] = struct.pack("<I", rng.choice([0, 1, 63, 64, len(frame), len(frame) + 9,
                                                                       rng.randrange(1 << 32)]))
        return f"rle_offset{index}"
    if choice == 2:  # runs that decode past the segment's end (the pylibjpeg-rle panic class)
        run = bytes([0x81, rng.randrange(256)]) * rng.choice([1, 8, 64])
        position = rng.randrange(64, max(65, len(frame)))
        frame[position:position] = run
        return "rle_overrun"
    for _ in range(rng.choice([1, 4, 16])):
        if len(frame) > 64:
            frame[rng.randrange(64, len(frame))] = rng.randrange(256)
    return "rle_segment_bytes"


def _markers(frame: bytes) -> list[int]:
    return [i for i in range(len(frame) - 1) if frame[i] == 0xFF and frame[i + 1] not in (0x00, 0xFF)
            and not 0xD0 <= frame[i + 1] <= 0xD7]


def _mutate_jpeg_like(rng: random.Random, frame: bytearray, names: dict[int, str]) -> str:
    """JPEG / JPEG-LS / JPEG 2000 codestreams: pick a marker segment (preferring the named, structural ones) and
    damage its length or a parameter byte."""
    markers = _markers(frame)
    if not markers:
        return _mutate_generic(rng, frame)
    structural = [m for m in markers if frame[m + 1] in names]
    position = rng.choice(structural if structural and rng.random() < 0.8 else markers)
    name = names.get(frame[position + 1], f"FF{frame[position + 1]:02X}")
    choice = rng.randrange(3)
    if choice == 0 and position + 4 <= len(frame):
        frame[position + 2:position + 4] = struct.pack(">H", rng.choice([0, 1, 2, 3, 0xFFFF, rng.randrange(65536)]))
        return f"{name}_length"
    if choice == 1 and position + 12 <= len(frame):
        offset = position + 4 + rng.randrange(8)
        frame[offset] = rng.choice(INTERESTING_BYTES + [rng.randrange(256)])
        return f"{name}_field+{offset - position - 4}"
    del frame[position:position + rng.choice([2, 4, 16])]
    return f"{name}_removed"


_JPEG_MARKERS = {0xC0: "SOF0", 0xC1: "SOF1", 0xC3: "SOF3", 0xC4: "DHT", 0xDB: "DQT", 0xDA: "SOS", 0xDD: "DRI",
                 0xF7: "SOF55", 0xF8: "LSE", 0xD9: "EOI"}
_J2K_MARKERS = {0x51: "SIZ", 0x52: "COD", 0x53: "COC", 0x5C: "QCD", 0x5D: "QCC", 0x90: "SOT", 0x93: "SOD",
                0x64: "COM"}


def _mutate_generic(rng: random.Random, frame: bytearray) -> str:
    for _ in range(rng.choice([1, 4, 16])):
        if frame:
            frame[rng.randrange(len(frame))] = rng.randrange(256)
    return "stream_bytes"


def codestream_edit(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    with _without_validation():
        try:
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
            syntax = ds.file_meta.TransferSyntaxUID
            if not syntax.is_compressed:
                return byte_flips(rng, data)
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            frame = bytearray(get_frame(ds.PixelData, 0, number_of_frames=frames))
        except Exception:  # noqa: BLE001
            return byte_flips(rng, data)
        if syntax == "1.2.840.10008.1.2.5":
            what = _mutate_rle(rng, frame)
        elif syntax.startswith("1.2.840.10008.1.2.4.9") or syntax.startswith("1.2.840.10008.1.2.4.20"):
            what = _mutate_jpeg_like(rng, frame, _J2K_MARKERS)
        else:
            what = _mutate_jpeg_like(rng, frame, _JPEG_MARKERS)
        ds.PixelData = encapsulate([bytes(frame)])
        buffer = io.BytesIO()
        try:
            ds.save_as(buffer, enforce_file_format=False)
        except Exception:  # noqa: BLE001
            return byte_flips(rng, data)
    return buffer.getvalue(), f"codestream({syntax.name}: {what})"


MUTATORS = {"byte_flips": byte_flips, "truncation": truncation, "padding": padding, "element_edit": element_edit,
            "codestream_edit": codestream_edit}
WEIGHTS = {"byte_flips": 3, "truncation": 2, "padding": 1, "element_edit": 3, "codestream_edit": 4}


def mutate(rng: random.Random, data: bytes) -> tuple[bytes, str, str]:
    """One or two mutations; returns (bytes, mutator family, description)."""
    names = list(WEIGHTS)
    family = rng.choices(names, weights=[WEIGHTS[n] for n in names])[0]
    data, what = MUTATORS[family](rng, data)
    if rng.random() < 0.2:
        second = rng.choices(names, weights=[WEIGHTS[n] for n in names])[0]
        data, more = MUTATORS[second](rng, data)
        what += " + " + more
    return data, family, what
