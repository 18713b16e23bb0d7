"""`xrayview-train`: train a classifier on local folders and write a validated model bundle.

Every option is a flag and a recipe key (training.option_table); `--recipe FILE [--set KEY=VALUE]` replays a recipe
file (training.recipe), e.g. `xrayview-train --recipe training/recipes/chest-xray-pneumonia.toml --out DIR`.
Progress goes to stderr (tqdm); the last line on stdout is one JSON summary (strict JSON). Exit status: 0 bundle
written, 2 expected failure (one line on stderr: bad data, a bad recipe, existing --out without --overwrite, ...),
3 internal error (a bug; traceback on stderr), 130 interrupted (resume with --resume).
Data-parallel: `torchrun --nproc_per_node=N -m training.cli_train ...` (the same stages on every rank).
"""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from inference.errors import XRayViewError
from inference.json_output import dumps

EXIT_EXPECTED_FAILURE, EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED = 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    from training.option_table import OPTIONS, add_options

    p = argparse.ArgumentParser(prog="xrayview-train", description=__doc__.split("\n\n")[0])
    recipe = p.add_argument_group("recipe")
    recipe.add_argument("--recipe", type=Path, metavar="FILE",
                        help="a recipe file (TOML: one table per option group, one key per flag; e.g. "
                             "training/recipes/chest-xray-pneumonia.toml); the flags given override it")
    recipe.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one recipe key (the flag without its dashes: --set epochs=1; an empty VALUE "
                             "restores the default; a list as KEY='[\"a\", \"b\"]'); repeatable")
    add_options(p, OPTIONS, suppress_defaults=True)
    return p


def resolve_run(args: argparse.Namespace, parser: argparse.ArgumentParser, argv: list[str] | None):
    """(RunOptions, every option's value) from the recipe, the flags and --set. A bad --set or a missing --data/--out
    is a usage error (exit 2 with the usage); a bad recipe file is a RecipeError."""
    from training.export import command_line
    from training.option_table import OPTIONS, REQUIRED, OptionError, given_values, run_options
    from training.recipe import resolve

    try:
        values, record = resolve(args.recipe, given_values(args, OPTIONS), args.set)
    except OptionError as exc:
        parser.error(str(exc))
    missing = [f"--{name}" for name in REQUIRED if values.get(name) is None]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)} (as flags or in the recipe)")
    # a value that cannot be used (an unreadable card-extra file, options that exclude each other) is an expected
    # failure like bad data: OptionError, exit 2
    return run_options(values, command=command_line(argv), recipe=record), values


class _ProgressBar:
    """tqdm on stderr: one bar for decoding, then one per epoch; epoch results as bar postfix/lines."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def _new(self, total: int, desc: str):
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True, leave=False)

    def __call__(self, event) -> None:
        if not self.enabled:
            return
        from training import events

        if isinstance(event, events.DecodeProgress):
            if self.bar is None or self.bar.desc != "reading images":
                self._new(event.total, "reading images")
            self.bar.n = event.done
            self.bar.refresh()
        elif isinstance(event, events.DatasetReported):
            self.close()
            print(event.report.to_text(), file=sys.stderr)
        elif isinstance(event, events.BatchDone):
            desc = f"epoch {event.epoch}/{event.epochs}"
            if self.bar is None or self.bar.desc != desc:
                self._new(event.batches, desc)
            self.bar.n = event.batch
            self.bar.set_postfix(loss=f"{event.loss:.4f}", eta=f"{event.eta_s / 60:.1f}min", refresh=False)
            self.bar.refresh()
        elif isinstance(event, events.EpochDone):
            self.close()
            print(f"epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f}, "
                  f"val loss {event.val_loss:.4f}, val {'AUC' if event.score_name == 'val_auc' else 'accuracy'} "
                  f"{event.val_score:.4f}{' (best)' if event.best else ''}, {event.seconds:.0f}s, "
                  f"ETA {event.eta_s / 60:.1f} min", file=sys.stderr)
            for name, scores in event.external.items():
                print(f"  external {name}: AUC {scores['auc']:.4f}, at this epoch's validation threshold "
                      f"{scores['threshold']:.3f}: accuracy {scores['accuracy']:.3f}, sensitivity "
                      f"{scores['sensitivity']:.3f}, specificity {scores['specificity']:.3f}", file=sys.stderr)
        elif isinstance(event, events.TrainingResumed):
            print(f"resumed after epoch {event.epoch}/{event.epochs}", file=sys.stderr)
        elif isinstance(event, (events.StageStarted, events.StageSkipped)):
            self.close()
            print(f"stage: {event.stage.value}" + (f" (skipped: {event.reason})"
                                                   if isinstance(event, events.StageSkipped) else ""),
                  file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from training import distributed

    bar = None
    try:
        from inference.device import resolve_device
        from training.pipeline import run_training

        run, values = resolve_run(args, parser, argv)
        device = distributed.process_device(resolve_device(values["device"]))
        if distributed.launched_by_torchrun():
            run.data.decode_workers = 0  # every rank reads the images itself: no decoder processes on top
        bar = _ProgressBar(enabled=not values["quiet"] and distributed.rank() == 0)
        outcome = run_training(run, device, progress=bar)
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
