"""The job runner for the viewer's AI: loads the model and runs prediction and folder jobs on worker threads
(desktop.workers.Job around the Qt-free functions in inference.analysis_jobs). It knows nothing of viewports or
of which result is still wanted: the caller (desktop.ai_session.AiSession) names each request by an id, and
`cancel(id)` ends one.

A model load takes over every outstanding request: predictions running on the previous model are cancelled (a
result from it must never appear under the new one) and, with those asked for before any model was ready, run
on the new model once it is loaded. Model use is serialised by the Predictor's own lock (Grad-CAM hooks are per
model), so jobs queue on worker threads, never on the GUI thread.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from desktop import error_reporting
from desktop.ai_state import NO_MODEL
from desktop.workers import Job
from inference import analysis_jobs


def _load_and_warm(bundle_dir: str, device_name: str, cam_method: str | None, *, progress, cancel):
    """Worker thread: the predictor, then every colormap table (matplotlib), so neither the first result nor the
    first colour bar waits for them."""
    predictor = analysis_jobs.load_predictor(bundle_dir, device_name, cam_method, progress=progress, cancel=cancel)
    from desktop.heatmap_layer import warm_colormaps

    warm_colormaps()
    return predictor


@dataclass(frozen=True)
class _Request:
    image: Any
    cam_method: str | None
    colormap: str
    show_anyway: bool


class AnalysisController(QObject):
    model_loading = Signal(str)  # bundle name
    model_ready = Signal(object)  # the Predictor
    model_failed = Signal(str)  # message
    prediction_started = Signal(int)  # request id (running, or waiting for the model)
    prediction_ready = Signal(int, object, object)  # request id, Prediction, HeatmapLayer or None
    prediction_failed = Signal(int, str)  # request id, message
    audit_failed = Signal(str)  # the AI audit log could not be written (the result is still delivered)

    def __init__(self, parent=None, audit_policy: Callable[[], str] | None = None):
        """`audit_policy()` says, when a result is recorded, what the audit log keeps of the file name
        ("full" or "folder"; the settings decide, see AppSettings.audit_source_path_policy)."""
        super().__init__(parent)
        self._audit_policy = audit_policy or (lambda: "full")
        self._predictor = None
        self._requests: dict[int, _Request] = {}  # every outstanding request, running or waiting for the model
        self._jobs: dict[int, Job] = {}  # the running ones
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
        for job in self._jobs.values():
            job.cancel()  # its request stays: it runs again on the new model
        self._jobs.clear()
        self._model_generation += 1
        generation = self._model_generation
        self._predictor = None
        job = Job(_load_and_warm, str(bundle_dir), device_name, cam_method, name="load model")
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
        for request_id in [r for r in self._requests if r not in self._jobs]:
            if request_id in self._requests:  # a model_ready listener may have cancelled it
                self._start(request_id)

    def _on_model_failed(self, generation: int, error: BaseException) -> None:
        if generation != self._model_generation:
            return
        self._model_job = None
        self._requests.clear()  # nothing runs: the listener of model_failed tells whoever waited
        self.model_failed.emit(_message_for(error))

    # -- single predictions ---------------------------------------------------------------------------------------
    def request_prediction(self, request_id: int, image, cam_method: str | None, colormap: str = "jet", *,
                           show_anyway: bool = False) -> None:
        """Starts a prediction for `image` (or queues it until the model is ready). `show_anyway`: the expert
        setting in force, for the audit record."""
        if self._predictor is None and self._model_job is None:
            self.prediction_failed.emit(request_id, NO_MODEL)
            return
        self._requests[request_id] = _Request(image, cam_method, colormap, show_anyway)
        if self._predictor is None:
            self.prediction_started.emit(request_id)  # waiting for the model
        else:
            self._start(request_id)

    def cancel(self, request_id: int) -> None:
        """The request is no longer wanted: it never reports."""
        self._requests.pop(request_id, None)
        job = self._jobs.pop(request_id, None)
        if job is not None:
            job.cancel()

    def _start(self, request_id: int) -> None:
        request = self._requests[request_id]
        job = Job(analysis_jobs.predict_image, self._predictor, request.image, request.cam_method, request.colormap,
                  name="predict", show_anyway=request.show_anyway, audit_policy=self._audit_policy(),
                  on_unexpected=error_reporting.report_unexpected)
        job.finished.connect(lambda analysis: self._deliver(request_id, job, analysis))
        job.failed.connect(lambda error: self._fail(request_id, job, error))
        self._jobs[request_id] = job
        self.prediction_started.emit(request_id)
        job.start()

    def _deliver(self, request_id: int, job: Job, analysis: analysis_jobs.ImageAnalysis) -> None:
        if analysis.audit_error:
            self.audit_failed.emit(analysis.audit_error)  # recorded even for a result no longer wanted
        if self._jobs.get(request_id) is not job:
            return  # cancelled (or re-queued for a new model) after it had finished
        del self._jobs[request_id], self._requests[request_id]
        self.prediction_ready.emit(request_id, analysis.prediction, analysis.layer)

    def _fail(self, request_id: int, job: Job, error: BaseException) -> None:
        if self._jobs.get(request_id) is not job:
            return
        del self._jobs[request_id], self._requests[request_id]
        self.prediction_failed.emit(request_id, _message_for(error))

    # -- folder analysis -----------------------------------------------------------------------------------------
    def analyze_folder_job(self, paths: list[Path], *, show_anyway: bool = False) -> Job:
        """A not-yet-started Job; the caller connects progress/finished/cancelled and starts it."""
        if self._predictor is None:
            raise RuntimeError("no model loaded")
        return Job(analysis_jobs.analyze_paths, self._predictor, list(paths), name="analyze folder",
                   show_anyway=show_anyway, audit_policy=self._audit_policy(),
                   on_unexpected=error_reporting.report_unexpected)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        for request_id in list(self._requests):
            self.cancel(request_id)
        if self._model_job is not None:
            self._model_job.cancel()
        return Job.cancel_all_and_wait(timeout_ms)


def _message_for(error: BaseException) -> str:
    from inference.errors import XRayViewError

    if isinstance(error, XRayViewError):
        return str(error)
    error_reporting.report_unexpected(error, "AI job")
    return f"Unexpected error: {type(error).__name__}: {error}"
