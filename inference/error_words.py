"""What a library's exception text about a damaged file means, in words a person understands.

pydicom, Pillow and the codecs (pylibjpeg, pyjpegls, GDCM) describe damage in their own terms ("invalid literal
for int() with base 10: '1A'", "pylibjpeg: RuntimeError: Unable to decode as exceptions were raised by all
available plugins ..."). The loader's typed errors say instead what is wrong in the file; the original text goes
to the log (logger "inference.error_words") for whoever debugs a decoder."""
from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

_TAG = r"\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)"
# (pattern, words): the first match wins; named groups are filled into the words
_RULES: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(pattern, re.IGNORECASE), words) for pattern, words in (
    (rf"{_TAG} '(?P<name>[^']+)' value of '(?P<value>[^']*)' is invalid", "its {name} ({value}) is not a valid value"),
    (rf"Missing required element: {_TAG} '(?P<name>[^']+)'", "its header lacks {name}"),
    (rf"Unknown {_TAG} '(?P<name>[^']+)' value '(?P<value>[^']*)'", "its {name} ('{value}') is not one DICOM defines"),
    (r"invalid literal for int\(\) with base 10: '(?P<value>[^']*)'",
     "a header element that must hold a whole number holds '{value}'"),
    (r"could not convert string to float: '(?P<value>[^']*)'",
     "a header element that must hold a number holds '{value}'"),
    (r"crashed on this file \(signal \d+: (?P<signal>\w+)\)", "the decoder crashed on it ({signal})"),
    (r"PanicException|panicked", "the decoder broke down on it (an internal panic)"),
    (r"did not finish within|timed out", "decoding took longer than the time limit"),
    (r"could not broadcast input array|does not match the expected|decoded segment length",
     "the decoded picture is not the size the header states"),
    (r"less than expected|shorter than|end of file|ends early|truncated|premature end|insufficient|not enough data",
     "the data ends before the picture is complete"),
    (r"unexpected tag|encapsulated pixel data|offset table|fragment",
     "the compressed frames are not packed as DICOM requires"),
    (r"not supported|NotImplementedError|Invalid ndarray\.dtype|data type", "its pixel format is not supported"),
    (r"no attribute|NoneType|unable to decode|error decoding|broken data stream|cannot identify image|"
     r"invalid segment|marker|huffman|codestream|decod", "the compressed picture data is corrupt"),
))
_FALLBACK = "its data is inconsistent"


def in_words(text: str, where: object = None) -> str:
    """The plain reason for a library's exception text (`where` names the file in the log)."""
    flat = " ".join(str(text).split())
    logger.info("%s: %s", where if where is not None else "file", flat)
    for pattern, words in _RULES:
        match = pattern.search(flat)
        if match:
            return words.format(**{k: v.strip() for k, v in match.groupdict().items()})
    return _FALLBACK


def decoders_in_words(failures: list[tuple[str, str]], where: object = None) -> str:
    """Every decoder's failure as one reason: the distinct reasons, each with the decoders that gave it."""
    reasons: dict[str, list[str]] = {}
    for decoder, text in failures:
        reasons.setdefault(in_words(text, where), []).append(_DECODER_NAMES.get(decoder, decoder))
    return "; ".join(f"{reason} ({', '.join(names)})" if any(names) else reason
                     for reason, names in reasons.items())


_DECODER_NAMES = {"gdcm": "GDCM", "pylibjpeg": "pylibjpeg", "pyjpegls": "pyjpegls", "pillow": "Pillow", "": ""}
