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


def _weights(cfg: ModelConfig, horizon: int, lookback: int, n_inputs: int = 1, n_future: int = 0):
    torch.manual_seed(0)
    model = Forecaster(cfg, lookback, horizon, n_inputs, season=4, n_future=n_future)
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


def test_linear_skip_starts_as_a_profile_of_seasons():
    """With seasons = 2 the untrained model forecasts the mean of the last two seasons, moved to
    the last season's level, whatever the window's scale."""
    cfg = ModelConfig(cell="gru", hidden_size=8, skip="linear")
    model = Forecaster(cfg, lookback=12, horizon=6, season=4, seasons=2)
    x = np.random.default_rng(4).standard_normal((3, 12, 1)).astype(np.float32) * 5 + 20
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    two = (x[:, -8:-4, 0] + x[:, -4:, 0]) / 2
    shifted = two - two.mean(1, keepdims=True) + x[:, -4:, 0].mean(1, keepdims=True)
    np.testing.assert_allclose(got, shifted[:, [0, 1, 2, 3, 0, 1]], rtol=1e-5)


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


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(cell=cell, layers=layers, norm=norm, skip=skip, hidden_size=10)
        for cell, layers, norm, skip in [
            ("rnn", 1, "window", "linear"),
            ("lstm", 2, "window", "linear"),
            ("gru", 1, "none", "none"),
            ("lstm", 1, "none", "linear"),
            ("gru", 2, "window", "none"),
        ]
    ],
    ids=lambda c: f"{c.cell}-{c.layers}-{c.norm}-{c.skip}",
)
def test_numpy_matches_torch_with_covariates(cfg):
    """Past and future covariates are input channels after the target; the future ones' horizon
    values [B, H, 2] also reach the output through the linear `future` map."""
    horizon, lookback = 6, 14
    model, weights = _weights(cfg, horizon, lookback, n_inputs=1 + 1 + 2, n_future=2)
    assert weights["future.weight"].shape == (horizon, horizon * 2)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((11, lookback, 4)).astype(np.float32)
    x[..., 0] = x[..., 0] * 3 + 10
    future = rng.standard_normal((11, horizon, 2)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x), torch.from_numpy(future)).numpy()
        without = model(torch.from_numpy(x), torch.zeros(11, horizon, 2)).numpy()
    assert np.abs(expected - without).max() > 1e-2  # the horizon values matter
    got = engine_numpy.make(cfg, weights)(x, future)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    rebuilt = engine_torch.make(cfg, weights, "cpu")(x, future)
    np.testing.assert_array_equal(rebuilt, expected)


def test_future_map_starts_at_zero():
    """A new model with future covariates forecasts exactly what it would without them, so
    training starts from the same (seasonal naive) forecast."""
    cfg = ModelConfig(cell="gru", hidden_size=6)
    torch.manual_seed(0)
    plain = Forecaster(cfg, lookback=8, horizon=4, n_inputs=2, season=4)
    torch.manual_seed(0)
    with_future = Forecaster(cfg, lookback=8, horizon=4, n_inputs=2, season=4, n_future=1)
    x = torch.randn(3, 8, 2)
    with torch.no_grad():
        np.testing.assert_array_equal(
            with_future(x, torch.randn(3, 4, 1)).numpy(), plain(x).numpy()
        )


def test_numpy_engine_is_blocked_alike_with_covariates():
    """Forecasting many series in blocks gives the same bytes as one at a time: the future
    block is split with its series."""
    from rnnforecast import engine_numpy as en

    cfg = ModelConfig(cell="lstm", hidden_size=4)
    _, weights = _weights(cfg, horizon=3, lookback=5, n_inputs=2, n_future=1)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((en.BLOCK + 3, 5, 2)).astype(np.float32)
    future = rng.standard_normal((en.BLOCK + 3, 3, 1)).astype(np.float32)
    fn = en.make(cfg, weights)
    whole = fn(x, future)
    np.testing.assert_array_equal(whole[-3:], fn(x[-3:], future[-3:]))
