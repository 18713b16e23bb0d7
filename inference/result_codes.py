"""The coded concepts of the AI result SR. Standard codes (DICOM's DCM, SNOMED CT) wherever the standard names
the concept; the local scheme 99XRAYVIEW (PS3.16 8.2: designators beginning with "99" are private) only for what
no standard concept names: the out-of-distribution guard and labels the table below does not know.

Code values and meanings as PS3.16 lists them (pydicom.sr.codedict carries the same); SNOMED CT concept ids:
Pneumonia 233604007, Fracture of bone 125605004."""
from __future__ import annotations

import highdicom as hd

LOCAL_SCHEME = "99XRAYVIEW"

PROBABILITY = hd.sr.CodedConcept(value="122157", scheme_designator="DCM", meaning="Probability")
THRESHOLD = hd.sr.CodedConcept(value="122411", scheme_designator="DCM", meaning="Threshold Value")
NO_UNITS = hd.sr.CodedConcept(value="1", scheme_designator="UCUM", meaning="no units")
INDETERMINATE_RESULT = hd.sr.CodedConcept(value="280416009", scheme_designator="SCT", meaning="Indeterminate result")
YES = hd.sr.CodedConcept(value="373066001", scheme_designator="SCT", meaning="Yes")

# model label (upper case) -> the finding it names
_LABELS = {
    "PNEUMONIA": ("233604007", "SCT", "Pneumonia"),
    "NORMAL": ("17621005", "SCT", "Normal"),
    "FRACTURED": ("125605004", "SCT", "Fracture of bone"),
    "FRACTURE": ("125605004", "SCT", "Fracture of bone"),
}


def local_code(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=value[:16], scheme_designator=LOCAL_SCHEME, meaning=meaning[:64])


# no standard concept: the guard is this product's own check
OOD_GUARD = local_code("AI-OOD", "Out-of-distribution guard")
OOD_WARNING = local_code("OOD-WARNING", "Image unlike the model's training data")
OOD_NONE = local_code("OOD-NONE", "Image like the model's training data")
SHOWN_ANYWAY = local_code("SHOWN-ANYWAY", "Call shown although the guard warned")
NEAR_THRESHOLD = local_code("NEAR-THRESHOLD", "Call within the model's measured moves of its threshold")


def label_concept(label: str) -> hd.sr.CodedConcept:
    """The finding a model label names: its standard concept when the table knows it, else a local code."""
    known = _LABELS.get(str(label).strip().upper())
    if known is not None:
        value, scheme, meaning = known
        return hd.sr.CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)
    return local_code(str(label), str(label))
