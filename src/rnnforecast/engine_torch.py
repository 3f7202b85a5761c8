"""Inference with the torch model, for GPUs and very large batches; same interface as numpy's."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rnnforecast.config import ModelConfig
from rnnforecast.device import resolve_device
from rnnforecast.model import Forecaster

BATCH = 256  # windows per forward pass: bounds the [L, B, gates] activations of many series


def make(
    cfg: ModelConfig, weights: dict[str, np.ndarray], device: str = "auto"
) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """A function mapping inputs [B, L, F] (and future covariates [B, H, C], if the model has
    them) to forecasts [B, H] with the rebuilt torch model."""
    dev = resolve_device(device)
    horizon, n_inputs = weights["head.weight"].shape[0], weights["rnns.0.weight_ih_l0"].shape[1]
    lookback = weights["skip.weight"].shape[1] if "skip.weight" in weights else 1
    n_future = weights["future.weight"].shape[1] // horizon if "future.weight" in weights else 0
    model = Forecaster(cfg, lookback, horizon, n_inputs, n_future=n_future)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()})
    model.to(dev).eval()

    @torch.inference_mode()
    def forward(x: np.ndarray, future: np.ndarray | None = None) -> np.ndarray:
        x_t = torch.as_tensor(np.asarray(x, dtype=np.float32))
        f_t = None if future is None else torch.as_tensor(np.asarray(future, dtype=np.float32))
        parts = []
        for b in range(0, len(x_t), BATCH):
            f_b = None if f_t is None else f_t[b : b + BATCH].to(dev)  # [b, H, C]
            parts.append(model(x_t[b : b + BATCH].to(dev), f_b).float().cpu())  # [b, H]
        return torch.cat(parts).numpy() if parts else np.empty((0, horizon), np.float32)

    return forward
