"""Stage "seal": the bundle written once, atomically (inference.bundle.write_bundle: weights, card with its
manifest hash, every file beside it; loaded back, model built and guard fitted to it before it replaces anything),
then the run's work folder removed."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from inference.bundle import load_bundle, write_bundle
from training.output_dir import aside_path


@dataclass
class SealedBundle:
    path: Path
    card: dict
    weights_sha256: str
    previous_moved_to: Path | None  # where an existing --out went (--overwrite)


def seal(out: Path, state: dict[str, torch.Tensor], card: dict, files: dict[str, bytes], overwrite: bool,
         work_dir: Path) -> SealedBundle:
    previous = aside_path(out) if overwrite else None
    bundle_dir = write_bundle(out, {k: v.detach().cpu() for k, v in state.items()}, card, extra_files=files,
                              keep_previous=previous)
    written = load_bundle(bundle_dir)
    remove_work_dir(work_dir)
    return SealedBundle(path=bundle_dir, card=written.card, weights_sha256=written.sha256, previous_moved_to=previous)


def remove_work_dir(work_dir: Path) -> None:
    if work_dir.name.endswith(".partial"):
        shutil.rmtree(work_dir, ignore_errors=True)
    else:
        # a user-given --work-dir may hold other things: remove only what we wrote
        for name in ("checkpoint.pt", "checkpoint.pt.tmp", "dataset_report.json"):
            (work_dir / name).unlink(missing_ok=True)
