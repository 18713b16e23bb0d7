"""Owns the loaded model and every AI job: model loading, single-image predictions (latest request wins) and
folder analysis. torch and inference.predictor are imported on worker threads only, after the window is shown.

Stale results: each prediction request gets an id and belongs to a slot (a viewport: each keeps its own
result); a result is delivered only if its id is still its slot's current one, so an image opened while the
previous prediction runs never shows the previous image's result, and two viewports never take each other's.
Model use is serialised by the Predictor's own lock (Grad-CAM hooks are per model), so jobs queue on worker
threads, never on the GUI thread.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop.workers import Job, JobCancelled


def _leave_a_core_for_the_gui() -> None:
    """torch would use every core; the GUI thread needs one to keep painting while the model runs."""
    import torch

    from inference.device import usable_cpu_count

    torch.set_num_threads(max(1, usable_cpu_count() - 1))


def load_predictor(bundle_dir: str, device_name: str, cam_method: str | None, *, progress, cancel):
    """Worker-thread function: bundle + device + Predictor + one warm-up run (this is where torch gets imported,
    and the CAM library too, so the user's first image is not the slow one)."""
    from inference.predictor import Predictor

    progress(0, 2, "building model")
    predictor = Predictor(Path(bundle_dir), device_name)
    if predictor.device.type == "cpu":
        _leave_a_core_for_the_gui()
    if cancel.is_set():
        raise JobCancelled()
    progress(1, 2, "warming up")
    predictor.warm_up(cam_method)
    from desktop.heatmap_layer import warm_colormaps

    warm_colormaps()
    return predictor


def predict_image(predictor, image, cam_method: str | None, colormap: str, *, progress, cancel,
                  show_anyway: bool = False, audit_policy: str = "full"):
    """Prediction plus its coloured heatmap layer, both made here so the GUI thread only has to show them."""
    if cancel.is_set():
        raise JobCancelled()
    prediction = predictor.predict(image, cam_method=cam_method)
    layer = None
    if prediction.heatmap is not None and not cancel.is_set():
        from desktop.heatmap_layer import heatmap_rgba

        layer = HeatmapLayer(colormap, heatmap_rgba(prediction.heatmap, colormap))
    audit_error = record_in_audit_log(prediction, image=image, origin="viewer", show_anyway=show_anyway,
                                      policy=audit_policy)
    return prediction, layer, audit_error


def record_in_audit_log(prediction, *, image=None, path: Path | None = None, origin: str,
                        show_anyway: bool = False, policy: str = "full") -> str:
    """Worker thread (the audit log fsyncs): one audit record per result shown. Returns "" or the reason the
    record could not be written; a failed write never loses the result itself. `show_anyway`: the expert
    setting that shows the call when the OOD guard warns (the record says so). `policy`: what the record
    keeps of the file name ("full" path or "folder" only; inference.audit)."""
    from inference import audit

    try:
        if image is not None:
            audit.append_ai_result_for_image(prediction, image, origin=origin, show_anyway=show_anyway,
                                             source_path_policy=policy)
        else:
            audit.append_ai_result(prediction, source_path=path, origin=origin, show_anyway=show_anyway,
                                   source_path_policy=policy)
    except Exception as error:  # noqa: BLE001 - audit trouble is reported, the prediction still stands
        from inference.errors import XRayViewError

        if not isinstance(error, (XRayViewError, OSError)):
            from desktop.error_reporting import report_unexpected

            report_unexpected(error, "writing the AI audit log")
        return f"AI audit log not written: {error}"
    return ""


_NO_SLOT = object()


@dataclass(frozen=True)
class HeatmapLayer:
    colormap: str
    rgba: Any  # HxWx4 uint8


def analyze_paths(predictor, paths: list[Path], *, progress, cancel, show_anyway: bool = False,
                  audit_policy: str = "full"):
    """Folder analysis through Predictor.predict_paths: one row per file (prediction, or the reason it failed),
    reported as each file is done; a bad file never stops the run."""
    rows = []
    total = len(paths)
    for result in predictor.predict_paths(paths, cancel=cancel, cam_method=None, batch_size=4, keep_images=True):
        row = {"path": Path(result.path), "prediction": result.prediction, "error": _row_error(result),
               "reason": _row_reason(result), "analysed_utc": _utc_now(),
               "metadata": dict(getattr(result.image, "metadata", None) or {})}  # for de-identified CSV export
        if result.prediction is not None:
            row["audit_error"] = record_in_audit_log(result.prediction, image=result.image, path=Path(result.path),
                                                     origin="batch", show_anyway=show_anyway, policy=audit_policy)
        result.image = None  # only the metadata is kept: a large folder must not hold every image in memory
        rows.append(row)
        progress(len(rows), total, row)
    if cancel.is_set():
        raise JobCancelled()
    return rows


def _utc_now() -> str:
    import datetime as dt

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


class AnalysisController(QObject):
    model_loading = Signal(str)  # bundle name
    model_ready = Signal(object)  # the Predictor
    model_failed = Signal(str)  # message
    prediction_started = Signal(int)  # request id
    prediction_ready = Signal(int, object, object)  # request id, Prediction, HeatmapLayer or None
    prediction_failed = Signal(int, str)  # request id, message
    audit_failed = Signal(str)  # the AI audit log could not be written (the result is still shown)
    show_call_anyway = False  # the expert setting (AppSettings.show_call_when_ood): recorded in the audit log

    def __init__(self, parent=None, audit_policy: Callable[[], str] | None = None):
        """`audit_policy()` says, when a result is recorded, what the audit log keeps of the file name
        ("full" or "folder"; the settings decide, see AppSettings.audit_source_path_policy)."""
        super().__init__(parent)
        self._audit_policy = audit_policy or (lambda: "full")
        self._predictor = None
        self._request_ids = itertools.count(1)
        self._current: dict[object, int] = {}  # slot -> its current request id
        self._slots: dict[int, object] = {}  # request id -> slot
        self._jobs: dict[object, Job] = {}  # slot -> its running prediction
        self._waiting: dict[object, tuple] = {}  # slot -> (image, cam_method, colormap) asked for before the model
        self._model_job: Job | None = None
        self._model_generation = 0

    # -- model --------------------------------------------------------------------------------------------------
    @property
    def predictor(self):
        return self._predictor

    def is_loading_model(self) -> bool:
        return self._model_job is not None

    def load_model(self, bundle_dir: str | Path, device_name: str, display_name: str = "",
                   cam_method: str | None = "gradcam") -> Job:
        if self._model_job is not None:
            self._model_job.cancel()
        waiting = dict(self._waiting)
        for slot in list(self._current):
            self.discard_current(slot)  # a result from the previous model must not appear under the new one
        for slot, request in waiting.items():  # still wanted: it will run on the new model
            self._waiting[slot] = request
        self._model_generation += 1
        generation = self._model_generation
        self._predictor = None
        job = Job(load_predictor, str(bundle_dir), device_name, cam_method, name="load model")
        job.finished.connect(lambda predictor: self._on_model_loaded(generation, predictor))
        job.failed.connect(lambda error: self._on_model_failed(generation, error))
        job.cancelled.connect(lambda: self._on_model_job_ended(generation))
        self._model_job = job
        self.model_loading.emit(display_name or Path(bundle_dir).name)
        return job.start()

    def _on_model_job_ended(self, generation: int) -> None:
        if generation == self._model_generation:
            self._model_job = None

    def _on_model_loaded(self, generation: int, predictor) -> None:
        if generation != self._model_generation:
            return
        self._model_job = None
        self._predictor = predictor
        self.model_ready.emit(predictor)
        waiting, self._waiting = self._waiting, {}
        for slot, (image, cam_method, colormap) in waiting.items():
            self._start_prediction(image, cam_method, colormap, self._current[slot], slot)

    def _on_model_failed(self, generation: int, error: BaseException) -> None:
        if generation != self._model_generation:
            return
        self._model_job = None
        self._waiting.clear()
        self.model_failed.emit(_message_for(error))

    # -- single predictions ---------------------------------------------------------------------------------------
    @property
    def current_request(self) -> int:
        """The current request id of the default slot (one-viewport callers)."""
        return self._current.get(None, 0)

    def is_current(self, request_id: int) -> bool:
        slot = self._slots.get(request_id, _NO_SLOT)
        return slot is not _NO_SLOT and self._current.get(slot) == request_id

    def slot_of(self, request_id: int):
        return self._slots.get(request_id)

    def discard_current(self, slot=None) -> None:
        """`slot` shows a new image: whatever runs or waits for it belongs to the old one."""
        old = self._current.get(slot)
        if old is not None:
            self._slots.pop(old, None)
        request_id = next(self._request_ids)
        self._current[slot] = request_id
        self._slots[request_id] = slot
        self._waiting.pop(slot, None)
        job = self._jobs.pop(slot, None)
        if job is not None:
            job.cancel()

    def forget(self, slot) -> None:
        """A viewport went away: its requests end."""
        self.discard_current(slot)
        self._slots.pop(self._current.pop(slot), None)

    def request_prediction(self, image, cam_method: str | None, colormap: str = "jet", slot=None) -> int:
        """Starts (or queues until the model is ready) a prediction for `image` in `slot`; returns its request id."""
        self.discard_current(slot)
        request_id = self._current[slot]
        if self._predictor is None:
            if self._model_job is not None:
                self._waiting[slot] = (image, cam_method, colormap)
                self.prediction_started.emit(request_id)
            else:
                self.prediction_failed.emit(request_id, "No AI model is installed or loaded.")
            return request_id
        self._start_prediction(image, cam_method, colormap, request_id, slot)
        return request_id

    def _start_prediction(self, image, cam_method, colormap: str, request_id: int, slot) -> None:
        job = Job(predict_image, self._predictor, image, cam_method, colormap, name="predict",
                  show_anyway=self.show_call_anyway, audit_policy=self._audit_policy())
        job.finished.connect(lambda result: self._deliver(request_id, *result))
        job.failed.connect(lambda error: self._fail(request_id, error))
        self._jobs[slot] = job
        self.prediction_started.emit(request_id)
        job.start()

    def _deliver(self, request_id: int, prediction, layer, audit_error: str = "") -> None:
        if audit_error:
            self.audit_failed.emit(audit_error)  # recorded even for a result the user moved away from
        if not self.is_current(request_id):
            return  # stale: the user has moved on to another image
        self._jobs.pop(self._slots[request_id], None)
        self.prediction_ready.emit(request_id, prediction, layer)

    def _fail(self, request_id: int, error: BaseException) -> None:
        if not self.is_current(request_id):
            return
        self._jobs.pop(self._slots[request_id], None)
        self.prediction_failed.emit(request_id, _message_for(error))

    # -- folder analysis -----------------------------------------------------------------------------------------
    def analyze_folder_job(self, paths: list[Path]) -> Job:
        """A not-yet-started Job; the caller connects progress/finished/cancelled and starts it."""
        if self._predictor is None:
            raise RuntimeError("no model loaded")
        return Job(analyze_paths, self._predictor, list(paths), name="analyze folder",
                   show_anyway=self.show_call_anyway, audit_policy=self._audit_policy())

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        for slot in list(self._current):
            self.discard_current(slot)
        if self._model_job is not None:
            self._model_job.cancel()
        return Job.cancel_all_and_wait(timeout_ms)


def _message_for(error: BaseException) -> str:
    from inference.errors import XRayViewError

    if isinstance(error, XRayViewError):
        return str(error)
    from desktop.error_reporting import report_unexpected

    report_unexpected(error, "AI job")
    return f"Unexpected error: {type(error).__name__}: {error}"
