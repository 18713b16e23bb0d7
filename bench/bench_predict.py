"""Prediction benchmark on CPU: model load, predict, and predict + Grad-CAM latency, batch throughput, peak RSS.

For each architecture at 224 x 224 a bundle with UNTRAINED (seeded random) weights is written with
`write_bundle` - the weights do not change the arithmetic, so the timings hold for trained models too; the
probabilities are meaningless and not reported. Each architecture runs in its own fresh interpreter so peak
RSS is per architecture. Input: a real full-resolution chest radiograph (Kermany et al. 2018, CC BY 4.0),
already loaded (decode time is bench_decode.py's business); timings include preprocessing (render, resize,
normalise) and, for CAM, upsampling the heatmap to the original size. Medians over --runs runs after warm-up.

With `--detail-layer ARCH=LAYER` (default: efficientnet_lite0=_blocks.10, what the bundled chest model's card draws)
the CAM is the product of the target layer's and LAYER's maps (inference.cam), as the viewer computes it.

`cam_design_check_ms_median` times the alternative design (inference-mode forward, then a separate CAM pass) to justify
computing the probabilities from the CAM's own forward pass.

    .venv/bin/python bench/bench_predict.py [--runs 20] [--arch efficientnet_lite0 ...] [--detail-layer ARCH=LAYER ...]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCE = ROOT.parent / "shared" / "data" / "samples" / "chest-xray-fullres" / "PNEUMONIA" / "person1251_bacteria_3208.jpeg"
INPUT_SIZE = 224
BATCH_IMAGES, BATCH_SIZE = 32, 16


def _median_ms(fn, runs: int) -> float:  # noqa: D103
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return round(statistics.median(times), 2)


def measure(arch: str, runs: int, design_check: bool, detail_layer: str | None = None) -> dict:
    """Runs inside the child interpreter."""
    import torch

    from inference.architectures import build_model, default_cam_layer
    from inference.bundle import write_bundle
    from inference.cam import compute_cam
    from inference.image_io import load_image
    from inference.predictor import Predictor
    from tests.helpers.tiny_models import tiny_card

    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        model = build_model(arch, 2)
        safe_name = arch.replace("+", "-and-").replace("|views=", "-views-").replace(",", "-")
        card = tiny_card(arch, ["NORMAL", "PNEUMONIA"], size=INPUT_SIZE, name=f"bench-{safe_name}",
                         version="untrained")
        card["cam"] = {"target_layer": default_cam_layer(arch)}
        if detail_layer:
            card["cam"]["detail_layer"] = detail_layer
        bundle_dir = write_bundle(Path(tmp) / safe_name, model.state_dict(), card)
        del model

        t0 = time.perf_counter()
        predictor = Predictor(bundle_dir, device="cpu")
        first_load_ms = (time.perf_counter() - t0) * 1000.0
        load_ms = _median_ms(lambda: Predictor(bundle_dir, device="cpu"), 5)

        image = load_image(SOURCE)
        predictor.warm_up("gradcam")
        for _ in range(3):
            predictor.predict(image, cam_method=None)
            predictor.predict(image, cam_method="gradcam")

        def two_pass():
            tensor = predictor.preprocess(image)
            with torch.inference_mode():
                predictor.model(tensor)
            compute_cam(predictor.model, tensor, predictor.cam_layer, "gradcam", detail_layer=detail_layer)

        def one_pass():
            compute_cam(predictor.model, predictor.preprocess(image), predictor.cam_layer, "gradcam",
                        detail_layer=detail_layer)

        # Interleaved, so that load from other processes hits every variant alike.
        variants = {"predict": lambda: predictor.predict(image, cam_method=None),
                    "predict_gradcam": lambda: predictor.predict(image, cam_method="gradcam"),
                    "one_pass": one_pass, "two_pass": two_pass}
        if not design_check:
            del variants["one_pass"], variants["two_pass"]
        times: dict[str, list[float]] = {k: [] for k in variants}
        cpu_times: dict[str, list[float]] = {k: [] for k in variants}
        forward, split = [], []
        for _ in range(runs):
            for name, fn in variants.items():
                t0, c0 = time.perf_counter(), time.process_time()
                out = fn()
                times[name].append((time.perf_counter() - t0) * 1000.0)
                cpu_times[name].append((time.process_time() - c0) * 1000.0)
                if name == "predict":
                    forward.append(out.timings_ms["predict"])
                elif name == "predict_gradcam":
                    split.append(out.timings_ms)
        med = {k: round(statistics.median(v), 2) for k, v in times.items()}
        best = {k: round(min(v), 2) for k, v in times.items()}
        cpu = {k: round(statistics.median(v), 2) for k, v in cpu_times.items()}

        images = [image] * BATCH_IMAGES
        predictor.predict_batch(images[:BATCH_SIZE], batch_size=BATCH_SIZE)
        t0 = time.perf_counter()
        predictor.predict_batch(images, batch_size=BATCH_SIZE)
        throughput = BATCH_IMAGES / (time.perf_counter() - t0)

    return {
        "arch": arch,
        "cam_layers": [predictor.cam_layer] + ([detail_layer] if detail_layer else []),
        "parameters": sum(p.numel() for p in predictor.model.parameters()),
        "weights_bytes": predictor.bundle.card["weights"]["bytes"],
        "load_ms_first": round(first_load_ms, 1),
        "load_ms_median": load_ms,
        "predict_ms_median": med["predict"],
        "predict_ms_min": best["predict"],
        "predict_forward_only_ms_median": round(statistics.median(forward), 2),
        "predict_gradcam_ms_median": med["predict_gradcam"],
        "predict_gradcam_ms_min": best["predict_gradcam"],
        "predict_gradcam_split_ms_median": {k: round(statistics.median(t[k] for t in split), 2)
                                            for k in ("preprocess", "predict", "cam")},
        "cam_design_check_ms_median": ({"one_pass_cam_and_logits": med["one_pass"],
                                        "two_pass_forward_then_cam": med["two_pass"]} if design_check else None),
        # CPU time summed over this process's threads: unlike wall time, barely affected by other processes
        # competing for the cores; with N torch threads, wall time on an idle machine is at least cpu/N.
        "cpu_time_ms_median": cpu,
        "batch_throughput_images_per_s": round(throughput, 2),
        "batch": {"images": BATCH_IMAGES, "batch_size": BATCH_SIZE, "cam": False},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--arch", nargs="*", default=None)
    parser.add_argument("--design-check", nargs="*", default=["efficientnet_lite0"],
                        help="architectures for which the one-pass vs two-pass CAM design is also timed")
    parser.add_argument("--detail-layer", nargs="*", default=["efficientnet_lite0=_blocks.10"], metavar="ARCH=LAYER",
                        help="CAM detail layer per architecture (the heatmap is the product of both layers' maps)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # the last "=": an architecture with views has one in its name, a layer name never does
    detail_layers = dict(item.rsplit("=", 1) for item in args.detail_layer)
    if args.child:
        print(json.dumps(measure(args.child, args.runs, args.child in args.design_check,
                                 detail_layers.get(args.child))))
        return

    from inference.vocabulary import ARCHITECTURES

    archs = args.arch or list(ARCHITECTURES)
    load_before = os.getloadavg()[0]
    results = []
    for arch in archs:
        done = subprocess.run([sys.executable, __file__, "--child", arch, "--runs", str(args.runs),
                               "--design-check", *args.design_check, "--detail-layer", *args.detail_layer],
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            results.append({"arch": arch, "error": done.stderr.strip().splitlines()[-1:]})
        else:
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # partial results while the rest runs
    from PIL import Image

    with Image.open(SOURCE) as img:
        size = img.size
    print(json.dumps({
        "benchmark": "predict",
        "device": "cpu",
        "weights": "untrained (seeded random init): timing only, probabilities meaningless",
        "input_size": INPUT_SIZE,
        "image": {"file": str(SOURCE.relative_to(ROOT.parent)), "width": size[0], "height": size[1]},
        "runs": args.runs,
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
        "statistic": "median",
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
