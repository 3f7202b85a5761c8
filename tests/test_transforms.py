"""Target transforms: exact inverses, refused values, and forecasts back in original units."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import FAST, long_frame
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rnnforecast import transforms
from rnnforecast.cli import app
from rnnforecast.panel import Panel

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _panel(series: list[np.ndarray]) -> Panel:
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": pd.date_range("2000-01", periods=len(y), freq="MS"),
                    "y": y,
                }
            )  # fmt: skip
            for i, y in enumerate(series)
        ],
        ignore_index=True,
    )
    return Panel.from_frame(frame)


values = st.floats(-1e6, 1e6, allow_nan=False)
many_series = st.lists(st.lists(values, min_size=1, max_size=30), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(many_series)
def test_difference_inverse_rebuilds_every_series(series):
    """Cumulating each series' differences from its first value gives the series back."""
    panel = _panel([np.array(y) for y in series])
    seen = transforms.forward(panel, "difference")
    assert seen.lengths.tolist() == [len(y) - 1 for y in series]
    for i, y in enumerate(series):
        y = np.array(y)
        part = seen.values[seen.offsets[i] : seen.offsets[i] + seen.lengths[i]]
        rebuilt = transforms.inverse(part[None, :], y[:1], "difference")[0]
        tol = 1e-12 * len(y) * max(1.0, np.abs(y).max())  # float64 rounding of the sums
        np.testing.assert_allclose(rebuilt, y[1:], rtol=0, atol=tol)
        times = panel.times[panel.offsets[i] + 1 : panel.offsets[i] + len(y)]
        np.testing.assert_array_equal(
            seen.times[seen.offsets[i] : seen.offsets[i] + seen.lengths[i]], times
        )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1 + 1e-9, 1e12, allow_nan=False), min_size=1, max_size=40))
def test_log1p_inverse_is_exact(y):
    y = np.array(y)
    seen = transforms.forward(_panel([y]), "log1p")
    back = transforms.inverse(seen.values[None, :], np.array([np.nan]), "log1p")[0]
    np.testing.assert_allclose(back, y, rtol=1e-14, atol=1e-300)


def test_none_is_the_identity():
    panel = _panel([np.array([1.0, -5.0, 3.0])])
    assert transforms.forward(panel, "none") is panel
    y = np.array([[1.0, 2.0]])
    assert transforms.inverse(y, np.array([7.0]), "none") is y


def test_difference_by_hand():
    panel = _panel([np.array([1.0, 3.0, 6.0]), np.array([10.0]), np.array([5.0, 4.0])])
    seen = transforms.forward(panel, "difference")
    assert seen.values.tolist() == [2.0, 3.0, -1.0]  # s1 (one point) keeps nothing
    assert seen.lengths.tolist() == [2, 0, 1] and seen.offsets.tolist() == [0, 2, 2]
    forecast = transforms.inverse(np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([6.0, 4.0]),
                                  "difference")  # fmt: skip
    assert forecast.tolist() == [[7.0, 9.0], [4.5, 3.5]]
    starts = transforms.original_starts(
        np.array([0, 2]), np.array([0, 2]), seen, panel, "difference"
    )
    assert starts.tolist() == [1, 5]  # the same timestamps in the original panel


def _trending_csv(path, n: int = 80, slope: float = 5.0):
    ds = pd.date_range("2000-01-01", periods=n, freq="MS")
    rng = np.random.default_rng(0)
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": f"s{i}", "ds": ds,
                          "y": 100 * (i + 1) + slope * np.arange(n) + rng.normal(0, 1, n)})
            for i in range(2)
        ],
        ignore_index=True,
    )  # fmt: skip
    frame.to_csv(path, index=False)
    return frame


