"""Annotations, measurements and the display settings of one image as a DICOM Grayscale Softcopy Presentation
State (GSPS, PS3.3 A.33.1), written with highdicom's `pr` module, and read back from any GSPS.

`build_presentation_state` and `read_presentation_state` are the pair; their round trip is exact for what the
viewer draws. Each XRayView annotation is one Graphic Group labelled "XRAYVIEW <KIND>", holding its graphics
(drawn by any viewer: polylines, ellipses, an arrow head) and a text object with its measurement, so other
viewers show the numbers too. Graphics from other viewers' presentation states come back as polylines,
polygons, ellipses, points and text.

The patient and study come from the image through dicom_common.derived (Type 2 attributes the image lacks are
written empty, the series laterality only where its condition applies); a mark drawn partly off the image is
clipped at the image edge, and its graphic group says so (see _ImageFrame).

Display settings (`ViewState`): the window (Softcopy VOI LUT), the polarity (Presentation LUT Shape INVERSE
when the picture shown is inverted relative to MONOCHROME2, which is how a GSPS shows a MONOCHROME1 image as
intended, PS3.4 N.2.1.1), and rotation/flip (Spatial Transformation: rotate clockwise, then flip).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from annotations.model import Annotation
from annotations.presentation import PresentationState, ViewState
from dicom_common.derived import apply_series_anatomy, copy_deidentification, reference_header
from dicom_common.files import save_new

GSPS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
GROUP_PREFIX = "XRAYVIEW "
MEASUREMENT_LAYER = "MEASUREMENTS"
ANNOTATION_LAYER = "ANNOTATIONS"
MEASUREMENT_KINDS = ("distance", "angle", "cobb", "ellipse", "rectangle", "polygon", "ctr")
MANUFACTURER = "XRayView"
PR_SERIES_NUMBER = 9903
ARROW_HEAD_FRACTION = 0.18  # of the shaft, drawn as a polyline so that every viewer shows the head
ELLIPSE_POLYGON_POINTS = 48


class PresentationStateError(ValueError):
    """A data set that is not a usable presentation state, or an image it cannot be made for."""


# --- writing ------------------------------------------------------------------------------------------------------

def _require_image(source: Dataset) -> None:
    missing = [k for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Rows",
                           "Columns") if k not in source]
    if missing:
        raise PresentationStateError("a presentation state needs the image's DICOM header; missing "
                                     + ", ".join(missing))


def _arrow_head(tail, tip) -> np.ndarray:
    (x0, y0), (x1, y1) = tail, tip
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    size = max(4.0, length * ARROW_HEAD_FRACTION)
    left = (x1 - size * (ux * 0.87 - uy * 0.5), y1 - size * (uy * 0.87 + ux * 0.5))
    right = (x1 - size * (ux * 0.87 + uy * 0.5), y1 - size * (uy * 0.87 - ux * 0.5))
    return np.array([left, tip, right], dtype=np.float64)


def _pixel_graphics(annotation: Annotation) -> list[tuple[str, np.ndarray]]:
    """(graphic type, points in image pixels) of the GSPS graphic objects that draw `annotation`, in order
    (reading relies on it)."""
    points = np.asarray(annotation.points, dtype=np.float64)
    kind = annotation.kind
    if kind in ("distance", "angle", "polyline"):
        return [("POLYLINE", points)]
    if kind in ("cobb", "ctr"):
        return [("POLYLINE", points[:2]), ("POLYLINE", points[2:])]
    if kind == "rectangle":
        (x0, y0), (x1, y1) = points
        return [("POLYLINE", np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]))]
    if kind == "polygon":
        return [("POLYLINE", np.vstack([points, points[:1]]))]
    if kind == "ellipse":
        (x0, y0), (x1, y1) = points
        xc, yc = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        return [("ELLIPSE", np.array([(x0, yc), (x1, yc), (xc, y0), (xc, y1)]))]
    if kind == "arrow":
        return [("POLYLINE", points), ("POLYLINE", _arrow_head(points[0], points[1]))]
    if kind == "point":
        return [("POINT", points)]
    return []  # text: a text object only


CLIPPED_NOTE = "clipped at the image edge: drawn partly outside the image"


class _ImageFrame:
    """Graphics in PIXEL units must lie on the image (PS3.3 C.10.5.1.2: 0.0 is the top left corner of the top left
    pixel, Columns\\Rows the bottom right corner of the last). A mark the tools let the user draw partly outside
    (an arrow started in the black margin) is clipped at the image edge: lines are cut where they cross it (their
    direction is kept), points and ellipse axes are moved onto it, and the graphic group says so. (A Displayed
    Area reaching beyond the image would keep such marks whole, but its negative corner is misread by common
    validators, dciodvfy among them, as an error.)"""

    def __init__(self, columns: int, rows: int):
        self.columns, self.rows = float(columns), float(rows)

    def contains(self, points: np.ndarray) -> bool:
        return bool(points.size == 0 or (points.min() >= 0.0 and points[:, 0].max() <= self.columns
                                         and points[:, 1].max() <= self.rows))

    def clamp(self, points: np.ndarray) -> np.ndarray:
        return np.column_stack([np.clip(points[:, 0], 0.0, self.columns), np.clip(points[:, 1], 0.0, self.rows)])

    def clip(self, kind: str, points: np.ndarray) -> np.ndarray | None:
        """The part of the graphic on the image (None: none of it is)."""
        if self.contains(points):
            return points
        if kind != "POLYLINE" or len(points) < 2:
            return self.clamp(points)
        pieces: list[list[np.ndarray]] = []
        for start, end in zip(points[:-1], points[1:]):
            segment = self._clip_segment(start, end)
            if segment is None:
                continue
            if pieces and np.allclose(pieces[-1][-1], segment[0]):
                pieces[-1].append(segment[1])
            else:
                pieces.append(list(segment))
        if not pieces:
            return None
        longest = max(pieces, key=lambda piece: sum(np.hypot(*(b - a)) for a, b in zip(piece[:-1], piece[1:])))
        return np.asarray(longest, dtype=np.float64)

    def _clip_segment(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Liang-Barsky: the part of the segment inside [0, columns] x [0, rows]."""
        delta = end - start
        low, high = 0.0, 1.0
        for p, q in ((-delta[0], start[0]), (delta[0], self.columns - start[0]),
                     (-delta[1], start[1]), (delta[1], self.rows - start[1])):
            if p == 0:
                if q < 0:
                    return None
                continue
            ratio = q / p
            if p < 0:
                low = max(low, ratio)
            else:
                high = min(high, ratio)
            if low > high:
                return None
        return start + low * delta, start + high * delta


