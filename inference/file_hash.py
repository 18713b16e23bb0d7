"""The one file hash: SHA-256 of a file's bytes, read in chunks (weights, guards, source images, training data).

Torch-free and standard library only, so every layer (desktop start-up included) may import it."""
from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of the file's content. OSError (missing, unreadable) goes to the caller, who knows the file's role."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
