"""Collects what the PDF report shows from the image, the view state, the prediction and the model card."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop import card_facts
from desktop import prediction_adapter as pa
from desktop.image_adapter import render_display, spacing_description, spacing_mm
from desktop.qimage_convert import gray01_to_qimage, rgba8_to_qimage
from desktop.report_export import ReportContent
from dicom_common.dates import age_in_years, display_date
from inference.file_hash import sha256_file
from inference.model_card import ModelCard
from inference.population import patient_age
from inference.results import Call

PATIENT_KEYS = (("Name", "PatientName"), ("Patient ID", "PatientID"), ("Birth date", "PatientBirthDate"),
                ("Age", "PatientAge"), ("Sex", "PatientSex"))
STUDY_KEYS = (("Study date", "StudyDate"), ("Accession", "AccessionNumber"), ("Institution", "InstitutionName"),
              ("Referring physician", "ReferringPhysicianName"), ("Study", "StudyDescription"),
              ("Modality", "Modality"), ("Body part", "BodyPartExamined"), ("View", "ViewPosition"))
SEXES = {"M": "male", "F": "female", "O": "other"}
CONTENT_LEVEL = 0.02  # display values below this at the image's edges are black margin, cropped off


def _age(metadata: dict) -> str:
    """PatientAge as written ("045Y" -> "45 years"), else computed from the birth and study dates."""
    age = patient_age(metadata)
    return age.text if age is not None else str(metadata.get("PatientAge") or "").strip()


def _field_value(key: str, metadata: dict) -> str:
    value = metadata.get(key)
    if key == "PatientAge":
        return _age(metadata)
    if value in (None, ""):
        return ""
    if key.endswith("Date"):
        return display_date(value)
    if key == "PatientSex":
        return SEXES.get(str(value).upper(), str(value))
    return str(value).replace("^", " ").strip()


def content_box(display01: np.ndarray, annotations=()) -> tuple[slice, slice]:
    """The rows and columns that hold the image: black margins (collimation, letterboxing) are left out, unless
    an annotation lies there (every mark the reader drew stays in the picture)."""
    rows = np.flatnonzero(display01.max(axis=1) > CONTENT_LEVEL)
    columns = np.flatnonzero(display01.max(axis=0) > CONTENT_LEVEL)
    if rows.size == 0 or columns.size == 0:
        return slice(None), slice(None)
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    height, width = display01.shape
    for annotation in annotations:
        x0, y0, x1, y1 = annotation.bounds()
        left, right = min(left, max(0, int(np.floor(x0)))), max(right, min(width, int(np.ceil(x1))))
        top, bottom = min(top, max(0, int(np.floor(y0)))), max(bottom, min(height, int(np.ceil(y1))))
    return slice(top, bottom), slice(left, right)


def annotation_rows(view, scrub=str) -> tuple[list, dict[str, str], list[str]]:
    """The view's annotations, each one's label as the view draws it (uid -> text) and one line per annotation
    for the report's list ("Distance: 42.0 mm"); text the reader typed goes through `scrub`. A view without an
    annotation store (the self-test's bare view state) has none."""
    from desktop.tools import kind_title

    store = getattr(view, "annotations", None)
    annotations = list(store.items()) if store is not None else []
    labels, lines = {}, []
    for annotation in annotations:
        measured = [scrub(line) for line in view.measurement(annotation).lines]
        labels[annotation.uid] = "\n".join(measured)
        lines.append(f"{kind_title(annotation.kind)}: " + ("; ".join(measured) if measured else "(no text)"))
    return annotations, labels, lines


def build_report_content(image, view, prediction, card: ModelCard | None, threshold: float | None,
                         call: Call | None, colormap: str, opacity: float, deidentify: bool = False) -> ReportContent:
    """What the PDF report shows. `call` is the call on screen and `threshold` the one it was made at (both from
    the AI session, desktop.ai_session: the report never decides a call itself), colormap/opacity the heatmap's
    look on screen. `deidentify`: patient identifiers are replaced (inference.deid)
    and the file's path and hash left out, since a file name or folder often carries the patient's name and a
    hash links back to the original file."""
    from inference.overlay import blend, colormap_lut

    display01 = render_display(image, view.window, view.inverted)
    path = Path(image.path) if getattr(image, "path", None) else None
    original_metadata = getattr(image, "metadata", None) or {}
    metadata = original_metadata
    scrub = str
    if deidentify:
        from inference.deid import Deidentifier

        deidentifier = Deidentifier()
        metadata = deidentifier.deidentify_metadata(original_metadata)
        scrub = lambda text: deidentifier.scrub_text(text, original_metadata)  # noqa: E731
    annotations, labels, measurement_lines = annotation_rows(view, scrub)
    crop = content_box(display01, annotations)
    overlay = None
    heatmap = prediction.heatmap if prediction is not None else None
    if heatmap is not None and np.asarray(heatmap).shape == display01.shape:
        overlay = rgba8_to_qimage(np.ascontiguousarray(
            blend(display01, np.asarray(heatmap), colormap, opacity)[crop]))  # as on screen
    is_dicom = bool(original_metadata.get("SOPInstanceUID") or original_metadata.get("StudyInstanceUID"))
    patient = [(title, _field_value(key, metadata)) for title, key in PATIENT_KEYS] if is_dicom else []
    study = [(title, _field_value(key, metadata)) for title, key in STUDY_KEYS] if is_dicom else []
    identity = []
    if path is not None:
        identity += [("File", scrub(path.name))] + ([] if deidentify else [("Folder", str(path.parent))])
    identity += [("Format", str(getattr(image, "source_format", "") or "")),
                 ("Dimensions", f"{image.modality.shape[1]} x {image.modality.shape[0]} px"),
                 ("Pixel spacing", spacing_description(image)),
                 ("Display window", f"W {view.window.width:.6g} / L {view.window.center:.6g}"
                                    + (" (inverted)" if view.inverted else ""))]
    if metadata.get("SOPInstanceUID"):
        identity.append(("SOP Instance UID", str(metadata["SOPInstanceUID"])))
    if path is not None and path.is_file() and not deidentify:
        identity += [("Size", f"{path.stat().st_size:,} bytes"), ("SHA-256", sha256_file(path))]
    content = ReportContent(file_path=path, image=gray01_to_qimage(np.ascontiguousarray(display01[crop])),
                            overlay=overlay, identity=identity, patient=patient, study=study,
                            annotations=annotations, annotation_labels=labels, measurements=measurement_lines,
                            image_origin=(int(crop[1].start or 0), int(crop[0].start or 0)))
    if annotations:
        content.measurements_note = ("No pixel spacing in the file: lengths and areas in pixels."
                                     if spacing_mm(image) is None else
                                     f"Lengths and areas in mm at {spacing_description(image)}.")
    if overlay is not None:
        content.colour_lut = [tuple(int(v) for v in rgb) for rgb in colormap_lut(colormap)]
        content.colormap = colormap
    if prediction is not None:
        if not isinstance(call, Call):
            raise TypeError("a report of an AI result needs the call shown with it (AiSession's viewport state)")
        content.probabilities = dict(prediction.probabilities)
        content.call = pa.call_text(call)
        content.call_withheld = call.withheld
        content.positive_label = prediction.positive_label
        known = card if card is not None else ModelCard({})  # a result without its card: no card numbers
        content.threshold_text = _operating_point(known, prediction, threshold)
        content.performance_lines = (card_facts.internal_lines(known, limit=4) + card_facts.external_lines(known)
                                     + card_facts.site_calibration_lines(known))
        if prediction.cam_method:  # naming the heatmap's label would give a withheld call away
            content.heatmap_text = f"Heatmap: {prediction.cam_method}" + (
                f" for {prediction.cam_label}" if prediction.cam_label and not call.withheld else "") + (
                f", {colormap} at opacity {opacity:.2f} (as on screen)" if overlay is not None else "")
        content.notices = [scrub(notice) for notice in prediction.notices]
        near = pa.near_threshold_text(prediction, call, threshold)
        if near:
            content.notices.append(near)
        content.ood_warning = pa.ood_warning_text(prediction)
    content.notices += [scrub(notice) for notice in getattr(image, "notices", []) or []
                        if scrub(notice) not in content.notices]  # the prediction's include the image's
    content.model_lines, content.limitations = _model_block(card, prediction)
    return content


def _operating_point(card: ModelCard, prediction, threshold: float | None) -> str:
    if threshold is None:
        return "Call: most probable label (multi-class model)."
    card_threshold = card.threshold
    text = f"Operating threshold on P({prediction.positive_label}): {pa.number(threshold)}"
    if card_threshold is not None and abs(threshold - float(card_threshold)) > 1e-9:
        text += f" (user-adjusted; model card: {pa.number(card_threshold)})"
    elif card_facts.site_set(card) is not None:
        text += " (site-calibrated)"
    rows = pa.nearby_thresholds(card, threshold, 1)
    if rows:
        row = rows[0]
        text += (f". At {pa.number(row.threshold)}: sensitivity {pa.number(row.sensitivity)}, specificity "
                 f"{pa.number(row.specificity)}, measured on {card_facts.threshold_table_set(card).description}")
    return text + "."


def _model_block(card: ModelCard | None, prediction) -> tuple[list[str], list[str]]:
    if card is None:
        return ["No AI model was loaded."], []
    model = prediction.model if prediction is not None else {}
    lines = [f"{card.title} — architecture {card.architecture}"]
    weights = model.get("sha256") or card.weights_sha256
    if weights:
        lines.append(f"Weights SHA-256: {weights}")
    if model.get("manifest_sha256"):
        lines.append(f"Bundle manifest SHA-256 (card + weights + guard): {model['manifest_sha256']}")
    if card.created_utc:
        lines.append(f"Created: {card.created_utc}")
    lines.append(f"Intended use: {card.intended_use}")
    if prediction is not None:
        lines.append(f"Device: {prediction.device}; time {prediction.total_time_ms:.0f} ms")
    return lines, card.limitations
