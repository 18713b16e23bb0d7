"""`xrayview-predict PATH... [--model DIR] [--device auto|cpu|cuda|mps] [--cam METHOD] [--cam-out DIR]
[--threshold T] [--format jsonl|csv] [--recursive] [--show-ood-call] [--dicom-out DIR [--report] [--deidentify]]`

"label" is the call: null when the out-of-distribution guard warns (the image is unlike the training data; the
probabilities and "ood" are still printed), unless --show-ood-call asks for it anyway ("call_status":
"shown_anyway"). "near_threshold" is true when the call's log-odds lie within the model's measured moves of the
threshold (the card's call_margin: noise of one grey level or a JPEG re-save could turn it; read it as undecided),
null for a model whose card has no call margin.

One JSON object (or CSV row) per image on stdout, written as soon as the image is done: strict JSON in UTF-8 (a
file name that is not valid UTF-8 is shown with \\xNN escapes, its exact bytes in "path_bytes_hex"; no NaN).

--dicom-out DIR writes, per input DICOM, the result's SR and heatmap SC (and with --report the PDF report as an
Encapsulated PDF) into DIR, never over an existing file (inference.dicom_out); each record then has "dicom_out":
the paths written, or a "note" for a non-DICOM input. --report needs the viewer's PDF renderer, which the
installed `xrayview-predict` (desktop.cli_predict) plugs in.

Exit status:
    0    every image succeeded
    1    some images failed (each has its own "error" record; the others were processed)
    2    usage or setup error: bad arguments, no usable model bundle, unavailable device (reason on stderr)
    3    internal error: the tool itself crashed (a bug; message and traceback on stderr)
    130  interrupted (Ctrl+C)
"""
from __future__ import annotations

import argparse
import csv
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from inference.json_output import dumps, json_safe, path_fields
from inference.results import near_threshold_cell
from inference.vocabulary import CAM_METHODS, DEVICE_CHOICES

