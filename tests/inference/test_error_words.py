"""Errors about damaged files say what is wrong in words, not a library's exception text (issue 25 item 7);
the error types stay (ImageLoadError and its subclasses)."""
from __future__ import annotations

import struct
import warnings

import pydicom
import pytest

from inference.error_words import decoders_in_words, in_words
from inference.errors import ImageLoadError
from inference.image_io import load_image


@pytest.mark.parametrize(("raw", "words"), [
    ("invalid literal for int() with base 10: '1A'", "a header element that must hold a whole number holds '1A'"),
    ("pylibjpeg: RuntimeError: Unable to decode as exceptions were raised by all available plugins: pylibjpeg: "
     "Error decoding the J2K data: failed to decode image", "the compressed picture data is corrupt"),
    ("A (0028,0101) 'Bits Stored' value of '40' is invalid, it must be in the range (1, 16)",
     "its Bits Stored (40) is not a valid value"),
    ("Missing required element: (0028,0004) 'Photometric Interpretation'",
     "its header lacks Photometric Interpretation"),
    ("could not broadcast input array from shape (100,) into shape (64,64)",
     "the decoded picture is not the size the header states"),
    ("'NoneType' object has no attribute 'encode'", "the compressed picture data is corrupt"),
    ("something no rule knows", "its data is inconsistent"),
])
def test_library_text_in_words(raw, words):
    assert in_words(raw) == words


def test_several_decoders_are_one_reason_each():
    assert decoders_in_words([("pylibjpeg", "RuntimeError: Unable to decode"), ("pillow", "broken data stream"),
                              ("gdcm", "the image decoder crashed on this file (signal 6: SIGABRT)")]) == \
        "the compressed picture data is corrupt (pylibjpeg, Pillow); the decoder crashed on it (SIGABRT) (GDCM)"


def test_a_header_number_that_is_not_a_number(project_root, tmp_path):
    """Number of Frames '1A' (a real fuzz finding): the message names the value, not int()'s complaint."""
    ds = pydicom.dcmread(project_root / "resources/samples/chest-pa-sample.dcm")
    ds.NumberOfFrames = "77"
    path = tmp_path / "frames-1A.dcm"
    ds.save_as(path, enforce_file_format=True)
    head = struct.pack("<HH", 0x0028, 0x0008) + b"IS" + struct.pack("<H", 2)
    data = path.read_bytes()
    assert data.count(head + b"77") == 1
    path.write_bytes(data.replace(head + b"77", head + b"1A"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ImageLoadError) as raised:
            load_image(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "holds '1A'" in message
    assert "invalid literal" not in message and "decoder said" not in message
