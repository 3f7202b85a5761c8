"""Our optimisers and schedules against torch.optim's, which they replace (torch.optim imports
torch._dynamo on first use)."""

from __future__ import annotations

import io
import math

import pytest
import torch
from conftest import FAST, heavy_imports, long_frame
from test_robustness import assert_clean_error, invoke
from torch import nn

from rnnforecast import artifact, distributed, optim


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


@pytest.mark.parametrize("path", ["own", "fallback"])
def test_state_dict_round_trip_continues_identically(request, path):
    """A run stopped after 3 steps and put back from its state dict (through torch.save and
    a weights-only torch.load, as a checkpoint is) ends where an unbroken run ends: what
    --resume relies on; on the torch.optim fallback too."""
    if path == "fallback":
        request.getfixturevalue("private_functions_gone")
    whole = _steps(lambda p: optim.Optimizer("adam", p, lr=0.01, weight_decay=0.0), steps=6)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = torch.randn(32, 3), torch.randn(32, 2)
    opt = optim.Optimizer("adam", list(model.parameters()), lr=0.01, weight_decay=0.0)
    assert (opt.fallback is not None) == (path == "fallback")
    for k in range(6):
        if k == 3:
            buffer = io.BytesIO()
            torch.save(opt.state_dict(), buffer)
            buffer.seek(0)
            saved = torch.load(buffer, weights_only=True)
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


# --- the guard: torch.optim where this torch's private functions are not optim's ---------------

FUSED = ("_fused_adam_", "_fused_adamw_")


@pytest.fixture
def fresh_checks(monkeypatch):
    """optim's once-per-device checks forgotten before and after the test, so they see the
    torch the test makes (and later tests the real one again). torch._dynamo, which
    torch.optim imports, names the private functions when it is imported: it is imported
    first, as a torch that lacked them would have a _dynamo that does not name them."""
    import torch._dynamo  # noqa: F401

    optim._native.cache_clear()
    optim._has_fused.cache_clear()
    yield monkeypatch
    optim._native.cache_clear()
    optim._has_fused.cache_clear()


@pytest.fixture
def private_functions_gone(fresh_checks):
    """A torch without the private functions optim calls."""
    for name in (*optim._PRIVATE, *FUSED):
        fresh_checks.delattr(torch, name)


@pytest.fixture
def private_functions_changed(fresh_checks):
    """A torch whose `_foreach_addcdiv_` takes other arguments than optim passes (the rest,
    which train calls too, as they are)."""

    def changed(*args, **kwargs):
        raise TypeError("_foreach_addcdiv_(): incompatible function arguments")

    fresh_checks.setattr(torch, "_foreach_addcdiv_", changed)


@pytest.fixture
def private_functions_differ(fresh_checks):
    """A torch whose `_foreach_lerp_` runs but reads its weight the other way round."""
    lerp = torch._foreach_lerp_
    fresh_checks.setattr(torch, "_foreach_lerp_", lambda a, b, weight: lerp(a, b, 1 - weight))


BROKEN = ["private_functions_gone", "private_functions_changed", "private_functions_differ"]
REFERENCES = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.001),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.01),
    "sgd": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=0.001),
}


