"""PNG / JPEG / TIFF / BMP radiographs through Pillow, into an `XRayImage` (8/16-bit gray, colour -> gray)."""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inference.error_words import in_words
from inference.errors import ImageLoadError, ImageTooLargeError, TruncatedFileError, UnsupportedFormatError
from inference.windowing import window_from_range
from inference.xray_image import (MAX_PIXELS, METADATA_KEYWORDS, XRayImage, check_pixel_count, colourfulness,
                                  mask_non_finite)

# Pillow modes that hold no colour (gray, bilevel, 16-bit, float); everything else is measured for chroma.
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})

_FORMAT_NAMES = {"JPEG": "jpeg", "PNG": "png", "TIFF": "tiff", "BMP": "bmp", "GIF": "gif", "WEBP": "webp",
                 "JPEG2000": "jpeg2000"}


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma with Pillow's exact integer arithmetic (so DICOM RGB and PNG RGB agree with
    `Image.convert("L")`): L = (19595 R + 38470 G + 7471 B + 32768) >> 16 for 8-bit samples."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
        return ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16).astype(np.uint8)
    weighted = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.rint(weighted).astype(rgb.dtype) if np.issubdtype(rgb.dtype, np.integer) else weighted


def read_raster(path: Path) -> XRayImage:
    """A PNG/JPEG/TIFF/BMP (or other Pillow format) radiograph. Pillow's native decoders run in the decoder
    worker process (inference.decoder_sandbox); only the decoded pixels come back."""
    from inference import decoder_sandbox

    try:
        info, (pixels,) = decoder_sandbox.run("raster", {}, [os.fsencode(path)], path)
    except decoder_sandbox.DecoderFailed as exc:
        reason = in_words(str(exc), path)
        raise ImageLoadError(path, f"the file is damaged or inconsistent and cannot be read: {reason}") from None
    notices = list(info.get("notices", []))
    bits = int(info["bits"])
    fmt = str(info["format"])
    check_pixel_count(path, *pixels.shape)
    modality = pixels.astype(np.float32)
    padding_mask = None
    if modality.dtype.kind == "f" and not np.isfinite(modality).all():
        modality, padding_mask = mask_non_finite(path, modality, None, notices)
    if bits == 8:
        window = window_from_range(0, 255, "Full range (8-bit)")
    else:
        finite = modality if padding_mask is None else modality[~padding_mask]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        window = window_from_range(low, high, "Min-max")
    metadata = {key: "" for key in METADATA_KEYWORDS}
    metadata.update(Rows=pixels.shape[0], Columns=pixels.shape[1], BitsStored=bits,
                    PhotometricInterpretation="MONOCHROME2")
    return XRayImage(modality=modality, windows=[window], default_window=0, inverted=False,
                     padding_mask=padding_mask, metadata=metadata, notices=notices, dataset=None, source_format=fmt,
                     path=path, bits_stored=bits, photometric="MONOCHROME2",
                     colourfulness=float(info.get("colourfulness", 0.0)))


def decode_raster(path: str | Path) -> tuple[np.ndarray, dict]:
    """Runs in the decoder worker: Pillow opens and decodes the file. Returns the gray pixels (uint8, uint16,
    int32 or float32, HxW) and {"bits", "format", "notices", "colourfulness"}; raises ImageLoadError subclasses."""
    path = Path(path)
    notices: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard fires on the header, before decoding; say it in XRayView's terms.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)) / 1e6:,.0f} million pixels" if found else "too many pixels"
        raise ImageTooLargeError(
            path, f"the image has {size}; XRayView opens images up to {MAX_PIXELS / 1e6:.0f} million pixels") from None
    except UnidentifiedImageError:
        raise UnsupportedFormatError(
            path, "this is not an image format XRayView reads (DICOM, PNG, JPEG, TIFF or BMP)") from None
    with image:
        check_pixel_count(path, image.height, image.width)
        fmt = _FORMAT_NAMES.get(image.format or "", (image.format or "image").lower())
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            notices.append(f"the file holds {frames} images; showing the first one")
        try:
            image.seek(0)
            image.load()
            oriented = _upright(image, notices)
        except OSError as exc:
            if "truncated" in str(exc).lower() or "broken data stream" in str(exc).lower():
                in_words(str(exc), path)
                raise TruncatedFileError(path, f"the {fmt.upper()} file is cut short") from None
            raise ImageLoadError(path, f"the {fmt.upper()} data could not be decoded: {in_words(str(exc), path)}") \
                from None
        except (ValueError, SyntaxError) as exc:  # Pillow reports some corrupt headers this way
            raise ImageLoadError(path, f"the {fmt.upper()} data is damaged: {in_words(str(exc), path)}") from None
        chroma = colourfulness(np.asarray(oriented.convert("RGB"))) if oriented.mode not in GRAY_MODES else 0.0
        pixels, bits = _gray_pixels(oriented, notices)
    return pixels, {"bits": bits, "format": fmt, "notices": notices, "colourfulness": float(chroma)}


# EXIF orientations 2-8 (1 = as stored) and what Pillow's exif_transpose does for each
_EXIF_ORIENTATIONS = {2: "flipped left-right", 3: "rotated 180 degrees", 4: "flipped top-bottom",
                      5: "transposed", 6: "rotated 90 degrees", 7: "transversed", 8: "rotated 270 degrees"}


def _upright(image: Image.Image, notices: list[str]) -> Image.Image:
    """The image turned upright as its EXIF orientation says; an invalid orientation is reported, not applied."""
    orientation = image.getexif().get(0x0112, 1)
    if orientation in (None, 1):
        return image
    if orientation not in _EXIF_ORIENTATIONS:
        notices.append(f"EXIF orientation {orientation!r} is not a valid value (1-8); shown as stored, not rotated")
        return image
    oriented = ImageOps.exif_transpose(image)
    notices.append(f"{_EXIF_ORIENTATIONS[orientation]} upright as the file's EXIF orientation ({orientation}) says")
    return oriented


def _gray_pixels(image: Image.Image, notices: list[str]) -> tuple[np.ndarray, int]:
    """HxW gray array and its bit depth (8, 16, 32); colour converted explicitly with a notice."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image).astype(np.uint16), 16
    if mode == "I":
        arr = np.asarray(image)
        fits16 = arr.size and arr.min() >= 0 and arr.max() <= 65535
        return (arr.astype(np.uint16), 16) if fits16 else (arr.astype(np.int32), 32)
    if mode == "F":
        return np.asarray(image, dtype=np.float32), 32
    if mode == "1":
        return np.asarray(image.convert("L")), 8
    if mode == "L":
        return np.asarray(image), 8
    if mode in ("LA", "La"):
        notices.append("transparency (alpha channel) ignored")
        return np.asarray(image.getchannel("L")), 8
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "RGBa"):
        notices.append("transparency (alpha channel) ignored")
        image = image.convert("RGB")
    elif mode != "RGB":
        image = image.convert("RGB")
        notices.append(f"{mode} colour data converted to RGB")
    rgb = np.asarray(image)
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        notices.append("stored as RGB with three identical channels; read as grayscale")
        return rgb[..., 0].copy(), 8
    notices.append("colour image converted to grayscale (ITU-R BT.601 luma)")
    return rgb_to_gray(rgb), 8


__all__ = ["read_raster", "decode_raster", "rgb_to_gray", "MAX_PIXELS"]
