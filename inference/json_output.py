"""Machine-readable output that every JSON reader accepts: valid UTF-8 text and no NaN/Infinity.

File names on POSIX are bytes; a name that is not valid UTF-8 reaches Python as a str with lone surrogates
(PEP 383), which would be written out as invalid UTF-8 (or make the write fail). `text()` shows such bytes as
`\\xNN` escapes; `path_fields()` adds the exact bytes in hex so the file can still be found. Non-finite floats
(which `json.dumps` writes as the invalid tokens NaN/Infinity) become null.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


def text(value: str) -> str:
    """`value` with undecodable file-name bytes (lone surrogates) replaced by readable \\xNN escapes."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:  # bytes os.fsdecode could not decode: show them as the bytes they are
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # other lone surrogates
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def path_fields(path: str | os.PathLike, key: str = "path") -> dict[str, str]:
    """{key: printable name} plus {key + "_bytes_hex": exact name} when the name is not valid UTF-8."""
    name = os.fspath(path)
    fields = {key: text(name)}
    if fields[key] != name:
        fields[key + "_bytes_hex"] = os.fsencode(name).hex()
    return fields


def json_safe(value: Any) -> Any:
    """A copy of `value` (dicts, lists, tuples, numbers, strings, paths) that `dumps` can always write."""
    if isinstance(value, dict):
        return {text(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Path):
        return text(os.fspath(value))
    if hasattr(value, "item") and callable(value.item):  # NumPy / torch scalars
        return json_safe(value.item())
    return value


def dumps(value: Any, **options) -> str:
    """json.dumps of json_safe(value): strict JSON (allow_nan=False), UTF-8 encodable."""
    options.setdefault("ensure_ascii", False)
    return json.dumps(json_safe(value), allow_nan=False, **options)
