"""Real (tiny) training runs: train -> bundle -> eval round trip, cancel + resume, kill -9 + resume, DDP on
2 CPU processes, and the previous bundle surviving a failed run. compact_cnn at 32 px on real images."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from inference.bundle import load_bundle
from training.cli_eval import main as eval_main
from training.checkpoint import load_checkpoint
from training.cli_train import main as train_main
from training.trainer import TrainConfig, TrainingCancelled
from tests.training.conftest import link_files

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TINY_ARGS = ["--arch", "compact_cnn", "--img-size", "32", "--batch-size", "8", "--quiet"]


def _metric(card: dict, name: str) -> dict:
    return next(m for m in card["metrics"] if m["name"] == name)


def _test_split_folder(bundle_dir: Path, data_root: Path, target: Path) -> Path:
    with open(bundle_dir / "data_manifest.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "test"]
    for row in rows:
        link_files([data_root / row["relpath"]], target / row["label"])
    return target


def test_train_bundle_eval_round_trip(trained_bundle, small_kermany, tmp_path, capsys):
    bundle_dir, summary = trained_bundle
    bundle = load_bundle(bundle_dir)
    card = bundle.card
    assert card["architecture"] == "compact_cnn" and card["labels"] == ["NORMAL", "PNEUMONIA"]
    assert card["positive_label"] == "PNEUMONIA"
    assert card["input"]["height"] == 32 and card["input"]["resize_mode"] == "squash"
    assert card["training"]["seed"] == 3 and "--epochs 3" in card["training"]["command"]
    assert card["training_data"][0]["licence"] == "CC BY 4.0"
    assert "doi:10.17632/rscbjbr9sj.2" in card["training_data"][0]["attribution"]
    assert "Not for diagnostic use" in card["intended_use"]
    assert card["calibration"]["temperature"] > 0
    counts = card["training"]["split_counts"]
    assert sum(sum(c.values()) for c in counts.values()) == 48
    for name in ("roc_test.png", "training_curves.png", "dataset_report.json", "data_manifest.csv"):
        assert (bundle_dir / name).read_bytes()[:4] in (b"\x89PNG", b"{\n  ", b"spli")
    assert summary["test_tta_hflip"] is not None
    # the manifest hash in the card is the hash of the manifest shipped beside it
    import hashlib

    assert hashlib.sha256((bundle_dir / "data_manifest.csv").read_bytes()).hexdigest() == \
        card["training_data"][0]["manifest_sha256"]

    # xrayview-eval on exactly the test split reproduces the card's test metrics
    folder = _test_split_folder(bundle_dir, small_kermany, tmp_path / "test_split")
    capsys.readouterr()
    assert eval_main(["--model", str(bundle_dir), "--data", str(folder)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"n", "auc", "accuracy", "sensitivity", "specificity", "precision", "f1", "kappa",
                           "ece", "threshold", "confusion_matrix", "per_class"}
    assert result["n"] == _metric(card, "auc")["n"] == summary["test"]["n"]
    assert result["threshold"] == pytest.approx(card["threshold"])
    for name in ("auc", "accuracy", "sensitivity", "specificity"):
        assert result[name] == pytest.approx(_metric(card, name)["value"], abs=1e-5), name
    assert result["confusion_matrix"] == summary["test"]["confusion_matrix"]
    # the predictor (the viewer's and xrayview-predict's path) gives the same probabilities per file
    from inference.image_io import load_image
    from inference.predictor import Predictor
    from training.evaluate import evaluate_bundle

    per_file = evaluate_bundle(bundle_dir, folder, device="cpu")["per_file"][:6]
    predictions = Predictor(bundle_dir, device="cpu").predict_batch(
        [load_image(row["path"]) for row in per_file], cam_method=None)
    for row, prediction in zip(per_file, predictions):
        # inputs differ by at most the cache's half grey level
        assert prediction.probabilities["PNEUMONIA"] == pytest.approx(row["probabilities"]["PNEUMONIA"], abs=2e-3)
    # a threshold override moves the operating point
    assert eval_main(["--model", str(bundle_dir), "--data", str(folder), "--threshold", "0.0"]) == 0
    assert json.loads(capsys.readouterr().out)["sensitivity"] == 1.0


def test_eval_rejects_mismatched_classes(trained_bundle, shared_data, capsys):
    bundle_dir, _ = trained_bundle
    rc = eval_main(["--model", str(bundle_dir), "--data", str(shared_data / "bone-fracture" / "val")])
    err = capsys.readouterr().err
    assert rc == 2 and "not one of the model's labels" in err and "Traceback" not in err


def test_train_cli_expected_failures_exit_2(tmp_path, capsys):
    assert train_main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "b"), *TINY_ARGS]) == 2
    err = capsys.readouterr().err
    assert "dataset folder does not exist" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exited:
        train_main(["--data", str(tmp_path), "--out", str(tmp_path / "b"), "--epochs", "0"])
    assert exited.value.code == 2 and "must be at least 1" in capsys.readouterr().err


def test_cancel_keeps_old_bundle_then_resume_completes(trained_bundle, small_kermany, tmp_path):
    from inference.device import resolve_device
    from training.events import BatchDone, DecodeProgress, EpochDone
    from training.pipeline import run_training
    from training.run_options import ExportOptions, RunOptions
    from training.stages.prepare import DataOptions, inspect_dataset

    out = tmp_path / "bundle"
    shutil.copytree(trained_bundle[0], out)
    old_card = (out / "model_card.json").read_bytes()
    cancel = threading.Event()
    events: list = []

    def progress(event) -> None:
        events.append(event)
        if isinstance(event, BatchDone) and event.epoch == 2 and event.batch == 2:
            cancel.set()

    config = TrainConfig(arch="compact_cnn", epochs=3, batch_size=8, seed=1, early_stopping_patience=0)
    data = DataOptions(data=small_kermany, img_size=32)
    inspected = inspect_dataset(data, pretrained=False, seed=1)  # the wizard's report page, then training
    assert sum(len(s) for s in inspected.splits.values()) == 48 and not inspected.report.has_leakage
    with pytest.raises(TrainingCancelled):
        run_training(RunOptions(config, data, ExportOptions(out=out, overwrite=True)), resolve_device("cpu"),
                     progress=progress, cancel=cancel, prepared=inspected)
    assert not any(isinstance(e, DecodeProgress) for e in events)  # the inspected images were reused
    assert (out / "model_card.json").read_bytes() == old_card  # untouched
    checkpoint = load_checkpoint(tmp_path / "bundle.partial")
    assert checkpoint["epoch"] == 1
    epoch_events = [e for e in events if isinstance(e, EpochDone)]
    assert len(epoch_events) == 1 and epoch_events[0].score_name == "val_auc" and epoch_events[0].eta_s >= 0
    assert {"train_loss", "val_loss", "val_auc"} <= set(epoch_events[0].record)
    assert all(e.batch <= 2 for e in events if isinstance(e, BatchDone) and e.epoch == 2)

    outcome = run_training(RunOptions(config, data, ExportOptions(out=out, overwrite=True), resume=True),
                           resolve_device("cpu"))
    assert outcome.card["training"]["resumed_from_epoch"] == 1
    assert [h["epoch"] for h in outcome.card["training"]["history"]] == [1, 2, 3]
    assert (out / "model_card.json").read_bytes() != old_card
    assert not (tmp_path / "bundle.partial").exists()
    moved = Path(outcome.summary["previous_output_moved_to"])  # the replaced bundle is kept, not deleted
    assert moved.parent == tmp_path and moved.name.startswith("bundle.previous-")
    assert (moved / "model_card.json").read_bytes() == old_card


def test_failed_export_preserves_previous_bundle(trained_bundle, small_kermany, tmp_path, capsys):
    out = tmp_path / "bundle"
    shutil.copytree(trained_bundle[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "extra.json"
    bad.write_text(json.dumps({"intended_use": "clinical diagnosis"}))  # the schema forbids this claim
    rc = train_main(["--data", str(small_kermany), "--out", str(out), "--epochs", "1", "--card-extra", str(bad),
                     "--overwrite", *TINY_ARGS])
    assert rc == 2
    assert "Traceback" not in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    load_bundle(out)


def _run_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_resume_after_kill_9(small_kermany, tmp_path):
    out = tmp_path / "bundle"
    checkpoint = tmp_path / "bundle.partial" / "checkpoint.pt"
    command = [sys.executable, "-m", "training.cli_train", "--data", str(small_kermany), "--out", str(out),
               "--epochs", "12", "--patience", "0", *TINY_ARGS]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=_run_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "training ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not out.exists()
    killed_at = load_checkpoint(checkpoint.parent)["epoch"]
    assert 1 <= killed_at < 12

    resumed = subprocess.run(command + ["--resume"], cwd=PROJECT_ROOT, env=_run_env(), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    card = load_bundle(out).card
    assert card["training"]["resumed_from_epoch"] >= killed_at
    assert [h["epoch"] for h in card["training"]["history"]] == list(range(1, 13))
    assert summary["epochs_run"] == 12
    # the checkpoint (read back without unpickling code) restores everything: same weights as one
    # uninterrupted run
    uninterrupted = subprocess.run([part if part != str(out) else str(tmp_path / "straight") for part in command],
                                   cwd=PROJECT_ROOT, env=_run_env(), capture_output=True, text=True, timeout=300)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    straight = json.loads(uninterrupted.stdout.strip().splitlines()[-1])
    assert summary["weights_sha256"] == straight["weights_sha256"]
    assert summary["threshold"] == straight["threshold"] and summary["test"] == straight["test"]


def test_ddp_two_cpu_processes(small_kermany, tmp_path):
    out = tmp_path / "ddp_bundle"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                "-m", "training.cli_train"]
    result = subprocess.run(torchrun + ["--data", str(small_kermany), "--out", str(out), "--epochs", "2",
                                        "--device", "cpu", *TINY_ARGS],
                            # ~15 s on an idle 2-core machine; generous for a CPU shared with other jobs
                            cwd=PROJECT_ROOT, env=_run_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.strip().splitlines() if line.startswith("{")]
    assert len(lines) == 1  # only rank 0 reports
    card = load_bundle(out).card
    assert card["training"]["world_size"] == 2
    assert card["architecture"] == "compact_cnn" and card["threshold"] is not None
    assert np.isfinite(next(m["value"] for m in card["metrics"] if m["name"] == "auc"))


def test_three_class_model_gets_a_valid_card(shared_data, tmp_path):
    from inference.device import resolve_device
    from training.pipeline import run_training
    from training.run_options import ExportOptions, RunOptions
    from training.stages.prepare import DataOptions

    train = shared_data / "chest-xray-pneumonia" / "train"
    root = tmp_path / "three"
    link_files(sorted((train / "NORMAL").iterdir())[:12], root / "normal")
    pneumonia = sorted((train / "PNEUMONIA").iterdir())
    link_files([p for p in pneumonia if "_bacteria_" in p.name][:12], root / "bacteria")
    link_files([p for p in pneumonia if "_virus_" in p.name][:12], root / "virus")
    config = TrainConfig(arch="compact_cnn", epochs=1, batch_size=8, seed=0)
    outcome = run_training(RunOptions(config, DataOptions(data=root, img_size=32), ExportOptions(out=tmp_path / "b")),
                           resolve_device("cpu"))
    card = load_bundle(outcome.bundle_dir).card
    assert card["labels"] == ["bacteria", "normal", "virus"] and card["threshold"] is None
    assert "positive_label" not in card
    assert {row["name"].split(" vs ")[0] for row in card["threshold_table"]} == {"bacteria", "normal", "virus"}
    assert len(outcome.summary["test"]["confusion_matrix"]) == 3
