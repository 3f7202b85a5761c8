"""Intermittent demand: detection, the mean-rate baselines by hand, RMSSE, the floor at 0 on
non-negative data (both engines), --allow-negative, and the mean point forecast."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, REPO
from typer.testing import CliRunner

from rnnforecast import baselines, defaults, forecast, metrics, pipeline, select
from rnnforecast.cli import app
from rnnforecast.config import Config
from rnnforecast.panel import Panel

FIXTURES = REPO / "tests" / "fixtures"
RATE, SIZE = 0.3, 1.0  # a demand on 30 % of days, 1 + Poisson(1) units: 0.6 a day expected


def demand(n_series: int = 12, n: int = 240, seed: int = 0, smooth: int = 0) -> pd.DataFrame:
    """Daily intermittent series (Bernoulli(RATE) occurrence x (1 + Poisson(SIZE)) units), and
    `smooth` ones with a demand every day."""
    rng = np.random.default_rng(seed)
    p = np.r_[np.full(n_series, RATE), np.ones(smooth)]
    y = (rng.random((len(p), n)) < p[:, None]) * (1 + rng.poisson(SIZE, (len(p), n)))
    ds = pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d")
    return pd.DataFrame(
        {"unique_id": np.repeat([f"s{i}" for i in range(len(p))], n), "ds": np.tile(ds, len(p)),
         "y": y.reshape(-1).astype(float)}
    )  # fmt: skip


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_croston_sba_tsb_adida_by_hand():
    """Demands of 3, 2 and 4 at positions 3, 7 and 10 (1-based): Croston's size starts at 3,
    then 3 + 0.1 (2 - 3) = 2.9, 2.9 + 0.1 (4 - 2.9) = 3.01; its interval starts at 3, then
    3 + 0.1 (4 - 3) = 3.1, 3.1 + 0.1 (3 - 3.1) = 3.09: the rate 3.01 / 3.09."""
    x = np.array([[0, 0, 3, 0, 0, 0, 2, 0, 0, 4.0]])
    np.testing.assert_allclose(baselines.croston(x, 2), [[3.01 / 3.09] * 2])
    np.testing.assert_allclose(baselines.sba(x, 2), [[0.95 * 3.01 / 3.09] * 2])
    # TSB on [0, 2, 0, 4]: probability from 2/4, smoothed every period: 0.45, 0.505, 0.4545,
    # 0.50905; size 2, then 2 + 0.1 (4 - 2) = 2.2
    np.testing.assert_allclose(baselines.tsb(np.array([[0, 2, 0, 4.0]]), 1), [[0.50905 * 2.2]])
    # ADIDA on [0, 2, 0, 4, 0, 6]: 3 demands in 6 points, buckets of 2: sums 2, 4, 6, whose
    # SES with the least in-sample error follows them wholly (weight 1): 6 per 2 days
    np.testing.assert_allclose(baselines.adida(np.array([[0, 2, 0, 4, 0, 6.0]]), 3), [[3.0] * 3])
    # no demand: 0; padding (the first n real points only) is not read as demand
    zero = np.zeros((1, 5))
    for fn in baselines.INTERMITTENT.values():
        assert fn(zero, 2).tolist() == [[0.0, 0.0]]
    padded = np.array([[3.0, 3.0, 3.0, 0.0, 3.0]])  # three copies of the first real point
    np.testing.assert_allclose(baselines.croston(padded, 1, n=np.array([2])), [[3.0 / 2.0]])


def test_mean_rate_baselines_estimate_the_rate():
    """On long stationary series each is near the expected demand, unlike the median (0)."""
    rng = np.random.default_rng(1)
    x = ((rng.random((400, 365)) < RATE) * (1 + rng.poisson(SIZE, (400, 365)))).astype(float)
    for name, fn in baselines.INTERMITTENT.items():
        assert abs(fn(x, 1).mean() / (RATE * (1 + SIZE)) - 1) < 0.06, name
    assert np.median(x[:, -14:]) == 0


def test_rmsse_against_numpy_and_by_hand():
    rng = np.random.default_rng(0)
    y, f = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    scale = rng.uniform(0.5, 2, 5)
    np.testing.assert_allclose(
        metrics.rmsse(y, f, scale[:, None][:, 0]), np.sqrt(((y - f) ** 2).mean(1)) / scale
    )
    # history 0, 2, 0, 2: naive errors 2, -2, 2 -> RMSE 2; forecast errors 1, 3 -> sqrt(5)
    assert metrics.rmsse_scale(np.array([0, 2, 0, 2.0])) == 2.0
    np.testing.assert_allclose(metrics.rmsse(np.array([1.0, 3.0]), np.zeros(2), 2.0), 5**0.5 / 2)
    assert np.isnan(metrics.rmsse(np.ones(2), np.zeros(2), 0.0))


def test_intermittent_detection_by_adi():
    """ADI = points / demands: 1 demand in 4 points (ADI 4) is intermittent, 3 in 4 (1.33) is
    just over 1.32, 4 in 4 (1) is not; a series without demand is."""
    frame = pd.DataFrame(
        {"unique_id": np.repeat(["a", "b", "c", "d"], 4),
         "ds": np.tile(pd.date_range("2024-01-01", periods=4), 4),
         "y": [0, 0, 5, 0, 1, 0, 1, 1, 1, 2, 3, 4, 0, 0, 0, 0.0]}
    )  # fmt: skip
    panel = Panel.from_frame(frame)
    assert defaults.intermittent(panel).tolist() == [True, True, False, True]
    # the last 2 points held back (a backtest's folds): a has 0 demands in 2, c 2 in 2
    assert defaults.intermittent(panel, reserve=2).tolist() == [True, True, False, True]


def test_train_detects_intermittent_demand_and_says_so(tmp_path):
    """Defaults resolve to the mean (mse loss, no window normalisation, a floor at 0) on
    intermittent data, and stay the median on smooth data, saved resolved."""
    data = tmp_path / "d.csv"
    demand(n_series=6, smooth=2).to_csv(data, index=False)
    result = invoke("train", data, "--out", tmp_path / "m", "--epochs", "2", "--hidden-size", "4")
    assert result.exit_code == 0, result.output
    assert "intermittent demand: 6 of 8 series" in result.output
    saved = Config.load(tmp_path / "m" / "config.yaml", {})
    assert (saved.train.point, saved.train.loss, saved.model.norm) == ("mean", "mse", "none")
    assert saved.model.allow_negative is False
    scores = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert scores["point"] == "mean" and scores["intermittent_series"] == 6
    assert {"croston", "sba", "tsb", "adida"} <= set(scores) and "rmsse" in scores["model"]
    info = invoke("info", tmp_path / "m")
    assert "never below 0" in info.stdout and "the mean" in info.stdout

    demand(n_series=0, smooth=3).to_csv(data, index=False)
    result = invoke("train", data, "--out", tmp_path / "s", *FAST)
    assert result.exit_code == 0, result.output
    saved = Config.load(tmp_path / "s" / "config.yaml", {})
    assert (saved.train.point, saved.train.loss, saved.model.norm) == ("median", "mae", "window")


@pytest.fixture(scope="module")
def unfloored(tmp_path_factory):
    """A model trained with negatives allowed on non-negative intermittent data (median point,
    window normalisation: what made negative forecasts before), and the data's tail."""
    tmp = tmp_path_factory.mktemp("unfloored")
    data = tmp / "d.csv"
    demand().to_csv(data, index=False)
    cfg = Config.load(None, {"point": "median", "norm": "window", "allow_negative": True,
                             "epochs": 3, "hidden_size": 8, "blend": "none"})  # fmt: skip
    trained = pipeline.train(data, tmp / "m", cfg)
    return trained.model


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_no_forecast_or_bound_below_zero_on_non_negative_data(unfloored, engine):
    """The same weights with the floor (what a default model saves on such data) forecast
    max(forecast, 0) and bounds max(bound, 0): without it the 95 % lower bounds go below 0."""
    floored = dataclasses.replace(
        unfloored,
        config=dataclasses.replace(
            unfloored.config,
            model=dataclasses.replace(unfloored.config.model, allow_negative=False),
        ),
    )
    fn = forecast.make_engine(unfloored, engine)
    raw, _ = forecast.forecast(unfloored, unfloored.tail, fn, levels=(80, 95))
    got, _ = forecast.forecast(floored, floored.tail, fn, levels=(80, 95))
    assert (raw["y_hat_lo_95"] < 0).any()  # so the floor has work to do
    for col in ("y_hat", "y_hat_lo_80", "y_hat_hi_80", "y_hat_lo_95", "y_hat_hi_95"):
        np.testing.assert_allclose(got[col], np.maximum(raw[col], 0.0))
        assert (got[col] >= 0).all()


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_default_model_predicts_nothing_negative(tmp_path, engine):
    data = tmp_path / "d.csv"
    demand(n_series=8).to_csv(data, index=False)
    result = invoke("train", data, "--out", tmp_path / "m", *FAST, "--point", "median")
    assert result.exit_code == 0, result.output
    out = invoke("predict", "-m", tmp_path / "m", "--engine", engine, "--intervals", "80,95", "-q")
    assert out.exit_code == 0, out.output
    fc = pd.read_csv(io.StringIO(out.stdout))
    bounds = [c for c in fc.columns if c.startswith("y_hat")]
    assert len(bounds) == 5 and (fc[bounds] >= 0).all().all()


