"""The training run as stages (training.pipeline, training.stages): it announces exactly the documented stage
vocabulary, in order, with typed events only; the stability hook gets the trained model and its report is kept;
an optional guard that cannot be fitted leaves the model without one (and a required one fails before anything is
written); a layer typo fails before any image is read. Real (tiny) runs: compact_cnn at 32 px on real films."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest
import torch

from inference.bundle import load_bundle
from inference.errors import XRayViewError
from tests.conftest import PROJECT_ROOT
from training.events import (BatchDone, DecodeProgress, EpochDone, GuardProgress, RunFinished, Stage, StageSkipped,
                             StageStarted, StepStarted)
from training.ood_fit import GuardOptions
from training.pipeline import run_training
from training.run_options import ExportOptions, RunOptions
from training.stability import MARGIN_CHANGES
from training.stages.prepare import DataOptions, inspect_dataset
from training.trainer import TrainConfig

CPU = torch.device("cpu")


def _run(data, out, **options) -> RunOptions:
    config = TrainConfig(arch="compact_cnn", epochs=1, batch_size=8, seed=2, early_stopping_patience=0)
    return RunOptions(config, DataOptions(data=data, img_size=32), ExportOptions(out=out), **options)


def test_a_run_announces_the_documented_stages_in_order_with_typed_events(small_kermany, tmp_path, capsys):
    events = []
    seen = {}

    def stability(inputs):
        seen.update(eval_mode=not inputs.model.training, n=len(inputs.test), classes=inputs.classes,
                    positive_index=inputs.positive_index, spec=inputs.spec)
        with torch.no_grad():
            logits = inputs.model(inputs.normalisation.apply(inputs.test.images.float() / 255.0))
        return {"check": "fake, for the test", "n": len(inputs.test), "first_logit": round(float(logits[0, 0]), 4)}

    run = _run(small_kermany, tmp_path / "b", guard=GuardOptions(components=8))
    outcome = run_training(run, CPU, progress=events.append, stability=stability)

    assert all(dataclasses.is_dataclass(event) and not isinstance(event, dict) for event in events)
    announced = [(type(e).__name__, e.stage) for e in events if isinstance(e, (StageStarted, StageSkipped))]
    assert [stage for _, stage in announced] == list(Stage)
    assert ("StageSkipped", Stage.CHECK_HEATMAPS) in announced  # asked for no heatmap check
    current = None
    for event in events:  # every step belongs to the stage under way; progress comes inside its stage
        if isinstance(event, StageStarted):
            current = event.stage
        elif isinstance(event, StepStarted):
            assert event.stage == current, event
        elif isinstance(event, (BatchDone, EpochDone)):
            assert current == Stage.TRAIN
        elif isinstance(event, GuardProgress):
            assert current == Stage.FIT_GUARD
        elif isinstance(event, DecodeProgress):
            assert current == Stage.PREPARE_DATA
    assert isinstance(events[-1], RunFinished) and events[-1].summary == outcome.summary
    train_started = next(e for e in events if isinstance(e, StageStarted) and e.stage == Stage.TRAIN)
    assert set(train_started.counts) == {"train", "val", "test"} and sum(train_started.counts.values()) == 48

    # the stability hook: the trained model in eval mode on the test split; its report kept as it came
    assert seen["eval_mode"] and seen["n"] == outcome.summary["test"]["n"]
    assert seen["classes"] == ["NORMAL", "PNEUMONIA"] and seen["positive_index"] == 1 and seen["spec"].height == 32
    report = json.loads((outcome.bundle_dir / "evaluation.json").read_text())["stability"]
    assert report["check"] == "fake, for the test" and report["n"] == seen["n"]
    assert outcome.card["training"]["stability"] == report
    # the guard was fitted in the run; the test logits the wizard shows are the ones the card's numbers came from
    assert outcome.card["ood"]["n_components"] <= 8 and outcome.guard_error == ""
    assert outcome.evaluation.test.logits.shape == (outcome.summary["test"]["n"], 2)
    assert load_bundle(outcome.bundle_dir).card["ood"] == outcome.card["ood"]

    # the call margin: the validation films' moves under noise and JPEG, measured in the evaluate stage, stored at
    # the card's temperature; the tool that measures an existing bundle gets the same number from the same films
    assert (Stage.EVALUATE, "call margin") in [(e.stage, e.step.value) for e in events if isinstance(e, StepStarted)]
    margin = load_bundle(outcome.bundle_dir).model_card.call_margin
    assert margin is not None and margin.n == train_started.counts["val"]
    assert margin.changes == MARGIN_CHANGES and margin.half_width_log_odds > 0
    assert margin.temperature == pytest.approx(outcome.summary["temperature"], abs=1e-6)
    from training.cli_call_margin import main as margin_main

    capsys.readouterr()
    assert margin_main(["--bundle", str(outcome.bundle_dir), "--data", str(small_kermany)]) == 0
    measured = json.loads(capsys.readouterr().out)["call_margin"]
    assert measured["n"] == margin.n
    assert measured["per_change"] == pytest.approx(outcome.card["call_margin"]["per_change"], abs=2e-3)


def test_the_stage_vocabulary_is_the_one_documented():
    architecture = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = re.search(r"`prepare data` -> .*? -> `seal`", architecture, re.S).group(0)
    assert re.findall(r"`([a-z ]+)`", listed) == [stage.value for stage in Stage]
    import training

    assert " -> ".join(stage.value for stage in Stage) in " ".join(training.__doc__.split())


def test_an_optional_guard_that_cannot_be_fitted_leaves_the_model_without_one(small_kermany, tmp_path, monkeypatch):
    import training.stages.guard as guard_stage

    def cannot_fit(*args, **kwargs):
        raise ValueError("the guard needs at least 4 feature vectors")

    monkeypatch.setattr(guard_stage, "fit_guard_on", cannot_fit)
    prepared = inspect_dataset(DataOptions(data=small_kermany, img_size=32), pretrained=False, seed=2)
    outcome = run_training(_run(small_kermany, tmp_path / "b", guard=GuardOptions(), guard_optional=True), CPU,
                           prepared=prepared)
    assert outcome.guard_error == "the guard needs at least 4 feature vectors"
    assert "ood" not in load_bundle(outcome.bundle_dir).card

    required = _run(small_kermany, tmp_path / "c", guard=GuardOptions())
    with pytest.raises(ValueError, match="at least 4 feature vectors"):
        run_training(required, CPU, prepared=prepared)
    assert not (tmp_path / "c").exists()  # nothing sealed
    assert (tmp_path / "c.partial" / "checkpoint.pt").is_file()  # the epochs are kept for --resume


def test_a_layer_typo_fails_before_any_image_is_read(small_kermany, tmp_path):
    from training.cam_check import HeatmapCheckOptions

    for options, flag in ((dict(guard=GuardOptions(layer="features.block9")), "--guard-layer"),
                          (dict(heatmaps=HeatmapCheckOptions(detail_layer="nope")), "--heatmap-detail-layer")):
        events = []
        with pytest.raises(XRayViewError, match=f"{flag}: the compact_cnn model has no layer"):
            run_training(_run(small_kermany, tmp_path / "b", **options), CPU, progress=events.append)
        assert events == []
