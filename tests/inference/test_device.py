"""Device choice: auto prefers CUDA, then MPS, then CPU; an unavailable explicit choice is a clear error."""
from __future__ import annotations

import pytest
import torch

from inference.device import available_devices, cuda_available, mps_available, resolve_device
from inference.errors import DeviceUnavailableError


def test_cpu_is_always_available():
    assert resolve_device("cpu") == torch.device("cpu")
    assert torch.get_num_threads() >= 1
    assert available_devices()[-1] == "cpu"


def test_auto_picks_the_best_available():
    expected = "cuda" if cuda_available() else "mps" if mps_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    assert available_devices()[0] == expected


@pytest.mark.parametrize("choice", ["cuda", "mps"])
def test_explicit_accelerator_resolves_or_is_refused(choice):
    available = cuda_available() if choice == "cuda" else mps_available()
    if available:
        assert resolve_device(choice).type == choice
    else:
        with pytest.raises(DeviceUnavailableError, match=f"'{choice}' was requested"):
            resolve_device(choice)


def test_cuda_index_beyond_the_installed_devices_is_refused():
    with pytest.raises(DeviceUnavailableError):
        resolve_device(f"cuda:{torch.cuda.device_count() + 3}")


@pytest.mark.parametrize("choice", ["tpu", "gpu", "cpu:1", ""])
def test_unknown_device_names_are_refused(choice):
    if choice == "":
        assert resolve_device(choice).type in ("cuda", "mps", "cpu")  # empty means auto
        return
    with pytest.raises(DeviceUnavailableError, match="unknown device"):
        resolve_device(choice)
