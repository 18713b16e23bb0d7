"""The AI session without a window: a fake runner stands in for the model and its jobs, so each rule is driven
step by step (a stale result after a re-open, a model switch while a request waits, a threshold change, the
expert show-anyway setting, two viewports); one test runs the real runner on two tiny real bundles."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal

from desktop.ai_session import AiSession
from desktop.ai_state import ANALYZING, NO_MODEL, PRESS_ANALYZE, WAITING_FOR_MODEL, OperatingPoint
from inference.model_card import ModelCard
from inference.results import OODResult, Prediction

CARD = {"name": "fake", "version": "1", "labels": ["NORMAL", "PNEUMONIA"], "positive_label": "PNEUMONIA",
        "threshold": 0.5}


class FakeRunner(QObject):
    """AnalysisController's interface; the test says when the model is ready and what each request gives."""

    model_loading = Signal(str)
    model_ready = Signal(object)
    model_failed = Signal(str)
    prediction_started = Signal(int)
    prediction_ready = Signal(int, object, object)
    prediction_failed = Signal(int, str)
    audit_failed = Signal(str)

    def __init__(self):
        super().__init__()
        self.loads: list[str] = []
        self.requests: list[tuple[int, object, dict]] = []  # (request id, image, keyword arguments)
        self.cancelled: list[int] = []

    def load_model(self, bundle_dir, device_name, display_name="", cam_method=None):
        self.loads.append(str(bundle_dir))
        self.model_loading.emit(display_name or str(bundle_dir))

    def request_prediction(self, request_id, image, cam_method, colormap="jet", *, show_anyway=False):
        self.requests.append((request_id, image, {"cam_method": cam_method, "colormap": colormap,
                                                   "show_anyway": show_anyway}))
        self.prediction_started.emit(request_id)

    def cancel(self, request_id):
        self.cancelled.append(request_id)

    def ready(self, name: str = "fake", card: dict | None = None) -> None:
        self.model_ready.emit(SimpleNamespace(bundle=SimpleNamespace(model_card=ModelCard(dict(card or CARD,
                                                                                              name=name))),
                                              device="cpu"))

    def deliver(self, request_id: int, prediction, layer=None) -> None:
        self.prediction_ready.emit(request_id, prediction, layer)


def _settings(**changes):
    values = dict(auto_run=True, cam_method="gradcam", overlay_colormap="jet", threshold_override=None,
                  show_call_when_ood=False, device="cpu", model_path="", user_models_dir="")
    values.update(changes)
    return SimpleNamespace(**values)


def _image(name: str = "a.png"):
    return SimpleNamespace(path=name, modality=np.zeros((4, 6), np.float32), metadata={})


def _prediction(p_positive: float, *, model: str = "fake", ood: bool = False, heatmap=None) -> Prediction:
    label = "PNEUMONIA" if p_positive >= 0.5 else "NORMAL"
    return Prediction(probabilities={"NORMAL": 1 - p_positive, "PNEUMONIA": p_positive}, label=label, threshold=0.5,
                      positive_label="PNEUMONIA", heatmap=heatmap, cam_method=None, cam_label=None, timings_ms={},
                      device="cpu", model={"name": model, "version": "1"},
                      ood=OODResult(warning=ood, reasons=["colour image"] if ood else []))


def _bundle(name: str):
    return SimpleNamespace(path=f"/models/{name}", title=name)


@pytest.fixture
def runner(qapp):
    return FakeRunner()


def _ready_session(runner, **settings) -> AiSession:
    session = AiSession(runner, _settings(**settings))
    session.load_bundle(_bundle("fake"))
    runner.ready()
    return session


def _record(session) -> dict:
    seen = {"states": [], "shown": [], "points": []}
    session.viewport_changed.connect(lambda viewport, state: seen["states"].append((viewport, state)))
    session.prediction_shown.connect(lambda viewport, prediction: seen["shown"].append((viewport, prediction)))
    session.operating_point_changed.connect(seen["points"].append)
    return seen


def test_a_stale_result_after_a_reopen_is_dropped_and_the_old_request_cancelled_once(runner):
    session = _ready_session(runner)
    seen = _record(session)
    first, second = _image("first.png"), _image("second.png")
    session.image_shown("left", first)  # auto-run
    (first_id, asked_image, _), = runner.requests
    assert asked_image is first and session.state("left").status == ANALYZING and session.state("left").pending

    session.image_opening("left")  # the user opens another file while the first one is analysed
    assert runner.cancelled == [first_id]  # once per open
    session.image_shown("left", second)
    assert runner.cancelled == [first_id]  # the new image's own request is not cancelled again
    second_id = runner.requests[-1][0]
    assert runner.requests[-1][1] is second and second_id != first_id

    runner.deliver(first_id, _prediction(0.9))  # the first image's result arrives late
    assert seen["shown"] == [] and session.state("left").prediction is None and session.state("left").pending
    fresh = _prediction(0.2)
    runner.deliver(second_id, fresh)
    state = session.state("left")
    assert seen["shown"] == [("left", fresh)] and state.prediction is fresh and not state.pending
    assert state.image is second and state.call.label == "NORMAL"


