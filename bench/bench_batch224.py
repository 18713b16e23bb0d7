"""Batch prediction throughput of the bundled default model on 224 px chest X-rays (the Kermany copies), CPU.
Prints JSON: images/s without CAM for predict_paths (decode included) and predict_batch (decoded images)."""
import json
import sys
import time
from pathlib import Path

import torch

from inference.image_io import load_image
from inference.bundle_catalog import default_bundle_dir
from inference.predictor import Predictor

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chest-xray-pneumonia" / "train"


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    files = sorted((SHARED / "NORMAL").glob("*.jp*g"))[: count // 2] + sorted((SHARED / "PNEUMONIA").glob("*.jp*g"))[: count // 2]
    predictor = Predictor(default_bundle_dir(), device="cpu")
    predictor.warm_up(cam_method=None)
    images = [load_image(f) for f in files]
    best = {}
    for batch_size in (16, 32, 64):
        start = time.perf_counter()
        predictor.predict_batch(images, batch_size=batch_size, cam_method=None)
        best[batch_size] = len(images) / (time.perf_counter() - start)
    start = time.perf_counter()
    results = list(predictor.predict_paths(files, batch_size=32))
    paths_rate = len(results) / (time.perf_counter() - start)
    print(json.dumps({"model": predictor.identity, "images": len(images), "size": list(images[0].shape),
                      "torch_threads": torch.get_num_threads(),
                      "predict_batch_images_per_s": {str(k): round(v, 1) for k, v in best.items()},
                      "predict_paths_images_per_s_including_decode": round(paths_rate, 1),
                      "all_ok": all(r.ok for r in results)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
