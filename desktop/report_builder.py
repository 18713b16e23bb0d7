"""Collects what the PDF report shows from the image, the view state, the prediction and the model card."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop import prediction_adapter as pa
from desktop.image_adapter import render_display, spacing_description
from desktop.qimage_convert import gray01_to_qimage, rgba8_to_qimage
from desktop.report_export import ReportContent, file_sha256
from inference.results import Call

IDENTITY_KEYS = (("Patient", "PatientName"), ("Patient ID", "PatientID"), ("Study date", "StudyDate"),
                 ("Study", "StudyDescription"), ("Accession", "AccessionNumber"), ("Modality", "Modality"),
                 ("Body part", "BodyPartExamined"), ("View", "ViewPosition"), ("SOP Instance UID", "SOPInstanceUID"))


def build_report_content(image, view, prediction, card: dict, threshold: float | None, call: Call | None,
                         colormap: str, opacity: float, deidentify: bool = False) -> ReportContent:
    """`deidentify`: patient identifiers are replaced (inference.deid) and the file's path and hash left out,
    since a file name or folder often carries the patient's name and a hash links back to the original file."""
    display01 = render_display(image, view.window, view.inverted)
    overlay = None
    heatmap = prediction.heatmap if prediction is not None else None
    if heatmap is not None and np.asarray(heatmap).shape == display01.shape:
        from inference.overlay import blend

        overlay = rgba8_to_qimage(blend(display01, np.asarray(heatmap), colormap, opacity))  # as on screen
    path = Path(image.path) if getattr(image, "path", None) else None
    identity = []
    original_metadata = getattr(image, "metadata", None) or {}
    metadata = original_metadata
    scrub = str
    if deidentify:
        from inference.deid import Deidentifier

        deidentifier = Deidentifier()
        metadata = deidentifier.deidentify_metadata(original_metadata)
        scrub = lambda text: deidentifier.scrub_text(text, original_metadata)  # noqa: E731
    if path is not None:
        identity += [("File", scrub(path.name))] + ([] if deidentify else [("Folder", str(path.parent))])
        if path.is_file() and not deidentify:
            identity += [("Size", f"{path.stat().st_size:,} bytes"), ("SHA-256", file_sha256(path))]
    identity += [("Format", str(getattr(image, "source_format", "") or "")),
                 ("Dimensions", f"{image.modality.shape[1]} x {image.modality.shape[0]} px"),
                 ("Pixel spacing", spacing_description(image)),
                 ("Display window", f"W {view.window.width:.6g} / L {view.window.center:.6g}"
                                    + (" (inverted)" if view.inverted else ""))]
    for title, key in IDENTITY_KEYS:
        value = metadata.get(key)
        if value not in (None, ""):
            identity.append((title, str(value).replace("^", " ")))
    content = ReportContent(file_path=path, image=gray01_to_qimage(display01), overlay=overlay, identity=identity)
    if prediction is not None:
        if not isinstance(call, Call):  # the call on screen (AiPanel.current_call), else the one rule here
            call = prediction.call(threshold)
        content.probabilities = dict(prediction.probabilities)
        content.call = pa.call_text(call)
        content.call_withheld = call.withheld
        content.positive_label = prediction.positive_label
        card_threshold = card.get("threshold")
        if threshold is not None:
            text = f"Operating threshold on P({prediction.positive_label}): {threshold:.3f}"
            if card_threshold is not None and abs(threshold - float(card_threshold)) > 1e-9:
                text += f" (user-adjusted; model card: {float(card_threshold):.3f})"
            rows = pa.nearby_thresholds(card, threshold, 1)
            if rows:
                row = rows[0]
                text += (f". Model card at {float(row['threshold']):.3f}: sensitivity {float(row['sensitivity']):.3f}, "
                         f"specificity {float(row['specificity']):.3f}")
            content.threshold_text = text
        else:
            content.threshold_text = "Call: most probable label (multi-class model)"
        if prediction.cam_method:  # naming the heatmap's label would give a withheld call away
            content.threshold_text += f". Heatmap: {prediction.cam_method}" + (
                f" for {prediction.cam_label}" if prediction.cam_label and not call.withheld else "")
        content.notices = [scrub(notice) for notice in prediction.notices]
        content.ood_warning = pa.ood_warning_text(prediction)
    content.notices += [scrub(notice) for notice in getattr(image, "notices", []) or []]
    if card:
        model = prediction.model if prediction is not None else {}
        content.model_lines = [f"{pa.model_title(card)} — architecture {card.get('architecture', '')}"
                               + (f", weights sha256 {str(model.get('sha256', ''))[:16]}…" if model.get("sha256") else ""),
                               f"Intended use: {card.get('intended_use', '')}"]
        content.model_lines += [f"Limitation: {item}" for item in card.get("limitations", [])[:4]]
        content.model_lines += pa.headline_metrics(card, limit=4)
        if prediction is not None:
            content.model_lines.append(f"Device: {prediction.device}; time {prediction.total_time_ms:.0f} ms")
    else:
        content.model_lines = ["No AI model was loaded."]
    return content
