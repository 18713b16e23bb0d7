#!/usr/bin/env bash
# Reproduces the experimental bone-fracture bundle: the group-split data folder, then training and its OOD guard in
# one run of the recipe training/recipes/bone-fracture-experimental.toml. OUT defaults to runs/fracture/bundle; an
# existing OUT is moved aside, and an interrupted run resumes from runs/fracture/work.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/fracture/bundle}
.venv/bin/python scripts/prepare_fracture_splits.py --out runs/fracture/data
.venv/bin/xrayview-train --recipe training/recipes/bone-fracture-experimental.toml \
  --out "$OUT" --overwrite --work-dir runs/fracture/work --resume