def test_allow_negative_lets_negatives_through(tmp_path):
    """--allow-negative saves no floor, and the forecast's lower bounds then go below 0."""
    data = tmp_path / "d.csv"
    demand(n_series=8).to_csv(data, index=False)
    args = ["--out", tmp_path / "m", *FAST, "--point", "median", "--allow-negative"]
    result = invoke("train", data, *args)
    assert result.exit_code == 0, result.output
    assert Config.load(tmp_path / "m" / "config.yaml", {}).model.allow_negative is True
    assert "no floor" in invoke("info", tmp_path / "m").stdout
    out = invoke("predict", "-m", tmp_path / "m", "--intervals", "95", "-q")
    assert (pd.read_csv(io.StringIO(out.stdout))["y_hat_lo_95"] < 0).any()


def test_data_with_negative_values_get_no_floor(tmp_path):
    data = tmp_path / "d.csv"
    frame = demand(n_series=4)
    frame.loc[5, "y"] = -1.0
    frame.to_csv(data, index=False)
    result = invoke("train", data, "--out", tmp_path / "m", *FAST)
    assert result.exit_code == 0, result.output
    assert Config.load(tmp_path / "m" / "config.yaml", {}).model.allow_negative is True


def test_mean_point_forecasts_the_rate_the_median_does_not(tmp_path):
    """On intermittent data the default (the mean) forecasts near the expected demand, RATE x
    (1 + SIZE) a day; --point median forecasts far below it (the median day sells nothing)."""
    data = tmp_path / "d.csv"
    demand(n_series=16, n=300, seed=3).to_csv(data, index=False)
    means = {}
    for point in ("mean", "median"):
        result = invoke("train", data, "--out", tmp_path / point, "--epochs", "15",
                        "--hidden-size", "8", "--point", point, "--quiet")  # fmt: skip
        assert result.exit_code == 0, result.output
        out = invoke("predict", "-m", tmp_path / point, "-q")
        means[point] = pd.read_csv(io.StringIO(out.stdout))["y_hat"].mean()
    expected = RATE * (1 + SIZE)
    assert abs(means["mean"] / expected - 1) < 0.15, means
    assert means["median"] < 0.6 * expected, means


