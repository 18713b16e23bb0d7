"""A quick, measured estimate of training time (for the wizard's options page): time a few real training
steps of the chosen architecture on this machine and extrapolate to the run."""
from __future__ import annotations

import time

import torch

from inference.architectures import build_model
from training.trainer import _autocast, amp_available


def measure_images_per_second(arch: str, device: torch.device, img_size: int = 224, batch_size: int = 16,
                              steps: int = 2, amp: bool = True) -> dict:
    """Training and evaluation throughput (images/s) of `arch` here, from `steps` timed steps after a warm-up."""
    torch.manual_seed(0)
    model = build_model(arch, 2, in_channels=1).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.rand(batch_size, 1, img_size, img_size, device=device)
    labels = torch.randint(0, 2, (batch_size,), device=device)
    use_amp = amp and amp_available(device)

    def train_step() -> None:
        with _autocast(device, use_amp):
            loss = torch.nn.functional.cross_entropy(model(images).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.train()
    train_step()
    started = time.perf_counter()
    for _ in range(steps):
        train_step()
    train_rate = batch_size * steps / (time.perf_counter() - started)
    model.eval()
    with torch.no_grad():
        model(images)
        started = time.perf_counter()
        model(images)
    eval_rate = batch_size / (time.perf_counter() - started)
    return {"train_images_per_s": train_rate, "eval_images_per_s": eval_rate}


def estimate_training_seconds(arch: str, n_train: int, n_val: int, epochs: int, device: torch.device,
                              img_size: int = 224, n_test: int = 0, decode_images_per_s: float = 100.0) -> dict:
    """Seconds for reading the images, `epochs` epochs (train + validation) and the final evaluation."""
    rates = measure_images_per_second(arch, device, img_size)
    epoch_s = n_train / rates["train_images_per_s"] + n_val / rates["eval_images_per_s"]
    final_s = (n_val + n_test) / rates["eval_images_per_s"]
    decode_s = (n_train + n_val + n_test) / decode_images_per_s
    return {"total_s": decode_s + epochs * epoch_s + final_s, "epoch_s": epoch_s, "decode_s": decode_s,
            "final_evaluation_s": final_s, **rates}
