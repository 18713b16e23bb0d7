"""Patient-grouped, stratified splits on the real Kermany file names."""
from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from inference.errors import TrainingError
from training.splits import SplitItem, compile_group_regex, make_splits, patient_key


def test_patient_key_kermany_names():
    assert patient_key("person1000_bacteria_2931.jpg") == "patient:1000"
    assert patient_key("person1000_virus_1681.jpg") == "patient:1000"
    assert patient_key("person1_virus_6_1.jpg") == "patient:1"
    assert patient_key("IM-0115-0001.jpg") == "patient:115"
    assert patient_key("NORMAL2-IM-0587-0001-0002.jpg") == "patient:587"
    assert patient_key("original_0014.jpg") is None


def test_patient_key_user_regex():
    named = compile_group_regex(r"^(?P<patient>[A-Z]+\d+)_")
    assert patient_key("AB12_view2.png", named) == "re:AB12"
    assert patient_key("nomatch.png", named) is None
    with pytest.raises(TrainingError):
        compile_group_regex("(unclosed")


@pytest.fixture(scope="module")
def kermany_items(shared_data: Path) -> list[SplitItem]:
    base = shared_data / "chest-xray-pneumonia"
    with open(base / "MANIFEST.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # the manifest's hash is of the original bytes: the DUPLICATES_EXACT groups share it
    return [SplitItem(Path(r["relpath"]), r["label"], r["sha256_of_original_bytes"]) for r in rows
            if r["split"] == "train"]


def test_real_kermany_split_is_grouped_stratified_and_seeded(kermany_items, shared_data):
    splits = make_splits(kermany_items, seed=0)
    assert sum(len(v) for v in splits.values()) == 5216
    owner: dict[str, str] = {}
    for split, items in splits.items():
        for item in items:
            key = patient_key(item.path.name)
            assert key is not None
            assert owner.setdefault(key, split) == split, f"patient {key} is in {owner[key]} and {split}"
    # exact duplicates (DUPLICATES_EXACT.txt) stay together
    split_of = {item.path.as_posix(): s for s, items in splits.items() for item in items}
    groups = [line.split("\t")[1:] for line in
              (shared_data / "chest-xray-pneumonia" / "DUPLICATES_EXACT.txt").read_text().splitlines()
              if line and not line.startswith("#") and "\ttrain/" in line]
    assert len(groups) == 24
    for files in groups:
        assert len({split_of[f.strip()] for f in files}) == 1
    # stratified close to 80/10/10 in each class
    totals = Counter(item.label for item in kermany_items)
    for split, fraction in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        counts = Counter(item.label for item in splits[split])
        for label, total in totals.items():
            assert abs(counts[label] / total - fraction) < 0.01, (split, label, counts[label], total)
    # deterministic, seed-dependent
    again = make_splits(list(reversed(kermany_items)), seed=0)
    assert [i.path for i in again["test"]] == [i.path for i in splits["test"]]
    other = make_splits(kermany_items, seed=1)
    assert [i.path for i in other["test"]] != [i.path for i in splits["test"]]


def test_duplicates_without_patient_names_stay_together():
    items = [SplitItem(Path(f"img{i}.png"), "a" if i % 2 else "b", f"h{i}") for i in range(40)]
    items += [SplitItem(Path("copy_of_img3.png"), "a", "h3"), SplitItem(Path("copy_of_img4.png"), "b", "h4")]
    splits = make_splits(items, seed=5)
    split_of = {item.path.name: s for s, v in splits.items() for item in v}
    assert split_of["copy_of_img3.png"] == split_of["img3.png"]
    assert split_of["copy_of_img4.png"] == split_of["img4.png"]


def test_user_regex_groups_patients():
    items = [SplitItem(Path(f"P{p:02d}_view{v}.png"), "x" if p % 2 else "y", f"{p}-{v}")
             for p in range(30) for v in range(3)]
    splits = make_splits(items, seed=2, group_regex=re.compile(r"^(P\d+)_"))
    owner = {}
    for split, v in splits.items():
        for item in v:
            assert owner.setdefault(item.path.name[:3], split) == split


def test_bad_fractions_rejected():
    with pytest.raises(TrainingError):
        make_splits([], fractions=(0.5, 0.2, 0.2))
