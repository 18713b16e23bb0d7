"""`xrayview-train`: train a classifier on local folders and write a validated model bundle.

Progress goes to stderr (tqdm); the last line on stdout is one JSON summary (strict JSON). Exit status: 0 bundle
written, 2 expected failure (one line on stderr: bad data, existing --out without --overwrite, ...), 3 internal
error (a bug; traceback on stderr), 130 interrupted (resume with --resume).
Data-parallel: `torchrun --nproc_per_node=N -m training.cli_train ...`.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from inference.errors import XRayViewError
from inference.json_output import dumps

EXIT_EXPECTED_FAILURE, EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED = 2, 3, 130


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three comma-separated numbers, got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three comma-separated numbers, got {text!r}")
    return parts  # type: ignore[return-value]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _image_size(text: str) -> int:
    value = _positive_int(text)
    if not 16 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"must be between 16 and 4096 pixels, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def _named_folder(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name.strip(), Path(folder.strip())


def build_parser() -> argparse.ArgumentParser:
    from inference.model_card import RESIZE_MODES
    from inference.vocabulary import ARCHITECTURES

    p = argparse.ArgumentParser(prog="xrayview-train", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = p.add_argument_group("data")
    data.add_argument("--data", type=Path, required=True,
                      help="ROOT/CLASS/* (splits are made) or ROOT/{train,val,test}/CLASS/*")
    data.add_argument("--val", type=Path, help="explicit validation folder DIR/CLASS/*")
    data.add_argument("--test", type=Path, help="explicit test folder DIR/CLASS/*")
    data.add_argument("--split", type=_fractions, default=(0.8, 0.1, 0.1), metavar="TRAIN,VAL,TEST",
                      help="fractions for the splits the tool makes")
    data.add_argument("--group-regex", help="regex whose group 'patient' (or group 1) names the patient in a "
                                            "file name; default: Kermany names (personNNNN_, IM-NNNN-)")
    data.add_argument("--limit-per-class", type=_positive_int, help="use at most N images per class and split (quick runs)")
    data.add_argument("--img-size", type=_image_size, default=224, help="model input height and width")
    data.add_argument("--resize-mode", choices=RESIZE_MODES, default="squash")
    data.add_argument("--per-image-norm", action="store_true",
                      help="standardise each image by its own mean and std instead of fixed values, so a "
                           "brightness offset or contrast change of the whole film leaves the model input as it is")
    data.add_argument("--external-selected-on", metavar="TEXT",
                      help="what was chosen by looking at the --external sets' numbers (e.g. 'the recipe among 17 "
                           "candidates and the threshold rule'): the card then calls them selection sets, not "
                           "independent external validation")
    data.add_argument("--low-pass-sigma", type=float, default=0.0, metavar="PX",
                      help="fixed Gaussian low-pass (sigma in model-input pixels) before the normalisation, in "
                           "training and inference alike (card input.normalisation.low_pass_sigma): takes away the "
                           "finest detail, where a full-resolution film and its resized copy, noise and JPEG differ")
    data.add_argument("--workers", type=int, default=None, help="image decoding processes (default: CPU cores)")
    data.add_argument("--dataset-name", help="name of the data for the model card")
    data.add_argument("--licence", help="licence of the data for the model card")
    data.add_argument("--attribution", help="attribution of the data for the model card")
    data.add_argument("--external", type=_named_folder, action="append", default=[], metavar="NAME=DIR",
                      help="a labelled folder DIR/CLASS/* from elsewhere: measured after every epoch and on the final "
                           "model (history, card's external_validation); never used for weights, threshold or "
                           "temperature (repeatable)")

    model = p.add_argument_group("model and optimisation")
    model.add_argument("--arch", default="efficientnet_lite0", choices=ARCHITECTURES)
    model.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=None,
                       help="start from local ImageNet weights (default: on for efficientnet_lite0)")
    model.add_argument("--pretrained-path", help="local state-dict file to start from")
    model.add_argument("--epochs", type=_positive_int, default=10)
    model.add_argument("--batch-size", type=_positive_int, default=32)
    model.add_argument("--lr", type=_positive_float, default=1e-3)
    model.add_argument("--weight-decay", type=float, default=1e-2)
    model.add_argument("--schedule", choices=("cosine", "onecycle"), default="cosine")
    model.add_argument("--warmup-epochs", type=float, default=1.0)
    model.add_argument("--imbalance", choices=("weighted_loss", "sampler", "none"), default="weighted_loss")
    model.add_argument("--label-smoothing", type=float, default=0.0)
    model.add_argument("--ema-epochs", type=float, default=1.0,
                       help="weight-EMA horizon in epochs (0 = off); the exported weights are the EMA")
    model.add_argument("--patience", type=int, default=5, help="early stopping after N epochs without a better "
                                                                "validation AUC (0 = off)")
    model.add_argument("--seed", type=int, default=0)
    model.add_argument("--lung-focus", type=float, default=0.0, metavar="WEIGHT",
                       help="chest models: add WEIGHT x the Grad-CAM share outside a lung-field atlas (built from "
                            "the training split's normal images) to the loss, so heatmaps point at the lungs")
    model.add_argument("--map-specificity", type=float, default=0.0, metavar="WEIGHT",
                       help="with --lung-focus: add WEIGHT x the mean correlation between the pneumonia heatmaps "
                            "of different films in a batch that the augmentation mirrored alike (inside each film's "
                            "lung prior), so the map follows the film instead of a fixed spot")
    model.add_argument("--map-focus", type=float, default=0.0, metavar="WEIGHT",
                       help="with --lung-focus: add WEIGHT x how much of the frame the pneumonia heatmap fills "
                            "(mean / max of the map), so the map picks out the part of the film that decides the "
                            "call instead of covering a whole lung")
    model.add_argument("--linear-probe", action="store_true",
                       help="start fine-tuning from a logistic-regression head fitted on the frozen pretrained "
                            "features (LP-FT: keeps more of what the pretrained network knew)")
    model.add_argument("--wise", type=_fraction, default=1.0, metavar="ALPHA",
                       help="export start + ALPHA x (fine-tuned - start), BatchNorm statistics included (WiSE-FT; "
                            "1 = the fine-tuned weights); validation and best-epoch choice use the exported weights")
    model.add_argument("--cutmix", type=float, default=0.0, metavar="P",
                       help="share of batches with CutMix (a box of another film pasted in, labels weighted by "
                            "area): evidence that follows the film, so the heatmap does too")
    model.add_argument("--consistency", type=float, default=0.0, metavar="WEIGHT",
                       help="adds WEIGHT x the Jensen-Shannon divergence between the probabilities of each film and a "
                            "degraded second view of it (noise, JPEG, resampling with a random filter, 8-bit "
                            "rounding): the same film must get the same answer (training.consistency; AugMix used 12)")
    model.add_argument("--consistency-noise", type=float, default=2.0 / 255.0, metavar="STD",
                       help="second views: Gaussian noise std up to this (0..1 range; default 2 grey levels)")
    model.add_argument("--consistency-jpeg-min", type=int, default=70, metavar="Q",
                       help="second views: JPEG round trip at a quality from Q to 95 on half of them (0 = off)")
    model.add_argument("--consistency-rescale", type=float, default=0.25, metavar="R",
                       help="second views: down by up to 1+R with a random filter and back up, on half of them")
    model.add_argument("--consistency-fraction", type=_fraction, default=1.0, metavar="F",
                       help="share of each batch's films that get a second view (the cost of a batch grows by F)")
    model.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    model.add_argument("--no-amp", action="store_true", help="disable mixed precision on GPU")

    aug = p.add_argument_group("augmentation (chest defaults)")
    aug.add_argument("--no-augment", action="store_true")
    aug.add_argument("--rotation", type=float, default=10.0, help="max degrees")
    aug.add_argument("--shift", type=float, default=0.06, help="max fraction of the size")
    aug.add_argument("--zoom", type=float, default=0.10, help="scale in [1-z, 1+z]")
    aug.add_argument("--shear", type=float, default=5.0, help="max degrees")
    aug.add_argument("--brightness", type=float, default=0.10)
    aug.add_argument("--contrast", type=float, default=0.15)
    aug.add_argument("--hflip", type=float, default=0.5, help="probability")
    aug.add_argument("--vflip", type=float, default=0.0, help="probability (off for chest X-rays)")
    aug.add_argument("--aspect", type=float, default=0.0,
                     help="aspect-ratio jitter: width/height stretched by up to 1+A either way")
    aug.add_argument("--downscale", type=float, default=0.0,
                     help="resolution jitter: down by a factor up to 1+D, then back up")
    aug.add_argument("--blur", type=float, default=0.0, help="Gaussian blur up to this sigma (px) on half the images")
    aug.add_argument("--sharpen", type=float, default=0.0, help="unsharp-mask amount up to this on the other half")
    aug.add_argument("--gamma", type=float, default=0.0, help="gamma jitter: up to 1+G either way")
    aug.add_argument("--noise", type=float, default=0.0, help="additive Gaussian noise, std up to this (0..1 range)")
    aug.add_argument("--jpeg-quality-min", type=int, default=0,
                     help="JPEG round trip at a quality from this to 95 on half the images (0 = off)")

    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True,
                     help="bundle folder; an existing one is refused unless --overwrite")
    out.add_argument("--overwrite", action="store_true",
                     help="if --out exists, move it aside to OUT.previous-<time> (kept, never deleted) once the "
                          "new bundle is valid")
    out.add_argument("--work-dir", type=Path, help="checkpoint folder (default: OUT.partial)")
    out.add_argument("--resume", action="store_true", help="continue from the checkpoint in the work folder")
    out.add_argument("--name", help="model name for the card (default: the --out folder name)")
    out.add_argument("--model-version", default="1.0.0")
    out.add_argument("--description")
    out.add_argument("--positive-label", help="the finding class of a binary model (default: the non-normal one)")
    threshold = out.add_mutually_exclusive_group()
    threshold.add_argument("--target-sensitivity", type=_fraction,
                           help="choose the threshold for this validation sensitivity (default: Youden's J)")
    threshold.add_argument("--miss-cost", type=_positive_float, metavar="C",
                           help="threshold 1/(1+C) on the calibrated P(positive): a missed finding costs C false "
                                "alarms (robust to noisy positive labels in validation, which drag a target-"
                                "sensitivity threshold down)")
    out.add_argument("--limitation", action="append", default=[], help="a limitation for the card (repeatable)")
    out.add_argument("--experimental", action="store_true", help="flag the model experimental in its card")
    out.add_argument("--card-extra", type=Path, help="JSON file whose keys are merged into the model card")
    out.add_argument("--tta", action="store_true", help="also report test metrics with horizontal-flip TTA")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _config_from_args(args):
    from training.augment import AugmentConfig
    from training.consistency import DegradeConfig
    from training.trainer import TrainConfig

    augment = AugmentConfig.none() if args.no_augment else AugmentConfig(
        rotation_deg=args.rotation, shift_frac=args.shift, zoom_range=args.zoom, shear_deg=args.shear,
        brightness=args.brightness, contrast=args.contrast, hflip_prob=args.hflip, vflip_prob=args.vflip,
        aspect=args.aspect, downscale=args.downscale, blur_sigma=args.blur, sharpen=args.sharpen, gamma=args.gamma,
        noise=args.noise, jpeg_quality_min=args.jpeg_quality_min)
    from inference.vocabulary import ARCHITECTURE_INFO

    info = ARCHITECTURE_INFO.get(args.arch)  # by default, start from ImageNet weights where XRayView ships them
    pretrained = args.pretrained if args.pretrained is not None else bool(info and info.pretrained_weights)
    return TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs, schedule=args.schedule,
                       imbalance=args.imbalance, label_smoothing=args.label_smoothing, ema_epochs=args.ema_epochs,
                       early_stopping_patience=args.patience, seed=args.seed,
                       pretrained=bool(pretrained and not args.pretrained_path),
                       pretrained_path=args.pretrained_path, amp=not args.no_amp, augment=augment,
                       lung_focus=args.lung_focus,
                       map_specificity=args.map_specificity, map_focus=args.map_focus,
                       linear_probe=args.linear_probe, wise_alpha=args.wise,
                       cutmix=args.cutmix, consistency=args.consistency,
                       consistency_views=DegradeConfig(noise=args.consistency_noise,
                                                       jpeg_quality_min=args.consistency_jpeg_min,
                                                       rescale=args.consistency_rescale,
                                                       fraction=args.consistency_fraction))


class _ProgressBar:
    """tqdm on stderr: one bar for decoding, then one per epoch; epoch results as bar postfix/lines."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def _new(self, total: int, desc: str):
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True, leave=False)

    def __call__(self, event: dict) -> None:
        if not self.enabled:
            return
        kind = event.get("event")
        if kind == "decode":
            if self.bar is None or self.bar.desc != "reading images":
                self._new(event["total"], "reading images")
            self.bar.n = event["done"]
            self.bar.refresh()
        elif kind == "report":
            self.close()
            from training.report import DatasetReport

            print(DatasetReport(**event["report"]).to_text(), file=sys.stderr)
        elif kind == "batch":
            desc = f"epoch {event['epoch']}/{event['epochs']}"
            if self.bar is None or self.bar.desc != desc:
                self._new(event["batches"], desc)
            self.bar.n = event["batch"]
            self.bar.set_postfix(loss=f"{event['loss']:.4f}", eta=f"{event['eta_s'] / 60:.1f}min", refresh=False)
            self.bar.refresh()
        elif kind == "epoch":
            self.close()
            score = event.get("val_auc", event.get("val_accuracy"))
            print(f"epoch {event['epoch']}/{event['epochs']}: train loss {event['train_loss']:.4f}, "
                  f"val loss {event['val_loss']:.4f}, val AUC {score:.4f}"
                  f"{' (best)' if event['best'] else ''}, {event['seconds']:.0f}s, "
                  f"ETA {event['eta_s'] / 60:.1f} min", file=sys.stderr)
            for name, scores in (event.get("external") or {}).items():
                print(f"  external {name}: AUC {scores['auc']:.4f}, at this epoch's validation threshold "
                      f"{scores['threshold']:.3f}: accuracy {scores['accuracy']:.3f}, sensitivity "
                      f"{scores['sensitivity']:.3f}, specificity {scores['specificity']:.3f}", file=sys.stderr)
        elif kind == "resumed":
            print(f"resumed after epoch {event['epoch']}/{event['epochs']}", file=sys.stderr)
        elif kind == "stage":
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from training import distributed

    bar = None
    try:
        from inference.device import resolve_device
        from training.export import command_line
        from training.pipeline import DataOptions, ExportOptions, run_training

        device = resolve_device(args.device)
        distributed.init_if_needed(device.type)
        if device.type == "cuda" and distributed.launched_by_torchrun():
            import torch

            device = torch.device("cuda", distributed.local_rank())
            torch.cuda.set_device(device)
        if distributed.launched_by_torchrun():
            import torch

            # share the cores between the processes instead of oversubscribing them
            from inference.device import usable_cpu_count

            torch.set_num_threads(max(1, usable_cpu_count() // distributed.world_size()))
        card_extra = {}
        if args.card_extra is not None:
            try:
                card_extra = json.loads(args.card_extra.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise XRayViewError(f"{args.card_extra}: cannot read the --card-extra JSON ({exc})") from None
            if not isinstance(card_extra, dict):
                raise XRayViewError(f"{args.card_extra}: --card-extra must hold a JSON object")
        config = _config_from_args(args)
        data = DataOptions(data=args.data, val=args.val, test=args.test, fractions=args.split,
                           group_regex=args.group_regex, limit_per_class=args.limit_per_class,
                           img_size=args.img_size, resize_mode=args.resize_mode, per_image_norm=args.per_image_norm,
                           low_pass_sigma=args.low_pass_sigma, external_selected_on=args.external_selected_on,
                           dataset_name=args.dataset_name,
                           licence=args.licence, attribution=args.attribution, external=args.external,
                           decode_workers=0 if distributed.launched_by_torchrun() else args.workers)
        export = ExportOptions(out=args.out, name=args.name, version=args.model_version,
                               description=args.description, positive_label=args.positive_label,
                               target_sensitivity=args.target_sensitivity, miss_cost=args.miss_cost,
                               limitations=args.limitation,
                               experimental=args.experimental, card_extra=card_extra, command=command_line(argv),
                               tta_report=args.tta, overwrite=args.overwrite)
        bar = _ProgressBar(enabled=not args.quiet and distributed.rank() == 0)
        outcome = run_training(config, data, export, device, work_dir=args.work_dir, resume=args.resume,
                               progress=bar)
        bar.close()
        if outcome is not None:
            print(dumps(outcome.summary, ensure_ascii=True), flush=True)
        return 0
    except (XRayViewError, OSError) as exc:  # OSError: e.g. no permission or no space for the bundle
        if bar is not None:
            bar.close()
        print(f"xrayview-train: error: {exc}", file=sys.stderr)
        return EXIT_EXPECTED_FAILURE
    except KeyboardInterrupt:
        print("xrayview-train: interrupted; run again with --resume to continue from the last epoch",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a bug: distinct from an expected failure (2)
        if bar is not None:
            bar.close()
        print(f"xrayview-train: internal error (this is a bug, please report it): {type(exc).__name__}: {exc}",
              file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    sys.exit(main())
