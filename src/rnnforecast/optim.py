"""Adam, AdamW, SGD and the learning-rate schedules, without `torch.optim`.

torch 2.x guards every `torch.optim.Optimizer` method with dynamo hooks, so building one
imports `torch._dynamo`: ~800 modules, ~1.1 s and ~70 MB of every `train` process here, for
a model that trains in seconds. These are the same updates on the same kernels (Adam(W) runs
torch's fused kernel where this torch has one for the device, as `torch.optim.Adam(fused=True)`
does, else its foreach form), and the same schedules as torch's ReduceLROnPlateau,
CosineAnnealingLR and OneCycleLR with the settings `train` used.

The updates call torch's private `_fused_adam(w)_` and `_foreach_*` functions (torch.optim's
own building blocks), which a torch release may remove or change. So each is checked once per
device by one tiny step (`_native`); on a torch where they are missing or answer otherwise,
`Optimizer` runs the matching torch.optim optimizer instead, with the same settings (and the
~1 s import that comes with it). A checkpoint holds the state of the path that wrote it; the
other path refuses it (`load_state_dict` raises ValueError, which --resume reports).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import nn

BETA2, EPS = 0.999, 1e-8
MOMENTUM = 0.9  # SGD's, and Adam's beta1


class Optimizer:
    """adam, adamw or sgd over `params`; `lr` and `momentum` (Adam's beta1) are plain
    attributes a schedule sets between steps. `param_groups` is the face GradScaler reads.

    On a torch whose private functions are not those the updates below were written for
    (`_native`), `fallback` is torch.optim's optimizer of the same kind and settings, and
    `step` hands it `lr` and `momentum` before each of its steps; `state` then stays empty
    (the torch optimizer holds its own)."""

    def __init__(self, kind: str, params: list[nn.Parameter], lr: float, weight_decay: float):
        self.kind, self.params = kind, [p for p in params if p.requires_grad]
        self.lr, self.momentum, self.weight_decay = lr, MOMENTUM, weight_decay
        self.state: dict[str, list[torch.Tensor]] = {}  # per parameter, from the first step
        native = not self.params or _native(self.params[0].device)
        self.fallback = None if native else _torch_optimizer(kind, self.params, lr, weight_decay)
        self.fused = (
            native and kind != "sgd" and bool(self.params) and _has_fused(self.params[0].device)
        )

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        if self.fallback is not None:
            return self.fallback.param_groups
        return [{"params": self.params, "lr": self.lr}]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if self.fallback is not None:
            group = self.fallback.param_groups[0]
            group["lr"] = self.lr
            if self.kind == "sgd":
                group["momentum"] = self.momentum
            else:
                group["betas"] = (self.momentum, BETA2)
            self.fallback.step()
            return
        if not self.state:
            self.state = self._new_state()
        have = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not have:
            return
        params = [self.params[i] for i in have]
        grads = [p.grad for p in params]
        state = {k: [v[i] for i in have] for k, v in self.state.items()}
        if self.kind == "sgd":
            _sgd(params, grads, state["momentum_buffer"], self.lr, self.momentum, self.weight_decay)
        else:
            adam = _fused_adam if self.fused else _foreach_adam
            adam(params, grads, **state, lr=self.lr, beta1=self.momentum,
                 weight_decay=self.weight_decay, decoupled=self.kind == "adamw")  # fmt: skip

    def _new_state(self) -> dict[str, list[torch.Tensor]]:
        zeros = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        if self.kind == "sgd":
            return {"momentum_buffer": zeros}
        return {
            "exp_avg": zeros,
            "exp_avg_sq": [torch.zeros_like(z) for z in zeros],
            "steps": [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params],
        }

    def state_dict(self) -> dict[str, Any]:
        if self.fallback is not None:
            return {"kind": self.kind, "lr": self.lr, "momentum": self.momentum,
                    "torch_optim": self.fallback.state_dict()}  # fmt: skip
        return {"kind": self.kind, "lr": self.lr, "momentum": self.momentum, "state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back what `state_dict` gave, on the same path (ValueError from the other)."""
        if self.fallback is not None:
            self._load_fallback(state)
            return
        if "torch_optim" in state:
            raise ValueError("its optimizer state is torch.optim's (written with another torch)")
        self.lr, self.momentum = state["lr"], state["momentum"]
        self.state = {
            k: [t.to(p.device) for t, p in zip(v, self.params, strict=True)]
            for k, v in state["state"].items()
        }

    def _load_fallback(self, state: dict[str, Any]) -> None:
        if "torch_optim" not in state:
            raise ValueError("its optimizer state is not torch.optim's, which this torch needs")
        self.fallback.load_state_dict(state["torch_optim"])
        for p, moments in self.fallback.state.items():  # a step count a scalar, else p's shape
            for k, t in moments.items():
                if isinstance(t, torch.Tensor) and t.shape != (() if k == "step" else p.shape):
                    raise ValueError("its optimizer state is not this model's")
        self.lr, self.momentum = state["lr"], state["momentum"]


def _torch_optimizer(kind: str, params: list[nn.Parameter], lr: float, weight_decay: float):
    """torch.optim's optimizer that `kind` names, with this module's settings."""
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=MOMENTUM, weight_decay=weight_decay)
    adam = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return adam(params, lr=lr, betas=(MOMENTUM, BETA2), eps=EPS, weight_decay=weight_decay)


