"""Patient-grouped, stratified, seeded train/val/test splits.

Files of one patient (and byte-identical files) always land in the same split, so the validation and test
metrics are not inflated by near-copies of training images.
"""
from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from inference.errors import TrainingError

SPLIT_NAMES = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)

# Kermany et al. naming: personNNNN_bacteria_M / personNNNN_virus_M, IM-NNNN-MMMM, NORMAL2-IM-NNNN-MMMM.
# The data README says every one of these names patient NNNN; we key on the number alone (conservative:
# if two schemes ever shared a number, those files are merely kept together).
_KERMANY_PATTERNS = (
    re.compile(r"^person0*(\d+)_", re.IGNORECASE),
    re.compile(r"^(?:NORMAL\d*-)?IM-0*(\d+)-", re.IGNORECASE),
)


def patient_key(file_name: str, group_regex: re.Pattern[str] | None = None) -> str | None:
    """The patient id a file name encodes, or None when it encodes none.

    With `group_regex`, the named group `patient` (or else group 1, or else the whole match) is the id.
    """
    if group_regex is not None:
        match = group_regex.search(file_name)
        if match is None:
            return None
        if "patient" in group_regex.groupindex:
            return "re:" + match.group("patient")
        return "re:" + (match.group(1) if group_regex.groups else match.group(0))
    for pattern in _KERMANY_PATTERNS:
        match = pattern.match(file_name)
        if match:
            return f"patient:{int(match.group(1))}"
    return None


def compile_group_regex(text: str | None) -> re.Pattern[str] | None:
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise TrainingError(f"--group-regex {text!r} is not a valid regular expression: {exc}") from None


@dataclass(frozen=True)
class SplitItem:
    """The minimum a split needs to know about one file."""
    path: Path
    label: str
    sha256: str


def _group_items(items: Sequence[SplitItem], group_regex: re.Pattern[str] | None) -> list[list[int]]:
    """Union-find over (patient id, exact content hash): connected files must share a split."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_by_key: dict[str, int] = {}
    for index, item in enumerate(items):
        keys = ["sha:" + item.sha256]
        patient = patient_key(item.path.name, group_regex)
        if patient is not None:
            keys.append(patient)
        for key in keys:
            if key in first_by_key:
                union(first_by_key[key], index)
            else:
                first_by_key[key] = index
    groups: dict[int, list[int]] = defaultdict(list)
    for index in range(len(items)):
        groups[find(index)].append(index)
    return list(groups.values())


def make_splits(
    items: Sequence[SplitItem],
    fractions: Iterable[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    group_regex: re.Pattern[str] | None = None,
) -> dict[str, list[SplitItem]]:
    """Split `items` into train/val/test, stratified by label and grouped by patient and exact duplicates.

    Greedy assignment: groups (shuffled with `seed`, then largest first) go to the split that is furthest
    below its per-class target. Deterministic for a given input set and seed, whatever the input order.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise TrainingError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    ordered = sorted(items, key=lambda item: (item.label, str(item.path)))
    groups = _group_items(ordered, group_regex)
    groups.sort(key=lambda members: str(ordered[members[0]].path))
    random.Random(seed).shuffle(groups)
    groups.sort(key=len, reverse=True)  # stable: equal sizes keep the seeded order

    class_totals = Counter(item.label for item in ordered)
    targets = {s: {c: f * n for c, n in class_totals.items()} for s, f in zip(SPLIT_NAMES, fractions)}
    counts = {s: Counter() for s in SPLIT_NAMES}
    assigned: dict[str, list[SplitItem]] = {s: [] for s in SPLIT_NAMES}
    for members in groups:
        labels = Counter(ordered[i].label for i in members)

        def deficit(split: str) -> float:
            # relative room left in this split for the group's classes, weighted by the group's composition
            return sum(n * (targets[split][c] - counts[split][c]) / max(targets[split][c], 1e-9)
                       for c, n in labels.items() if targets[split][c] > 0) if fractions[SPLIT_NAMES.index(split)] > 0 else float("-inf")

        best = max(SPLIT_NAMES, key=deficit)
        counts[best].update(labels)
        assigned[best].extend(ordered[i] for i in members)
    for split in SPLIT_NAMES:
        assigned[split].sort(key=lambda item: (item.label, str(item.path)))
    return assigned
