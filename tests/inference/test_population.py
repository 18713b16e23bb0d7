"""Issue 25.9: a film whose DICOM age lies outside the model's intended population gets a notice, computed once
(inference.population) and carried with the prediction; a film without an age says nothing. The card's
`intended_population` is schema-checked; the shipped chest card has one (children of 1-5 years)."""
from __future__ import annotations

import io
import json

import pytest

from inference.errors import ModelCardInvalidError
from inference.model_card import IntendedPopulation, ModelCard, read_card, validate_card
from inference.population import patient_age, population_notice
from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array
from tests.helpers.tiny_models import make_tiny_bundle

CHILDREN = IntendedPopulation("children of 1-5 years: pediatric chest X-rays from one hospital", 1, 5)


@pytest.mark.parametrize("metadata, text, completed", [
    ({"PatientAge": "044Y"}, "44 years", 44),
    ({"PatientAge": "006M"}, "6 months", 0),
    ({"PatientAge": "003W"}, "3 weeks", 0),
    ({"PatientBirthDate": "19800101", "StudyDate": "20240115"}, "44 years (at the study date)", 44),
    ({"PatientBirthDate": "20200601", "StudyDate": "20240531"}, "3 years (at the study date)", 3),
    ({"PatientBirthDate": "20231101", "AcquisitionDate": "20240615"}, "7 months (at the acquisition date)", 0),
    ({"PatientAge": "", "PatientBirthDate": "19800101", "StudyDate": "", "AcquisitionDate": "20240115"},
     "44 years (at the acquisition date)", 44),
])
def test_the_age_comes_from_patient_age_else_the_birth_date(metadata, text, completed):
    age = patient_age(metadata)
    assert age.text == text and age.completed_years == completed


@pytest.mark.parametrize("metadata", [{}, {"PatientAge": "1A"}, {"PatientBirthDate": "19800101"},
                                      {"PatientBirthDate": "20250101", "StudyDate": "20240101"},
                                      {"PatientBirthDate": "not a date", "StudyDate": "20240101"}])
def test_no_age_no_notice(metadata):
    assert patient_age(metadata) is None
    assert population_notice(metadata, CHILDREN) is None


def test_outside_the_age_range_says_so_inside_says_nothing():
    adult = population_notice({"PatientBirthDate": "19800101", "StudyDate": "20240115"}, CHILDREN)
    assert adult == ("Patient older than the model's intended population (children of 1-5 years: pediatric chest "
                     "X-rays from one hospital), by the age in the DICOM header: the model was not trained or "
                     "measured on such patients, so its result may not apply.")
    assert "44" not in adult  # a de-identified export leaves the age out: so does the notice
    assert population_notice({"PatientAge": "006M"}, CHILDREN).startswith("Patient younger than")
    for inside in ("001Y", "005Y", "003Y"):
        assert population_notice({"PatientAge": inside}, CHILDREN) is None
    assert population_notice({"PatientAge": "044Y"}, None) is None  # the card names no population
    assert population_notice({"PatientAge": "044Y"}, IntendedPopulation("adults")) is None  # nor an age range


def test_the_card_block_is_schema_checked(tmp_path):
    bundle = make_tiny_bundle(tmp_path / "m", card_overrides={"intended_population": {
        "description": "children", "age_years": {"min": 1, "max": 5}}})
    card = read_card(bundle)
    assert card.intended_population == IntendedPopulation("children", 1.0, 5.0)
    raw = dict(card.data)
    for bad, why in (({"age_years": {"min": 1}}, "'description' is a required property"),
                     ({"description": "x", "age_years": {"min": 9, "max": 5}}, "min 9 is above max 5"),
                     ({"description": "x", "age_years": {"min": -1}}, "-1 is less than the minimum of 0"),
                     ({"description": "x", "age_years": {}}, "should be non-empty"),
                     ({"description": "x", "ages": [1, 5]}, "Additional properties are not allowed")):
        with pytest.raises(ModelCardInvalidError, match="intended_population") as error:
            validate_card({**raw, "intended_population": bad})
        assert why in str(error.value), (bad, str(error.value))
    assert ModelCard({}).intended_population is None


def test_the_shipped_chest_card_is_for_children_of_1_to_5_and_its_half_a_is_a_selection_set():
    from inference.bundle_catalog import bundled_models_dir

    card = read_card(bundled_models_dir() / "chest-xray-pneumonia")
    assert card.intended_population.min_age_years == 1 and card.intended_population.max_age_years == 5
    assert card.intended_population.description.startswith("children of 1-5 years")
    (half_a,) = card.external_validation
    assert half_a.dataset == "Kermany test half A" and "threshold rule" in half_a.selected_on
    text = " ".join(card.limitations)
    for internal in ("resize_mode", "threshold_table", "cam.lung_field_check", "chosen on the validation split"):
        assert internal not in text, internal


def test_xrayview_predict_says_so_in_its_json_for_an_adult_and_not_for_a_film_without_age(tmp_path, shared_data):
    from inference.cli_predict import run

    bundle = make_tiny_bundle(tmp_path / "children", card_overrides={"intended_population": {
        "description": "children of 1-5 years", "age_years": {"min": 1, "max": 5}}})
    film = load_gray_image(sorted((shared_data / "samples/chest-xray-fullres/NORMAL").iterdir())[0], size=160)
    adult = make_dicom_from_array(film, tmp_path / "adult.dcm",
                                  extra={"PatientBirthDate": "19800101", "StudyDate": "20240115"})
    child = make_dicom_from_array(film, tmp_path / "child.dcm", extra={"PatientAge": "004Y"})
    unknown = make_dicom_from_array(film, tmp_path / "unknown.dcm", extra={"PatientBirthDate": ""})
    out = io.StringIO()
    assert run([str(adult), str(child), str(unknown), "--model", str(bundle), "--device", "cpu"], stdout=out,
               stderr=io.StringIO()) == 0
    records = {json.loads(line)["path"]: json.loads(line) for line in out.getvalue().splitlines()}
    notice = population_notice({"PatientBirthDate": "19800101", "StudyDate": "20240115"},
                               IntendedPopulation("children of 1-5 years", 1, 5))
    assert notice in records[str(adult)]["notices"]
    for quiet in (child, unknown):
        assert not any("intended population" in n for n in records[str(quiet)].get("notices", []))