# the private torch functions the foreach update calls (the fused kernels: `_has_fused`)
_PRIVATE = ("_foreach_add_", "_foreach_add", "_foreach_mul_", "_foreach_lerp_",
            "_foreach_addcmul_", "_foreach_sqrt", "_foreach_div_", "_foreach_addcdiv_")  # fmt: skip
_ERRORS = (AttributeError, NotImplementedError, RuntimeError, TypeError, ValueError)


@functools.cache
def _native(device: torch.device) -> bool:
    """Whether this torch has the private functions `_foreach_adam` calls, taking the arguments
    it passes and giving Adam's update: one Adam and one AdamW step on 1-element tensors on
    `device`, against the update worked out here. Where not, `Optimizer` uses torch.optim."""
    if not all(hasattr(torch, name) for name in _PRIVATE):
        return False
    lr, weight_decay, grad = 0.1, 0.1, 0.5
    for decoupled in (False, True):
        p = torch.ones(1, device=device)
        g, m, v = torch.full_like(p, grad), torch.zeros_like(p), torch.zeros_like(p)
        steps = [torch.zeros((), dtype=torch.float32, device=device)]
        try:
            _foreach_adam([p], [g], [m], [v], steps, lr=lr, beta1=MOMENTUM,
                          weight_decay=weight_decay, decoupled=decoupled)  # fmt: skip
            got = p.item()
        except _ERRORS:
            return False
        if not math.isclose(got, _adam_once(1.0, grad, lr, weight_decay, decoupled), rel_tol=1e-5):
            return False
    return True


def _adam_once(p: float, g: float, lr: float, weight_decay: float, decoupled: bool) -> float:
    """A weight after Adam(W)'s first step, worked out in plain floats."""
    if decoupled:
        p *= 1 - lr * weight_decay
    else:
        g += weight_decay * p
    return p - lr * g / (abs(g) + EPS)  # the first step's bias-corrected moments: g and g^2


@functools.cache
def _has_fused(device: torch.device) -> bool:
    """Whether this torch has the fused Adam and AdamW kernels for `device` (CPU from 2.4,
    CUDA), taking the arguments `_fused_adam` passes."""
    one = torch.zeros(1, device=device)
    try:
        for kernel in (torch._fused_adam_, torch._fused_adamw_):
            kernel([one.clone()], [one.clone()], [one.clone()], [one.clone()], [],
                   [one.clone()], amsgrad=False, lr=0.0, beta1=0.9, beta2=BETA2,
                   weight_decay=0.0, eps=EPS, maximize=False)  # fmt: skip
    except _ERRORS:
        return False
    return True


def _fused_adam(params, grads, exp_avg, exp_avg_sq, steps, lr, beta1, weight_decay, decoupled):
    """torch.optim.Adam(W)'s fused step: one kernel over every tensor."""
    torch._foreach_add_(steps, 1)
    kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
    kernel(params, grads, exp_avg, exp_avg_sq, [], steps, amsgrad=False, lr=lr, beta1=beta1,
           beta2=BETA2, weight_decay=weight_decay, eps=EPS, maximize=False)  # fmt: skip


