"""fit(): the one training loop, read top to bottom; progress goes to a callback, never print."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rnnforecast.config import TrainConfig
from rnnforecast.errors import ExitCode, RnnForecastError

LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "mae": F.l1_loss,
    "mse": F.mse_loss,
    "huber": F.huber_loss,
}
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
VAL_BATCH = 4096  # windows per validation forward pass; no gradients, so larger is fine


@dataclass
class History:
    """Per-epoch rows (as written to history.csv) and how training ended."""

    rows: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.nan
    stop_reason: str = "max_epochs"  # max_epochs or early_stopping
    device: str = "cpu"
    precision: str = "fp32"


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


def fit(
    model: nn.Module,
    values: np.ndarray,
    train_starts: np.ndarray,
    val_starts: np.ndarray,
    lookback: int,
    cfg: TrainConfig,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> History:
    """Train `model` on windows of `values` [N, F] starting at `train_starts`; early-stop on
    the loss of the `val_starts` windows; return with the best weights loaded."""
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    history = History(device=str(device), precision=precision)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    dtype = DTYPES[precision]
    ctx = contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    loss_fn = LOSSES[cfg.loss]
    max_norm = cfg.clip_norm if cfg.clip_norm > 0 else math.inf  # inf: measure, never clip

    model.to(device)
    series = torch.as_tensor(values, device=device)  # [N, F]
    windows = series.unfold(0, lookback + model.head.out_features, 1)  # [N-W+1, F, W], a view
    train_idx = torch.as_tensor(train_starts, device=device)
    val_idx = torch.as_tensor(val_starts, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    best_state = _snapshot(model)
    n = len(train_idx)

    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = train_idx[torch.randperm(n, generator=generator).to(device)]
        loss_sum = torch.zeros((), device=device)  # accumulated on device: no sync per step
        norm_sum = torch.zeros((), device=device)
        steps = 0
        for b in range(0, n, cfg.batch_size):
            x, y = _batch(windows, order[b : b + cfg.batch_size], lookback)
            with ctx:
                pred = model(x)  # [B, H]
            loss = loss_fn(pred.float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm)  # norm before clipping
            if cfg.clip_value > 0:
                nn.utils.clip_grad_value_(model.parameters(), cfg.clip_value)
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach() * len(y)
            norm_sum += norm
            steps += 1

        train_loss = (loss_sum / n).item()
        val_loss = (
            _loss(model, windows, val_idx, lookback, ctx, loss_fn) if len(val_idx) else math.nan
        )
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "grad_norm": (norm_sum / max(steps, 1)).item(),
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - started,
        }
        history.rows.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if not (math.isfinite(train_loss) and (math.isfinite(val_loss) or not len(val_idx))):
            model.load_state_dict(best_state)
            raise RnnForecastError(
                f"training diverged at epoch {epoch} (loss {train_loss:.4g}, validation "
                f"{val_loss:.4g}); try a lower --lr (now {cfg.lr:g}), keep --clip-norm on, or "
                "check the data for extreme values; no model was written",
                ExitCode.DIVERGED,
            )
        improved = not len(val_idx) or not val_loss >= history.best_val_loss  # NaN best: first
        if improved:
            history.best_epoch, history.best_val_loss = epoch, val_loss
            best_state = _snapshot(model)
        elif epoch - history.best_epoch >= cfg.patience:
            history.stop_reason = "early_stopping"
            break

    model.load_state_dict(best_state)
    return history


def _batch(windows: torch.Tensor, idx: torch.Tensor, lookback: int):
    """Inputs [B, L, F] and targets [B, H] of the windows starting at `idx`."""
    w = windows[idx]  # [B, F, L+H], gathered from the view
    return w[:, :, :lookback].transpose(1, 2), w[:, 0, lookback:]  # [B, L, F], [B, H]


@torch.inference_mode()
def _loss(model, windows, idx, lookback, ctx, loss_fn) -> float:
    """Mean loss over the windows at `idx`, in large batches."""
    model.eval()
    total = torch.zeros((), device=windows.device)
    count = 0
    for b in range(0, len(idx), VAL_BATCH):
        x, y = _batch(windows, idx[b : b + VAL_BATCH], lookback)
        with ctx:
            pred = model(x)  # [B, H]
        total += loss_fn(pred.float(), y, reduction="sum")
        count += y.numel()
    return (total / count).item()


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Flush denormal floats to zero while training: they slow an LSTM's backward pass ~10x on
    CPU at long lookbacks. The process-wide CPU flag is put back afterwards."""
    was_on = bool(np.float64(5e-324) * np.float64(1.0) == 0.0)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_on)
