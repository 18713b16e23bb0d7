"""The bundled sample radiograph: PNG and DICOM are the same picture; the DICOM carries the documented header."""
from __future__ import annotations

import numpy as np

from inference.image_io import load_image


def test_bundled_sample_png_and_dicom_render_identically(project_root):
    samples = project_root / "resources" / "samples"
    png = load_image(samples / "chest-pa-sample.png")
    dcm = load_image(samples / "chest-pa-sample.dcm")
    assert png.shape == dcm.shape == (959, 1024)
    np.testing.assert_array_equal(dcm.modality, png.modality)
    np.testing.assert_array_equal(dcm.render(), png.render())
    assert [w.name for w in dcm.windows] == ["FULL RANGE", "LUNG"]
    assert dcm.metadata["PatientName"] == "ANONYMOUS^SAMPLE" and dcm.metadata["Modality"] == "DX"
    assert dcm.metadata["ViewPosition"] == "PA" and dcm.photometric == "MONOCHROME2"
    assert dcm.pixel_spacing_mm == (0.28, 0.28) and dcm.spacing_source == "ImagerPixelSpacing"
    assert 60 < png.modality.mean() < 200  # a real radiograph, not a blank image
    for path in samples.glob("chest-pa-sample.*"):
        assert path.stat().st_size < 1_048_576
