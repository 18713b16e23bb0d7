"""Prediction with a model bundle: probabilities, the call at the operating threshold, optional CAM heatmap.

`Predictor(bundle, device)` builds the model once. `.predict(image)` takes a loaded `XRayImage`; the model
input is derived from `image.render()` with the default window, exactly as the model card's input block
says. `.predict_paths(paths, ...)` runs a folder's worth of files in batches and never stops at a bad file.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from inference.bundle import ModelBundle, load_bundle
from inference.bundle_catalog import default_bundle_dir
from inference.cam import compute_cam
from inference.device import resolve_device
from inference.errors import BundleError, NonFiniteImageError
from inference.ood import assess, capture_features, check_guard_fits, guard_grid, guard_layer, load_guard
from inference.population import population_notice
from inference.preprocess import InputSpec, heatmap_to_image, to_model_tensor
from inference.results import PathResult, Prediction, model_label
from inference.vocabulary import CAM_METHODS

ProgressCallback = Callable[[int, int], None]  # (files done, files total)


def load_default_bundle() -> ModelBundle:
    """The bundled default model (resources/models/DEFAULT names it), loaded and checked."""
    return load_bundle(default_bundle_dir())


@contextmanager
def _no_capture():
    yield []


class Predictor:
    def __init__(self, bundle: ModelBundle | str | Path, device: str | torch.device = "auto",
                 threshold: float | None = None):
        started = time.perf_counter()
        self.bundle = bundle if isinstance(bundle, ModelBundle) else load_bundle(bundle)
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.spec = InputSpec.from_card(self.bundle.card)
        self.labels = self.bundle.labels
        self.positive_label = self.bundle.positive_label
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if threshold is not None and self.positive_label is None:
            raise ValueError("a threshold applies only to binary models (with a positive_label)")
        self.threshold = threshold if threshold is not None else self.bundle.threshold
        self.intended_population = self.bundle.model_card.intended_population
        margin = self.bundle.model_card.call_margin  # in log-odds at this bundle's own temperature
        self.call_margin = margin.half_width(self.bundle.temperature) if margin is not None else None
        self.model = self.bundle.build(self.device)
        # channels_last lets oneDNN run the depthwise convolutions of mobile CNNs ~2x faster on CPU (measured:
        # EfficientNet-Lite0 batch of 32 at 224 px, 13.9 -> 32.0 images/s on 2 cores), same float32 results.
        self.memory_format = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        self.model.requires_grad_(False)  # inference only; CAM makes its target layer the gradient leaf
        self.cam_layer = self.bundle.cam_target_layer
        self.cam_detail_layer = self.bundle.cam_detail_layer
        self.cam_target_power = self.bundle.cam_target_power
        self.ood_guard = load_guard(self.bundle)
        if self.ood_guard is not None:  # a guard that does not fit is a bundle error now, not a per-image one
            check_guard_fits(self.ood_guard, self.model, self.bundle)
        self.ood_layer = guard_layer(self.bundle.card)
        self.ood_grid = guard_grid(self.bundle.card)
        self.model_load_ms = (time.perf_counter() - started) * 1000.0
        self._lock = threading.Lock()  # one forward at a time: the viewer and a folder run may share a Predictor

    def warm_up(self, cam_method: str | None = "gradcam") -> None:
        """Run one dummy prediction (and import the CAM library) so the user's first image is not the slow one."""
        batch = torch.zeros(1, self.spec.channels, self.spec.height, self.spec.width, device=self.device)
        with self._lock:
            if cam_method:
                compute_cam(self.model, batch, self.cam_layer, cam_method, detail_layer=self.cam_detail_layer,
                            target_power=self.cam_target_power)
            else:
                with torch.inference_mode():
                    self.model(batch)

    # ---------------------------------------------------------------- decisions
    def label_index(self, probabilities: torch.Tensor) -> int:
        """The model's label for one sample's probabilities, by the call rule (inference.results.model_label)."""
        probs = {label: float(p) for label, p in zip(self.labels, probabilities.tolist())}
        return self.labels.index(model_label(probs, self.positive_label, self.threshold))

    def _label_from_logits(self, logits_row: torch.Tensor) -> int:
        return self.label_index(self.bundle.probabilities(logits_row))

    @property
    def identity(self) -> dict[str, str]:
        return self.bundle.identity()

    # ---------------------------------------------------------------- single image
    def predict(self, image, cam_method: str | None = "gradcam", window=None,
                load_ms: float | None = None) -> Prediction:
        """Predict one loaded XRayImage. `window` overrides the card's (default) window for the model input;
        `load_ms` is the caller's image-load time, reported in timings_ms["load"]."""
        return self.predict_batch([image], cam_method=cam_method, window=window,
                                  load_ms=[load_ms])[0]

    # ---------------------------------------------------------------- batches
    def preprocess(self, image, window=None) -> torch.Tensor:
        try:
            return to_model_tensor(image.render(window), self.spec)
        except NonFiniteImageError as exc:  # name the file: the check itself knows only the pixels
            raise NonFiniteImageError(getattr(image, "path", None), exc.reason) from None

    def predict_batch(self, images: Sequence, batch_size: int = 16, cam_method: str | None = None,
                      window=None, load_ms: Sequence[float | None] | None = None) -> list[Prediction]:
        """Predict several loaded images, `batch_size` at a time. Per-image timings are the batch's divided
        evenly (preprocess is measured per image)."""
        if cam_method is not None and cam_method.lower() not in CAM_METHODS:
            raise ValueError(f"unknown CAM method {cam_method!r}; choose one of {', '.join(CAM_METHODS)}")
        load_ms = list(load_ms) if load_ms is not None else [None] * len(images)
        results: list[Prediction] = []
        for start in range(0, len(images), max(1, batch_size)):
            chunk = images[start:start + batch_size]
            results.extend(self._predict_chunk(chunk, cam_method, window, load_ms[start:start + batch_size]))
        return results

    def _predict_chunk(self, images: Sequence, cam_method: str | None, window,
                       load_ms: Sequence[float | None]) -> list[Prediction]:
        tensors, prep_ms = [], []
        for image in images:
            t0 = time.perf_counter()
            tensors.append(self.preprocess(image, window))
            prep_ms.append((time.perf_counter() - t0) * 1000.0)
        batch = torch.cat(tensors).to(self.device).contiguous(memory_format=self.memory_format)
        capture = (capture_features(self.model, self.ood_layer, self.ood_grid) if self.ood_guard is not None
                   else _no_capture())
        with self._lock, capture as captured:
            if cam_method is None:
                t0 = time.perf_counter()
                with torch.inference_mode():
                    logits = self.model(batch).float().cpu()
                predict_ms, cam_ms, heatmaps, cam_targets = (time.perf_counter() - t0) * 1000.0, None, None, None
            else:
                # One pass serves both: the CAM's forward yields the logits, the heatmap explains the call.
                result = compute_cam(self.model, batch, self.cam_layer, cam_method, target=self._label_from_logits,
                                     detail_layer=self.cam_detail_layer, target_power=self.cam_target_power)
                logits = result.logits.float()
                predict_ms, cam_ms = result.forward_ms, result.total_ms - result.forward_ms
                heatmaps, cam_targets = result.heatmaps, result.target_indices
        probs = self.bundle.probabilities(logits)
        if not torch.isfinite(probs).all():  # never a call (or an audit record) from NaN probabilities
            raise BundleError(self.bundle.path, "the model produced NaN or infinite probabilities; its weights or "
                                                "calibration are unusable")
        features = captured[0] if captured else None  # the first pass over this batch holds its features
        n = len(images)
        predictions = []
        for i, image in enumerate(images):
            t0 = time.perf_counter()
            heatmap = heatmap_to_image(heatmaps[i], self.spec, image.shape) if heatmaps is not None else None
            upsample_ms = (time.perf_counter() - t0) * 1000.0
            row = probs[i]
            index = self.label_index(row)
            notices = list(getattr(image, "notices", []) or []) + list(self.bundle.notices)
            if self.bundle.experimental:
                notices.append(f"model {self.bundle.name} {self.bundle.version} is experimental")
            outside = population_notice(getattr(image, "metadata", None), self.intended_population)
            if outside:  # said with the result wherever it goes (panel, PDF, SR, CLI), as the guard's warning is
                notices.append(outside)
            predictions.append(Prediction(
                probabilities={label: float(row[j]) for j, label in enumerate(self.labels)},
                label=self.labels[index],
                threshold=self.threshold,
                positive_label=self.positive_label,
                heatmap=heatmap,
                cam_method=cam_method.lower() if cam_method else None,
                cam_label=self.labels[cam_targets[i]] if cam_targets is not None else None,
                timings_ms={"load": load_ms[i], "preprocess": prep_ms[i], "predict": predict_ms / n,
                            "cam": (cam_ms / n + upsample_ms) if cam_ms is not None else None},
                device=str(self.device),
                model=self.identity,
                notices=notices,
                ood=assess(image, None if features is None else features[i:i + 1], self.ood_guard,
                           self.bundle.card),
                call_margin=self.call_margin,
            ))
        return predictions

    # ---------------------------------------------------------------- files and folders
    def predict_paths(self, paths: Iterable[str | Path], progress: ProgressCallback | None = None,
                      cancel: threading.Event | None = None, cam_method: str | None = None,
                      batch_size: int = 8, keep_images: bool = False) -> Iterator[PathResult]:
        """Load and predict each file, yielding one PathResult per path in order. A file that fails to load or
        predict yields its error and the run goes on. `cancel.set()` stops before the next file; `progress(done,
        total)` is called after each file."""
        from inference.image_io import load_image

        paths = [Path(p) for p in paths]
        total, done = len(paths), 0
        pending: list[tuple[Path, Any, float]] = []

        def flush() -> Iterator[PathResult]:
            nonlocal done
            if not pending:
                return
            images = [img for _, img, _ in pending]
            try:
                preds = self.predict_batch(images, batch_size=len(images), cam_method=cam_method,
                                           load_ms=[ms for _, _, ms in pending])
                outcomes = [PathResult(p, prediction=pred, image=img if keep_images else None)
                            for (p, img, _), pred in zip(pending, preds)]
            except Exception:  # noqa: BLE001 - a batch failed: retry one by one so only the culprit fails
                outcomes = []
                for p, img, ms in pending:
                    try:
                        pred = self.predict_batch([img], cam_method=cam_method, load_ms=[ms])[0]
                        outcomes.append(PathResult(p, prediction=pred, image=img if keep_images else None))
                    except Exception as exc:  # noqa: BLE001 - reported per file, never stops the run
                        outcomes.append(PathResult(p, error=exc))
            pending.clear()
            for outcome in outcomes:
                done += 1
                if progress is not None:
                    progress(done, total)
                yield outcome

        for path in paths:
            if cancel is not None and cancel.is_set():
                break
            t0 = time.perf_counter()
            try:
                image = load_image(path)
            except Exception as exc:  # noqa: BLE001 - typed ImageLoadError expected; anything else still per-file
                yield from flush()
                done += 1
                if progress is not None:
                    progress(done, total)
                yield PathResult(path, error=exc)
                continue
            pending.append((path, image, (time.perf_counter() - t0) * 1000.0))
            if len(pending) >= batch_size:
                yield from flush()
        if not (cancel is not None and cancel.is_set()):
            yield from flush()
        else:
            pending.clear()
