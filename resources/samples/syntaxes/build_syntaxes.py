"""Rebuilds the self-test's DICOM set: the bundled chest sample in every transfer syntax XRayView decodes.

Run from the repository root:  .venv/bin/python resources/samples/syntaxes/build_syntaxes.py
Source: resources/samples/chest-pa-sample.png (Kermany et al. 2018, CC BY 4.0, see ../ATTRIBUTION.md), shrunk
to 192 px on the long side so the whole set stays small. `reference.png` holds those 8-bit pixels; every DICOM
stores them (12-bit syntaxes: widened with tests.helpers.dicom_factory.widen_to_bits). Encoders are real ones:
pydicom's plugins (RLE, JPEG-LS, JPEG 2000, deflate) and dcmtk (JPEG processes 1/2&4/14, big endian).
`manifest.json` lists each file with its syntax, bits and the error the self-test accepts (0 = lossless);
lossy limits are the measured error of these very files plus a margin, printed by this script.

HTJ2K (1.2.840.10008.1.2.4.201-203) decodes with pylibjpeg-openjpeg but nothing here encodes it, so it has no file.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from PIL import Image  # noqa: E402
from pydicom.uid import (  # noqa: E402
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from inference.image_io import load_image  # noqa: E402
from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array, widen_to_bits  # noqa: E402

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "chest-pa-sample.png"
LONG_SIDE = 192
# (file stem, transfer syntax, bits stored, lossless)
ENCODINGS = [
    ("explicit-vr-little-endian", ExplicitVRLittleEndian, 8, True),
    ("implicit-vr-little-endian", ImplicitVRLittleEndian, 8, True),
    ("deflated-explicit-vr-little-endian", DeflatedExplicitVRLittleEndian, 8, True),
    ("explicit-vr-big-endian", ExplicitVRBigEndian, 16, True),
    ("rle-lossless", RLELossless, 8, True),
    ("jpeg-lossless-p14", JPEGLossless, 12, True),
    ("jpeg-lossless-sv1", JPEGLosslessSV1, 12, True),
    ("jpeg-ls-lossless", JPEGLSLossless, 12, True),
    ("jpeg-2000-lossless", JPEG2000Lossless, 16, True),
    ("jpeg-baseline-8bit", JPEGBaseline8Bit, 8, False),
    ("jpeg-extended-12bit", JPEGExtended12Bit, 12, False),
    ("jpeg-ls-near-lossless", JPEGLSNearLossless, 8, False),
    ("jpeg-2000", JPEG2000, 8, False),
]
# Accepted error = measured error x this margin, rounded up (and at least 1 stored unit).
LOSSY_MARGIN = 1.5


def stored_reference(gray8: np.ndarray, bits: int) -> np.ndarray:
    return gray8.astype(np.uint16) if bits == 8 else widen_to_bits(gray8, bits)


def write_one(gray8: np.ndarray, stem: str, syntax, bits: int, target: Path) -> None:
    arr = stored_reference(gray8, bits)
    if bits == 8:
        arr = arr.astype(np.uint8)
    common = dict(photometric="MONOCHROME2", bits_stored=bits, modality="DX", spacing=(0.28 * 1024 / LONG_SIDE,) * 2,
                  window=[((1 << bits) / 2, 1 << bits, "FULL RANGE")], patient=("ANONYMOUS^SAMPLE", "SAMPLE0001"),
                  extra={"StudyDescription": "XR CHEST PA (self-test sample)", "SeriesDescription": stem,
                         "ImageComments": "Kermany et al. 2018, CC BY 4.0, doi:10.17632/rscbjbr9sj.2; modified "
                                          "(downscaled, re-encoded). Spacing is nominal. Not for diagnostic use.",
                         "PatientIdentityRemoved": "YES"})
    if syntax == JPEGLossless:
        # Process 14 with a predictor other than 1 (the factory writes only SV1): dcmtk's +el with predictor 6.
        with tempfile.TemporaryDirectory() as tmp:
            plain = make_dicom_from_array(arr, Path(tmp) / "plain.dcm", **common)
            subprocess.run(["dcmcjpeg", "+el", "+sv", "6", str(plain), str(target)], check=True, capture_output=True)
        return
    make_dicom_from_array(arr, target, transfer_syntax=syntax, j2k_compression_ratio=8.0, **common)


def main() -> None:
    gray8 = load_gray_image(SOURCE, size=LONG_SIDE)
    Image.fromarray(gray8).save(HERE / "reference.png", optimize=True)
    for old in HERE.glob("*.dcm"):
        old.unlink()
    entries = []
    for stem, syntax, bits, lossless in ENCODINGS:
        target = HERE / f"{stem}.dcm"
        write_one(gray8, stem, syntax, bits, target)
        written = pydicom.dcmread(target, stop_before_pixels=True).file_meta.TransferSyntaxUID
        if written != syntax:
            raise SystemExit(f"{target.name}: wrote {written}, wanted {syntax}")
        decoded = load_image(target).modality.astype(np.float64)
        error = np.abs(decoded - stored_reference(gray8, bits).astype(np.float64))
        max_error, mean_error = float(error.max()), float(error.mean())
        if lossless and max_error != 0:
            raise SystemExit(f"{target.name}: a lossless syntax changed pixels (max error {max_error})")
        if not lossless and max_error == 0:
            raise SystemExit(f"{target.name}: a lossy syntax reproduced every pixel; its limits would test nothing")
        entry = {"file": target.name, "transfer_syntax": str(syntax), "name": syntax.name, "bits_stored": bits,
                 "lossless": lossless, "max_abs_error": 0, "max_mean_abs_error": 0.0}
        if not lossless:
            entry["max_abs_error"] = int(np.ceil(max(max_error * LOSSY_MARGIN, 1)))
            entry["max_mean_abs_error"] = round(max(mean_error * LOSSY_MARGIN, 0.05), 3)
        entries.append(entry)
        print(f"{target.name:42s} {target.stat().st_size:7d} bytes  max err {max_error:6.1f}  mean {mean_error:.3f}")
    manifest = {"source": "resources/samples/chest-pa-sample.png", "reference": "reference.png",
                "shape": list(gray8.shape), "files": entries,
                "rule": "stored value = reference (8 bit) or widen_to_bits(reference, bits) (12/16 bit)"}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
