"""fit(): the one training loop, read top to bottom; progress goes to a callback, never print."""

from __future__ import annotations

import contextlib
import io
import math
import os
import random
import re
import signal
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rnnforecast import distributed
from rnnforecast.config import POINT_LOSSES, ModelConfig, TrainConfig
from rnnforecast.device import resolve_device, resolve_precision
from rnnforecast.errors import ExitCode, RnnForecastError, quoted
from rnnforecast.fsutil import READ_FLAGS, atomic_write
from rnnforecast.optim import Optimizer, Schedule
from rnnforecast.windows import Starts

LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "mae": F.l1_loss,
    "mse": F.mse_loss,
    "huber": F.huber_loss,
}
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# windows per validation forward pass. On CPU the per-window cost is flat from 256 to 4096
# (~200k windows/s for the default LSTM) while the activations grow with the batch (~10 KB a
# window measured: the training peak grew 40 MB for 4,000 validation windows in one batch), so
# CPU takes small ones; a GPU is fed large ones.
CPU_VAL_BATCH, VAL_BATCH = 256, 4096


@dataclass
class History:
    """Per-epoch rows (as written to history.csv) and how training ended."""

    rows: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.nan
    stop_reason: str = "max_epochs"  # max_epochs, early_stopping or budget
    device: str = "cpu"
    precision: str = "fp32"


