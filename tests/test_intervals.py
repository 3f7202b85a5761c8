"""Prediction intervals: calibration, bounds, coverage, and what a user sees."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, heavy_imports
from typer.testing import CliRunner

from rnnforecast import evaluate, intervals, metrics, pipeline
from rnnforecast.cli import app
from rnnforecast.config import Config
from rnnforecast.data import Loaded, Schema
from rnnforecast.errors import RnnForecastError
from rnnforecast.windows import Starts

runner = CliRunner()
BOUNDS = ["y_hat_lo_80", "y_hat_hi_80", "y_hat_lo_95", "y_hat_hi_95"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> tuple:
    """A tiny trained model and its data (3 monthly series of 60 points)."""
    from conftest import long_frame

    tmp = tmp_path_factory.mktemp("intervals")
    data = tmp / "long.csv"
    long_frame().to_csv(data, index=False)
    model = tmp / "model"
    result = invoke("train", data, "-o", model, "-H", 6, *FAST)
    assert result.exit_code == 0, result.output
    return model, data


# --- calibration, from known errors ----------------------------------------------------------


def test_half_widths_are_the_quantiles_of_normalised_errors():
    """Errors N(0, 1) at every step: the 80% and 95% half-widths are the normal quantiles
    1.28 and 1.96; the width grows with the level."""
    rng = np.random.default_rng(0)
    errors = rng.standard_normal((20_000, 3))
    cal = intervals.calibrate(errors, np.empty((0, 3)), np.empty((0, 3), bool))
    table = np.asarray(cal["half_widths"])
    assert table[cal["levels"].index(80)] == pytest.approx([1.2816] * 3, abs=0.04)
    assert table[cal["levels"].index(95)] == pytest.approx([1.96] * 3, abs=0.06)
    assert (np.diff(table, axis=0) >= 0).all()  # higher level, never narrower
    assert cal["inflation"] == 1.0 and cal["out_of_sample_errors"] == 0


def test_larger_out_of_sample_errors_widen_smaller_never_narrow():
    rng = np.random.default_rng(1)
    in_sample = rng.standard_normal((5_000, 4))
    late = rng.standard_normal((400, 4))
    oos = np.ones((400, 4), bool)
    base = np.asarray(intervals.calibrate(in_sample, late[:0], oos[:0])["half_widths"])
    wide = intervals.calibrate(in_sample, 2 * late, oos)
    assert wide["inflation"] == pytest.approx(2.0, rel=0.1)
    np.testing.assert_allclose(wide["half_widths"], base * wide["inflation"], rtol=1e-5)
    narrow = intervals.calibrate(in_sample, 0.5 * late, oos)
    assert narrow["out_of_sample_ratio"] == pytest.approx(0.5, rel=0.1)
    np.testing.assert_allclose(narrow["half_widths"], base, rtol=1e-5)


def test_wider_steps_get_wider_intervals_and_bounds_scale_with_the_window():
    errors = np.random.default_rng(2).standard_normal((2_000, 2)) * [1.0, 3.0]
    cal = intervals.calibrate(errors, np.empty((0, 2)), np.empty((0, 2), bool))
    f = np.array([[10.0, 10.0], [0.0, 0.0]])
    x = np.array([[-1.0, 1.0, -1.0, 1.0], [-2.0, 2.0, -2.0, 2.0]])  # window std 1 and 2
    b = intervals.bounds(cal, f, x, (80,))
    half = b["y_hat_hi_80"] - f
    np.testing.assert_allclose(f - b["y_hat_lo_80"], half)  # symmetric
    assert half[0, 1] == pytest.approx(3 * half[0, 0], rel=0.15)  # step 2 is noisier
    np.testing.assert_allclose(half[1], 2 * half[0])  # twice the window spread, twice as wide


def test_spread_is_the_windows_seasonal_naive_error_at_least_a_fifth_of_its_std():
    season = np.tile([0.0, 4.0, -2.0, 6.0], 4)  # a regular swing: std 3.16
    noise = np.repeat([0.5, -0.5, 0.5, -0.5], 4)  # flips every season
    noisy = season + noise  # |x_t - x_{t-4}| = 1 everywhere
    x = np.stack([noisy, season, np.full(16, 3.0)])
    s = intervals.spread(x, 4)
    assert s[0] == pytest.approx(1.0)  # the noise, not the swing
    assert s[1] == pytest.approx(intervals.STD_SHARE * season.std())  # exact repeats: the floor
    assert s[2] == 1.0  # flat: counts 1
    # a lag of 1 measures the naive error; no lag (an older calibration) the std
    assert intervals.spread(noisy[None], 1)[0] == pytest.approx(np.abs(np.diff(noisy)).mean())
    assert intervals.spread(noisy[None])[0] == pytest.approx(noisy.std())
    assert intervals.spread_lag(12, 36) == 12
    assert intervals.spread_lag(12, 12) == 1  # no whole season before the last: naive
    assert intervals.spread_lag(1, 1) is None


def test_bounds_take_the_spread_the_calibration_was_made_with():
    errors = np.random.default_rng(3).standard_normal((2_000, 2))
    old = intervals.calibrate(errors, np.empty((0, 2)), np.empty((0, 2), bool))
    new = intervals.calibrate(errors, np.empty((0, 2)), np.empty((0, 2), bool), lag=4)
    assert new["spread_lag"] == 4
    del old["spread_lag"]  # as written before the spread had a lag
    season = np.tile([0.0, 4.0, -2.0, 6.0], 4) + np.repeat([0.5, -0.5, 0.5, -0.5], 4)
    f = np.zeros((1, 2))
    half_old = intervals.bounds(old, f, season[None], (80,))["y_hat_hi_80"]
    half_new = intervals.bounds(new, f, season[None], (80,))["y_hat_hi_80"]
    np.testing.assert_allclose(half_new / half_old, 1.0 / season.std(), rtol=1e-9)


def test_calibration_takes_the_later_half_of_each_series_windows():
    starts = Starts.runs(np.array([0, 10, 20]), np.array([5, 4, 1]))
    np.testing.assert_array_equal(np.asarray(starts.later_half()), [2, 3, 4, 12, 13, 20])


def test_model_without_calibration_says_to_retrain():
    with pytest.raises(RnnForecastError, match="no prediction-interval calibration"):
        intervals.bounds(None, np.zeros((1, 2)), np.zeros((1, 3)), (80,))


# --- what a user sees -------------------------------------------------------------------------


def test_predict_writes_nested_bounds(model_dir):
    model, _ = model_dir
    result = invoke("predict", "-m", model, "--intervals", "95,80", "--quiet")
    assert result.exit_code == 0, result.output
    out = read_csv(result.stdout)
    assert out.columns.tolist() == ["unique_id", "ds", "y_hat", *BOUNDS]
    assert len(out) == 18
    lo95, lo80, y, hi80, hi95 = (out[c].to_numpy() for c in (BOUNDS[2], BOUNDS[0], "y_hat",
                                                               BOUNDS[1], BOUNDS[3]))  # fmt: skip
    assert (lo95 <= lo80).all() and (lo80 < y).all() and (y < hi80).all() and (hi80 <= hi95).all()
    assert (hi95 - lo95).mean() > (hi80 - lo80).mean()
    plain = read_csv(invoke("predict", "-m", model, "--quiet").stdout)
    assert plain.columns.tolist() == ["unique_id", "ds", "y_hat"]
    np.testing.assert_array_equal(plain["y_hat"], out["y_hat"])  # intervals change no forecast


def test_numpy_and_torch_engines_agree_on_the_bounds(model_dir):
    model, _ = model_dir
    frames = {
        engine: read_csv(
            invoke("predict", "-m", model, "--intervals", "80,95", "--engine", engine).stdout
        )
        for engine in ("numpy", "torch")
    }
    for column in ["y_hat", *BOUNDS]:
        np.testing.assert_allclose(frames["numpy"][column], frames["torch"][column], rtol=1e-5)


def test_predict_with_intervals_never_imports_torch(tmp_path, model_dir):
    model, _ = model_dir
    args = ["predict", "-m", str(model), "--intervals", "80,95", "-o", str(tmp_path / "f.csv")]
    assert "torch" not in heavy_imports(args)
    assert pd.read_csv(tmp_path / "f.csv").columns.tolist()[3:] == BOUNDS


def test_info_says_what_the_intervals_rest_on(model_dir):
    model, _ = model_dir
    facts = json.loads(invoke("info", model, "--json").stdout)["intervals"]
    assert facts["in_sample_errors"] > 0 and facts["inflation"] >= 1.0
    assert "any level" in invoke("info", model).stdout


def test_chunked_predict_gives_the_same_intervals(model_dir):
    """Each series' bounds depend on its own window alone, so reading a file a series at a
    time writes the same bytes."""
    model, data = model_dir
    args = ["predict", data, "-m", model, "--intervals", "80", "--engine", "numpy"]
    whole = invoke(*args, "--chunk-size", 0)
    assert whole.exit_code == 0, whole.output
    assert "y_hat_lo_80" in whole.stdout
    assert invoke(*args, "--chunk-size", 1).stdout == whole.stdout


def test_ensemble_intervals_surround_the_median(tmp_path, model_dir):
    _, data = model_dir
    model = tmp_path / "ens"
    result = invoke("train", data, "-o", model, "-H", 6, "--ensemble", 2, *FAST)
    assert result.exit_code == 0, result.output
    out = read_csv(invoke("predict", "-m", model, "--intervals", "80", "--engine", "numpy").stdout)
    torch_out = read_csv(
        invoke("predict", "-m", model, "--intervals", "80", "--engine", "torch").stdout
    )
    assert (out["y_hat_lo_80"] < out["y_hat"]).all() and (out["y_hat"] < out["y_hat_hi_80"]).all()
    np.testing.assert_allclose(out["y_hat_hi_80"], torch_out["y_hat_hi_80"], rtol=1e-5)


def test_model_without_intervals_still_loads_and_predicts(tmp_path, model_dir):
    """A directory written before intervals existed (no intervals.json) forecasts as before;
    asking it for intervals says what to do."""
    model, _ = model_dir
    old = tmp_path / "old"
    old.mkdir()
    for f in model.iterdir():
        if f.name != "intervals.json":
            (old / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["files"]["intervals.json"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    before = invoke("predict", "-m", model, "--quiet").stdout
    result = invoke("predict", "-m", old, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == before
    assert json.loads(invoke("info", old, "--json").stdout)["intervals"] is None
    result = invoke("predict", "-m", old, "--intervals", "80")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {old}: this model has no prediction-interval calibration (trained by an older "
        "rnnforecast); train it again to forecast with --intervals\n"
    )


def test_edited_calibration_is_refused(tmp_path, model_dir):
    model, _ = model_dir
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in model.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    (copy / "intervals.json").write_text("{}")
    result = invoke("predict", "-m", copy, "--intervals", "80")
    assert result.exit_code == 2 and "intervals.json: contents do not match" in result.stderr


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ("0", "--intervals: 0 is not a level in (0, 100); give percentages such as 80,95"),
        ("80,100", "--intervals: 100 is not a level in (0, 100); give percentages such "
                   "as 80,95"),
        ("abc", "--intervals: 'abc' is not a whole percentage; give levels such as 80,95"),
        ("80.5", "--intervals: '80.5' is not a whole percentage; give levels such as 80,95"),
        (",", "--intervals gives no level; give levels such as 80,95"),
    ],
)  # fmt: skip
def test_bad_levels_exit_2_with_one_line(model_dir, levels, message):
    model, data = model_dir
    for args in (["predict", "-m", model], ["evaluate", data, "-m", model]):
        result = invoke(*args, "--intervals", levels)
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: {message}\n"
        assert result.stdout == ""


def test_levels_in_a_config_file(tmp_path, model_dir):
    model, _ = model_dir
    config = tmp_path / "c.yaml"
    config.write_text("predict:\n  intervals: [90]\n")
    out = read_csv(invoke("predict", "-m", model, "-c", config, "--quiet").stdout)
    assert out.columns.tolist() == ["unique_id", "ds", "y_hat", "y_hat_lo_90", "y_hat_hi_90"]
    cfg = Config.load(None, {"intervals": "95,80,80"})
    assert cfg.predict.intervals == (80, 95)
    assert Config.from_yaml(cfg.to_yaml()) == cfg


def test_evaluate_reports_coverage_and_width(tmp_path, model_dir):
    model, data = model_dir
    out = tmp_path / "report"
    result = invoke("evaluate", data, "-m", model, "-o", out, "--intervals", "80,95", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    forecasts = pd.read_csv(out / "forecasts.csv")
    history = pd.read_csv(data)
    scale = forecasts.apply(
        lambda r: metrics.mase_scale(
            history.loc[(history.unique_id == r.unique_id) & (history.ds <= r.cutoff), "y"]
            .to_numpy(), 12
        ), axis=1,
    )  # fmt: skip
    assert forecasts.columns.tolist()[:10] == [
        "unique_id", "ds", "cutoff", "fold", "y", "y_hat", *BOUNDS,
    ]  # fmt: skip
    for level in ("80", "95"):
        block = doc["intervals"][level]
        inside = forecasts["y"].between(
            forecasts[f"y_hat_lo_{level}"], forecasts[f"y_hat_hi_{level}"]
        )
        assert block["coverage"] == pytest.approx(inside.mean())
        width = forecasts[f"y_hat_hi_{level}"] - forecasts[f"y_hat_lo_{level}"]
        assert block["mean_width"] == pytest.approx(width.mean())
        # MSIS: the interval score over the MASE scale of each series' history before its cut-off
        miss = (forecasts[f"y_hat_lo_{level}"] - forecasts["y"]).clip(lower=0) + (
            forecasts["y"] - forecasts[f"y_hat_hi_{level}"]
        ).clip(lower=0)
        score = width + 2 / (1 - int(level) / 100) * miss
        assert block["msis"] == pytest.approx((score / scale).mean())
        assert [s["step"] for s in block["per_step"]] == [1, 2, 3, 4, 5, 6]
        assert block["per_fold"][0]["coverage"] == pytest.approx(block["coverage"])
    assert doc["intervals"]["95"]["mean_width"] > doc["intervals"]["80"]["mean_width"]
    report = (out / "report.md").read_text()
    assert "## Prediction intervals" in report and "| 95% |" in report
    assert "prediction intervals" in invoke("evaluate", data, "-m", model, "-o", out,
                                            "--intervals", "80").stderr  # fmt: skip


def test_no_intervals_no_interval_keys(tmp_path, model_dir):
    model, data = model_dir
    result = invoke("evaluate", data, "-m", model, "-o", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.output
    assert "intervals" not in json.loads(result.stdout)
    assert "Prediction intervals" not in (tmp_path / "r" / "report.md").read_text()


# --- coverage where the answer is known ------------------------------------------------------


def _noisy_frame(n_series: int, n: int, seed: int) -> pd.DataFrame:
    """Seasonal series with N(0, 1) noise: nothing to learn beyond the season and level, so
    a calibrated interval covers new points at its level."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2000-01-01", periods=n, freq="MS")
    t = np.arange(n)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"s{i:02d}",
                    "ds": ds,
                    "y": 20 + i + 3 * np.sin(2 * np.pi * t / 12) + rng.standard_normal(n),
                }
            )
            for i in range(n_series)
        ],
        ignore_index=True,
    )


