"""The call rule (inference.results): one rule for every caller, including "no call" when the OOD guard warns."""
from __future__ import annotations

import pytest

import math

from inference.results import (CALL, NO_CALL, SHOWN_ANYWAY, Call, OODResult, Prediction, decide_call, model_label,
                               near_threshold, near_threshold_band, near_threshold_explanation)

BINARY = {"NORMAL": 0.3, "PNEUMONIA": 0.7}
WARNED = OODResult(warning=True, reasons=["modality CT is not a projection radiograph"])
CLEAR = OODResult(warning=False, score=0.8, threshold=1.2)


def _prediction(probabilities=None, threshold=0.5, ood=None) -> Prediction:
    probabilities = probabilities or dict(BINARY)
    return Prediction(probabilities=probabilities, label=model_label(probabilities, "PNEUMONIA", threshold),
                      threshold=threshold, positive_label="PNEUMONIA", heatmap=None, cam_method=None, cam_label=None,
                      timings_ms={"load": 1.5, "preprocess": 2.0, "predict": 10.0, "cam": None}, device="cpu",
                      model={"name": "m", "version": "1", "sha256": "0" * 64}, ood=ood)


@pytest.mark.parametrize("threshold, expected", [(0.5, "PNEUMONIA"), (0.7, "PNEUMONIA"), (0.7000001, "NORMAL"),
                                                 (0.9, "NORMAL"), (0.0, "PNEUMONIA")])
def test_binary_call_is_positive_at_or_above_the_threshold(threshold, expected):
    assert model_label(BINARY, "PNEUMONIA", threshold) == expected
    assert decide_call(BINARY, "PNEUMONIA", threshold) == Call(label=expected, model_label=expected)


def test_below_the_threshold_the_most_probable_other_label_wins():
    probs = {"A": 0.1, "B": 0.5, "C": 0.4}
    assert model_label(probs, "B", 0.6) == "C"
    assert model_label(probs, "B", 0.5) == "B"


def test_multi_class_or_no_threshold_is_argmax_with_ties_to_the_first_label():
    assert model_label({"A": 0.2, "B": 0.5, "C": 0.3}) == "B"
    assert model_label({"A": 0.4, "B": 0.4, "C": 0.2}) == "A"
    assert model_label(BINARY, "PNEUMONIA", None) == "PNEUMONIA"
    with pytest.raises(ValueError):
        model_label({})


def test_ood_warning_withholds_the_call_but_keeps_the_models_label():
    call = decide_call(BINARY, "PNEUMONIA", 0.5, WARNED)
    assert call.label is None and call.withheld and call.status == NO_CALL
    assert call.model_label == "PNEUMONIA" and call.ood_warning and not call.shown_anyway


def test_expert_override_shows_the_call_marked_as_shown_anyway():
    call = decide_call(BINARY, "PNEUMONIA", 0.5, WARNED, show_anyway=True)
    assert call.label == "PNEUMONIA" and call.shown_anyway and call.status == SHOWN_ANYWAY
    assert not call.withheld


def test_no_warning_means_a_plain_call_whatever_the_override():
    for ood in (None, CLEAR):
        for override in (False, True):
            call = decide_call(BINARY, "PNEUMONIA", 0.5, ood, show_anyway=override)
            assert call.status == CALL and call.label == "PNEUMONIA" and not call.shown_anyway


def test_prediction_call_uses_its_own_threshold_and_verdict_unless_given_another_threshold():
    prediction = _prediction(ood=CLEAR)
    assert prediction.call().label == "PNEUMONIA"
    assert prediction.call(0.8).label == "NORMAL"
    warned = _prediction(ood=WARNED)
    assert warned.call().label is None and warned.call(0.8).model_label == "NORMAL"
    assert warned.call(show_anyway=True).label == "PNEUMONIA"


def _at_log_odds_from(threshold: float, distance: float) -> dict[str, float]:
    edge = math.log(threshold) - math.log1p(-threshold)
    p = 1.0 / (1.0 + math.exp(-(edge + distance)))
    return {"NORMAL": 1.0 - p, "PNEUMONIA": p}


