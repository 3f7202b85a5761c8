"""The training loop: optimisers, learning-rate schedules and gradient-health diagnostics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, long_frame
from typer.testing import CliRunner

from rnnforecast import pipeline, train
from rnnforecast.cli import app
from rnnforecast.config import Config
from rnnforecast.data import Loaded, Schema
from rnnforecast.windows import Starts

SMALL = {"hidden_size": 8, "layers": 2, "horizon": 6, "batch_size": 16, "patience": 100}


def fit(**overrides):
    frame = long_frame(n_series=2, n=60)
    schema = Schema(layout="long", time_col="ds", target=("y",), id_col="unique_id", freq="MS")
    loaded = Loaded(frame=frame, schema=schema, notes=(), source="test")
    return pipeline.fit(loaded, Config().with_overrides({**SMALL, **overrides}))


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_every_optimizer_learns(optimizer):
    lr = 0.05 if optimizer == "sgd" else 0.01
    rows = fit(optimizer=optimizer, lr=lr, epochs=15, weight_decay=1e-4).history.rows
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_schedules_shape_the_learning_rate():
    cosine = [r["lr"] for r in fit(lr_schedule="cosine", epochs=10, lr=1e-3).history.rows]
    assert cosine[0] == pytest.approx(1e-3)  # the rate each epoch trained with
    assert all(a > b for a, b in zip(cosine, cosine[1:], strict=False))
    assert cosine[-1] < 0.03 * cosine[0]
    onecycle = [r["lr"] for r in fit(lr_schedule="onecycle", epochs=10, lr=1e-3).history.rows]
    peak = int(np.argmax(onecycle))
    assert 0 < peak < 9 and onecycle[peak] == pytest.approx(1e-3, rel=0.2)
    plateau = fit(lr_schedule="plateau", epochs=40, lr=0.05, patience=8).history.rows
    assert min(r["lr"] for r in plateau) < 0.05  # halved once validation stalled


def test_history_records_gradient_health():
    rows = fit(epochs=3).history.rows
    for column in ("grad_norm", "grad_norm_max", "clipped", "grad_recurrent_l0",
                   "grad_recurrent_l1", "grad_head"):  # fmt: skip
        assert column in rows[0] and np.isfinite(rows[0][column])
    assert rows[0]["grad_norm_max"] >= rows[0]["grad_norm"] > 0
    assert rows[0]["grad_head"] > 0 and rows[0]["grad_recurrent_l0"] > 0


def test_clipping_every_step_is_called_explosion():
    result = fit(epochs=2, clip_norm=1e-6)
    assert all(r["clipped"] == 1.0 for r in result.history.rows)
    assert any("gradients exploded: 100% of steps" in w for w in result.warnings)
    assert fit(epochs=2).warnings == []


def test_diagnose_by_hand():
    calm = {"grad_norm_max": 1.0, "clipped": 0.0, "grad_recurrent_l0": 0.5, "grad_head": 1.0}
    assert train.diagnose([calm, calm], clip_norm=1.0) == []
    growing = [calm, {**calm, "grad_norm_max": 500.0}]
    assert "grew 500-fold" in train.diagnose(growing, 1.0)[0]
    vanishing = [{**calm, "grad_recurrent_l0": 1e-6}]
    assert "gradients vanished" in train.diagnose(vanishing, 1.0)[0]


@pytest.mark.parametrize(
    ("n", "epoch_size", "expected"),
    [
        (10, None, 8 * 16),  # few windows: repeated up to 8 batches
        (500, None, 500),  # all windows once
        (5000, None, 64 * 16),  # many: a random 64 batches an epoch
        (5000, 40, 40),  # as set
    ],
)
def test_epoch_windows(n, epoch_size, expected):
    cfg = Config().with_overrides({"batch_size": 16, "epoch_size": epoch_size}).train
    assert train.epoch_windows(n, cfg) == expected


def test_small_data_epochs_repeat_every_window_evenly():
    """An epoch over few windows makes whole shuffled passes: each window comes up as often."""
    import torch

    idx = Starts.runs(np.array([100]), np.array([10]))  # windows starting at 100..109
    order = train._epoch_order(idx, 35, torch.Generator().manual_seed(0))
    counts = torch.bincount(order - 100, minlength=10)
    assert len(order) == 35 and counts.min() >= 3 and counts.max() <= 4
    assert not torch.equal(order[:10], order[10:20])  # each pass reshuffled


def test_large_data_epochs_draw_their_windows_from_all():
    """An epoch shorter than the windows draws that many, from anywhere, differently each
    epoch (without a permutation of them all)."""
    import torch

    idx = Starts.runs(np.array([1000, 50_000]), np.array([49_000, 51_000]))  # 1000..100_999
    generator = torch.Generator().manual_seed(0)
    first, second = (train._epoch_order(idx, 4096, generator) for _ in range(2))
    assert len(first) == 4096 and bool(((first >= 1000) & (first < 101_000)).all())
    assert first.min() < 11_000 and first.max() > 90_000  # spread over the whole range
    assert not torch.equal(first, second)


def test_weight_average_changes_what_is_kept_not_how_it_trains():
    """The moving average is what validation judges and the model keeps; the optimiser's own
    path (the training loss) is the same with it or without it."""
    plain = fit(epochs=4, ema=0.0, seed=3)
    averaged = fit(epochs=4, ema=0.9, seed=3)
    train_plain = [r["train_loss"] for r in plain.history.rows]
    train_avg = [r["train_loss"] for r in averaged.history.rows]
    assert train_plain == train_avg
    assert [r["val_loss"] for r in plain.history.rows] != [
        r["val_loss"] for r in averaged.history.rows
    ]
    assert not np.allclose(
        plain.model.weights["head.weight"], averaged.model.weights["head.weight"]
    )


def test_a_checkpoint_of_an_older_loop_is_refused_in_words():
    """A checkpoint whose epoch sums predate the per-step rows cannot continue this loop:
    a clear error (exit 2), not a TypeError."""
    from rnnforecast.errors import RnnForecastError

    old = {"run": {"epoch": 2, "batch": 0, "loss_sum": 0.0, "grad_sum": 0.0, "steps": 3}}
    with pytest.raises(RnnForecastError, match="older rnnforecast"):
        train._restore(old, None, None, None, None, None, "cpu")


def test_validation_loss_is_the_mean_over_all_windows_whatever_the_batches(monkeypatch):
    """On CPU validation runs in small batches (their activations grow with the batch); the
    loss is still the mean over every window, with the remainder batch counted at its size."""
    import contextlib

    import torch

    from rnnforecast.config import ModelConfig
    from rnnforecast.model import Forecaster

    torch.manual_seed(0)
    lookback, horizon = 12, 4
    windows = torch.randn(800, 1).unfold(0, lookback + horizon, 1)  # [785, 1, 16]
    idx = torch.arange(0, 700)
    model = Forecaster(ModelConfig(hidden_size=8), lookback, horizon, 1, season=1)
    args = (model, windows, idx, lookback, contextlib.nullcontext(), train.LOSSES["mae"])
    monkeypatch.setattr(train, "CPU_VAL_BATCH", 256)  # 256 + 256 + 188
    batched = train._loss(*args)
    monkeypatch.setattr(train, "CPU_VAL_BATCH", 10_000)
    assert batched == pytest.approx(train._loss(*args), rel=1e-6)
    with torch.inference_mode():
        x, y, _ = train._batch(windows, idx, lookback)
        expected = (model(x, None) - y).abs().mean().item()
    assert batched == pytest.approx(expected, rel=1e-6)


def test_the_time_budget_stops_training_and_keeps_the_best(tmp_path, long_csv):
    """With --budget spent, no further epoch begins: training stops after its first with the
    reason recorded, and the model is written."""
    model = tmp_path / "m"
    args = ["train", long_csv, "--out", model, *FAST, "--epochs", 50, "--budget", "1e-9"]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    scores = json.loads((model / "metrics.json").read_text())
    assert scores["stop_reason"] == "budget"
    assert len(pd.read_csv(model / "history.csv")) == 1