@pytest.mark.parametrize("broken", BROKEN)
@pytest.mark.parametrize("kind", ["adam", "adamw", "sgd"])
def test_guard_falls_back_to_torch_optim(request, broken, kind):
    """Where the private functions are missing, take other arguments or compute something
    else, the optimiser is torch.optim's of the same kind and settings, and its updates are
    torch.optim's own."""
    request.getfixturevalue(broken)
    wd = 0.01 if kind == "adamw" else 0.001
    made = []

    def ours(p):
        made.append(optim.Optimizer(kind, p, lr=0.01, weight_decay=wd))
        return made[-1]

    weights = _steps(ours)
    expected = _steps(REFERENCES[kind])
    assert type(made[0].fallback) is type(REFERENCES[kind]([nn.Parameter(torch.zeros(1))]))
    assert not made[0].fused
    for a, b in zip(weights, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_the_fallback_follows_the_schedule(private_functions_gone):
    """onecycle sets the rate and Adam's beta1 each step; on the fallback they reach
    torch.optim's optimiser, whose weights then match Adam under torch's OneCycleLR."""

    def run(make_opt, make_schedule, steps=12):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
        x, y = torch.randn(32, 3), torch.randn(32, 2)
        opt = make_opt(list(model.parameters()))
        schedule = make_schedule(opt)
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.l1_loss(model(x), y).backward()
            opt.step()
            schedule.step()
        return [p.detach() for p in model.parameters()], opt

    ours, opt = run(
        lambda p: optim.Optimizer("adam", p, lr=0.05, weight_decay=0.0),
        lambda o: optim.Schedule(o, "onecycle", epochs=2, steps=6, patience=1),
    )
    assert opt.fallback is not None
    assert opt.fallback.param_groups[0]["betas"][0] != optim.MOMENTUM  # the cycle moved it
    theirs, _ = run(
        lambda p: torch.optim.Adam(p, lr=0.05),
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=12),
    )
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.usefixtures("private_functions_changed")
def test_train_runs_on_the_fallback(tmp_path, long_csv, monkeypatch):
    """With the private functions changed, `train` trains on torch.optim's optimiser and
    writes a model that predict reads."""
    made = []

    def spy(*args):
        made.append(torch_optimizer(*args))
        return made[-1]

    torch_optimizer = optim._torch_optimizer
    monkeypatch.setattr(optim, "_torch_optimizer", spy)
    result = invoke("train", long_csv, "-o", tmp_path / "m", "-H", 6, *FAST)
    assert result.exit_code == 0, result.output
    assert len(made) == 1 and made[0].state  # one model, stepped by torch.optim
    assert all(s["step"] > 0 for s in made[0].state.values())
    model = artifact.load(tmp_path / "m")
    assert model.history["train_loss"].notna().all() and len(model.history) == 3
    predicted = invoke("predict", "-m", tmp_path / "m", "-o", tmp_path / "f.csv")
    assert predicted.exit_code == 0, predicted.output
    assert (tmp_path / "f.csv").read_text().count("\n") == 1 + 3 * 6  # header, 3 series x H


def _interrupt(monkeypatch, data, out) -> None:
    """Train into `out`, stopped after a few batches as Ctrl-C stops it: a checkpoint."""
    asked = []

    def any_process(flag, device):
        asked.append(flag)
        return len(asked) == 5

    with monkeypatch.context() as patch:
        patch.setattr(distributed, "any_process", any_process)
        result = invoke("train", data, "-o", out, "-H", 6, "--batch-size", 4, *FAST)
    assert result.exit_code == 130, result.output
    assert out.with_name(out.name + ".ckpt").exists()


def _resume(data, out):
    return invoke("train", data, "-o", out, "-H", 6, "--batch-size", 4, *FAST, "--resume")


def test_a_checkpoint_of_the_other_path_is_refused_in_one_line(
    tmp_path, long_csv, monkeypatch, request
):
    """A checkpoint holds the state of the optimiser that wrote it: the other path refuses
    it with --resume's one-line message (exit 2), never a traceback, and keeps it."""
    own, fallback = tmp_path / "own", tmp_path / "fallback"
    _interrupt(monkeypatch, long_csv, own)  # written by optim's own updates
    request.getfixturevalue("private_functions_changed")
    _interrupt(monkeypatch, long_csv, fallback)  # written by torch.optim's
    refused = _resume(long_csv, own)
    assert_clean_error(refused, "does not fit this model and run", "not torch.optim's")
    monkeypatch.undo()  # the real torch again: optim's own updates
    optim._native.cache_clear()
    optim._has_fused.cache_clear()
    refused = _resume(long_csv, fallback)
    assert_clean_error(refused, "does not fit this model and run", "is torch.optim's")
    assert fallback.with_name("fallback.ckpt").exists() and own.with_name("own.ckpt").exists()