EXIT_OK, EXIT_IMAGE_FAILED, EXIT_USAGE, EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xrayview-predict",
        description="Classify radiographs with an XRayView model bundle (research and education only, "
                    "not for diagnostic use). Prints one JSON object per image.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files (DICOM, PNG, JPEG, TIFF) or folders")
    parser.add_argument("--model", metavar="DIR", help="model bundle folder (default: the bundled model)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="compute device (default auto)")
    parser.add_argument("--cam", metavar="METHOD", choices=CAM_METHODS, type=str.lower,
                        help=f"compute a class-activation heatmap: {', '.join(CAM_METHODS)}")
    parser.add_argument("--cam-out", metavar="DIR", type=Path,
                        help="write one heatmap overlay PNG per image into DIR (implies --cam gradcam)")
    parser.add_argument("--threshold", metavar="T", type=_probability,
                        help="operating threshold on P(positive label) instead of the model card's")
    parser.add_argument("--format", default="jsonl", choices=("jsonl", "csv"), help="output format (default jsonl)")
    parser.add_argument("--recursive", action="store_true", help="descend into sub-folders of folder arguments")
    parser.add_argument("--show-ood-call", action="store_true",
                        help="expert use: give the call even when the image is unlike the training data (the "
                             "out-of-distribution guard warned); such calls are marked call_status=shown_anyway")
    parser.add_argument("--dicom-out", metavar="DIR", type=Path,
                        help="write the AI result of each DICOM input as DICOM objects into DIR: Structured Report "
                             "and heatmap Secondary Capture in the image's study (implies --cam gradcam); never "
                             "overwrites a file")
    parser.add_argument("--report", action="store_true",
                        help="with --dicom-out: also the PDF report, as a DICOM Encapsulated PDF")
    parser.add_argument("--deidentify", action="store_true",
                        help="with --dicom-out: de-identify what is written (PS3.15 basic profile), the report too")
    parser.add_argument("--audit-path", default="full", choices=("full", "folder"),
                        help="what the audit log keeps of each file's name: the full path, or only its folder "
                             "(the file is identified by its SHA-256) for names that identify a patient")
    return parser


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside [0, 1]")
    return value


class _OverlayNamer:
    """Overlay file names in --cam-out: <stem>.<method>.png, made unique, never equal to any source file."""

    def __init__(self, out_dir: Path, sources: Sequence[Path], method: str):
        self.out_dir = out_dir
        self.method = method.replace("+", "p")
        self.taken = {self._key(p) for p in sources}

    @staticmethod
    def _key(path: Path) -> str:
        try:
            return str(path.resolve())
        except OSError:
            return str(path.absolute())

    def name_for(self, source: Path) -> Path:
        stem = source.name if source.suffix == "" else source.stem
        candidate = self.out_dir / f"{stem}.{self.method}.png"
        counter = 2
        while self._key(candidate) in self.taken:
            candidate = self.out_dir / f"{stem}-{counter}.{self.method}.png"
            counter += 1
        self.taken.add(self._key(candidate))
        return candidate


class _Writer:
    def __init__(self, stream: TextIO, fmt: str, labels: Sequence[str], *, dicom_out: bool = False):
        self.stream, self.fmt, self.labels = stream, fmt, list(labels)
        self.dicom_out = dicom_out  # one more CSV column, only when --dicom-out is given
        self.csv = None
        if fmt == "csv":
            self.csv = csv.writer(stream, lineterminator="\n")
            self.csv.writerow(["path", "label", "threshold", *[f"p_{label}" for label in self.labels], "device",
                               "model_name", "model_version", "model_sha256", "load_ms", "preprocess_ms",
                               "predict_ms", "cam_ms", "overlay", "notices", "error_type", "error_message",
                               "call_status", "ood_warning", "model_manifest_sha256", "near_threshold"]
                              + (["dicom_out"] if dicom_out else []))

    def write(self, record: dict[str, Any]) -> None:
        record = json_safe(record)
        if self.csv is None:
            self.stream.write(dumps(record) + "\n")
        else:
            row = self._row(record)
            if self.dicom_out:
                written = record.get("dicom_out") or {}
                row.append(written.get("note") or " | ".join(v for k, v in written.items() if k != "note"))
            self.csv.writerow(row)
        self.stream.flush()

    def _row(self, r: dict[str, Any]) -> list[Any]:
        if "error" in r:
            return [r["path"], "", "", *[""] * len(self.labels), "", "", "", "", "", "", "", "", "", "",
                    r["error"]["type"], r["error"]["message"], "", "", "", ""]
        t, m = r["timings_ms"], r["model"]
        ood = r.get("ood") or {}
        ood_text = "" if not ood else ("yes: " + "; ".join(ood.get("reasons") or []) if ood.get("warning") else "no")
        return [r["path"], r["label"] or "", "" if r["threshold"] is None else r["threshold"],
                *[r["probabilities"][label] for label in self.labels], r["device"], m["name"], m["version"],
                m["sha256"], *["" if t[k] is None else t[k] for k in ("load", "preprocess", "predict", "cam")],
                r.get("cam", {}).get("overlay", ""), " | ".join(r.get("notices", [])), "", "", r["call_status"],
                ood_text, m.get("manifest_sha256", ""), near_threshold_cell(r.get("near_threshold"))]


def _load_predictor(args: argparse.Namespace):
    from inference.bundle import load_bundle
    from inference.device import resolve_device
    from inference.errors import BundleError, DeviceUnavailableError
    from inference.predictor import Predictor, load_default_bundle

    try:
        device = resolve_device(args.device)
        bundle = load_bundle(args.model) if args.model else load_default_bundle()
        return Predictor(bundle, device=device, threshold=args.threshold)
    except (BundleError, DeviceUnavailableError, ValueError) as exc:
        raise _UsageError(str(exc)) from None


def _prepare_out_folder(folder: Path, option: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise _UsageError(f"{folder}: {option} must be a folder, and this is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _UsageError(f"{folder}: cannot create the {option} folder ({exc.strerror or exc})") from None


def run(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None, *,
        report_renderer: Callable[..., bytes] | None = None) -> int:
    """report_renderer(image, prediction, predictor, call, deidentify=...) -> PDF bytes, for --report."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return EXIT_USAGE if exc.code else EXIT_OK
    cam_method = args.cam or ("gradcam" if args.cam_out or args.dicom_out else None)
    try:
        if (args.report or args.deidentify) and args.dicom_out is None:
            raise _UsageError("--report and --deidentify go with --dicom-out DIR")
        if args.report and report_renderer is None:
            raise _UsageError("--report needs the viewer's PDF renderer: run the installed xrayview-predict "
                              "(python -m desktop.cli_predict)")
        if args.cam_out is not None:
            _prepare_out_folder(args.cam_out, "--cam-out")
        if args.dicom_out is not None:
            _prepare_out_folder(args.dicom_out, "--dicom-out")
        from inference.image_files import expand_paths

        files = expand_paths(args.paths, recursive=args.recursive)
        if not files:
            raise _UsageError("no image files found in " + ", ".join(args.paths))
        predictor = _load_predictor(args)
    except _UsageError as exc:
        print(f"xrayview-predict: error: {exc}", file=stderr)
        return EXIT_USAGE
    return _predict_all(predictor, files, args, cam_method, stdout, report_renderer)


def _write_dicom_out(predictor, result, args: argparse.Namespace, report_renderer) -> dict[str, str]:
    """The --dicom-out objects of one image; a failure raises DicomResultError or OSError."""
    from inference.dicom_out import write_dicom_results
    from inference.dicom_results import source_header

    prediction = result.prediction
    call = prediction.call(predictor.threshold, show_anyway=args.show_ood_call)
    report = None
    if args.report and source_header(result.image) is not None:
        report = report_renderer(result.image, prediction, predictor, call, deidentify=args.deidentify)
    return write_dicom_results(args.dicom_out, result.image, prediction, call=call, threshold=predictor.threshold,
                               report_pdf=report, deidentify=args.deidentify)


def _predict_all(predictor, files: list[Path], args: argparse.Namespace, cam_method: str | None,
                 stdout: TextIO, report_renderer=None) -> int:
    from inference.audit import append_ai_result_for_image
    from inference.errors import AuditLogError, DicomResultError
    from inference.overlay import save_overlay_png

    writer = _Writer(stdout, args.format, predictor.labels, dicom_out=args.dicom_out is not None)
    namer = _OverlayNamer(args.cam_out, files, cam_method) if args.cam_out is not None else None
    failed = False
    # keep_images: the audit record takes the SOP Instance UID from the loaded DICOM (one image at a time)
    for result in predictor.predict_paths(files, cam_method=cam_method, keep_images=True):
        record: dict[str, Any] = path_fields(result.path)
        if not result.ok:
            failed = True
            record["error"] = result.error_json()
            writer.write(record)
            continue
        record.update(result.prediction.to_json(show_anyway=args.show_ood_call))
        try:  # every AI result goes to the append-only audit log
            append_ai_result_for_image(result.prediction, result.image, origin="cli",
                                       show_anyway=args.show_ood_call, source_path_policy=args.audit_path)
        except AuditLogError as exc:
            failed, record["error"] = True, {"type": type(exc).__name__, "message": str(exc)}
        if namer is not None and result.prediction.heatmap is not None:
            target = namer.name_for(result.path)
            try:
                save_overlay_png(target, result.image.render(), result.prediction.heatmap)
                record["cam"]["overlay"] = str(target)
            except OSError as exc:
                failed = True
                record["error"] = {"type": "OverlayWriteError",
                                   "message": f"{target}: cannot write the overlay PNG ({exc.strerror or exc})"}
        if args.dicom_out is not None:
            try:
                record["dicom_out"] = _write_dicom_out(predictor, result, args, report_renderer)
            except DicomResultError as exc:
                failed, record["error"] = True, {"type": type(exc).__name__, "message": str(exc)}
            except OSError as exc:
                failed = True
                record["error"] = {"type": "DicomWriteError", "message": f"{args.dicom_out}: cannot write the "
                                                                         f"DICOM objects ({exc.strerror or exc})"}
        writer.write(record)
    return EXIT_IMAGE_FAILED if failed else EXIT_OK


def main(argv: Sequence[str] | None = None, *, report_renderer: Callable[..., bytes] | None = None) -> None:
    try:
        code = run(argv, report_renderer=report_renderer)
    except KeyboardInterrupt:
        print("xrayview-predict: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into `head`
        code = 0
    except Exception as exc:  # noqa: BLE001 - a bug: say so, distinctly from "some images failed"
        print(f"xrayview-predict: internal error (this is a bug, please report it): {type(exc).__name__}: {exc}",
              file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        code = EXIT_INTERNAL_ERROR
    sys.exit(code)


if __name__ == "__main__":
    main()
