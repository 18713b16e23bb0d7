"""What a derived object (a presentation state, Secondary Capture, Structured Report or Encapsulated PDF) takes
from the image it was made from: the patient and study, with every Type 2 attribute present, and the series'
anatomy (Body Part Examined, Laterality). One helper for every writer, so that a source without, say, a birth
date or a Study ID can be annotated, reported and stored alike."""
from __future__ import annotations

from pydicom.dataset import Dataset

# Type 2 attributes of the Patient and General Study modules that the writers copy from the source: they must be
# present, and are empty when the source does not know them (PS3.3 C.7.1.1, C.7.2.1).
TYPE2_PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                       "ReferringPhysicianName", "StudyID", "AccessionNumber")
UNSTATED_DEIDENTIFICATION = "Not stated by the source image"

# Body Part Examined defined terms with no laterality (PS3.16 Annex L; the same list dciodvfy applies): for these
# the series Laterality is not required. Every other body part (KNEE, HAND, BREAST, ...) is paired, or may be.
UNPAIRED_BODY_PARTS = frozenset(
    "ABDOMEN ABDOMENPELVIS AORTA BACK BLADDER BRAIN CEREBELLUM CSPINE CTSPINE CERVIX CHEST CHESTABDOMEN "
    "CHESTABDPELVIS CIRCLEOFWILLIS COCCYX COLON CORONARYARTERY DUODENUM WHOLEBODY ESOPHAGUS FACE GALLBLADDER HEAD "
    "HEADNECK HEART ILEUM ILIUM JAW JEJUNUM LARYNX LIVER LSPINE LSSPINE MAXILLA MEDIASTINUM MOUTH NECK NECKCHEST "
    "NECKCHESTABDOMEN NECKCHESTABDPELV NOSE PANCREAS PELVIS PENIS PHARYNX PROSTATE RECTUM SSPINE SCALP SKULL SPINE "
    "SPLEEN STERNUM STOMACH TSPINE TLSPINE THYMUS THYROID TONGUE TRACHEA UTERUS VAGINA VULVA".split())


def reference_header(source: Dataset) -> Dataset:
    """A copy of `source`'s header (no pixel or overlay data) that a derived object can copy its patient and study
    from: the Type 2 patient/study attributes present (empty where the source lacks them), and, when the source
    says its patient identity was removed without saying how, a de-identification method that says so (PS3.3
    C.7.1.1: the method is required whenever Patient Identity Removed is YES)."""
    header = Dataset()
    for element in source:
        group, number = element.tag.group, element.tag.element
        if group == 0x7FE0 or (0x6000 <= group <= 0x60FF and number == 0x3000):
            continue
        header.add(element)
    for keyword in TYPE2_PATIENT_STUDY:
        if keyword not in header:
            setattr(header, keyword, "")
    if (str(header.get("PatientIdentityRemoved", "")).upper() == "YES"
            and not header.get("DeidentificationMethod") and not header.get("DeidentificationMethodCodeSequence")):
        header.DeidentificationMethod = UNSTATED_DEIDENTIFICATION
    return header


def copy_deidentification(target: Dataset, source: Dataset) -> None:
    """Carries the source's statement that its patient identity was removed (and how) onto a derived object."""
    for keyword in ("PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence"):
        if keyword in source and keyword not in target:
            target[keyword] = source[keyword]


def series_anatomy(source: Dataset | None, *, has_general_image: bool) -> dict[str, str]:
    """Body Part Examined, Laterality and Image Laterality for the series of an object derived from one image.

    Laterality (General Series, Type 2C) is required when the body part is paired and the object carries no Image
    Laterality, and not present otherwise: an object with the General Image module carries the source's Image
    Laterality instead; else it is the source's Laterality, or its Image Laterality when that is R or L; it is left
    out for an unpaired body part (CHEST, SKULL, ...) or an image the source marks as unpaired (Image Laterality
    U); and it is present but empty (unknown) when the part may be paired and no side is known.
    `has_general_image`: the derived IOD has the General Image module, so Image Laterality can be copied."""
    if source is None:
        return {"Laterality": ""}
    anatomy: dict[str, str] = {}
    body_part = str(source.get("BodyPartExamined", "") or "").strip().upper()
    if body_part:
        anatomy["BodyPartExamined"] = body_part
    series_side = str(source.get("Laterality", "") or "").strip().upper()
    image_side = str(source.get("ImageLaterality", "") or "").strip().upper()
    if image_side in ("R", "L", "U", "B") and has_general_image:
        anatomy["ImageLaterality"] = image_side  # then Laterality is not required, and may not be present
    elif series_side in ("R", "L"):
        anatomy["Laterality"] = series_side
    elif image_side in ("R", "L"):
        anatomy["Laterality"] = image_side
    elif body_part not in UNPAIRED_BODY_PARTS and image_side != "U":
        anatomy["Laterality"] = ""
    return anatomy


def apply_series_anatomy(target: Dataset, source: Dataset | None, *, has_general_image: bool) -> None:
    for keyword, value in series_anatomy(source, has_general_image=has_general_image).items():
        setattr(target, keyword, value)
