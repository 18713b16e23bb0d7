"""Data-parallel helpers for `torchrun --nproc_per_node=N -m training.cli_train ...` (with flags or `--recipe`):
every rank runs the same stages (training.pipeline); the data is prepared and the model trained on all of them,
and rank 0 alone evaluates, calibrates, fits the guard, checks the heatmaps and seals the bundle.

gloo on CPU, NCCL on CUDA. Outside torchrun (no WORLD_SIZE in the environment) everything degrades to
single-process no-ops, so the trainer calls these unconditionally.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_if_needed(device_kind: str) -> None:
    """Join the process group torchrun set up (env:// rendezvous)."""
    if launched_by_torchrun() and not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        dist.init_process_group(backend=backend)


def process_device(device: torch.device) -> torch.device:
    """The device of this process: under torchrun, join the process group and take this rank's GPU (or its share
    of the CPU cores, instead of every process using all of them); otherwise `device` as it is."""
    init_if_needed(device.type)
    if not launched_by_torchrun():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", local_rank())
        torch.cuda.set_device(device)
    from inference.device import usable_cpu_count

    torch.set_num_threads(max(1, usable_cpu_count() // world_size()))
    return device


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def wrap_model(model: nn.Module, device: torch.device) -> nn.Module:
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


def _comm_device(device: torch.device) -> torch.device:
    return device if (active() and dist.get_backend() == "nccl") else torch.device("cpu")


def mean_scalar(value: float, device: torch.device) -> float:
    if not active():
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=_comm_device(device))
    dist.all_reduce(tensor)
    return float(tensor.item()) / world_size()


def broadcast_tensor(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if not active():
        return tensor
    moved = tensor.to(_comm_device(device))
    dist.broadcast(moved, src=0)
    return moved.cpu()


def broadcast_state_dict(state: dict | None, model: nn.Module) -> dict:
    holder = [state]
    if active():
        dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather_objects(obj) -> list:
    """Every rank's `obj`, on every rank (used for per-rank RNG states in checkpoints)."""
    if not active():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if active():
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