def test_a_model_switch_while_a_request_waits_runs_it_on_the_new_model(runner):
    session = AiSession(runner, _settings())
    seen = _record(session)
    session.load_bundle(_bundle("first"))
    image = _image()
    session.image_shown("left", image)
    (request_id, _, _), = runner.requests
    assert session.state("left").status == WAITING_FOR_MODEL

    session.load_bundle(_bundle("second"))  # the body part, or Settings, picks another model meanwhile
    assert runner.loads == ["/models/first", "/models/second"] and runner.cancelled == []
    runner.ready("second")
    assert len(runner.requests) == 1  # the waiting request is not asked for twice
    runner.prediction_started.emit(request_id)
    assert session.state("left").status == ANALYZING
    result = _prediction(0.7, model="second")
    runner.deliver(request_id, result)
    assert seen["shown"] == [("left", result)] and session.model.card.name == "second"


def test_the_threshold_changes_the_call_of_every_viewport_at_once(runner):
    session = _ready_session(runner)
    seen = _record(session)
    session.image_shown("left", _image("left.png"))
    session.image_shown("right", _image("right.png"))
    (left_id, _, _), (right_id, _, _) = runner.requests
    runner.deliver(right_id, _prediction(0.45))
    runner.deliver(left_id, _prediction(0.65))
    assert session.operating_point == OperatingPoint(0.5)
    assert (session.state("left").call.label, session.state("right").call.label) == ("PNEUMONIA", "NORMAL")

    seen["states"].clear()
    session.set_threshold(0.4)
    assert seen["points"] == [OperatingPoint(0.4)]
    assert (session.state("left").call.label, session.state("right").call.label) == ("PNEUMONIA", "PNEUMONIA")
    assert [viewport for viewport, _ in seen["states"]] == ["right"]  # only the call that changed is redrawn
    session.set_threshold(0.7)
    assert (session.state("left").call.label, session.state("right").call.label) == ("NORMAL", "NORMAL")
    session.reset_threshold()
    assert session.operating_point.threshold == 0.5 and session.state("left").call.label == "PNEUMONIA"


def test_show_anyway_is_one_setting_that_every_reader_gets(runner):
    session = _ready_session(runner, show_call_when_ood=False)
    session.image_shown("left", _image("photo.png"))
    (request_id, _, asked), = runner.requests
    assert asked["show_anyway"] is False  # what the audit record of this request will say
    runner.deliver(request_id, _prediction(0.8, ood=True))
    call = session.state("left").call
    assert call.withheld and call.model_label == "PNEUMONIA"

    session.set_show_anyway(True)
    call = session.state("left").call
    assert call.label == "PNEUMONIA" and call.shown_anyway
    assert session.operating_point == OperatingPoint(0.5, show_anyway=True)
    assert session.operating_point.call(_prediction(0.1, ood=True)).label == "NORMAL"  # the batch's rule too
    session.run("left")
    assert runner.requests[-1][2]["show_anyway"] is True
    session.set_show_anyway(False)
    assert session.state("left").prediction is None  # asked again: the result is gone until the new one comes


def test_two_viewports_keep_their_own_results_and_requests(runner):
    session = _ready_session(runner)
    session.image_shown("left", _image("left.png"))
    session.image_shown("right", _image("right.png"))
    (left_id, _, _), (right_id, _, _) = runner.requests
    right_result = _prediction(0.3)
    runner.deliver(right_id, right_result)
    assert session.state("right").prediction is right_result and session.state("left").pending
    session.image_opening("right")  # re-opening the right viewport leaves the left one's request alone
    assert runner.cancelled == []  # the right one had no request left; its result stays until the new image
    assert session.state("right").prediction is right_result
    left_result = _prediction(0.8)
    runner.deliver(left_id, left_result)
    assert session.state("left").prediction is left_result and session.state("right").prediction is right_result
    session.image_failed("right", "right.dcm: truncated")
    assert session.state("right").prediction is None and session.state("right").status == "No result: right.dcm: " \
                                                                                           "truncated"
    assert session.state("left").prediction is left_result


def test_a_result_is_coloured_when_the_worker_layer_does_not_fit(runner):
    session = _ready_session(runner)
    heatmaps = []
    session.heatmap_changed.connect(lambda viewport, rgba: heatmaps.append(rgba))
    session.image_shown("left", _image())
    (request_id, _, _), = runner.requests
    heatmap = np.linspace(0, 1, 24, dtype=np.float32).reshape(4, 6)
    stale_layer = SimpleNamespace(colormap="gray", rgba=np.zeros((4, 6, 4), np.uint8))  # coloured before a change
    runner.deliver(request_id, _prediction(0.6, heatmap=heatmap), stale_layer)
    rgba = session.state("left").heatmap_rgba
    assert rgba.shape == (4, 6, 4) and heatmaps[-1] is rgba and rgba[..., :3].any()  # coloured with "jet"


