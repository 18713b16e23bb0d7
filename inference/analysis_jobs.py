"""The viewer's AI jobs as plain functions (no Qt): loading a model, one image's prediction with its coloured
heatmap and audit record, and a folder run. Each takes `progress=` and `cancel=` (a threading.Event) like every
long-running function here; desktop.analysis_controller runs them on worker threads (desktop.workers.Job).

torch and inference.predictor are imported inside the functions: the viewer imports this module before torch is
loaded, and the functions run on worker threads.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

UnexpectedErrorHandler = Callable[[BaseException, str], None]  # (error, what was being done)


class Cancelled(Exception):
    """Raised when `cancel` was set: the caller no longer wants the outcome."""


@dataclass(frozen=True)
class HeatmapLayer:
    """A prediction's heatmap coloured with `colormap` (HxWx4 uint8), made on the worker thread."""

    colormap: str
    rgba: Any


@dataclass(frozen=True)
class ImageAnalysis:
    """What one image's prediction job gives back."""

    prediction: Any  # inference.results.Prediction
    layer: HeatmapLayer | None  # None: no heatmap, or the job was cancelled before colouring it
    audit_error: str  # "" or why the audit record could not be written


def _leave_a_core_for_the_gui() -> None:
    """torch would use every core; the GUI thread needs one to keep painting while the model runs."""
    import torch

    from inference.device import usable_cpu_count

    torch.set_num_threads(max(1, usable_cpu_count() - 1))


def load_predictor(bundle_dir: str | Path, device_name: str, cam_method: str | None, *, progress, cancel):
    """Bundle + device + Predictor + one warm-up run (this is where torch gets imported, and the CAM library too,
    so the user's first image is not the slow one)."""
    from inference.predictor import Predictor

    progress(0, 2, "building model")
    predictor = Predictor(Path(bundle_dir), device_name)
    if predictor.device.type == "cpu":
        _leave_a_core_for_the_gui()
    if cancel.is_set():
        raise Cancelled()
    progress(1, 2, "warming up")
    predictor.warm_up(cam_method)
    return predictor


def predict_image(predictor, image, cam_method: str | None, colormap: str, *, progress, cancel,
                  show_anyway: bool = False, audit_policy: str = "full",
                  on_unexpected: UnexpectedErrorHandler | None = None) -> ImageAnalysis:
    """Prediction plus its coloured heatmap layer and its audit record, all made here so the GUI thread only has
    to show them. `show_anyway` is the expert setting in force (the audit record says so)."""
    if cancel.is_set():
        raise Cancelled()
    prediction = predictor.predict(image, cam_method=cam_method)
    layer = None
    if prediction.heatmap is not None and not cancel.is_set():
        from inference.overlay import heatmap_rgba

        layer = HeatmapLayer(colormap, heatmap_rgba(prediction.heatmap, colormap))
    audit_error = record_in_audit_log(prediction, image=image, origin="viewer", show_anyway=show_anyway,
                                      policy=audit_policy, on_unexpected=on_unexpected)
    return ImageAnalysis(prediction, layer, audit_error)


def record_in_audit_log(prediction, *, image=None, path: Path | None = None, origin: str,
                        show_anyway: bool = False, policy: str = "full",
                        on_unexpected: UnexpectedErrorHandler | None = None) -> str:
    """One audit record per result shown (the audit log fsyncs: worker threads only). Returns "" or the reason
    the record could not be written; a failed write never loses the result itself. `policy`: what the record
    keeps of the file name ("full" path or "folder" only; inference.audit). An error that is neither ours nor
    the file system's also goes to `on_unexpected` (the viewer logs it with its traceback)."""
    from inference import audit
    from inference.errors import XRayViewError

    try:
        if image is not None:
            audit.append_ai_result_for_image(prediction, image, origin=origin, show_anyway=show_anyway,
                                             source_path_policy=policy)
        else:
            audit.append_ai_result(prediction, source_path=path, origin=origin, show_anyway=show_anyway,
                                   source_path_policy=policy)
    except Exception as error:  # noqa: BLE001 - audit trouble is reported, the prediction still stands
        if not isinstance(error, (XRayViewError, OSError)) and on_unexpected is not None:
            on_unexpected(error, "writing the AI audit log")
        return f"AI audit log not written: {error}"
    return ""


def analyze_paths(predictor, paths: list[Path], *, progress, cancel, show_anyway: bool = False,
                  audit_policy: str = "full", on_unexpected: UnexpectedErrorHandler | None = None) -> list[dict]:
    """Folder analysis through Predictor.predict_paths: one row per file (prediction, or the reason it failed),
    reported through `progress` as each file is done; a bad file never stops the run."""
    rows = []
    total = len(paths)
    for result in predictor.predict_paths(paths, cancel=cancel, cam_method=None, batch_size=4, keep_images=True):
        row = {"path": Path(result.path), "prediction": result.prediction, "error": _row_error(result),
               "reason": _row_reason(result), "analysed_utc": _utc_now(),
               "metadata": dict(getattr(result.image, "metadata", None) or {})}  # for de-identified CSV export
        if result.prediction is not None:
            row["audit_error"] = record_in_audit_log(result.prediction, image=result.image, path=Path(result.path),
                                                     origin="batch", show_anyway=show_anyway, policy=audit_policy,
                                                     on_unexpected=on_unexpected)
        result.image = None  # only the metadata is kept: a large folder must not hold every image in memory
        rows.append(row)
        progress(len(rows), total, row)
    if cancel.is_set():
        raise Cancelled()
    return rows


def _utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _row_reason(result) -> str:
    """Why the file failed, without the path the table already shows ("" for a good file)."""
    if result.error is None:
        return ""
    reason = getattr(result.error, "reason", None)
    return str(reason) if reason else f"could not be read ({type(result.error).__name__}: {result.error})"


def _row_error(result) -> str:
    """The core's typed errors already name the file; anything else gets the file name added."""
    from inference.errors import XRayViewError

    if result.error is None:
        return ""
    if isinstance(result.error, XRayViewError):
        return str(result.error)
    return f"{Path(result.path).name}: could not be read ({type(result.error).__name__}: {result.error})"
