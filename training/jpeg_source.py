"""Detects that a training set was stored as JPEGs of one quality at the model's input size (the Kermany copies:
224x224, quality 90), so the card can tell the core to give resized inputs the same JPEG round trip
(inference.preprocess.jpeg_round_trip). Without it, full-resolution originals reach the model smoother than
anything it was trained on; measured on the 20 full-resolution samples (bench/bench_fullres_consistency.py, now bench/bench_perturbation.py): the
shipped OOD guard flags 3 of them and probabilities sit 2.4x further from their 224 px copies'."""
from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLE = 200


@lru_cache(maxsize=1)
def _standard_luma_tables() -> dict[tuple[int, ...], int]:
    """libjpeg's scaled standard luminance table for every quality 1..100 (what Pillow and most tools write)."""
    tables = {}
    for quality in range(1, 101):
        buffer = io.BytesIO()
        Image.fromarray(np.zeros((8, 8), np.uint8), mode="L").save(buffer, format="JPEG", quality=quality)
        tables.setdefault(tuple(Image.open(buffer).quantization[0]), quality)
    return tables


def jpeg_quality_of(path: str | Path) -> int | None:
    """The quality a JPEG was saved at, when its luminance table is a standard one (None otherwise)."""
    try:
        with Image.open(path) as image:
            if image.format != "JPEG" or not getattr(image, "quantization", None):
                return None
            return _standard_luma_tables().get(tuple(image.quantization[0]))
    except OSError:
        return None


def source_jpeg_quality(paths: Sequence[str | Path], height: int, width: int) -> int | None:
    """The one JPEG quality shared by (a spread-out sample of) `paths` when every sampled file is a JPEG of
    exactly height x width; None when they differ in format, size or quality."""
    if not paths:
        return None
    sample = list(paths)[:: max(1, len(paths) // SAMPLE)][:SAMPLE]
    qualities = set()
    for path in sample:
        try:
            with Image.open(path) as image:
                if image.format != "JPEG" or image.size != (width, height):
                    return None
        except OSError:
            return None
        qualities.add(jpeg_quality_of(path))
    if len(qualities) != 1:
        return None
    return qualities.pop()