def test_difference_end_to_end_follows_the_trend(tmp_path):
    """A series climbing 5 a month: differenced, the forecasts keep climbing from the last
    value, with the months after the data, and the validation scores are in original units."""
    data = tmp_path / "trend.csv"
    frame = _trending_csv(data)
    model = tmp_path / "m"
    result = invoke("train", data, "--out", model, "--horizon", 6,
                    *FAST, "--transform", "difference")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "transform: difference" in (model / "config.yaml").read_text()
    assert "lstm, 1 x 8 units, target transform difference" in invoke("info", model).stdout
    for engine in ("numpy", "torch"):
        result = invoke("predict", "-m", model, "--engine", engine, "-q")
        assert result.exit_code == 0, result.output
        out = pd.read_csv(io.StringIO(result.stdout))
        future = pd.date_range("2006-09-01", periods=6, freq="MS")  # after 80 months from 2000
        assert out["ds"].unique().tolist() == future.strftime("%Y-%m-%d").tolist()
        for uid, got in out.groupby("unique_id"):
            y = frame.loc[frame["unique_id"] == uid, "y"].to_numpy()
            truth = y[-1] + 5.0 * np.arange(1, 7)
            assert np.abs(got["y_hat"].to_numpy() - truth).max() < 10, (uid, got, truth)
    scores = json.loads((model / "metrics.json").read_text())
    assert scores["model"]["mae"] < 10  # original units: the levels are 100-600
    assert scores["model"]["mae"] < scores["naive"]["mae"]  # naive lags the trend by 5 a step


def test_difference_in_backtest_scores_original_units(tmp_path):
    data = tmp_path / "trend.csv"
    _trending_csv(data)
    out = tmp_path / "report"
    result = invoke("backtest", data, "--out", out, "--horizon", 6,
                    "--folds", 1, *FAST, "--transform", "difference")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["overall"]["model"]["mae"] < 10
    assert doc["overall"]["model"]["mae"] < doc["overall"]["naive"]["mae"]


def test_difference_costs_each_series_one_point(tmp_path):
    """lookback 6 + horizon 3 + validation 3 = 12 points: enough as they are, one short once
    differenced. Without padding the error says where the missing point went; by default the
    first window is padded instead. Forecasting a series shorter than lookback + 1 pads it."""
    data = tmp_path / "d.csv"
    long_frame(n_series=1, n=12).to_csv(data, index=False)
    sizes = ["--lookback", 6, "--horizon", 3]
    unpadded = [*sizes, "--pad", 0, *FAST, "--transform", "difference"]
    assert invoke("train", data, "--out", tmp_path / "a", *sizes, *FAST).exit_code == 0
    result = invoke("train", data, "--out", tmp_path / "b", *unpadded)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {data}: every series is shorter than lookback - padding + horizon + validation "
        "+ 1 (the first point, lost to --transform difference) = 13 points (longest: 12); lower "
        "--lookback or --horizon, or use --val-size 0\n"
    )
    padded = tmp_path / "p"
    result = invoke("train", data, "--out", padded, *sizes, *FAST, "--transform", "difference")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((padded / "config.yaml").read_text())["window"]["pad"] == 5
    # the model reads lookback + 1 points of each series; a shorter one is padded
    model = tmp_path / "c"
    assert invoke("train", data, "--out", model, *unpadded, "--val-size", 0).exit_code == 0
    assert len(pd.read_csv(model / "tail.csv")) == 7
    short = tmp_path / "short.csv"
    long_frame(n_series=1, n=6).to_csv(short, index=False)
    result = invoke("predict", short, "-m", model)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(io.StringIO(result.stdout))) == 3


def test_log1p_refuses_values_of_minus_one_or_less(tmp_path):
    data = tmp_path / "neg.csv"
    sales = [5.0] * 6 + [-1.0, -3.0] + [2.0] * 22  # line 8 is the first bad one
    rows = [f"2020-01-{d:02d},{v}" for d, v in enumerate(sales, start=1)]
    data.write_text("date,sales\n" + "\n".join(rows) + "\n")
    result = invoke("train", data, "--out", tmp_path / "m", *FAST, "--transform", "log1p")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {data}: column 'sales': -1 at line 8 is -1 or less, and --transform log1p needs "
        "y > -1; use --transform none (or shift the series above -1)\n"
    )
    assert not (tmp_path / "m").exists()
    assert invoke("train", data, "--out", tmp_path / "m", *FAST).exit_code == 0  # none takes it


def test_log1p_forecasts_in_original_units(tmp_path):
    """A series growing by 3% a month: the log1p model's forecasts come back as levels."""
    data = tmp_path / "growth.csv"
    ds = pd.date_range("2000-01-01", periods=96, freq="MS")
    y = 50 * 1.03 ** np.arange(96) * (1 + 0.1 * np.sin(2 * np.pi * np.arange(96) / 12))
    pd.DataFrame({"ds": ds, "y": y}).to_csv(data, index=False)
    model = tmp_path / "m"
    result = invoke("train", data, "--out", model, *FAST, "--transform", "log1p", "--horizon", 12)
    assert result.exit_code == 0, result.output
    out = pd.read_csv(io.StringIO(invoke("predict", "-m", model, "-q").stdout))
    assert out["ds"].iloc[0] == "2008-01-01"
    truth = (
        50 * 1.03 ** np.arange(96, 108) * (1 + 0.1 * np.sin(2 * np.pi * np.arange(96, 108) / 12))
    )
    ratio = out["y_hat"].to_numpy() / truth
    assert 0.6 < ratio.min() and ratio.max() < 1.4  # levels (~850), not logs (~6.7)


