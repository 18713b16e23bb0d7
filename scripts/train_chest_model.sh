#!/usr/bin/env bash
# Reproduces the bundled pneumonia model: training, its OOD guard and its heatmap check, in one run of the recipe
# training/recipes/chest-xray-pneumonia.toml (its comments say why each setting). OUT defaults to runs/chest/bundle;
# an existing OUT is moved aside, and an interrupted run resumes from the work folder beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/chest/bundle}
.venv/bin/xrayview-train --recipe training/recipes/chest-xray-pneumonia.toml \
  --out "$OUT" --overwrite --work-dir "$(dirname "$OUT")/work" --resume
