"""Training throughput of each architecture at 224 px (images/s for a full AdamW step on an augmented batch),
and the time for one epoch over the Kermany train folder (5,216 images) EXTRAPOLATED from that throughput
plus a measured decode pass over a sample of the folder. Prints one JSON object.

    .venv/bin/python bench/bench_train.py [--archs compact_cnn,resnet18] [--batches 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.architectures import build_model  # noqa: E402
from inference.vocabulary import ARCHITECTURES  # noqa: E402
from inference.device import resolve_device  # noqa: E402
from inference.preprocess import InputSpec  # noqa: E402
from training.augment import AugmentConfig, augment_batch  # noqa: E402
from training.cache import decode_images  # noqa: E402
from training.trainer import Normalisation, TensorSplit, _autocast, amp_available, predict_logits  # noqa: E402

KERMANY_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "chest-xray-pneumonia" / "train"
KERMANY_IMAGES = 5216


def train_throughput(arch: str, device: torch.device, batch_size: int, batches: int, size: int,
                     amp: bool) -> float:
    torch.manual_seed(0)
    model = build_model(arch, 2, in_channels=1, pretrained=(arch == "efficientnet_lite0")).to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    images = torch.randint(0, 256, (batch_size, 1, size, size), dtype=torch.uint8)
    labels = torch.randint(0, 2, (batch_size,))
    norm = Normalisation((0.449,), (0.226,))
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        x = norm.apply(augment_batch(images.to(device).float() / 255, AugmentConfig(), generator))
        with _autocast(device, amp):
            loss = criterion(model(x).float(), labels.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up (allocator, kernels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(batches):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch_size * batches / (time.perf_counter() - started)


def eval_throughput(arch: str, device: torch.device, size: int, count: int = 64) -> float:
    model = build_model(arch, 2, in_channels=1).to(device)
    split = TensorSplit(torch.randint(0, 256, (count, 1, size, size), dtype=torch.uint8), torch.zeros(count).long())
    norm = Normalisation((0.5,), (0.25,))
    predict_logits(model, TensorSplit(split.images[:8], split.labels[:8]), norm, device, 8)
    started = time.perf_counter()
    predict_logits(model, split, norm, device, 32)
    return count / (time.perf_counter() - started)


def decode_rate(sample: int, size: int) -> float | None:
    if not KERMANY_TRAIN.is_dir():
        return None
    files = sorted((KERMANY_TRAIN / "PNEUMONIA").iterdir())[:sample // 2] + \
        sorted((KERMANY_TRAIN / "NORMAL").iterdir())[:sample // 2]
    started = time.perf_counter()
    decoded = decode_images(files, InputSpec(1, size, size))
    elapsed = time.perf_counter() - started
    return int(decoded.ok.sum()) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default=",".join(ARCHITECTURES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--decode-sample", type=int, default=256)
    args = parser.parse_args()
    device = resolve_device(args.device)
    decode_per_s = decode_rate(args.decode_sample, args.size)
    results = {}
    train_images = round(KERMANY_IMAGES * 0.8)  # the default 80/10/10 split trains on ~4,173 images
    for arch in args.archs.split(","):
        entry = {}
        for amp in ([False, True] if amp_available(device) else [False]):
            key = "bf16_autocast" if amp and device.type == "cpu" else ("amp" if amp else "fp32")
            entry[f"train_images_per_s_{key}"] = round(train_throughput(arch, device, args.batch_size,
                                                                        args.batches, args.size, amp), 2)
        best = max(v for k, v in entry.items() if k.startswith("train_images_per_s"))
        entry["eval_images_per_s"] = round(eval_throughput(arch, device, args.size), 2)
        val_images = KERMANY_IMAGES - train_images
        entry["epoch_s_extrapolated"] = round(train_images / best + val_images / entry["eval_images_per_s"], 1)
        entry["full_train_folder_pass_s_extrapolated"] = round(KERMANY_IMAGES / best, 1)
        results[arch] = entry
        print(f"{arch}: {entry}", file=sys.stderr)
    print(json.dumps({
        "device": str(device), "cpu_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "size": args.size, "batch_size": args.batch_size, "measured_batches": args.batches,
        "decode_images_per_s": None if decode_per_s is None else round(decode_per_s, 1),
        "decode_full_folder_s_extrapolated": None if not decode_per_s else round(KERMANY_IMAGES / decode_per_s, 1),
        "note": "epoch_s_extrapolated = ~80% of the 5,216 Kermany train images at the measured training "
                "throughput + the other ~20% at the measured eval throughput (validation/test); extrapolated, "
                "not a timed epoch. Machine load from other processes lowers these numbers.",
        "architectures": results}))


if __name__ == "__main__":
    main()
