"""DICOM result objects for an AI prediction: a Secondary Capture of the heatmap overlay (labels burned in) and a
Comprehensive SR (TID 1500 measurement report, built with highdicom) with the finding, probabilities, threshold
and model identity. Both get new Series / SOP Instance UIDs, stay in the source image's study and reference the
source image, so a PACS files them next to it."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicom_common.dates import dicom_date, dicom_time
from dicom_common.derived import apply_series_anatomy, copy_deidentification, reference_header
from dicom_common.files import save_new
from inference import result_codes
from inference.errors import DicomResultError
from inference.overlay import DEFAULT_OPACITY, blend, gray_to_rgb
from inference.results import NEAR_THRESHOLD_MARK, Call

NOT_FOR_DIAGNOSIS = "AI result \u2014 not for diagnostic use"
NOT_FOR_DIAGNOSIS_ASCII = "AI result - not for diagnostic use"  # for DICOM text attributes (Latin-1)
MANUFACTURER = "XRayView"
SC_SERIES_NUMBER = 9901
SR_SERIES_NUMBER = 9902
SECONDARY_CAPTURE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"
_MIN_SC_WIDTH = 512  # small sources (e.g. 224 px) are enlarged so the burned-in text stays legible
_FONT_CANDIDATES = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


# --- shared helpers ----------------------------------------------------------------------------------------------

def _model_identity(prediction: Any) -> dict[str, str]:
    model = getattr(prediction, "model", None) or {}
    return {key: str(model.get(key, "") or "") for key in ("name", "version", "sha256")}


def source_header(image: Any) -> Dataset | None:
    """The source DICOM header when the image came from a DICOM file with the UIDs a reference needs."""
    dataset = getattr(image, "dataset", None)
    if isinstance(dataset, Dataset) and all(k in dataset for k in ("SOPClassUID", "SOPInstanceUID",
                                                                    "StudyInstanceUID")):
        return dataset
    return None


NO_CALL_TEXT = "No call: image unlike the model's training data"
SHOWN_ANYWAY_TEXT = "shown anyway: image unlike the training data"


def result_call(prediction: Any, call: Call | None = None, threshold: float | None = None) -> Call:
    """The call the objects carry: the one given (the viewer passes the call on screen, from its AI session; it is
    never decided again here), else, for a caller without one, the one rule at `threshold` (default: the
    prediction's own; inference.results: no call when the OOD guard warned)."""
    return call if call is not None else prediction.call(threshold)


def call_description(call: Call) -> str:
    """The call as the SC's burned-in text, the SR and the derivation description write it."""
    if call.withheld:
        return NO_CALL_TEXT
    marks = [mark for mark, on in ((SHOWN_ANYWAY_TEXT, call.shown_anyway), (NEAR_THRESHOLD_MARK, call.near_threshold))
             if on]
    return f"{call.label} ({'; '.join(marks)})" if marks else str(call.label)


def probability_lines(prediction: Any, call: Call | None = None, threshold: float | None = None) -> list[str]:
    """One line per label, highest first, e.g. 'PNEUMONIA 0.873'; the positive label is marked with its threshold;
    every line says "not applicable" when the call was withheld."""
    positive = getattr(prediction, "positive_label", None)
    threshold = getattr(prediction, "threshold", None) if threshold is None else threshold
    withheld = call is not None and call.withheld
    lines = []
    for label, p in sorted(prediction.probabilities.items(), key=lambda kv: -kv[1]):
        suffix = f"  (threshold {threshold:.2f})" if label == positive and threshold is not None else ""
        lines.append(f"{label} {p:.3f}{suffix}" + ("  (not applicable)" if withheld else ""))
    return lines


def result_text_lines(prediction: Any, call: Call | None = None, threshold: float | None = None) -> list[str]:
    """The text burned into the Secondary Capture (and usable by other exports)."""
    model = _model_identity(prediction)
    call = result_call(prediction, call)
    return [NOT_FOR_DIAGNOSIS, f"Result: {call_description(call)}", *probability_lines(prediction, call, threshold),
            f"Model: {model['name']} {model['version']}".rstrip()]


# --- Secondary Capture -------------------------------------------------------------------------------------------

def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def overlay_rgb(display01: np.ndarray, heatmap: np.ndarray | None, colormap: str = "jet",
                opacity: float = DEFAULT_OPACITY) -> np.ndarray:
    """uint8 HxWx3: the gray image with the heatmap blended in by inference.overlay.blend, the function the
    viewer's layer and the PDF use, so the saved picture looks like the screen."""
    if heatmap is None:
        return gray_to_rgb(np.clip(np.asarray(display01, dtype=np.float32), 0.0, 1.0))
    try:
        return blend(display01, heatmap, colormap, opacity)
    except ValueError as error:
        raise DicomResultError(None, f"cannot blend the heatmap: {error}") from None


def render_result_picture(image: Any, prediction: Any, *, rgb: np.ndarray | None = None,
                          lines: Sequence[str] | None = None, call: Call | None = None, colormap: str = "jet",
                          opacity: float = DEFAULT_OPACITY, threshold: float | None = None) -> np.ndarray:
    """The overlay with a black text band on top carrying the labels; uint8 HxWx3."""
    if rgb is None:
        rgb = overlay_rgb(image.render(), getattr(prediction, "heatmap", None), colormap, opacity)
    picture = Image.fromarray(rgb, mode="RGB")
    if picture.width < _MIN_SC_WIDTH:
        scale = _MIN_SC_WIDTH / picture.width
        picture = picture.resize((_MIN_SC_WIDTH, max(1, round(picture.height * scale))), Image.Resampling.BILINEAR)
    text_lines = list(lines if lines is not None else result_text_lines(prediction, call, threshold))
    font_size = max(14, picture.width // 32)
    font = _font(font_size)
    line_height = round(font_size * 1.35)
    band = line_height * len(text_lines) + font_size // 2
    canvas = Image.new("RGB", (picture.width, picture.height + band), (0, 0, 0))
    canvas.paste(picture, (0, band))
    draw = ImageDraw.Draw(canvas)
    for index, line in enumerate(text_lines):
        colour = (255, 210, 0) if index == 0 else (255, 255, 255)
        draw.text((font_size // 2, font_size // 4 + index * line_height), line, fill=colour, font=font)
    return np.asarray(canvas, dtype=np.uint8).copy()


def build_secondary_capture(image: Any, prediction: Any, *, rgb: np.ndarray | None = None,
                            lines: Sequence[str] | None = None, series_instance_uid: str | None = None,
                            instance_number: int = 1, call: Call | None = None, colormap: str = "jet",
                            opacity: float = DEFAULT_OPACITY, threshold: float | None = None) -> Dataset:
    """A Secondary Capture Image (RGB) of the heatmap overlay with the result burned in.

    image: an XRayImage (render(), dataset, metadata). prediction: a Prediction. rgb: an already blended overlay
    (uint8 HxWx3) to use instead of blending the heatmap here. For a DICOM source the SC joins its study and
    references it (Source Image Sequence + Referenced Image Sequence); otherwise it starts a new study.
    call: the call shown (default: the one rule at the prediction's threshold); colormap/opacity: the heatmap's
    look on screen; threshold: the one the call was made at (default: the prediction's).
    """
    call = result_call(prediction, call)
    pixels = render_result_picture(image, prediction, rgb=rgb, lines=lines, call=call, colormap=colormap,
                                   opacity=opacity, threshold=threshold)
    source = source_header(image)
    series_uid = series_instance_uid or generate_uid()
    orientation = _patient_orientation(source)
    common = dict(pixel_array=pixels, photometric_interpretation="RGB", bits_allocated=8,
                  # highdicom insists on an orientation here; it is blanked below when the source has none
                  coordinate_system="PATIENT", patient_orientation=orientation or ("L", "F"),
                  series_instance_uid=series_uid, series_number=SC_SERIES_NUMBER, sop_instance_uid=generate_uid(),
                  instance_number=instance_number, manufacturer=MANUFACTURER,
                  transfer_syntax_uid=ExplicitVRLittleEndian)
    try:
        if source is not None:
            sc = hd.sc.SCImage.from_ref_dataset(ref_dataset=reference_header(source), **common)
        else:
            meta = getattr(image, "metadata", {}) or {}
            sc = hd.sc.SCImage(study_instance_uid=generate_uid(), patient_id=str(meta.get("PatientID", "") or ""),
                               patient_name=str(meta.get("PatientName", "") or ""), **common)
    except (ValueError, TypeError, AttributeError) as error:
        raise DicomResultError(getattr(image, "path", None), f"cannot build the Secondary Capture: {error}") from None
    model = _model_identity(prediction)
    if orientation is None:
        sc.PatientOrientation = ""  # type 2: the source does not say which way is up, so neither do we
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.ConversionType = "WSD"  # made on a workstation, not digitised from film or captured from a video interface
    sc.BurnedInAnnotation = "YES"
    sc.RecognizableVisualFeatures = "NO"
    sc.SeriesDescription = f"AI heatmap ({NOT_FOR_DIAGNOSIS_ASCII})"[:64]
    sc.DerivationDescription = (f"{NOT_FOR_DIAGNOSIS_ASCII}. Heatmap of {model['name']} {model['version']} "
                                f"(sha256 {model['sha256'][:16]}) blended over the source image; result "
                                f"{call_description(call)}.")[:1024]
    sc.SoftwareVersions = [v for v in ("XRayView", model["version"]) if v]
    _stamp_content_time(sc)
    apply_series_anatomy(sc, source, has_general_image=True)
    if source is not None:
        copy_deidentification(sc, reference_header(source))
    if source is not None:
        reference = _image_reference(source)
        sc.SourceImageSequence = DicomSequence([reference])
        sc.ReferencedImageSequence = DicomSequence([_image_reference(source)])
        derivation = Dataset()
        derivation.CodeValue, derivation.CodingSchemeDesignator = "113076", "DCM"
        derivation.CodeMeaning = "Segmentation"  # closest CID 7203 concept for a derived saliency rendering
        sc.DerivationCodeSequence = DicomSequence([derivation])
    return sc


def _patient_orientation(source: Dataset | None) -> tuple[str, str] | None:
    """The source's row/column directions (the SC shows the image the same way up), when it states them."""
    value = source.get("PatientOrientation") if source is not None else None
    if value is not None and len(value) == 2 and all(value):
        return str(value[0]), str(value[1])
    return None


def _image_reference(source: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return item


def _stamp_content_time(ds: Dataset) -> None:
    now = dt.datetime.now()
    ds.ContentDate, ds.ContentTime = dicom_date(now), dicom_time(now)
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime


# --- Structured Report -------------------------------------------------------------------------------------------

def _call_group(prediction: Any, call: Call, algorithm: Any, source: Dataset):
    """The call as the group's Finding (TID 1501 row "Finding", DCM 121071: the label's finding, "Indeterminate
    result" when the guard withheld it), the guard's verdict, whether the call was shown although the guard
    warned, and whether it lies within the model's measured moves of the threshold."""
    finding = result_codes.INDETERMINATE_RESULT if call.withheld else result_codes.label_concept(str(call.label))
    evaluations = []
    ood = getattr(prediction, "ood", None)
    if ood is not None:  # the guard's verdict travels with the call it qualifies
        evaluations.append(hd.sr.QualitativeEvaluation(
            name=result_codes.OOD_GUARD, value=result_codes.OOD_WARNING if ood.warning else result_codes.OOD_NONE))
    if call.shown_anyway:
        evaluations.append(hd.sr.QualitativeEvaluation(name=result_codes.SHOWN_ANYWAY, value=result_codes.YES))
    if call.near_threshold and not call.withheld:  # the same film re-saved could get the other call
        evaluations.append(hd.sr.QualitativeEvaluation(name=result_codes.NEAR_THRESHOLD, value=result_codes.YES))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="AI classification result"),
        finding_type=finding, algorithm_id=algorithm, qualitative_evaluations=evaluations or None,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)])


def build_structured_report(image: Any, prediction: Any, *, series_instance_uid: str | None = None,
                            instance_number: int = 1, call: Call | None = None,
                            threshold: float | None = None) -> Dataset:
    """A Comprehensive SR (TID 1500): one measurement group with the call (a Finding, with the guard's verdict),
    then one group per label (its finding as the finding type, its Probability; the positive label's group also
    holds the Threshold Value the call was made at), each with the algorithm identification (name, version, sha256
    and device as parameters). Standard codes where they exist (inference.result_codes). Needs a DICOM source:
    the report references the source image."""
    source = source_header(image)
    if source is None:
        raise DicomResultError(getattr(image, "path", None),
                               "a Structured Report needs a DICOM source image to reference (this image is "
                               f"{getattr(image, 'source_format', '') or 'not DICOM'})")
    model = _model_identity(prediction)
    device = str(getattr(prediction, "device", "") or "")
    algorithm = hd.sr.AlgorithmIdentification(
        name=model["name"] or "unnamed model", version=model["version"] or "unversioned",
        parameters=[p for p in (f"sha256={model['sha256']}" if model["sha256"] else "",
                                f"device={device}" if device else "") if p] or None,
    )
    header = reference_header(source)
    groups = [_call_group(prediction, result_call(prediction, call), algorithm, source)]
    threshold = getattr(prediction, "threshold", None) if threshold is None else threshold
    positive = getattr(prediction, "positive_label", None) or prediction.label
    for label, p in prediction.probabilities.items():  # one group per label: its finding and its probability
        measurements = [hd.sr.Measurement(name=result_codes.PROBABILITY, value=float(p), unit=result_codes.NO_UNITS,
                                          algorithm_id=algorithm)]
        if threshold is not None and label == positive:  # the call's threshold is on this probability
            measurements.append(hd.sr.Measurement(name=result_codes.THRESHOLD, value=float(threshold),
                                                  unit=result_codes.NO_UNITS, algorithm_id=algorithm))
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(),
                                                         identifier=f"AI probability: {label}"[:64]),
            finding_type=result_codes.label_concept(label), algorithm_id=algorithm, measurements=measurements,
            source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)]))
    for notice in getattr(prediction, "notices", None) or []:  # e.g. a patient outside the intended population
        groups[0][0].ContentSequence.append(hd.sr.TextContentItem(
            name=codes.DCM.Comment, value=str(notice)[:1024], relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(), name=f"XRayView {model['name']}"[:64], model_name=model["version"][:64] or None),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.LN.RadiographicImaging if hasattr(codes.LN, "RadiographicImaging")
        else hd.sr.CodedConcept(value="43468-8", scheme_designator="LN", meaning="XR Study"),
        imaging_measurements=groups,
    )
    try:
        sr = hd.sr.ComprehensiveSR(
            evidence=[header], content=report, series_instance_uid=series_instance_uid
            or generate_uid(), series_number=SR_SERIES_NUMBER, sop_instance_uid=generate_uid(),
            instance_number=instance_number, manufacturer=MANUFACTURER, is_complete=True, is_final=False,
        )
    except (ValueError, TypeError, AttributeError) as error:
        raise DicomResultError(getattr(image, "path", None), f"cannot build the Structured Report: {error}") from None
    sr.SeriesDescription = NOT_FOR_DIAGNOSIS_ASCII
    copy_deidentification(sr, header)
    return sr


