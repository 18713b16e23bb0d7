"""Compressed DICOM pixel data to arrays, inside the decoder worker process (see inference.decoder_sandbox).

The parent sends frame 0's encapsulated bytes and the attributes a decoder needs; here they become a minimal
data set and one named pydicom decoder plugin decodes it. Back ends are permissively licensed only: pylibjpeg-rle,
pylibjpeg-openjpeg, pyjpegls, Pillow, python-gdcm; never pylibjpeg-libjpeg (GPL).
"""
from __future__ import annotations

import warnings

import numpy as np

# The attributes pydicom's decoders read (besides the pixel data and the transfer syntax).
DECODER_ATTRIBUTES = ("Rows", "Columns", "SamplesPerPixel", "BitsAllocated", "BitsStored", "HighBit",
                      "PixelRepresentation", "PhotometricInterpretation", "PlanarConfiguration")


def decode_frame(transfer_syntax: str, plugin: str, attrs: dict, frame: bytes | bytearray) -> tuple[np.ndarray, dict]:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    warnings.simplefilter("ignore")
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    for keyword in DECODER_ATTRIBUTES:
        if attrs.get(keyword) is not None:
            setattr(ds, keyword, attrs[keyword])
    ds.NumberOfFrames = 1
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
    array, info = decoder.as_array(ds, index=0, as_rgb=True, decoding_plugin=plugin)
    return np.ascontiguousarray(array), dict(info)


def decode_file_with_gdcm(path: str, attrs: dict) -> np.ndarray:
    """Frame 0 through gdcm.ImageReader on the whole file: 12-bit JPEG extended, which pydicom's GDCM plugin
    refuses."""
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(path)
    if not reader.Read():
        raise ValueError("GDCM could not read the file")
    raw = reader.GetImage().GetBuffer().encode("utf-8", "surrogateescape")
    signed = int(attrs.get("PixelRepresentation") or 0) == 1
    itemsize = max(1, int(attrs.get("BitsAllocated") or 16) // 8)
    dtype = np.dtype(("<i" if signed else "<u") + str(itemsize))
    rows, columns = int(attrs["Rows"]), int(attrs["Columns"])
    if len(raw) < rows * columns * itemsize:
        raise ValueError(f"GDCM returned {len(raw)} bytes for a {columns} x {rows} frame")
    return np.frombuffer(raw, dtype=dtype, count=rows * columns).reshape(rows, columns).astype(dtype.newbyteorder("="))