@pytest.mark.parametrize("distance, near", [(0.0, True), (0.19, True), (-0.19, True), (0.21, False),
                                            (-0.21, False), (3.0, False)])
def test_a_call_within_the_margin_of_the_threshold_stands_and_is_marked_near(distance, near):
    probs = _at_log_odds_from(1 / 3, distance)
    call = decide_call(probs, "PNEUMONIA", 1 / 3, CLEAR, margin=0.2)
    assert call.near_threshold is near
    assert call.label == ("PNEUMONIA" if distance >= 0 else "NORMAL")  # the margin never changes the call itself
    assert decide_call(probs, "PNEUMONIA", 1 / 3, CLEAR).near_threshold is None  # no margin measured


def test_near_is_undefined_without_a_binary_threshold_and_false_at_zero_or_one():
    assert near_threshold({"A": 0.5, "B": 0.5}, None, None, 0.2) is None
    assert near_threshold(BINARY, "PNEUMONIA", None, 0.2) is None
    assert near_threshold(BINARY, "PNEUMONIA", 0.0, 0.2) is False
    assert near_threshold({"NORMAL": 0.0, "PNEUMONIA": 1.0}, "PNEUMONIA", 1.0, 0.2) is False


def test_a_withheld_call_keeps_whether_it_was_near_and_the_prediction_carries_the_margin():
    probs = _at_log_odds_from(0.5, 0.05)
    assert decide_call(probs, "PNEUMONIA", 0.5, WARNED, margin=0.2) == Call(
        label=None, model_label="PNEUMONIA", ood_warning=True, near_threshold=True)
    prediction = _prediction(probabilities=probs, ood=CLEAR)
    prediction.call_margin = 0.2
    assert prediction.call().near_threshold is True and prediction.call(0.9).near_threshold is False
    assert prediction.to_json()["near_threshold"] is True
    assert _prediction().to_json()["near_threshold"] is None


def test_the_band_and_its_explanation_name_the_probabilities():
    low, high = near_threshold_band(1 / 3, 0.2)
    assert (round(low, 3), round(high, 3)) == (0.290, 0.379)
    text = near_threshold_explanation("PNEUMONIA", 1 / 3, 0.2)
    assert "P(PNEUMONIA) lies between 0.29 and 0.38" in text and "undecided" in text


def test_prediction_total_time_and_json():
    prediction = _prediction(ood=WARNED)
    assert prediction.total_time_ms == pytest.approx(13.5)
    out = prediction.to_json()
    assert out["label"] is None and out["call_status"] == NO_CALL and out["ood"]["warning"] is True
    assert out["ood"]["reasons"] == WARNED.reasons
    assert out["probabilities"] == BINARY  # still printed, with the warning
    anyway = prediction.to_json(show_anyway=True)
    assert anyway["label"] == "PNEUMONIA" and anyway["call_status"] == SHOWN_ANYWAY
    clear = _prediction(ood=CLEAR).to_json()
    assert clear["label"] == "PNEUMONIA" and clear["call_status"] == CALL and clear["ood"]["warning"] is False


def test_json_of_a_withheld_call_does_not_name_the_label_through_the_heatmap():
    prediction = _prediction(ood=WARNED)
    prediction.cam_method, prediction.cam_label = "gradcam", "PNEUMONIA"
    assert prediction.to_json()["cam"] == {"method": "gradcam", "label": None}
    assert prediction.to_json(show_anyway=True)["cam"]["label"] == "PNEUMONIA"


def test_predictor_labels_follow_the_same_rule(tmp_path, xray8_png):
    """The Predictor's label is model_label of its own probabilities at its threshold (no second rule)."""
    from inference.image_io import load_image
    from inference.predictor import Predictor
    from tests.helpers.tiny_models import make_tiny_bundle

    bundle = make_tiny_bundle(tmp_path / "b")
    image = load_image(xray8_png)
    for threshold in (0.01, 0.5, 0.99):
        prediction = Predictor(bundle, "cpu", threshold=threshold).predict(image, cam_method="gradcam")
        assert prediction.label == model_label(prediction.probabilities, "PNEUMONIA", threshold)
        assert prediction.cam_label == prediction.label
