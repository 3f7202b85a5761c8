"""The numpy engine agrees with the torch model for every cell and option."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rnnforecast import engine_numpy, engine_torch
from rnnforecast.config import ModelConfig
from rnnforecast.model import Forecaster

CASES = [
    ModelConfig(
        cell=cell, activation=act, layers=layers, residual=res, norm=norm, skip=skip,
        layer_norm=ln, hidden_size=12,
    )
    for (cell, act), layers, res, norm, skip, ln in itertools.product(
        [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")],
        [1, 3],
        [False, True],
        ["window", "none"],
        ["linear", "none"],
        [False, True],
    )
    if not (res and layers == 1)
] + [
    ModelConfig(cell="lstm", init="default", dropout=0.3, layers=2, hidden_size=5, layer_norm=ln)
    for ln in (False, True)
]  # fmt: skip


def _weights(cfg: ModelConfig, horizon: int, lookback: int, n_inputs: int = 1):
    torch.manual_seed(0)
    model = Forecaster(cfg, lookback, horizon, n_inputs, season=4)
    with torch.no_grad():  # move off the tidy initial values so every weight matters
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval(), {k: v.numpy().copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    "cfg",
    CASES,
    ids=lambda c: (
        f"{c.cell}-{c.activation}-{c.layers}-{c.residual}-{c.norm}-{c.skip}"
        + ("-ln" if c.layer_norm else "")
    ),
)
def test_numpy_matches_torch(cfg):
    model, weights = _weights(cfg, horizon=7, lookback=20)
    x = np.random.default_rng(1).standard_normal((9, 20, 1)).astype(np.float32) * 2 + 1
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = engine_numpy.make(cfg, weights)(x)
    assert got.shape == (9, 7)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_flat_window_is_centred_not_divided():
    cfg = ModelConfig(cell="gru", hidden_size=6)
    model, weights = _weights(cfg, horizon=3, lookback=10)
    x = np.full((2, 10, 1), 4.0, np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = engine_numpy.make(cfg, weights)(x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_torch_engine_rebuilds_the_same_model():
    cfg = ModelConfig(cell="lstm", layers=2, hidden_size=8)
    model, weights = _weights(cfg, horizon=4, lookback=12)
    x = np.random.default_rng(2).standard_normal((5, 12, 1)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(engine_torch.make(cfg, weights, "cpu")(x), expected)


def test_linear_skip_starts_as_seasonal_naive():
    """Before any training the skip model forecasts exactly the seasonal naive, in the input's
    units (window normalisation is undone), so training starts from that baseline."""
    cfg = ModelConfig(cell="lstm", hidden_size=8, skip="linear")
    model = Forecaster(cfg, lookback=10, horizon=6, season=4)
    x = np.random.default_rng(3).standard_normal((3, 10, 1)).astype(np.float32) * 5 + 20
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    last_season = x[:, -4:, 0]
    expected = np.concatenate([last_season, last_season[:, :2]], axis=1)  # steps 5, 6 wrap
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_numpy_matches_torch_with_calendar_inputs(cell):
    """Extra input channels (calendar features) are read as they are; only channel 0, the
    target, is normalised and feeds the skip."""
    cfg = ModelConfig(cell=cell, layers=2, hidden_size=10, calendar=True)
    model, weights = _weights(cfg, horizon=5, lookback=16, n_inputs=5)
    x = np.random.default_rng(4).standard_normal((7, 16, 5)).astype(np.float32)
    x[..., 0] = x[..., 0] * 3 + 10
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = engine_numpy.make(cfg, weights)(x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
