"""Which torch device and precision a run uses: 'auto' resolved, anything else checked, so
a bad --device or --precision is one line before any work. Training and the torch engine
share it."""

from __future__ import annotations

import torch

from rnnforecast.errors import RnnForecastError


def resolve_device(name: str) -> torch.device:
    """'auto' -> the first CUDA GPU when there is one, else the CPU; anything else is checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise RnnForecastError(
            f"--device {name}: not a device; use auto, cpu, cuda or cuda:N"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise RnnForecastError(f"--device {name}: only cpu and cuda are supported")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RnnForecastError(f"--device {name}: no CUDA GPU is available; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise RnnForecastError(
                f"--device {name}: only {count} GPU(s) (cuda:0..cuda:{count - 1})"
            )
    return device


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto' -> bf16 autocast on a GPU that supports it, fp32 otherwise."""
    if name == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return "bf16" if cuda_bf16 else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise RnnForecastError("--precision fp16 needs a CUDA device; use fp32 or bf16 on CPU")
    return name
