"""The dataset report: known exact duplicates of the real data, cross-split leakage, unreadable files."""
from __future__ import annotations

from pathlib import Path

import pytest

from inference.errors import DatasetError
from inference.preprocess import InputSpec
from training.datasets import discover
from training.stages.prepare import DataOptions, prepare_data
from training.report import ReportEntry, build_report
from tests.training.conftest import copy_files, kermany_train


def test_report_finds_the_known_exact_duplicates_of_kermany_train(shared_data):
    base = shared_data / "chest-xray-pneumonia"
    inventory = discover(base / "train")  # ROOT/{train}/... is not the layout here: train itself is ROOT/CLASS
    entries = [ReportEntry(f.path, "unsplit", f.label, f.sha256, True) for f in inventory.files["unsplit"]]
    report = build_report(entries, inventory.classes)
    assert report.counts == {"unsplit": {"NORMAL": 1341, "PNEUMONIA": 3875}}
    assert report.imbalance_ratio == pytest.approx(3875 / 1341)
    found = {frozenset(Path(f["path"]).relative_to(base).as_posix() for f in group["files"])
             for group in report.duplicates_within_split}
    expected = {frozenset(line.split("\t")[1:]) for line in (base / "DUPLICATES_EXACT.txt").read_text().splitlines()
                if line and not line.startswith("#") and "\ttrain/" in line}
    assert len(expected) == 24
    assert found == expected
    assert report.duplicates_across_splits == []


def test_constructed_layout_leakage_unreadable_and_counts(shared_data, tmp_path):
    train = kermany_train(shared_data)
    root = tmp_path / "data"
    normal = sorted((train / "NORMAL").iterdir())[:6]
    pneumonia = sorted((train / "PNEUMONIA").iterdir())[:6]
    copy_files(normal[:4], root / "train" / "NORMAL")
    copy_files(pneumonia[:4], root / "train" / "PNEUMONIA")
    copy_files(normal[4:], root / "val" / "NORMAL")
    copy_files(pneumonia[4:], root / "val" / "PNEUMONIA")
    copy_files(normal[:1], root / "test" / "NORMAL")  # leak: a train image again in test
    copy_files(pneumonia[4:5], root / "test" / "PNEUMONIA")  # leak: a val image again in test
    (root / "train" / "NORMAL" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "train" / "NORMAL" / "notes.txt").write_text("ignored: not an image")

    spec = InputSpec(channels=1, height=32, width=32)
    prepared = prepare_data(DataOptions(data=root, img_size=32), spec, seed=0)
    report = prepared.report
    assert report.counts["train"] == {"NORMAL": 4, "PNEUMONIA": 4}
    assert report.counts["val"] == {"NORMAL": 2, "PNEUMONIA": 2}
    assert report.counts["test"] == {"NORMAL": 1, "PNEUMONIA": 1}
    assert [Path(u["path"]).name for u in report.unreadable] == ["broken.jpg"]
    assert report.has_leakage
    leaked = sorted(tuple(sorted(f["split"] for f in g["files"])) for g in report.duplicates_across_splits)
    assert leaked == [("test", "train"), ("test", "val")]
    assert "LEAKAGE" in report.to_text()
    assert any("leakage" in w for w in report.warnings)
    assert report.size_spread["width"]["min"] == 224 and report.size_spread["distinct_sizes"] == 1
    # the unreadable file is skipped, not trained on
    assert len(prepared.splits["train"]) == 8


def test_missing_or_bad_folders_are_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        discover(tmp_path / "nope")
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.png").write_bytes(b"x")
    with pytest.raises(DatasetError, match="no class sub-folders"):
        discover(tmp_path / "only")
