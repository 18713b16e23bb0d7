"""Compute-device choice. "auto" prefers CUDA, then Apple MPS, then CPU; an explicit choice that this machine
cannot provide is an error rather than a silent fallback, so a user who asked for the GPU knows they lack one."""
from __future__ import annotations

import os

import torch

from inference.errors import DeviceUnavailableError
from inference.vocabulary import DEVICE_CHOICES

_MAX_CPU_THREADS = 8  # beyond this, small-batch inference on CPU gains little and starves the UI thread


def cuda_available() -> bool:
    return torch.cuda.is_available()


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    devices = ["cpu"]
    if cuda_available():
        devices.insert(0, "cuda")
    if mps_available():
        devices.insert(len(devices) - 1, "mps")
    return devices


def usable_cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS / Windows
        return max(1, os.cpu_count() or 1)


def configure_cpu_threads() -> int:
    """Use the CPUs this process may run on (capped), unless the user pinned a count via OMP/MKL env vars."""
    if not (os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS")):
        torch.set_num_threads(min(usable_cpu_count(), _MAX_CPU_THREADS))
    return torch.get_num_threads()


def resolve_device(choice: str | None = "auto") -> torch.device:
    """"auto" | "cpu" | "cuda" | "cuda:N" | "mps" -> torch.device; DeviceUnavailableError if not available."""
    choice = (choice or "auto").strip().lower()
    kind, _, index = choice.partition(":")
    if kind not in DEVICE_CHOICES or (index and (kind != "cuda" or not index.isdigit())):
        raise DeviceUnavailableError(f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if kind == "auto":
        if cuda_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        configure_cpu_threads()
        return torch.device("cpu")
    if kind == "cuda":
        if not cuda_available():
            raise DeviceUnavailableError(
                "device 'cuda' was requested but no CUDA GPU is usable here (no NVIDIA GPU/driver, or a CPU-only "
                "PyTorch build); use --device auto or cpu")
        if index and int(index) >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device {choice!r} was requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device(choice)
    if kind == "mps":
        if not mps_available():
            raise DeviceUnavailableError(
                "device 'mps' was requested but Apple Metal (MPS) is not available on this machine; "
                "use --device auto or cpu")
        return torch.device("mps")
    configure_cpu_threads()
    return torch.device("cpu")