def _foreach_adam(params, grads, exp_avg, exp_avg_sq, steps, lr, beta1, weight_decay, decoupled):
    """torch.optim.Adam(W)'s foreach step, for a torch or device without the fused kernel."""
    torch._foreach_add_(steps, 1)
    if weight_decay and decoupled:
        torch._foreach_mul_(params, 1 - lr * weight_decay)
    elif weight_decay:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_lerp_(exp_avg, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sq, BETA2)
    torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1 - BETA2)
    counts = [s.item() for s in steps]
    step_size = [-lr / (1 - beta1**n) for n in counts]
    denom = torch._foreach_sqrt(exp_avg_sq)
    torch._foreach_div_(denom, [(1 - BETA2**n) ** 0.5 for n in counts])
    torch._foreach_add_(denom, EPS)
    torch._foreach_addcdiv_(params, exp_avg, denom, step_size)


def _sgd(params, grads, buffers, lr, momentum, weight_decay) -> None:
    """torch.optim.SGD's step with momentum (no dampening, not Nesterov). Its first step
    starts each buffer at the gradient; 0 x momentum + gradient is that, to the bit."""
    for p, g, buf in zip(params, grads, buffers, strict=True):
        d = g.add(p, alpha=weight_decay) if weight_decay else g
        buf.mul_(momentum).add_(d)
        p.add_(buf, alpha=-lr)


class Schedule:
    """The learning rate over training: `none`; `plateau` (halve after `patience` epochs
    without a better validation loss); `cosine` (to 0 over `epochs`); `onecycle` (per step:
    warm up from lr/25 over 30 % of the steps, then anneal to lr/25e4, with the momentum
    cycled 0.95 -> 0.85 -> 0.95). `step` is called once an epoch, or once a step for
    onecycle (`per_step`); plateau reads the epoch's validation loss."""

    def __init__(self, optimizer: Optimizer, kind: str, epochs: int, steps: int, patience: int):
        self.optimizer, self.kind = optimizer, kind
        self.per_step = kind == "onecycle"
        self.base_lr, self.epochs, self.patience = optimizer.lr, epochs, patience
        self.total = epochs * max(steps, 1)
        self.t, self.best, self.bad = 0, math.inf, 0
        if kind == "onecycle":
            self._set_cycle()

    def step(self, metric: float | None = None) -> None:
        if self.kind == "none":
            return
        self.t += 1
        if self.kind == "plateau":  # torch's defaults: relative threshold 1e-4, no cooldown
            if metric is not None and metric < self.best * (1 - 1e-4):
                self.best, self.bad = metric, 0
            else:
                self.bad += 1
            if self.bad > self.patience:
                lr = self.optimizer.lr * 0.5
                if self.optimizer.lr - lr > 1e-8:
                    self.optimizer.lr = lr
                self.bad = 0
        elif self.kind == "cosine":
            self.optimizer.lr = _cosine(self.base_lr, 0.0, self.t / self.epochs)
        else:
            self._set_cycle()

    def _set_cycle(self) -> None:
        """onecycle at step `t`: two cosine phases, as torch's OneCycleLR (pct_start 0.3)."""
        if self.t > self.total:
            raise ValueError(f"onecycle stepped {self.t} times, past its {self.total} steps")
        top, start = self.base_lr, self.base_lr / 25
        rise = 0.3 * self.total - 1
        if self.t <= rise:
            pct, lr, momentum = self.t / rise, (start, top), (0.95, 0.85)
        else:
            pct = (self.t - rise) / (self.total - 1 - rise)
            lr, momentum = (top, start / 1e4), (0.85, 0.95)
        self.optimizer.lr = _cosine(*lr, pct)
        self.optimizer.momentum = _cosine(*momentum, pct)

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "best": self.best, "bad": self.bad}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t, self.best, self.bad = state["t"], state["best"], state["bad"]


def _cosine(start: float, end: float, pct: float) -> float:
    """From `start` at pct 0 to `end` at pct 1 along half a cosine (torch's _anneal_cos)."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