def test_coverage_near_nominal_on_a_noisy_series():
    """Train once, then forecast the next 6 months of 40 series: the share of the 240 actuals
    inside each interval is near its level (binomial sd about 2.6 points at 80%)."""
    frame = _noisy_frame(n_series=40, n=120, seed=0)
    schema = Schema(layout="long", time_col="ds", target=("y",), id_col="unique_id", freq="MS")
    history = evaluate._before(frame, evaluate.Panel.from_frame(frame), np.full(40, 114))
    cfg = Config().with_overrides({"horizon": 6, "hidden_size": 8, "epochs": 30})
    model = pipeline.fit(Loaded(frame=history, schema=schema, notes=(), source="t"), cfg).model
    result = evaluate.holdout(model, frame, season=12, levels=(80, 95))
    scores = evaluate.summarize(result)["intervals"]
    assert scores["80"]["coverage"] == pytest.approx(0.80, abs=0.08)
    assert scores["95"]["coverage"] == pytest.approx(0.95, abs=0.05)
    # and the widths are those of N(0, 1) noise, give or take the model's own error
    assert 2 * 1.28 * 0.8 < scores["80"]["mean_width"] < 2 * 1.28 * 1.5


def test_log1p_intervals_are_bounds_in_original_units(tmp_path, model_dir):
    _, data = model_dir
    model = tmp_path / "log"
    trained = invoke("train", data, "-o", model, "-H", 6, *FAST, "--transform", "log1p")
    assert trained.exit_code == 0, trained.output
    out = read_csv(invoke("predict", "-m", model, "--intervals", "80", "--quiet").stdout)
    assert (out["y_hat_lo_80"] < out["y_hat"]).all() and (out["y_hat"] < out["y_hat_hi_80"]).all()


