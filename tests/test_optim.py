"""Our optimisers and schedules against torch.optim's, which they replace (torch.optim imports
torch._dynamo on first use)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import FAST, heavy_imports, long_frame
from torch import nn

from rnnforecast import optim


def _steps(make, fused: bool | None = None, steps: int = 6) -> list[torch.Tensor]:
    """The weights of a small LSTM + head after `steps` updates from `make(params)`, on the
    same data and gradients each time (the gradients depend on the weights: a wrong update
    shows in every later step)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = torch.randn(32, 3), torch.randn(32, 2)
    opt = make(list(model.parameters()))
    if fused is not None:
        opt.fused = fused
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.l1_loss(model(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize(
    ("kind", "reference"),
    [
        ("adam", lambda p, **kw: torch.optim.Adam(p, lr=0.01, weight_decay=0.001, **kw)),
        ("adamw", lambda p, **kw: torch.optim.AdamW(p, lr=0.01, weight_decay=0.01, **kw)),
        ("sgd", lambda p, **kw: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=0.001)),
    ],
)
def test_updates_equal_torch_optim(kind, reference):
    """Fused Adam(W) and SGD give torch.optim's weights to the bit, as does Adam(W)'s foreach
    form (for a torch without the fused kernel) against torch's foreach form."""
    wd = 0.01 if kind == "adamw" else 0.001
    ours = _steps(lambda p: optim.Optimizer(kind, p, lr=0.01, weight_decay=wd))
    if kind == "sgd":
        theirs = _steps(reference)
    else:
        assert optim._has_fused(torch.device("cpu"))  # torch >= 2.4 on CPU, as CI's
        theirs = _steps(lambda p: reference(p, fused=True))
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)
    if kind != "sgd":
        ours = _steps(lambda p: optim.Optimizer(kind, p, lr=0.01, weight_decay=wd), fused=False)
        theirs = _steps(lambda p: reference(p, foreach=True))
        for a, b in zip(ours, theirs, strict=True):
            assert torch.equal(a, b)


def _rates(schedule_step, optimizer, n: int, lr, momentum, metrics=None):
    out = []
    for t in range(n):
        out.append((lr(optimizer), momentum(optimizer)))
        schedule_step(None if metrics is None else metrics[t])
    return out


@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")
def test_schedules_equal_torch_lr_schedulers():
    """onecycle (rate and Adam's beta1, per step) and plateau (on a validation loss that
    stalls) give torch's values; cosine its curve (torch computes it recursively: to 1e-12)."""
    sched = torch.optim.lr_scheduler
    params = [nn.Parameter(torch.zeros(2))]

    def pair(kind: str, epochs: int, steps: int, make_torch, metrics=None):
        ours = optim.Optimizer("adam", params, lr=0.003, weight_decay=0.0)
        schedule = optim.Schedule(ours, kind, epochs, steps, patience=2)
        torch_opt = torch.optim.Adam(params, lr=0.003)
        theirs = make_torch(torch_opt)
        n = epochs * steps if kind == "onecycle" else epochs
        a = _rates(schedule.step, ours, n, lambda o: o.lr, lambda o: o.momentum, metrics)
        b = _rates(
            (lambda m: theirs.step()) if metrics is None else theirs.step, torch_opt, n,
            lambda o: o.param_groups[0]["lr"], lambda o: o.param_groups[0]["betas"][0], metrics,
        )  # fmt: skip
        return a, b

    a, b = pair("onecycle", 4, 7, lambda o: sched.OneCycleLR(o, max_lr=0.003, total_steps=28))
    assert a == b and max(lr for lr, _ in a) == pytest.approx(0.003, rel=0.05)
    losses = [1.0, 0.9, 0.9, 0.95, 0.91, 0.8, 0.8, 0.8, 0.8, math.nan, 0.7, 0.7]
    a, b = pair(
        "plateau", len(losses), 1,
        lambda o: sched.ReduceLROnPlateau(o, factor=0.5, patience=2), losses,
    )  # fmt: skip
    assert a == b and a[-1][0] == 0.003 / 4  # halved twice
    a, b = pair("cosine", 10, 1, lambda o: sched.CosineAnnealingLR(o, T_max=10))
    for (ours, _), (theirs, _) in zip(a, b, strict=True):
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-18)


def test_state_dict_round_trip_continues_identically():
    """A run stopped after 3 steps and put back from its state dict ends where an unbroken
    run ends: what --resume relies on."""
    whole = _steps(lambda p: optim.Optimizer("adam", p, lr=0.01, weight_decay=0.0), steps=6)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = torch.randn(32, 3), torch.randn(32, 2)
    opt = optim.Optimizer("adam", list(model.parameters()), lr=0.01, weight_decay=0.0)
    for k in range(6):
        if k == 3:
            saved = opt.state_dict()
            opt = optim.Optimizer("adam", list(model.parameters()), lr=0.5, weight_decay=0.0)
            opt.load_state_dict(saved)
        opt.zero_grad()
        nn.functional.l1_loss(model(x), y).backward()
        opt.step()
    for a, b in zip(model.parameters(), whole, strict=True):
        assert torch.equal(a.detach(), b)


def test_train_does_not_import_torch_dynamo(tmp_path):
    """Building a torch.optim optimiser imports torch._dynamo (~1 s, ~70 MB); train does not."""
    path = tmp_path / "d.csv"
    long_frame(n_series=2, n=60).to_csv(path, index=False)
    args = ["train", str(path), "-o", str(tmp_path / "m"), *FAST, "--lr-schedule", "onecycle"]
    imported = heavy_imports(args)
    assert "torch" in imported and "torch._dynamo" not in imported
