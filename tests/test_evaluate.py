"""Backtests: metrics agree with the reference scorer, folds never leak, reports are complete."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLES, FAST, long_frame
from reference.score import score_frames
from typer.testing import CliRunner

from rnnforecast import defaults, evaluate, metrics, pipeline
from rnnforecast.cli import app
from rnnforecast.config import Config
from rnnforecast.data import Loaded, Schema
from rnnforecast.panel import Panel

TINY = Config().with_overrides({"hidden_size": 8, "layers": 1, "epochs": 3, "horizon": 6})


def test_metrics_agree_with_reference_scorer_to_1e9():
    rng = np.random.default_rng(3)
    train, test, fc = [], [], []
    for uid, n in [("a", 40), ("b", 13), ("c", 9)]:  # c has <= m points: MASE falls back to lag 1
        ds = pd.date_range("2000-01-01", periods=n + 6, freq="MS")
        y = rng.uniform(1, 50, n + 6).round(2)
        y[n + 2] = 0.0  # a zero actual, for sMAPE's 0/0 rule when the forecast is 0 too
        f = y[n:] + rng.normal(0, 5, 6)
        f[2] = 0.0
        train.append(pd.DataFrame({"unique_id": uid, "ds": ds[:n], "y": y[:n]}))
        test.append(pd.DataFrame({"unique_id": uid, "ds": ds[n:], "y": y[n:]}))
        fc.append(pd.DataFrame({"unique_id": uid, "ds": ds[n:], "y_hat": f}))
    train, test, fc = (pd.concat(x, ignore_index=True) for x in (train, test, fc))
    per, summary = score_frames(train, test, fc, "y_hat", m=12)
    for uid, row in per.set_index("unique_id").iterrows():
        hist = train.loc[train["unique_id"] == uid, "y"].to_numpy()
        y = test.loc[test["unique_id"] == uid, "y"].to_numpy()
        f = fc.loc[fc["unique_id"] == uid, "y_hat"].to_numpy()
        assert metrics.mae(y, f) == pytest.approx(row["mae"], rel=1e-9, abs=1e-12)
        assert metrics.rmse(y, f) == pytest.approx(row["rmse"], rel=1e-9, abs=1e-12)
        assert metrics.smape(y, f) == pytest.approx(row["smape"], rel=1e-9, abs=1e-12)
        mase = metrics.mase(y, f, metrics.mase_scale(hist, 12))
        assert mase == pytest.approx(row["mase"], rel=1e-9, abs=1e-12)


def _loaded(frame: pd.DataFrame) -> Loaded:
    schema = Schema(layout="long", time_col="ds", target=("y",), id_col="unique_id", freq="MS")
    return Loaded(frame=frame, schema=schema, notes=(), source="test")


def _backtest(frame: pd.DataFrame, seen: list | None = None) -> evaluate.Backtest:
    cfg = defaults.resolve(
        TINY, _loaded(frame).schema, Panel.from_frame(frame.groupby("unique_id").head(30))
    )

    def fit(history: pd.DataFrame):
        if seen is not None:
            seen.append(history.groupby("unique_id")["ds"].max())
        return pipeline.fit(_loaded(history), cfg).model

    return evaluate.backtest(frame, horizon=6, folds=3, step=6, season=12, fit=fit)


def test_folds_never_see_data_at_or_after_their_cutoff():
    frame = long_frame(n_series=2, n=60)
    seen: list = []
    result = _backtest(frame, seen)
    cutoffs = result.forecasts.groupby("fold")["cutoff"].max()
    first_scored = result.forecasts.groupby("fold")["ds"].min()
    assert len(seen) == 3
    for k, last_seen in enumerate(seen):
        assert (last_seen <= cutoffs[k]).all()
        assert (last_seen < first_scored[k]).all()
    assert cutoffs.tolist() == [pd.Timestamp(t) for t in ("2003-06-01", "2003-12-01", "2004-06-01")]

    # changing everything after fold 0's cut-off changes nothing in fold 0 (scaler included)
    later = frame["ds"] > cutoffs[0]
    changed = frame.assign(y=np.where(later, frame["y"] * 10 + 100, frame["y"]))
    again = _backtest(changed)
    fold0 = result.forecasts[result.forecasts["fold"] == 0]
    fold0_again = again.forecasts[again.forecasts["fold"] == 0]
    np.testing.assert_array_equal(fold0["y_hat"].to_numpy(), fold0_again["y_hat"].to_numpy())
    fold2 = result.forecasts[result.forecasts["fold"] == 2]["y_hat"].to_numpy()
    assert not np.array_equal(fold2, again.forecasts[again.forecasts["fold"] == 2]["y_hat"])


def test_no_refit_trains_once():
    frame = long_frame(n_series=1, n=60)
    calls = []
    cfg = defaults.resolve(
        TINY, _loaded(frame).schema, Panel.from_frame(frame.groupby("unique_id").head(30))
    )

    def fit(history):
        calls.append(len(history))
        return pipeline.fit(_loaded(history), cfg).model

    result = evaluate.backtest(frame, 6, 3, 6, 12, fit, refit=False)
    assert calls == [60 - 6 - 12]
    assert result.forecasts["fold"].nunique() == 3


def test_summary_by_hand():
    forecasts = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "a"],
            "ds": pd.date_range("2000-01-01", periods=4, freq="D"),
            "cutoff": pd.Timestamp("1999-12-31"),
            "fold": [0, 0, 1, 1],
            "step": [1, 2, 1, 2],
            "y": [10.0, 20.0, 10.0, 0.0],
            "y_hat": [11.0, 18.0, 10.0, 1.0],  # abs errors 1, 2 | 0, 1
            **{b: [10.0, 10.0, 10.0, 10.0] for b in evaluate.BASELINE_COLUMNS},  # 0, 10 | 0, 10
        }
    )
    scales = pd.DataFrame({"unique_id": ["a", "a"], "fold": [0, 1], "scale": [2.0, 1.0]})
    doc = evaluate.summarize(evaluate.Backtest(forecasts, scales, [], []))
    # MASE per fold: model 1.5/2 = 0.75 and 0.5/1 = 0.5; seasonal naive 5/2 = 2.5 and 5/1 = 5
    assert doc["per_fold"][0]["model"]["mase"] == pytest.approx(0.75)
    assert doc["overall"]["model"]["mase"] == pytest.approx(0.625)
    assert doc["overall"]["seasonal_naive"]["mase"] == pytest.approx(3.75)
    assert doc["mase_ratio_vs_seasonal_naive"] == pytest.approx(0.625 / 3.75)
    assert doc["beats_seasonal_naive"] is True
    assert doc["per_step"][0]["model"]["mae"] == pytest.approx(0.5)  # step 1: errors 1 and 0
    assert doc["per_step"][1]["model"]["mae"] == pytest.approx(1.5)  # step 2: errors 2 and 1
    assert doc["zero_actuals_left_out_of_mape"] == 1
    # MAPE: fold 0 (10% + 10%) / 2 = 10; fold 1 leaves the zero actual out: 0% -> mean 5
    assert doc["overall"]["model"]["mape"] == pytest.approx(5.0)


def test_backtest_cli_writes_the_report(tmp_path, monkeypatch):
    """A worked example: every output, and seasonal naive's MASE checked by hand."""
    monkeypatch.chdir(tmp_path)
    data = EXAMPLES / "airpassengers.csv"
    result = CliRunner().invoke(
        app, ["backtest", str(data), "--horizon", "12", "--folds", "3", *FAST]
    )
    assert result.exit_code == 0, result.output
    report = tmp_path / "report"
    assert {p.name for p in report.iterdir()} == {
        "metrics.json",
        "forecasts.csv",
        "report.md",
        "plots",
        "rnnforecast-report.json",
    }
    assert (report / "plots" / "passengers.png").read_bytes()[:4] == b"\x89PNG"
    assert (report / "plots" / "training.png").read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((report / "metrics.json").read_text())
    assert doc["folds"] == 3 and doc["horizon"] == 12 and doc["season"] == 12
    assert set(doc["overall"]) == {
        "model", "naive", "seasonal_naive", "drift", "window_mean", "croston", "sba", "tsb",
        "adida",
    }  # fmt: skip
    assert doc["config"]["model"]["cell"] == "lstm" and doc["rnnforecast_version"]
    forecasts = pd.read_csv(report / "forecasts.csv")
    assert forecasts.columns.tolist() == [
        "unique_id", "ds", "cutoff", "fold", "y", "y_hat", "naive", "seasonal_naive", "drift",
        "window_mean", "croston", "sba", "tsb", "adida",
    ]  # fmt: skip
    assert len(forecasts) == 36
    assert "seasonal naive" in (report / "report.md").read_text()

    # independent seasonal-naive MASE: numpy on the raw file, cut-offs 36/24/12 months from the end
    y = pd.read_csv(data)["passengers"].to_numpy(float)
    mases = []
    for back in (36, 24, 12):
        hist, actual = y[: len(y) - back], y[len(y) - back : len(y) - back + 12]
        scale = np.mean(np.abs(hist[12:] - hist[:-12]))
        mases.append(np.mean(np.abs(actual - hist[-12:])) / scale)
    assert doc["overall"]["seasonal_naive"]["mase"] == pytest.approx(np.mean(mases), rel=1e-12)


def test_evaluate_cli_holdout(tmp_path, long_csv):
    runner = CliRunner()
    model = tmp_path / "m"
    assert (
        runner.invoke(app, ["train", str(long_csv), "-o", str(model), "-H", "6", *FAST]).exit_code
        == 0
    )
    out = tmp_path / "r"
    result = runner.invoke(
        app, ["evaluate", str(long_csv), "-m", str(model), "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["command"] == "evaluate" and doc["n_series"] == 3 and doc["points_scored"] == 18
    assert json.loads((out / "metrics.json").read_text()) == doc
    assert pd.read_csv(out / "forecasts.csv")["cutoff"].unique().tolist() == ["2004-06-01"]
