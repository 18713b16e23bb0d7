"""De-identification for exports, after the DICOM Basic Application Level Confidentiality Profile
(PS3.15 Annex E, Table E.1-1, no retain options).

One `Deidentifier` per export session: it remaps every instance UID consistently (the same source UID always
gets the same new UID, so an exported SC and SR still reference the same, renamed, source image) and gives each
patient one pseudonymous ID. New UIDs are derived from a random per-session secret, so they cannot be traced back.

Applies to DICOM datasets (`deidentify_dataset`) and to the metadata text that PNG/PDF/CSV exports print
(`deidentify_metadata`).
"""
from __future__ import annotations

import copy
import hashlib
import re
import secrets
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

ANONYMOUS_NAME = "ANONYMOUS"
# the same in a PN element: with the family^given delimiter (one bare component is the retired ACR-NEMA form)
ANONYMOUS_PERSON_NAME = "ANONYMOUS^"
REMOVED = "[removed]"
DUMMY_DATE, DUMMY_TIME, DUMMY_DATETIME = "19000101", "000000", "19000101000000"
STANDARD_UID_ROOT = "1.2.840.10008."  # SOP classes, transfer syntaxes, coding schemes: not identifying
METHOD = "PS3.15 E.1 Basic Profile (XRayView)"  # LO: at most 64 characters

# Table E.1-1 attributes the basic profile removes (X) or that are removed here because they can identify
# the patient, the staff or the institution (X/Z, X/D choices resolved to X where the attribute is optional).
REMOVE = frozenset({
    "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName",
    "PatientAddress", "PatientTelephoneNumbers", "PatientTelecomInformation", "PatientAge", "PatientSize",
    "PatientWeight", "PatientBirthTime", "MilitaryRank", "BranchOfService", "EthnicGroup", "Occupation",
    "AdditionalPatientHistory", "PatientComments", "MedicalRecordLocator", "MedicalAlerts", "Allergies",
    "CountryOfResidence", "RegionOfResidence", "PatientReligiousPreference", "PatientInsurancePlanCodeSequence",
    "PatientSexNeutered", "PregnancyStatus", "SmokingStatus", "LastMenstrualDate", "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence", "PatientState", "ResponsiblePerson", "ResponsibleOrganization",
    "InstitutionName", "InstitutionAddress", "InstitutionCodeSequence", "InstitutionalDepartmentName",
    "InstitutionalDepartmentTypeCodeSequence", "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "ReferringPhysicianIdentificationSequence", "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "PerformingPhysicianName", "PerformingPhysicianIdentificationSequence", "NameOfPhysiciansReadingStudy",
    "PhysiciansReadingStudyIdentificationSequence", "OperatorsName", "OperatorIdentificationSequence",
    "RequestingPhysician", "RequestingService", "ConsultingPhysicianName", "StationName", "DeviceSerialNumber",
    "DeviceUID", "PlateID", "DetectorID", "GantryID", "CassetteID", "StudyDescription", "SeriesDescription",
    "ImageComments", "RequestAttributesSequence", "ReferencedPatientSequence", "ReferencedStudySequence",
    "AdmittingDiagnosesDescription", "AdmittingDiagnosesCodeSequence",
    "AdmissionID", "IssuerOfAdmissionIDSequence", "PerformedProcedureStepDescription", "PerformedProcedureStepID",
    "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime", "PerformedProcedureStepEndDate",
    "PerformedProcedureStepEndTime", "PerformedLocation", "PerformedStationName", "PerformedStationAETitle",
    "ScheduledProcedureStepID", "ScheduledProcedureStepDescription", "RequestedProcedureID",
    "RequestedProcedureDescription", "ReasonForTheRequestedProcedure", "RequestedProcedureComments",
    "ProtocolName", "ReasonForStudy", "StudyComments", "InterpretationText", "TextComments", "PersonAddress",
    "PersonTelephoneNumbers", "OrderEnteredBy", "OrderEntererLocation", "OrderCallbackPhoneNumber",
    "CurrentPatientLocation", "PatientInstitutionResidence", "ServiceEpisodeDescription", "ServiceEpisodeID",
    "VisitComments", "DerivationDescription", "AcquisitionComments", "ContributionDescription",
    "ModifiedAttributesSequence", "OriginalAttributesSequence", "DigitalSignaturesSequence",
    "MACParametersSequence", "DataSetTrailingPadding", "InstanceCreatorUID", "IssuerOfAccessionNumberSequence",
    "FillerOrderNumberImagingServiceRequest", "PlacerOrderNumberImagingServiceRequest", "DetectorDescription",
})
# Type 2 attributes the profile empties (Z) instead of removing, so the object stays valid (the SR Document
# Series requires Referenced Performed Procedure Step Sequence, Type 2: its E.1-1 action X/Z/D allows Z).
EMPTY = frozenset({"PatientSex", "AccessionNumber", "ReferringPhysicianName", "StudyID", "ContentCreatorName",
                   "PatientBirthDate", "ReferencedPerformedProcedureStepSequence"})