def _text_value(annotation: Annotation, lines: Sequence[str]) -> str:
    if annotation.kind == "text":
        return annotation.text
    return "\r\n".join(line for line in lines if line)


def _needs_unicode(values: Sequence[str]) -> bool:
    try:
        for value in values:
            value.encode("latin-1")
    except UnicodeEncodeError:
        return True
    return False


def build_presentation_state(source: Dataset, annotations: Sequence[Annotation], view: ViewState | None = None, *,
                             labels: Mapping[str, Sequence[str]] | None = None, content_label: str = "XRAYVIEW",
                             content_description: str = "Measurements and annotations (XRayView)",
                             creator: str = "", software_version: str = "", series_instance_uid: str | None = None,
                             instance_number: int = 1) -> Dataset:
    """A GSPS for the image whose header is `source` (pixel data not needed).

    labels: the measurement text of each annotation by uid (annotations.measure(...).lines), written as a text
    object beside it; annotations without an entry get no measurement text.
    """
    _require_image(source)
    source = reference_header(source)  # a source without, e.g., a birth date or Study ID gets them empty
    view = view or ViewState()
    labels = labels or {}
    layers = {MEASUREMENT_LAYER: hd.pr.GraphicLayer(layer_name=MEASUREMENT_LAYER, order=1,
                                                    description="Measurements",
                                                    display_color=hd.color.CIELabColor.from_rgb(255, 213, 79)),
              ANNOTATION_LAYER: hd.pr.GraphicLayer(layer_name=ANNOTATION_LAYER, order=2, description="Annotations",
                                                   display_color=hd.color.CIELabColor.from_rgb(128, 222, 234))}
    groups, per_layer = [], {MEASUREMENT_LAYER: ([], []), ANNOTATION_LAYER: ([], [])}
    texts = [_text_value(annotation, labels.get(annotation.uid, ())) for annotation in annotations]
    graphics = [_pixel_graphics(annotation) for annotation in annotations]
    anchors = [annotation.label_anchor() if text else None for annotation, text in zip(annotations, texts)]
    frame = _ImageFrame(int(source.Columns), int(source.Rows))
    for number, (annotation, text) in enumerate(zip(annotations, texts), start=1):
        drawn = [(kind, frame.clip(kind, data)) for kind, data in graphics[number - 1]]
        anchor = anchors[number - 1]
        clipped = any(clip is None or clip is not data for (_, clip), (_, data) in zip(drawn, graphics[number - 1]))
        if anchor is not None and not frame.contains(np.asarray([anchor], dtype=np.float64)):
            anchor, clipped = tuple(frame.clamp(np.asarray([anchor], dtype=np.float64))[0]), True
        description = "; ".join(part for part in (text.replace("\r\n", "; "), CLIPPED_NOTE if clipped else "")
                                if part)
        group = hd.pr.GraphicGroup(graphic_group_id=number, label=f"{GROUP_PREFIX}{annotation.kind.upper()}",
                                   description=description[:1024] or None)
        groups.append(group)
        layer = MEASUREMENT_LAYER if annotation.kind in MEASUREMENT_KINDS else ANNOTATION_LAYER
        graphic_objects, text_objects = per_layer[layer]
        graphic_objects.extend(hd.pr.GraphicObject(graphic_type=kind, graphic_data=data, units="PIXEL",
                                                   graphic_group=group)
                               for kind, data in drawn if data is not None)
        if text:
            text_objects.append(hd.pr.TextObject(text_value=text, units="PIXEL", anchor_point=tuple(anchor),
                                                 anchor_point_visible=False, graphic_group=group))
    graphic_annotations = [
        hd.pr.GraphicAnnotation(referenced_images=[source], graphic_layer=layers[name],
                                graphic_objects=objects or None, text_objects=text_objects or None)
        for name, (objects, text_objects) in per_layer.items() if objects or text_objects]
    voi = None
    if view.window_center is None or view.window_width is None:
        view = _with_source_window(view, source)
    if view.window_center is not None and view.window_width is not None:
        voi = [hd.pr.SoftcopyVOILUTTransformation(
            window_center=float(view.window_center), window_width=max(float(view.window_width), 1.0),
            voi_lut_function=view.window_function if view.window_function != "LINEAR" else None)]
    shape = "INVERSE" if view.display_inverted else "IDENTITY"
    try:
        state = hd.pr.GrayscaleSoftcopyPresentationState(
            referenced_images=[source], series_instance_uid=series_instance_uid or generate_uid(),
            series_number=PR_SERIES_NUMBER, sop_instance_uid=generate_uid(), instance_number=instance_number,
            manufacturer=MANUFACTURER, manufacturer_model_name="XRayView", software_versions=software_version or "0",
            device_serial_number="", content_label=content_label.upper()[:16],
            content_description=content_description[:64] or None, graphic_annotations=graphic_annotations or None,
            graphic_layers=[layers[name] for name, (o, t) in per_layer.items() if o or t] or None,
            graphic_groups=groups or None, content_creator_name=creator or None, voi_lut_transformations=voi,
            presentation_lut_transformation=hd.PresentationLUTTransformation(presentation_lut_shape=shape))
    except (ValueError, TypeError, AttributeError) as error:
        raise PresentationStateError(f"cannot build the presentation state: {error}") from None
    if voi and view.window_name:  # set here: highdicom splits a str explanation into characters
        state.SoftcopyVOILUTSequence[0].WindowCenterWidthExplanation = view.window_name[:64]
    apply_series_anatomy(state, source, has_general_image=False)
    copy_deidentification(state, source)
    flip, rotation = dicom_spatial(view.rotation, view.flip_horizontal, view.flip_vertical)
    state.ImageHorizontalFlip = "Y" if flip else "N"
    state.ImageRotation = rotation
    if _needs_unicode(texts + [creator]):
        state.SpecificCharacterSet = "ISO_IR 192"
    return state