def test_no_model_and_a_failed_model_say_so_in_the_viewport(runner):
    session = AiSession(runner, _settings())
    session.image_shown("left", _image())
    assert runner.requests == [] and session.state("left").status == ""  # no model yet: nothing to run
    assert not session.run("left") and session.state("left").status == NO_MODEL
    session.load_bundle(_bundle("broken"))
    assert session.run("left") and session.state("left").status == WAITING_FOR_MODEL
    runner.model_failed.emit("broken: the weights do not fit the model card")
    state = session.state("left")
    assert not state.pending and state.status == "broken: the weights do not fit the model card"
    assert session.model.state == "failed"


def test_a_presentation_state_opened_over_the_image_asks_again(runner):
    session = _ready_session(runner)
    session.image_shown("left", _image())
    (request_id, _, _), = runner.requests
    session.image_opening("left")  # the file turns out to be a presentation state for the image on screen
    assert runner.cancelled == [request_id] and not session.state("left").pending
    session.resume("left")
    assert len(runner.requests) == 2 and session.state("left").status == ANALYZING


def test_press_analyze_without_auto_run(runner):
    session = _ready_session(runner, auto_run=False)
    session.image_shown("left", _image())
    assert runner.requests == [] and session.state("left").status == PRESS_ANALYZE


def test_the_report_never_decides_a_call_itself(qapp, chest_png):
    from desktop.image_adapter import default_window_of
    from desktop.report_builder import build_report_content
    from inference.image_io import load_image

    image = load_image(chest_png)
    view = SimpleNamespace(window=default_window_of(image), inverted=False)
    prediction = _prediction(0.9, ood=True)
    with pytest.raises(TypeError, match="needs the call"):
        build_report_content(image, view, prediction, ModelCard(CARD), 0.5, None, "jet", 0.5)
    shown_anyway = OperatingPoint(0.5, show_anyway=True).call(prediction)
    content = build_report_content(image, view, prediction, ModelCard(CARD), 0.5, shown_anyway, "jet", 0.5)
    assert content.call == "PNEUMONIA (shown anyway)"


def test_the_real_runner_runs_a_waiting_request_on_the_model_switched_to(qtbot, tiny_bundle, slow_bundle,
                                                                        chest_png, monkeypatch, tmp_path):
    """AnalysisController and AiSession alone (no window): a prediction asked for while the slow model loads
    runs on the tiny model the user switched to, and is delivered once."""
    from desktop.analysis_controller import AnalysisController
    from desktop.workers import Job
    from inference.bundle_catalog import bundle_entry
    from inference.image_io import load_image

    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    runner = AnalysisController()
    session = AiSession(runner, _settings())
    shown = []
    session.prediction_shown.connect(lambda viewport, prediction: shown.append(prediction))
    session.load_bundle(bundle_entry(slow_bundle))
    session.image_shown("left", load_image(chest_png))
    assert session.state("left").status == WAITING_FOR_MODEL
    with qtbot.waitSignal(session.prediction_shown, timeout=240_000):
        session.load_bundle(bundle_entry(tiny_bundle))
    qtbot.wait(200)
    assert [p.model["name"] for p in shown] == ["tiny-test-model"]
    assert session.model.card.name == "tiny-test-model" and session.state("left").call is not None
    assert Job.cancel_all_and_wait(20_000)


def test_the_real_runner_never_delivers_the_previous_models_result(qtbot, tiny_bundle, slow_bundle, chest_png,
                                                                    monkeypatch, tmp_path):
    """A prediction running on the slow model when the user switches to the tiny one is cancelled and asked of
    the tiny model: only its result is shown."""
    from desktop.analysis_controller import AnalysisController
    from desktop.workers import Job
    from inference.bundle_catalog import bundle_entry
    from inference.image_io import load_image

    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    runner = AnalysisController()
    session = AiSession(runner, _settings())
    with qtbot.waitSignal(runner.model_ready, timeout=240_000):
        session.load_bundle(bundle_entry(slow_bundle))
    shown = []
    session.prediction_shown.connect(lambda viewport, prediction: shown.append(prediction))
    session.image_shown("left", load_image(chest_png))
    assert session.state("left").status == ANALYZING  # 400 ms on the slow model
    with qtbot.waitSignal(session.prediction_shown, timeout=240_000):
        session.load_bundle(bundle_entry(tiny_bundle))
    qtbot.wait(800)  # the slow model's forward pass has ended by now
    assert [p.model["name"] for p in shown] == ["tiny-test-model"]
    assert Job.cancel_all_and_wait(20_000)
