"""The dataset report shown before training: counts, imbalance, unreadable files, exact duplicates
(within a split and, loudly, across splits), and the spread of image sizes."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class ReportEntry:
    """One file as the report sees it."""
    path: Path
    split: str
    label: str
    sha256: str
    readable: bool
    error: str | None = None
    shape: tuple[int, int] | None = None  # (height, width) of the decoded original


@dataclass
class DatasetReport:
    classes: list[str]
    counts: dict[str, dict[str, int]]  # split -> class -> readable images
    imbalance_ratio: float  # largest / smallest class count over all readable images
    unreadable: list[dict]
    duplicates_within_split: list[dict]
    duplicates_across_splits: list[dict]
    size_spread: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def has_leakage(self) -> bool:
        return bool(self.duplicates_across_splits)

    def to_dict(self) -> dict:
        return {"classes": self.classes, "counts": self.counts, "imbalance_ratio": self.imbalance_ratio,
                "unreadable": self.unreadable, "duplicates_within_split": self.duplicates_within_split,
                "duplicates_across_splits": self.duplicates_across_splits, "size_spread": self.size_spread,
                "warnings": self.warnings}

    def to_text(self) -> str:
        lines = ["Dataset report", "=============="]
        for split, per_class in self.counts.items():
            total = sum(per_class.values())
            parts = ", ".join(f"{name} {n}" for name, n in per_class.items())
            lines.append(f"{split:>8}: {total} images ({parts})")
        lines.append(f"class imbalance (largest/smallest): {self.imbalance_ratio:.2f}")
        spread = self.size_spread
        if spread.get("n"):
            lines.append(f"image sizes: width {spread['width']['min']}-{spread['width']['max']} "
                         f"(median {spread['width']['median']}), height {spread['height']['min']}-"
                         f"{spread['height']['max']} (median {spread['height']['median']}), "
                         f"{spread['distinct_sizes']} distinct size(s)")
        lines.append(f"unreadable files (skipped): {len(self.unreadable)}")
        for item in self.unreadable[:20]:
            lines.append(f"  {item['path']}: {item['reason']}")
        if len(self.unreadable) > 20:
            lines.append(f"  ... and {len(self.unreadable) - 20} more")
        lines.append(f"exact duplicate groups within a split: {len(self.duplicates_within_split)}")
        if self.duplicates_across_splits:
            lines.append(f"!!! LEAKAGE: {len(self.duplicates_across_splits)} group(s) of byte-identical files "
                         "appear in MORE THAN ONE split !!!")
            for group in self.duplicates_across_splits[:20]:
                lines.append("  " + " == ".join(f"{f['split']}:{f['path']}" for f in group["files"]))
        for warning in self.warnings:
            lines.append(f"WARNING: {warning}")
        return "\n".join(lines)


def _spread(values: Sequence[int]) -> dict:
    array = np.asarray(values)
    return {"min": int(array.min()), "max": int(array.max()), "median": float(np.median(array)),
            "p5": float(np.percentile(array, 5)), "p95": float(np.percentile(array, 95))}


def build_report(entries: Iterable[ReportEntry], classes: Sequence[str]) -> DatasetReport:
    entries = list(entries)
    splits = list(dict.fromkeys(e.split for e in entries))
    counts = {split: {name: 0 for name in classes} for split in splits}
    for entry in entries:
        if entry.readable:
            counts[entry.split][entry.label] += 1
    totals = Counter(e.label for e in entries if e.readable)
    smallest = min((totals.get(name, 0) for name in classes), default=0)
    imbalance = (max(totals.values()) / smallest) if smallest else float("inf")

    unreadable = [{"path": str(e.path), "split": e.split, "label": e.label, "reason": e.error or "unreadable"}
                  for e in entries if not e.readable]

    by_hash: dict[str, list[ReportEntry]] = defaultdict(list)
    for entry in entries:
        # unreadable files (e.g. empty ones, which all share one hash) are reported as unreadable; as duplicates
        # they would raise false "conflicting labels" and leakage warnings
        if entry.readable:
            by_hash[entry.sha256].append(entry)
    within, across = [], []
    for digest, group in sorted(by_hash.items()):
        if len(group) < 2:
            continue
        files = [{"path": str(e.path), "split": e.split, "label": e.label}
                 for e in sorted(group, key=lambda e: (e.split, str(e.path)))]
        record = {"sha256": digest, "files": files,
                  "labels_conflict": len({e.label for e in group}) > 1}
        (across if len({e.split for e in group}) > 1 else within).append(record)

    shapes = [e.shape for e in entries if e.readable and e.shape is not None]
    size_spread: dict = {"n": len(shapes)}
    if shapes:
        size_spread.update({"height": _spread([s[0] for s in shapes]), "width": _spread([s[1] for s in shapes]),
                            "distinct_sizes": len(set(shapes)),
                            "most_common": [{"height": h, "width": w, "count": n}
                                            for (h, w), n in Counter(shapes).most_common(3)]})

    warnings = []
    if across:
        warnings.append(f"{len(across)} exact duplicate group(s) span more than one split: validation/test "
                        "metrics would be inflated (data leakage)")
    conflicts = sum(1 for g in within + across if g["labels_conflict"])
    if conflicts:
        warnings.append(f"{conflicts} exact duplicate group(s) carry different class labels")
    if unreadable:
        warnings.append(f"{len(unreadable)} file(s) could not be read and are skipped")
    if imbalance >= 3:
        warnings.append(f"classes are imbalanced ({imbalance:.1f}:1); training compensates with class weights")
    for split, per_class in counts.items():
        empty = [name for name, n in per_class.items() if n == 0]
        if empty:
            warnings.append(f"split {split!r} has no readable images of class(es) {empty}")
    return DatasetReport(classes=list(classes), counts=counts, imbalance_ratio=float(imbalance),
                         unreadable=unreadable, duplicates_within_split=within,
                         duplicates_across_splits=across, size_spread=size_spread, warnings=warnings)