def _with_source_window(view: ViewState, source: Dataset) -> ViewState:
    """The view with the image's own first window when the view names none: a presentation state holds one
    window (VM 1), where the image may list several."""
    try:
        center = float(_first(source.get("WindowCenter", "")))
        width = float(_first(source.get("WindowWidth", "")))
    except (TypeError, ValueError):
        return view
    name = str(_first(source.get("WindowCenterWidthExplanation", "")) or "")
    return replace(view, window_center=center, window_width=width, window_name=view.window_name or name)


def dicom_spatial(rotation: int, flip_h: bool, flip_v: bool) -> tuple[bool, int]:
    """The viewer's (clockwise rotation, then flips) as DICOM's (Image Horizontal Flip, Image Rotation): DICOM
    rotates clockwise first and flips horizontally after (PS3.3 C.10.6; dcmtk renders it so), and a vertical
    flip is a horizontal flip turned 180 degrees."""
    rotation %= 360
    if flip_v:
        return not flip_h, (rotation + 180) % 360
    return flip_h, rotation


def viewer_spatial(flip: bool, rotation: int) -> tuple[int, bool]:
    """DICOM's (flip, rotation) as the viewer's (rotation, horizontal flip)."""
    return rotation % 360, bool(flip)


def save_presentation_state(state: Dataset, folder: str | Path, stem: str) -> Path:
    """Writes `state` into `folder` as `<stem>.pr<N>.dcm`, never replacing an existing file (the first free N),
    through a temporary file so that a failed write leaves nothing half-written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        try:
            return save_new(state, folder / f"{stem}.pr{number}.dcm")
        except FileExistsError:
            number += 1


# --- reading ------------------------------------------------------------------------------------------------------

def is_presentation_state(ds: Dataset) -> bool:
    return str(ds.get("SOPClassUID", "")) == GSPS_SOP_CLASS or str(ds.get("Modality", "")) == "PR"


def _references(item: Dataset) -> set[str]:
    return {str(ref.ReferencedSOPInstanceUID) for ref in item.get("ReferencedImageSequence", [])
            if "ReferencedSOPInstanceUID" in ref}


def _applies(item: Dataset, sop_instance_uid: str | None) -> bool:
    refs = _references(item)
    return sop_instance_uid is None or not refs or sop_instance_uid in refs


def _points(obj: Dataset, displayed_area: tuple[float, float, float, float] | None) -> np.ndarray:
    data = np.asarray([float(v) for v in obj.get("GraphicData", [])], dtype=np.float64).reshape(-1, 2)
    units = str(obj.get("GraphicAnnotationUnits", obj.get("BoundingBoxAnnotationUnits",
                                                          obj.get("AnchorPointAnnotationUnits", "PIXEL"))))
    return _to_pixels(data, units, displayed_area)


def _to_pixels(data: np.ndarray, units: str, displayed_area) -> np.ndarray:
    if units != "DISPLAY" or displayed_area is None:
        return data
    x0, y0, x1, y1 = displayed_area  # DISPLAY units run 0..1 over the displayed area (1-based pixel corners)
    return np.column_stack([(x0 - 1) + data[:, 0] * (x1 - x0 + 1), (y0 - 1) + data[:, 1] * (y1 - y0 + 1)])


def _displayed_area(ds: Dataset, sop_instance_uid: str | None):
    for item in ds.get("DisplayedAreaSelectionSequence", []):
        if _applies(item, sop_instance_uid) and "DisplayedAreaTopLeftHandCorner" in item:
            (x0, y0), (x1, y1) = item.DisplayedAreaTopLeftHandCorner, item.DisplayedAreaBottomRightHandCorner
            return float(x0), float(y0), float(x1), float(y1)
    return None


def _ellipse_annotation(points: np.ndarray) -> Annotation:
    major, minor = points[:2], points[2:4]
    centre = major.mean(axis=0)
    a_vec, b_vec = (major[1] - major[0]) / 2.0, (minor[1] - minor[0]) / 2.0
    if abs(a_vec[1]) < 1e-6 * (abs(a_vec[0]) + 1) and abs(b_vec[0]) < 1e-6 * (abs(b_vec[1]) + 1) \
            or abs(a_vec[0]) < 1e-6 * (abs(a_vec[1]) + 1) and abs(b_vec[1]) < 1e-6 * (abs(b_vec[0]) + 1):
        half_w = max(abs(a_vec[0]), abs(b_vec[0]))
        half_h = max(abs(a_vec[1]), abs(b_vec[1]))
        return Annotation("ellipse", ((centre[0] - half_w, centre[1] - half_h),
                                      (centre[0] + half_w, centre[1] + half_h)))
    angles = np.linspace(0.0, 2.0 * math.pi, ELLIPSE_POLYGON_POINTS, endpoint=False)
    outline = centre + np.outer(np.cos(angles), a_vec) + np.outer(np.sin(angles), b_vec)
    return Annotation("polygon", tuple(map(tuple, outline)))


def _foreign_annotation(obj: Dataset, points: np.ndarray) -> Annotation | None:
    kind = str(obj.get("GraphicType", ""))
    if kind in ("POLYLINE", "INTERPOLATED") and len(points) >= 2:
        closed = len(points) >= 4 and np.allclose(points[0], points[-1])
        if closed:
            return Annotation("polygon", tuple(map(tuple, points[:-1])))
        return Annotation("polyline", tuple(map(tuple, points)))
    if kind == "ELLIPSE" and len(points) == 4:
        return _ellipse_annotation(points)
    if kind == "CIRCLE" and len(points) == 2:
        radius = float(np.linalg.norm(points[1] - points[0]))
        (xc, yc) = points[0]
        return Annotation("ellipse", ((xc - radius, yc - radius), (xc + radius, yc + radius)))
    if kind == "POINT" and len(points) >= 1:
        return Annotation("point", (tuple(points[0]),))
    return None


def _own_annotation(kind: str, objects: list[tuple[Dataset, np.ndarray]], texts: list[Dataset],
                    displayed_area=None) -> Annotation:
    """Rebuilds an XRayView group (inverse of _pixel_graphics)."""
    arrays = [points for _, points in objects]
    if kind in ("distance", "angle", "polyline"):
        return Annotation(kind, tuple(map(tuple, arrays[0])))
    if kind in ("cobb", "ctr"):
        return Annotation(kind, tuple(map(tuple, np.vstack(arrays[:2]))))
    if kind == "rectangle":
        corners = arrays[0]
        return Annotation(kind, (tuple(corners[0]), tuple(corners[2])))
    if kind == "polygon":
        return Annotation(kind, tuple(map(tuple, arrays[0][:-1])))
    if kind == "ellipse":
        return _ellipse_annotation(arrays[0])
    if kind == "arrow":
        return Annotation(kind, tuple(map(tuple, arrays[0])),
                          text=str(texts[0].UnformattedTextValue) if texts else "")
    if kind == "point":
        return Annotation(kind, (tuple(arrays[0][0]),))
    if kind == "text":
        return _text_annotation(texts[0], displayed_area)
    raise PresentationStateError(f"unknown XRayView graphic group kind {kind!r}")


def _text_annotation(text: Dataset, displayed_area=None) -> Annotation:
    if "AnchorPoint" in text:
        anchor = _to_pixels(np.asarray([[float(v) for v in text.AnchorPoint]]),
                            str(text.get("AnchorPointAnnotationUnits", "PIXEL")), displayed_area)[0]
    else:
        anchor = _to_pixels(np.asarray([[float(v) for v in text.BoundingBoxTopLeftHandCorner]]),
                            str(text.get("BoundingBoxAnnotationUnits", "PIXEL")), displayed_area)[0]
    return Annotation("text", (tuple(anchor),), text=str(text.get("UnformattedTextValue", "")))


def _read_view(ds: Dataset, sop_instance_uid: str | None) -> ViewState:
    center = width = None
    name, function = "", "LINEAR"
    for item in ds.get("SoftcopyVOILUTSequence", []):
        if _applies(item, sop_instance_uid) and "WindowCenter" in item and "WindowWidth" in item:
            center = float(_first(item.WindowCenter))
            width = float(_first(item.WindowWidth))
            name = str(_first(item.get("WindowCenterWidthExplanation", "")) or "")
            function = str(item.get("VOILUTFunction", "LINEAR") or "LINEAR")
            break
    shape = str(ds.get("PresentationLUTShape", "") or "")
    inverted = None if not shape else shape == "INVERSE"
    flip = str(ds.get("ImageHorizontalFlip", "N")) == "Y"
    rotation, flip_h = viewer_spatial(flip, int(ds.get("ImageRotation", 0) or 0))
    return ViewState(center, width, name, function, inverted, rotation, flip_h, False)


def _first(value):
    if isinstance(value, (list, tuple)) or hasattr(value, "__getitem__") and not isinstance(value, str):
        return value[0] if len(value) else ""
    return value


def read_presentation_state(ds: Dataset, sop_instance_uid: str | None = None) -> PresentationState:
    """What `ds` (a GSPS) shows on the image `sop_instance_uid` (None: on every image it references)."""
    if not is_presentation_state(ds):
        raise PresentationStateError(f"not a presentation state (SOP Class {ds.get('SOPClassUID', 'missing')})")
    referenced = tuple(uid for series in ds.get("ReferencedSeriesSequence", [])
                       for uid in sorted(_references(series)))
    displayed_area = _displayed_area(ds, sop_instance_uid)
    group_labels = {int(g.GraphicGroupID): str(g.get("GraphicGroupLabel", ""))
                    for g in ds.get("GraphicGroupSequence", []) if "GraphicGroupID" in g}
    own: dict[int, tuple[list, list]] = {}
    annotations: list[Annotation] = []  # from other viewers
    skipped: list[str] = []
    foreign = 0
    for item in ds.get("GraphicAnnotationSequence", []):
        if not _applies(item, sop_instance_uid):
            continue
        for obj in item.get("GraphicObjectSequence", []):
            group_id = int(obj.get("GraphicGroupID", 0) or 0)
            points = _points(obj, displayed_area)
            if group_labels.get(group_id, "").startswith(GROUP_PREFIX):
                own.setdefault(group_id, ([], []))[0].append((obj, points))
                continue
            foreign += 1
            annotation = _foreign_annotation(obj, points)
            if annotation is None:
                skipped.append(f"{obj.get('GraphicType', '?')} graphic with {len(points)} point(s)")
            else:
                annotations.append(annotation)
        for text in item.get("TextObjectSequence", []):
            group_id = int(text.get("GraphicGroupID", 0) or 0)
            if group_labels.get(group_id, "").startswith(GROUP_PREFIX):
                own.setdefault(group_id, ([], []))[1].append(text)
                continue
            foreign += 1
            if "AnchorPoint" in text or "BoundingBoxTopLeftHandCorner" in text:
                annotations.append(_text_annotation(text, displayed_area))
    ours: list[Annotation] = []
    for group_id in sorted(own):  # written in drawing order
        objects, texts = own[group_id]
        kind = group_labels[group_id][len(GROUP_PREFIX):].lower()
        try:
            ours.append(_own_annotation(kind, objects, texts, displayed_area))
        except (PresentationStateError, IndexError, ValueError) as error:
            skipped.append(f"graphic group {group_id} ({kind}): {error}")
    return PresentationState(
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")), referenced_sop_instance_uids=referenced,
        annotations=tuple(ours + annotations), view=_read_view(ds, sop_instance_uid),
        content_label=str(ds.get("ContentLabel", "") or ""),
        content_description=str(ds.get("ContentDescription", "") or ""),
        creator=str(ds.get("ContentCreatorName", "") or ""), foreign_objects=foreign, skipped=tuple(skipped))
