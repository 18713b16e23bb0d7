"""`xrayview-predict --dicom-out DIR`: per input DICOM, the AI result's Structured Report and heatmap Secondary
Capture and, with --report, the PDF report as an Encapsulated PDF, all in the source image's study. Names follow
the input file (`<stem>.ai-sr.dcm`, `<stem>.ai-heatmap-sc.dcm`, `<stem>.ai-report.dcm`, then `-2`, `-3`, ...):
nothing is ever overwritten. A non-DICOM input gets a note instead: the objects join a DICOM study."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from dicom_common.files import save_unique
from inference.dicom_results import build_results, source_header
from inference.encapsulated_pdf import build_encapsulated_pdf

NOT_DICOM_NOTE = ("not a DICOM image: nothing written to --dicom-out (the SR, heatmap SC and report join the "
                  "source image's DICOM study)")
NAMES = {"SR": "ai-sr", "OT": "ai-heatmap-sc", "DOC": "ai-report"}  # by Modality (an SC's is OT)


def write_dicom_results(out_dir: Path, image: Any, prediction: Any, *, call: Any, threshold: float | None,
                        report_pdf: bytes | None = None, deidentify: bool = False) -> dict[str, str]:
    """Writes the objects for one image; returns {"sr": path, "sc": path, ["report": path]} or {"note": ...}."""
    source = source_header(image)
    if source is None:
        return {"note": NOT_DICOM_NOTE}
    datasets = build_results(image, prediction, call=call, threshold=threshold)
    if report_pdf is not None:
        datasets.append(build_encapsulated_pdf(report_pdf, source, path=getattr(image, "path", None)))
    stem = Path(str(getattr(image, "path", "") or "image")).stem or "image"
    if deidentify:
        from inference.deid import Deidentifier

        deidentifier = Deidentifier()  # one per image: the SC, SR and report keep referring to each other
        datasets = [deidentifier.deidentify_dataset(ds) for ds in datasets]
        stem = deidentifier.scrub_text(stem, getattr(image, "metadata", None) or {})
    keys = {"SR": "sr", "OT": "sc", "DOC": "report"}
    return {keys[str(ds.Modality)]: str(save_unique(ds, out_dir, f"{stem}.{NAMES[str(ds.Modality)]}"))
            for ds in datasets}
