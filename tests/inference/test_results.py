"""The call rule (inference.results): one rule for every caller, including "no call" when the OOD guard warns."""
from __future__ import annotations

import pytest

from inference.results import CALL, NO_CALL, SHOWN_ANYWAY, Call, OODResult, Prediction, decide_call, model_label

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