def set_seed(seed: int) -> None:
    """Seed every generator in one place: Python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


class Interrupted(RnnForecastError):
    """Ctrl-C or SIGTERM stopped training after a batch; `state` continues it exactly."""

    def __init__(self, epoch: int, state: dict[str, Any]) -> None:
        super().__init__(f"training interrupted in epoch {epoch}", ExitCode.INTERRUPTED)
        self.state = state


def fit(
    model: nn.Module,
    values: np.ndarray,
    train_starts: Starts,
    val_starts: np.ndarray,
    lookback: int,
    cfg: TrainConfig,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    resume: dict[str, Any] | None = None,
    deadline: float = math.inf,
) -> History:
    """Train `model` on windows of `values` [N, F] starting at `train_starts`; early-stop on
    the loss of the `val_starts` windows; return with the best weights loaded. No epoch
    begins after `deadline` (time.perf_counter()'s clock): the time budget.

    Ctrl-C or SIGTERM stops it at the end of the current batch by raising `Interrupted`,
    whose state, given back as `resume`, continues the run to the same result bit for bit.
    """
    with _stop_requests() as stop:
        return _loop(
            model, values, train_starts, val_starts, lookback, cfg, on_epoch, resume, stop,
            deadline,
        )  # fmt: skip


def _loop(model, values, train_starts, val_starts, lookback, cfg, on_epoch, resume, stop, deadline):
    device = distributed.local_device(resolve_device(cfg.device))
    precision = resolve_precision(cfg.precision, device)
    history = History(device=str(device), precision=precision)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    dtype = DTYPES[precision]
    ctx = contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    loss_fn = LOSSES[POINT_LOSSES[cfg.point] if cfg.loss == "auto" else cfg.loss]
    # what training minimises; validation is judged by the error the point forecast minimises
    # whatever the loss: the absolute error for the median (in scaled units the MASE with
    # --scaler mase, the metric reported), the squared one for the mean, so models trained
    # on different losses stop early, and are compared, by the same measure
    val_fn = LOSSES[POINT_LOSSES[cfg.point]]
    max_norm = cfg.clip_norm if cfg.clip_norm > 0 else math.inf  # inf: measure, never clip

    model.to(device)
    net = distributed.wrap(model, device)  # DDP under torchrun: gradients averaged in backward
    batch_size = max(1, cfg.batch_size // distributed.world())  # cfg.batch_size is global
    series = torch.as_tensor(values, device=device)  # [N, F]
    windows = series.unfold(0, lookback + model.head.out_features, 1)  # [N-W+1, F, W], a view
    val_idx = torch.as_tensor(val_starts, device=device)
    optimizer = Optimizer(cfg.optimizer, list(model.parameters()), cfg.lr, cfg.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)
    size = epoch_windows(len(train_starts), cfg)
    steps_per_epoch = -(-(size // distributed.world()) // batch_size)
    schedule = Schedule(
        optimizer, cfg.lr_schedule, cfg.epochs, steps_per_epoch, max(1, cfg.patience // 4)
    )
    watched = _watched(model)  # recurrent weights per layer, and the head: gradient health
    run = _Run(best=_snapshot(model), average=_snapshot(model) if cfg.ema else None)
    if resume is not None:
        run = _restore(resume, model, optimizer, scaler, generator, history, device, schedule)
    elif len(val_idx):  # the start (seasonal naive skip, or a warm start) is epoch 0: training
        # must beat it on validation to replace it, so it never ends worse than it began
        history.best_val_loss = _loss(model, windows, val_idx, lookback, ctx, val_fn)
    live = list(model.state_dict().values())  # share storage with the parameters

    for epoch in range(run.epoch, cfg.epochs + 1):
        started = time.perf_counter()
        model.train()
        if run.order is None:  # a resumed run first finishes the epoch it stopped in
            run.order = _epoch_order(train_starts, size, generator).to(device)
            run.stats = []
        mine = distributed.shard(run.order)  # this process's windows (all of them alone)
        for b in range(run.batch, len(mine), batch_size):
            x, y, future = _batch(windows, mine[b : b + batch_size], lookback, model.n_future)
            with ctx:
                pred = net(x, future)  # [B, H]
            loss = loss_fn(pred.float(), y)
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            parts = [_norm(group) for group in watched.values()]  # before clipping
            norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm)  # norm before clip
            if cfg.clip_value > 0:
                nn.utils.clip_grad_value_(model.parameters(), cfg.clip_value)
            scaler.step(optimizer)
            scaler.update()
            if run.average is not None:  # average <- ema * average + (1 - ema) * weights
                torch._foreach_lerp_(list(run.average.values()), live, 1.0 - cfg.ema)
            if schedule.per_step:
                schedule.step()
            # one op a step, kept on the device: no sync, summed once the epoch ends
            run.stats.append(torch.stack([loss.detach() * len(y), norm, *parts]))
            if distributed.any_process(stop.is_set(), device):
                run.epoch, run.batch = epoch, b + batch_size
                state = _checkpoint(run, model, optimizer, scaler, generator, history, schedule)
                raise Interrupted(epoch, state)
        run.batch, run.order = 0, None

        stats = (  # [steps, 2 + watched]: loss x windows, norm, then each group's norm
            torch.stack(run.stats) if run.stats else torch.zeros(1, 2 + len(watched), device=device)
        )
        loss_sum, count = distributed.all_sum(stats[:, 0].sum(), _count(len(mine), device))
        train_loss = (loss_sum / count).item()
        norms = stats[:, 1]
        with _loaded(model, run.average):  # the averaged weights are the ones judged and kept
            val_loss = (
                _loss(model, windows, val_idx, lookback, ctx, val_fn) if len(val_idx) else math.nan
            )
        grads = stats[:, 1:].mean(dim=0).tolist()  # the norm, then each group's
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "grad_norm": grads[0],  # mean over the epoch's steps, before clipping
            "grad_norm_max": norms.max().item(),
            "clipped": (norms > max_norm).float().mean().item(),  # fraction of steps clipped
            **dict(zip(watched, grads[1:], strict=True)),  # mean norm per layer and head
            "lr": optimizer.lr,
            "seconds": time.perf_counter() - started,
        }
        if not schedule.per_step:
            schedule.step(val_loss if len(val_idx) else train_loss)
        history.rows.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if not (math.isfinite(train_loss) and (math.isfinite(val_loss) or not len(val_idx))):
            model.load_state_dict(run.best)
            raise RnnForecastError(
                f"training diverged at epoch {epoch} (loss {train_loss:.4g}, validation "
                f"{val_loss:.4g}); try a lower --lr (now {cfg.lr:g}), keep --clip-norm on, or "
                "check the data for extreme values; no model was written",
                ExitCode.DIVERGED,
            )
        improved = not len(val_idx) or not val_loss >= history.best_val_loss  # NaN best: first
        if improved:
            history.best_epoch, history.best_val_loss = epoch, val_loss
            run.best = _clone(run.average) if run.average is not None else _snapshot(model)
        elif epoch - history.best_epoch >= cfg.patience:
            history.stop_reason = "early_stopping"
            break
        if distributed.any_process(time.perf_counter() > deadline, device):
            history.stop_reason = "budget"
            break

    model.load_state_dict(run.best)
    return history


def epoch_windows(n: int, cfg: TrainConfig) -> int:
    """Windows per epoch: `epoch_size`, or all `n` but at least 8 and at most 64 batches, so
    a small dataset still takes several steps between validations and a large one is
    validated (and can stop early) every 64 steps."""
    if cfg.epoch_size is not None:
        return cfg.epoch_size
    return min(max(n, 8 * cfg.batch_size), 64 * cfg.batch_size) if n else 0


def _epoch_order(starts: Starts, size: int, generator: torch.Generator) -> torch.Tensor:
    """`size` window starts: whole shuffled passes over `starts`, the last one cut short;
    from more windows than an epoch takes, `size` drawn at random (a permutation of them all
    would cost 8 bytes a window, as much as the data, to use a few batches of it)."""
    n = len(starts)
    if not n:
        return torch.empty(0, dtype=torch.int64)
    if size < n:
        picks = torch.randint(n, (size,), generator=generator)
    else:
        passes = -(-size // n)
        perms = [torch.randperm(n, generator=generator) for _ in range(passes)]
        picks = (perms[0] if passes == 1 else torch.cat(perms))[:size]
    return torch.from_numpy(starts[picks.numpy()])


@dataclass
class _Run:
    """Where the loop is: what a checkpoint must hold beyond the model and optimizer."""

    best: dict[str, torch.Tensor]  # weights of the best epoch so far
    average: dict[str, torch.Tensor] | None = None  # moving average of the weights (--ema)
    epoch: int = 1
    batch: int = 0  # first window of the epoch's order still to train on
    order: torch.Tensor | None = None  # this epoch's shuffled window starts
    stats: list[torch.Tensor] | None = None  # a [2 + watched] row a step (see the loop)


def _checkpoint(
    run: _Run, model, optimizer, scaler, generator, history, schedule
) -> dict[str, Any]:
    """Everything needed to continue exactly here, as tensors and plain values."""
    return {
        "run": {
            "best": run.best,
            "average": run.average,
            "epoch": run.epoch,
            "batch": run.batch,
            "order": run.order.cpu(),
            "stats": [row.cpu() for row in run.stats],
        },
        "schedule": schedule.state_dict(),
        "model": _snapshot(model),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "generator": generator.get_state(),
        "rng": torch.get_rng_state(),  # dropout masks continue as they would have
        "rows": history.rows,
        "best_epoch": history.best_epoch,
        "best_val_loss": history.best_val_loss,
    }


def _restore(state, model, optimizer, scaler, generator, history, device, schedule=None) -> _Run:
    """Put a checkpoint back: the inverse of `_checkpoint`. A checkpoint is input: one that
    does not fit this model and loop (edited, or of another version) is refused by name."""
    # older loops: epoch sums before the per-step rows; torch.optim's state before our own
    if "stats" not in state["run"] or "kind" not in state.get("optimizer", {}):
        raise RnnForecastError(
            "--resume: the checkpoint (OUT.ckpt beside the model directory) was written by an "
            "older rnnforecast; delete it and train without --resume"
        )
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if any(  # a moment per element of each parameter, Adam's step count a scalar
            t.shape != (() if k == "steps" else p.shape)
            for k, ts in optimizer.state.items()
            for t, p in zip(ts, optimizer.params, strict=True)
        ):
            raise ValueError("its optimizer state is not this model's")
        if schedule is not None:
            schedule.load_state_dict(state["schedule"])
        scaler.load_state_dict(state["scaler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["rng"])
        history.rows = list(state["rows"])
        history.best_epoch, history.best_val_loss = state["best_epoch"], state["best_val_loss"]
        run = _Run(**state["run"])
        run.order = run.order.to(device)
        run.stats = [row.to(device) for row in run.stats]
        if run.average is not None:
            run.average = {k: v.to(device) for k, v in run.average.items()}
        want = {k: v.shape for k, v in model.state_dict().items()}
        for part in [run.best, *([run.average] if run.average is not None else [])]:
            if {k: v.shape for k, v in part.items()} != want:
                raise ValueError("its best or averaged weights are not this model's")
        if type(run.epoch) is not int or run.epoch < 1 or type(run.batch) is not int:
            raise ValueError("its epoch or batch is not a count")
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
        raise RnnForecastError(
            "--resume: the checkpoint (OUT.ckpt beside the model directory) does not fit this "
            f"model and run ({type(e).__name__}: {quoted(str(e), 80)}); delete it and train "
            "without --resume"
        ) from None
    return run


def _watched(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Parameters whose gradient norms history.csv records: each layer's recurrent weights
    (small against the head's: vanishing) and the head's."""
    groups: dict[str, list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        layer = re.search(r"rnns\.(\d+)\.weight_hh", name)
        if layer:
            groups.setdefault(f"grad_recurrent_l{layer.group(1)}", []).append(p)
    groups["grad_head"] = [
        p for name, p in model.named_parameters() if name.endswith("head.weight")
    ]
    return groups


def _norm(params: list[nn.Parameter]) -> torch.Tensor:
    """Global L2 norm of the parameters' gradients (0 where there is none)."""
    grads = [p.grad for p in params if p.grad is not None]
    if len(grads) == 1:  # one op for the usual single weight matrix
        return torch.linalg.vector_norm(grads[0])
    if not grads:
        return torch.zeros((), device=params[0].device)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def diagnose(
    rows: list[dict[str, float]], clip_norm: float, model: ModelConfig | None = None
) -> list[str]:
    """Plain-words warnings when gradients exploded or vanished, with what to try: only advice
    that `model`, the network trained (default: the default one), can take."""
    if not rows:
        return []
    model = model or ModelConfig()
    found = []
    clipped = float(np.mean([r["clipped"] for r in rows]))
    if clip_norm > 0 and clipped > 0.5:
        tries = ["a lower --lr"]
        if model.layers > 1:
            tries.append("fewer --layers")
        if model.cell == "rnn":
            tries.append("--activation tanh" if model.activation == "relu" else "")
            tries.append("an lstm or gru cell (--cell)")
        else:  # gated cells already keep their state bounded: the window's length is left
            tries.append("a shorter --lookback")
        found.append(
            f"gradients exploded: {clipped:.0%} of steps had a norm above --clip-norm "
            f"{clip_norm:g} and were clipped; try {_either(tries)}"
        )
    first, peak = rows[0]["grad_norm_max"], max(r["grad_norm_max"] for r in rows)
    if first > 0 and peak / first > 100:
        clip = "keep --clip-norm on" if clip_norm > 0 else "turn clipping on (--clip-norm 1)"
        found.append(
            f"gradient norms grew {peak / first:.0f}-fold during training (up to {peak:.3g}); "
            f"try a lower --lr, or {clip}"
        )
    layers = sorted(k for k in rows[0] if k.startswith("grad_recurrent_l"))
    head = float(np.mean([r["grad_head"] for r in rows]))
    if layers and head > 0:
        ratio = float(np.mean([r[layers[0]] for r in rows])) / head
        if ratio < 1e-3:
            tries = ["--cell lstm or gru"] if model.cell == "rnn" else []
            if model.layers > 1:
                tries += [] if model.residual else ["--residual"]
                tries.append("fewer --layers")
            tries.append("a shorter --lookback")
            found.append(
                f"gradients vanished: the first layer's recurrent weights got {ratio:.1e} of the "
                f"head's gradient; try {_either(tries)}"
            )
    return found


def _either(options: list[str]) -> str:
    """'a', 'a or b', 'a, b or c' of the non-empty options."""
    options = [o for o in options if o]
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


def _batch(windows: torch.Tensor, idx: torch.Tensor, lookback: int, n_future: int = 0):
    """Inputs [B, L, F], targets [B, H] and future covariates over the horizon [B, H, C] (None
    without them: they are the last C channels) of the windows starting at `idx`."""
    w = windows[idx]  # [B, F, L+H], gathered from the view
    x, y = w[:, :, :lookback].transpose(1, 2), w[:, 0, lookback:]  # [B, L, F], [B, H]
    if not n_future:
        return x, y, None
    return x, y, w[:, -n_future:, lookback:].transpose(1, 2)  # [B, H, C]


@torch.inference_mode()
def _loss(model, windows, idx, lookback, ctx, loss_fn) -> float:
    """Mean loss over the windows at `idx`, in large batches; in a torchrun job each process
    takes its share and the sums are added up, so every process gets the same value."""
    model.eval()
    total = torch.zeros((), device=windows.device)
    mine = idx[distributed.rank() :: distributed.world()]
    step = CPU_VAL_BATCH if windows.device.type == "cpu" else VAL_BATCH
    for b in range(0, len(mine), step):
        x, y, future = _batch(windows, mine[b : b + step], lookback, model.n_future)
        with ctx:
            pred = model(x, future)  # [B, H]
        total += loss_fn(pred.float(), y, reduction="sum")
    horizon = windows.shape[-1] - lookback
    total, count = distributed.all_sum(total, _count(len(mine) * horizon, windows.device))
    return (total / count).item()


def _count(n: int, device: torch.device) -> torch.Tensor:
    return torch.tensor(float(n), device=device)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return _clone(model.state_dict())


def _clone(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


@contextlib.contextmanager
def _loaded(model: nn.Module, weights: dict[str, torch.Tensor] | None) -> Iterator[None]:
    """Run the block with `weights` in `model` (none: as it is), then put its own back."""
    if weights is None:
        yield
        return
    own = _snapshot(model)
    model.load_state_dict(weights)
    try:
        yield
    finally:
        model.load_state_dict(own)


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


@contextlib.contextmanager
def _stop_requests() -> Iterator[threading.Event]:
    """An event set by the first Ctrl-C, SIGTERM or SIGHUP, so the loop stops cleanly after its
    batch; a second Ctrl-C interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set from the main thread
        return

    def request(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    hangup = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()  # a closed terminal
    previous = {s: signal.signal(s, request) for s in (signal.SIGINT, signal.SIGTERM, *hangup)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def save_checkpoint(path: Path, state: dict[str, Any], force: bool = False) -> None:
    """Write a training state with torch.save, atomically; tensors and plain values only.
    What is at `path` is replaced only if it is a checkpoint too (`is_checkpoint`), or with
    `force`."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    if not force and not is_checkpoint(path):
        raise RnnForecastError(
            f"{path}: exists and is not a checkpoint rnnforecast wrote, so the interrupted run's "
            "state was not saved there; move it, or choose another --out"
        )
    atomic_write(path, buffer.getvalue(), force=force)


def is_checkpoint(path: Path) -> bool:
    """Whether nothing is at `path` or a checkpoint `save_checkpoint` wrote: the only things
    a run may replace with its own checkpoint or remove once it has finished. Read as plain
    data (no code), its tensors mapped, not loaded."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(st.st_mode):
        return False  # a link, a directory, a FIFO: never one torch.save wrote here
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a zip, not torch's, code in its pickle: not ours
        return False
    return isinstance(state, dict) and isinstance(state.get("fingerprint"), str)


# what pipeline and _restore read of a checkpoint, and the kind of each
_STATE = {"run": dict, "model": dict, "optimizer": dict, "scaler": dict, "rows": list,
          "fingerprint": str, "members": list, "histories": list}  # fmt: skip


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True` (plain data, never code) from the regular
    file at `path` (never through a link, never waiting on a FIFO), and check that it holds
    what a checkpoint holds: finite float tensors of weights, the run's counters."""
    import errno

    fix = "delete it and train without --resume"
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError:
        raise RnnForecastError(
            f"{path}: no checkpoint to resume from; run without --resume"
        ) from None
    except OSError as e:
        why = "is a symbolic link" if e.errno == errno.ELOOP else f"cannot be read ({e.strerror})"
        raise RnnForecastError(
            f"{path}: {why}, not a checkpoint rnnforecast wrote; {fix}"
        ) from None
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RnnForecastError(f"{path}: is not a regular file; {fix}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the unpickler's own warnings: said below
                state = torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:  # unpickling errors have no common base class
            raise RnnForecastError(
                f"{path}: not a readable checkpoint ({type(e).__name__}); {fix}"
            ) from None
    if not isinstance(state, dict):
        raise RnnForecastError(f"{path}: holds {type(state).__name__}, not a training state; {fix}")
    for key, kind in _STATE.items():  # only an ensemble's finished members may be absent
        if not isinstance(state.get(key, [] if key in ("members", "histories") else None), kind):
            raise RnnForecastError(f"{path}: its '{key}' is not a {kind.__name__}; {fix}")
    for where, weights in [("model", state.get("model", {})), *(
        (f"members[{k}]", m) for k, m in enumerate(state.get("members", []))
    )]:  # fmt: skip
        if not isinstance(weights, dict) or not all(
            isinstance(v, torch.Tensor) and v.is_floating_point() and bool(v.isfinite().all())
            for v in weights.values()
        ):
            raise RnnForecastError(
                f"{path}: the weights under '{where}' are not all finite float tensors; {fix}"
            )
    return state
