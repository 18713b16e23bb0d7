"""What one training run is asked to do, as typed options: the training configuration, the data, the bundle and
card, the post-training stages (guard, heatmap check) and where the run keeps its checkpoint. Built from
`xrayview-train` flags or a recipe file (training.option_table declares both), or by the desktop wizard."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.cam_check import HeatmapCheckOptions
from training.ood_fit import GuardOptions
from training.stages.prepare import DataOptions
from training.trainer import TrainConfig


@dataclass
class ExportOptions:
    out: Path
    name: str | None = None
    version: str = "1.0.0"
    description: str | None = None
    positive_label: str | None = None
    target_sensitivity: float | None = None
    miss_cost: float | None = None  # threshold 1 / (1 + miss_cost) on the calibrated P(positive) instead
    limitations: list[str] = field(default_factory=list)
    experimental: bool = False
    card_extra: dict = field(default_factory=dict)
    command: str = ""
    tta_report: bool = False  # also report test metrics with horizontal-flip TTA (the card stays plain)
    overwrite: bool = False  # an existing `out` is moved aside (kept) instead of refusing the run


@dataclass
class RunOptions:
    config: TrainConfig
    data: DataOptions
    export: ExportOptions
    guard: GuardOptions | None = None  # fit the OOD guard (stage "fit guard"); None skips it
    guard_optional: bool = False  # a guard that cannot be fitted leaves the model without one instead of failing
    heatmaps: HeatmapCheckOptions | None = None  # check the heatmaps (stage "check heatmaps"); None skips it
    work_dir: Path | None = None  # the checkpoint folder (default OUT.partial beside the bundle)
    resume: bool = False
    recipe: Any = None  # training.recipe.RecipeRecord: the recipe file recorded in the card and the bundle

    @property
    def checkpoint_dir(self) -> Path:
        out = Path(self.export.out)
        return Path(self.work_dir) if self.work_dir is not None else out.parent / (out.name + ".partial")