# --- one call for the viewer --------------------------------------------------------------------------------------

def build_results(image: Any, prediction: Any, *, deidentifier: Any = None, call: Call | None = None,
                  colormap: str = "jet", opacity: float = DEFAULT_OPACITY,
                  threshold: float | None = None) -> list[Dataset]:
    """The result objects for one prediction: the Secondary Capture, plus the SR when the source is a DICOM.
    Pass an inference.deid.Deidentifier to export them de-identified (one per export session). `call`: the call
    on screen (default: result_call) and `threshold` the one it was made at; colormap/opacity: the heatmap's look
    on screen."""
    call = result_call(prediction, call, threshold)
    results = [build_secondary_capture(image, prediction, call=call, colormap=colormap, opacity=opacity,
                                       threshold=threshold)]
    if source_header(image) is not None:
        results.append(build_structured_report(image, prediction, call=call, threshold=threshold))
    if deidentifier is not None:
        results = [deidentifier.deidentify_dataset(ds) for ds in results]
    return results


# --- saving ------------------------------------------------------------------------------------------------------

FILE_KIND = {"SR": "SR", "DOC": "PDF"}  # by Modality; every other object here is a Secondary Capture


def save_results(datasets: Iterable[Dataset], folder: str | Path) -> list[Path]:
    """Writes each dataset as a DICOM Part 10 file named by its kind and SOP Instance UID (SC_, SR_, PDF_),
    never replacing a file."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    return [save_new(ds, out / f"{FILE_KIND.get(str(ds.Modality), 'SC')}_{ds.SOPInstanceUID}.dcm")
            for ds in datasets]
