"""Rebuilds the bundled sample radiograph (PNG + DICOM) from the real data beside the checkout.

Run from the repository root:  .venv/bin/python resources/samples/build_samples.py
Source: ../shared/data/samples/chest-xray-fullres/PNEUMONIA/person1251_bacteria_3208.jpeg (Kermany et al. 2018,
CC BY 4.0), converted to 8-bit gray and downscaled (Lanczos) to 1024 px on the long side, aspect ratio kept.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array  # noqa: E402

SOURCE = ROOT.parent / "shared" / "data" / "samples" / "chest-xray-fullres" / "PNEUMONIA" / "person1251_bacteria_3208.jpeg"
OUT = ROOT / "resources" / "samples"
# The source carries no spacing. Nominal value: a ~28 cm pediatric chest field over 1024 px. Not a measurement.
NOMINAL_SPACING_MM = (0.28, 0.28)


def main() -> None:
    gray = load_gray_image(SOURCE, size=1024)
    Image.fromarray(gray).save(OUT / "chest-pa-sample.png", optimize=True)
    make_dicom_from_array(
        gray, OUT / "chest-pa-sample.dcm", photometric="MONOCHROME2", bits_stored=8, modality="DX",
        window=[(128, 256, "FULL RANGE"), (110, 180, "LUNG")], spacing=NOMINAL_SPACING_MM,
        spacing_tag="ImagerPixelSpacing", patient=("ANONYMOUS^SAMPLE", "SAMPLE0001"), body_part="CHEST",
        view_position="PA",
        extra={"StudyDescription": "XR CHEST PA (sample)", "SeriesDescription": "PA",
               "ImageComments": "Kermany et al. 2018, CC BY 4.0, doi:10.17632/rscbjbr9sj.2; modified "
                                "(downscaled, re-encoded). Spacing is nominal. Not for diagnostic use.",
               "BurnedInAnnotation": "NO", "PatientIdentityRemoved": "YES"},
    )
    for name in ("chest-pa-sample.png", "chest-pa-sample.dcm"):
        print(name, gray.shape, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
