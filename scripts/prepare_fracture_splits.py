"""Lays out the bone-fracture data for xrayview-train without leakage: ROOT/{train,val,test}/CLASS/ symlinks.

The shared set's train/val split is by source-image group, but train itself holds several distinct files per
group (about 6 on average), and its file names do not say the group. So validation is carved out of train by
`group_id` from MANIFEST.csv (never a group on both sides), and the official val split is kept whole as the
held-out test split the model card reports.
"""
from __future__ import annotations

import argparse
import csv
import random
from collections import defaultdict
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/bone-fracture"))
    parser.add_argument("--out", type=Path, default=Path("runs/fracture/data"))
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    data = args.data.resolve()
    rows = list(csv.DictReader((data / "MANIFEST.csv").open(encoding="utf-8")))
    train_groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["split"] == "train":
            train_groups[row["group_id"]].append(row)
    groups = sorted(train_groups)
    random.Random(args.seed).shuffle(groups)
    # Stratified by each group's majority label: take whole groups until each class reaches the fraction.
    val_groups: set[str] = set()
    for label in ("fractured", "not_fractured"):
        quota = args.val_fraction * sum(r["label"] == label for r in rows if r["split"] == "train")
        got = 0
        for group in groups:
            labels = [r["label"] for r in train_groups[group]]
            if got >= quota:
                break
            if group not in val_groups and max(set(labels), key=labels.count) == label:
                val_groups.add(group)
                got += len(labels)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        split = "test" if row["split"] == "val" else ("val" if row["group_id"] in val_groups else "train")
        target_path = args.out / split / row["label"] / Path(row["relpath"]).name
        target_path.parent.mkdir(parents=True, exist_ok=True)
        if not target_path.exists():
            target_path.symlink_to(data / row["relpath"])
        counts[(split, row["label"])] += 1
    for key in sorted(counts):
        print(f"{key[0]:5s} {key[1]:14s} {counts[key]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