def test_coverage_near_nominal_on_random_walks_the_auto_transform_differences():
    """Random walks with drift trend, so `auto` models their changes; a level's error is the
    sum of the changes' errors, so the intervals widen like sqrt(step) and still cover the
    next 6 steps of 60 walks near their level."""
    rng = np.random.default_rng(1)
    n, walks = 120, 60
    ds = pd.date_range("2000-01-01", periods=n, freq="MS")
    frame = pd.concat(
        [
            pd.DataFrame(
                {"unique_id": f"w{i:02d}", "ds": ds, "y": np.cumsum(1 + rng.standard_normal(n))}
            )
            for i in range(walks)
        ],
        ignore_index=True,
    )
    schema = Schema(layout="long", time_col="ds", target=("y",), id_col="unique_id", freq="MS")
    history = evaluate._before(frame, evaluate.Panel.from_frame(frame), np.full(walks, n - 6))
    cfg = Config().with_overrides({"horizon": 6, "hidden_size": 8, "epochs": 30})
    model = pipeline.fit(Loaded(frame=history, schema=schema, notes=(), source="t"), cfg).model
    assert model.config.data.transform == "difference"
    result = evaluate.holdout(model, frame, season=12, levels=(80, 95))
    scores = evaluate.summarize(result)["intervals"]
    assert scores["80"]["coverage"] == pytest.approx(0.80, abs=0.08)
    assert scores["95"]["coverage"] == pytest.approx(0.95, abs=0.05)
    widths = [step["mean_width"] for step in scores["80"]["per_step"]]
    assert widths[-1] > 1.8 * widths[0]  # sqrt(6) = 2.4 for a pure random walk