def test_old_model_keeps_its_point_and_no_floor(tmp_path):
    """A model directory saved before --point and the floor reads as the median with negative
    forecasts allowed: it forecasts as before (test_covariates checks the bytes)."""
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "format2" / "model", model)
    facts = json.loads(invoke("info", model, "--json").stdout)
    assert facts["point_forecast"] == "median" and facts["floor"] is None
    assert facts["config"]["model"]["norm"] == "window"


def test_blend_takes_a_mean_rate_partner_by_rmsse_only_for_the_mean():
    """On intermittent windows the median's MASE prefers zero-like forecasts and never sees
    Croston; the mean's RMSSE weighs Croston against the network and gives it the larger share
    where it is closer to the rate."""
    rng = np.random.default_rng(0)
    y = ((rng.random((60, 7)) < RATE) * (1 + rng.poisson(SIZE, (60, 7)))).astype(float)
    series, scales = np.arange(60) % 6, np.ones(6)
    rate = RATE * (1 + SIZE)
    forecasts = {name: np.zeros_like(y) for name in baselines.EVERY}
    forecasts |= {"network": np.full_like(y, 2 * rate), "croston": np.full_like(y, rate)}
    name, share, scores = select.blend(forecasts, y, series, scales, point="mean",
                                       rmsse_scales=scales)  # fmt: skip
    assert name == "croston" and share > 0.5
    assert scores["croston"] == pytest.approx(metrics.rmse(y, forecasts["croston"]).mean())
    name, _, scores = select.blend(forecasts, y, series, scales)
    assert name != "croston" and "croston" not in scores
