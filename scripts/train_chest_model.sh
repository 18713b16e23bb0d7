#!/usr/bin/env bash
# Reproduces the bundled pneumonia model in its three stages, each a recipe whose comments say why each setting:
#   1. training/recipes/chest-xray-pneumonia.toml         from ImageNet          -> runs/chest-base/bundle
#   2. training/recipes/chest-xray-pneumonia-stable.toml  fine-tunes stage 1     -> runs/chest-stable/bundle
#   3. training/recipes/chest-xray-pneumonia-views.toml   stage 2 over views     -> OUT (default runs/chest/bundle)
# Each stage has its own OOD guard and heatmap check. A finished stage's bundle is kept (delete it to rebuild it);
# an interrupted stage resumes from the work folder beside its bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/chest/bundle}
stage() {  # stage RECIPE BUNDLE
  if [ -f "$2/model_card.json" ] && [ "$2" != "$OUT" ]; then
    echo "kept: $2 (delete it to train this stage again)"
    return
  fi
  .venv/bin/xrayview-train --recipe "$1" --out "$2" --overwrite --work-dir "$(dirname "$2")/work" --resume
}
stage training/recipes/chest-xray-pneumonia.toml runs/chest-base/bundle
stage training/recipes/chest-xray-pneumonia-stable.toml runs/chest-stable/bundle
stage training/recipes/chest-xray-pneumonia-views.toml "$OUT"