# Identifying metadata keys (image.metadata / export text) and what an export prints instead.
_METADATA_DROP = REMOVE | EMPTY | {"PatientBirthDate", "StudyDate", "StudyTime", "SeriesDate", "SeriesTime",
                                   "AcquisitionDate", "AcquisitionTime", "ContentDate", "ContentTime",
                                   "AcquisitionDateTime", "SeriesDescription", "StudyDescription"}


class Deidentifier:
    """Stateful across one export: the same original UID / patient ID always maps to the same replacement."""

    def __init__(self, secret: bytes | None = None):
        self._secret = secret or secrets.token_bytes(32)
        self.uid_map: dict[str, str] = {}
        self.notices: list[str] = []

    # --- replacements ------------------------------------------------------------------------------------------
    def new_uid(self, uid: str) -> str:
        uid = str(uid).strip()
        if not uid or uid.startswith(STANDARD_UID_ROOT):
            return uid
        if uid not in self.uid_map:
            self.uid_map[uid] = generate_uid(prefix=None, entropy_srcs=[self._secret.hex(), uid])
        return self.uid_map[uid]

    def pseudonym(self, patient_id: str) -> str:
        """A stable, non-reversible patient ID for this export session (ANON-<10 hex>), empty stays empty."""
        if not str(patient_id).strip():
            return ""
        digest = hashlib.sha256(self._secret + str(patient_id).encode("utf-8", "replace")).hexdigest()
        return f"ANON-{digest[:10].upper()}"

    # --- datasets ----------------------------------------------------------------------------------------------
    def deidentify_dataset(self, source: Dataset) -> Dataset:
        """A de-identified deep copy of `source` (file meta included); the input is left untouched."""
        ds = copy.deepcopy(source)
        if ds.get("BurnedInAnnotation", "") == "YES" and "SourceImageSequence" not in ds:
            self.notices.append(f"{ds.get('SOPInstanceUID', 'an instance')} declares burned-in annotation: text in "
                                "the pixels is not removed by de-identification")
        original_patient_id = str(ds.get("PatientID", "") or "")
        self._clean(ds)
        if "PatientName" in ds or "PatientID" in ds:
            ds.PatientName = ANONYMOUS_PERSON_NAME
            ds.PatientID = self.pseudonym(original_patient_id) or "ANON"
        file_meta = getattr(ds, "file_meta", None)
        if file_meta is not None and "MediaStorageSOPInstanceUID" in file_meta:
            file_meta.MediaStorageSOPInstanceUID = self.new_uid(file_meta.MediaStorageSOPInstanceUID)
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = METHOD
        method_code = Dataset()
        method_code.CodeValue, method_code.CodingSchemeDesignator = "113100", "DCM"
        method_code.CodeMeaning = "Basic Application Confidentiality Profile"
        ds.DeidentificationMethodCodeSequence = DicomSequence([method_code])
        if "SpecificCharacterSet" not in ds:
            ds.SpecificCharacterSet = "ISO_IR 100"
        return ds

    def _clean(self, ds: Dataset) -> None:
        for element in list(ds):
            if element.tag.is_private:
                del ds[element.tag]
                continue
            keyword = element.keyword
            group, number = element.tag.group, element.tag.element
            # curves (50xx) and overlay data / comments (60xx,3000 / 4000) can carry identifying text
            if keyword in REMOVE or 0x5000 <= group <= 0x50FF or (0x6000 <= group <= 0x60FF
                                                                  and number in (0x3000, 0x4000)):
                del ds[element.tag]
                continue
            if keyword in EMPTY:
                element.value = None if element.VR != "SQ" else DicomSequence()
                continue
            self._clean_element(element)

    def _clean_element(self, element: DataElement) -> None:
        vr = element.VR
        if vr == "SQ":
            for item in element.value or []:
                self._clean(item)
        elif vr == "UI":
            if element.VM > 1:
                element.value = [self.new_uid(v) for v in element.value]
            elif element.value:
                element.value = self.new_uid(element.value)
        elif vr == "PN" and element.value:
            element.value = ANONYMOUS_PERSON_NAME if element.keyword in ("PatientName",) else None
        elif vr == "DA" and element.value:
            element.value = DUMMY_DATE
        elif vr == "TM" and element.value:
            element.value = DUMMY_TIME
        elif vr == "DT" and element.value:
            element.value = DUMMY_DATETIME

    # --- export text -------------------------------------------------------------------------------------------
    def deidentify_metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """What a PNG/PDF/CSV export may print: identifying keys dropped, patient name/ID replaced, UIDs remapped."""
        clean: dict[str, Any] = {}
        for key, value in metadata.items():
            if key in _METADATA_DROP:
                continue
            if key == "PatientName":
                clean[key] = ANONYMOUS_NAME
            elif key == "PatientID":
                clean[key] = self.pseudonym(str(value or ""))
            elif key.endswith("UID") and value and not key.endswith("ClassUID") and key != "TransferSyntaxUID":
                clean[key] = self.new_uid(str(value))
            else:
                clean[key] = value
        return clean

    def scrub_text(self, text: str, metadata: dict[str, Any]) -> str:
        """`text` (a file name, a caption, a CSV cell) with every identifying value of `metadata` replaced:
        UIDs by their new UIDs, the patient ID by its pseudonym, names, dates and other identifiers by
        '[removed]'. Use for the text that PNG/PDF/CSV exports print."""
        replacements: dict[str, str] = {}
        for key, value in metadata.items():
            raw = "" if value is None else str(value).strip()
            if len(raw) < 3:  # one- or two-letter codes (sex "O", empty) identify nobody and would shred the text
                continue
            if key.endswith("UID") and not key.endswith("ClassUID") and key != "TransferSyntaxUID":
                replacements[raw.lower()] = self.new_uid(raw)
            elif key == "PatientID":
                replacements[raw.lower()] = self.pseudonym(raw)
            elif key in _METADATA_DROP or key == "PatientName":
                replacements[raw.lower()] = REMOVED
                if key.endswith("Name"):  # name components also appear on their own (SMITH_JOHN.dcm)
                    for part in re.split(r"[\\^=\s,]+", raw):
                        if len(part) >= 3:
                            replacements.setdefault(part.lower(), REMOVED)
        if not replacements:
            return text
        # one pass, longest first, so a replacement is never itself rewritten
        pattern = re.compile("|".join(re.escape(k) for k in sorted(replacements, key=len, reverse=True)),
                             re.IGNORECASE)
        return pattern.sub(lambda match: replacements[match.group(0).lower()], text)


def deidentify_dataset(ds: Dataset, deidentifier: Deidentifier | None = None) -> Dataset:
    return (deidentifier or Deidentifier()).deidentify_dataset(ds)