def test_warm_start_keeps_the_transform(tmp_path, long_csv):
    model = tmp_path / "m"
    assert invoke("train", long_csv, "--out", model, *FAST).exit_code == 0
    result = invoke("train", long_csv, "--out", tmp_path / "n", "--warm-start", model,
                    *FAST, "--transform", "log1p")  # fmt: skip
    assert result.exit_code == 2
    assert "changes transform none -> log1p" in result.stderr


def test_layer_norm_flag_trains_and_both_engines_agree(tmp_path, long_csv):
    from safetensors.numpy import load_file

    model = tmp_path / "m"
    sizes = ["--hidden-size", 8, "--layers", 2, "--epochs", 3, "-q", "--transform", "none"]
    result = invoke("train", long_csv, "--out", model, "--layer-norm", "--residual", *sizes)
    assert result.exit_code == 0, result.output
    assert "layer_norm: true" in (model / "config.yaml").read_text()
    assert "lstm, 2 x 8 units, layer norm (" in invoke("info", model).stdout
    weights = load_file(model / "weights.safetensors")
    assert {k for k in weights if k.startswith("norms.")} == {
        "norms.0.weight", "norms.0.bias", "norms.1.weight", "norms.1.bias",
    }  # fmt: skip
    got = {e: invoke("predict", "-m", model, "--engine", e).stdout for e in ("numpy", "torch")}
    frames = {e: pd.read_csv(io.StringIO(text)) for e, text in got.items()}
    np.testing.assert_allclose(frames["numpy"]["y_hat"], frames["torch"]["y_hat"], rtol=1e-5)


def test_models_without_the_new_keys_forecast_as_before(tmp_path, long_csv):
    """A model directory written before --transform and --layer-norm (no such keys in its
    config.yaml) reads them as none and off and forecasts exactly as before."""
    model = tmp_path / "m"
    assert invoke("train", long_csv, "--out", model, *FAST).exit_code == 0
    before = {e: invoke("predict", "-m", model, "--engine", e).stdout for e in ("numpy", "torch")}
    config = (model / "config.yaml").read_text()
    assert "  transform: none\n" in config and "  layer_norm: false\n" in config
    config = config.replace("  transform: none\n", "").replace("  layer_norm: false\n", "")
    (model / "config.yaml").write_text(config)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["files"]["config.yaml"] = hashlib.sha256(config.encode()).hexdigest()
    (model / "manifest.json").write_text(json.dumps(manifest))
    for engine, forecast in before.items():
        result = invoke("predict", "-m", model, "--engine", engine)
        assert result.exit_code == 0, result.output
        assert result.stdout == forecast


@pytest.mark.parametrize("kind", ["log1p", "difference"])
def test_unknown_transform_is_refused(tmp_path, long_csv, kind):
    result = invoke("train", long_csv, "--out", tmp_path / "m", *FAST, "--transform", kind[:-1])
    assert result.exit_code == 2
    assert f"did you mean '{kind}'?" in result.stderr


def test_auto_differences_trending_series_and_says_so(tmp_path, long_csv):
    """The test series climb 0.6 a year against 0.14 of noise in that change: a trend."""
    model = tmp_path / "m"
    flags = ["--hidden-size", 8, "--layers", 1, "--epochs", 3]
    result = invoke("train", long_csv, "--out", model, *flags)
    assert result.exit_code == 0, result.output
    assert "transform difference: the series trend" in result.stderr
    assert "  transform: difference\n" in (model / "config.yaml").read_text()
    flat = tmp_path / "flat.csv"
    frame = pd.read_csv(long_csv)
    frame["y"] -= 0.05 * frame.groupby("unique_id").cumcount()  # the same series, no trend
    frame.to_csv(flat, index=False)
    result = invoke("train", flat, "--out", tmp_path / "n", *flags)
    assert result.exit_code == 0 and "transform difference" not in result.stderr
    assert "  transform: none\n" in (tmp_path / "n" / "config.yaml").read_text()
