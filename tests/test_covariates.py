"""Exogenous covariates: loading and validation, scaling without look-ahead, training, predict
with future rows, backtests, and old model directories that have none."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, heavy_imports
from typer.testing import CliRunner

from rnnforecast import artifact
from rnnforecast.cli import app
from rnnforecast.config import Config, DataConfig
from rnnforecast.data import load
from rnnforecast.errors import RnnForecastError

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures"
HORIZON = 6


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def flag_frame(n: int, n_series: int = 1, seed: int = 0) -> pd.DataFrame:
    """Hourly series whose level jumps by 5 whenever a random 0/1 flag is on: unforecastable
    from the past alone, exact given the flag. `temp` is a smooth past covariate."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2020-01-01", periods=n, freq="h")
    parts = []
    for i in range(n_series):
        flag = (rng.random(n) < 0.3).astype(int)
        temp = 15 + 5 * np.sin(2 * np.pi * np.arange(n) / 24) + rng.standard_normal(n)
        y = 10 + 3 * i + 5 * flag + 0.3 * rng.standard_normal(n)
        parts.append(
            pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y, "temp": temp, "flag": flag})
        )
    return pd.concat(parts, ignore_index=True)


def with_future_rows(frame: pd.DataFrame, horizon: int = HORIZON) -> pd.DataFrame:
    """The frame with y emptied in the last `horizon` rows of each series: predict's input."""
    out = frame.copy()
    last = out.groupby("unique_id").cumcount(ascending=False) < horizon
    out.loc[last, "y"] = np.nan
    return out


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def last_rows(frame: pd.DataFrame, horizon: int = HORIZON) -> pd.DataFrame:
    return frame[frame.groupby("unique_id").cumcount(ascending=False) < horizon]


# --- loading ---------------------------------------------------------------------------------


def test_covariate_columns_are_kept_and_future_rows_split_off(tmp_path):
    frame = with_future_rows(flag_frame(30, n_series=2))
    path = write(frame, tmp_path / "d.csv")
    cfg = DataConfig(past_covariates=("temp",), future_covariates=("flag",))
    loaded = load(path, cfg)
    assert loaded.frame.columns.tolist() == ["unique_id", "ds", "y", "temp", "flag"]
    assert loaded.frame.groupby("unique_id").size().tolist() == [24, 24]
    assert loaded.frame["y"].notna().all()
    assert loaded.future.columns.tolist() == ["unique_id", "ds", "flag"]
    expected = last_rows(frame)[["unique_id", "ds", "flag"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(loaded.future, expected, check_dtype=False)
    # without future covariates, an empty y at the end is an error as before
    with pytest.raises(RnnForecastError, match="has an empty value at line 26"):
        load(path, DataConfig(past_covariates=("temp",)))


@pytest.mark.parametrize(
    ("cfg", "edit", "message"),
    [
        (
            DataConfig(past_covariates=("price",)),
            None,
            "no column 'price' (--past-covariates); columns are: unique_id, ds, y, temp, flag",
        ),
        (
            DataConfig(future_covariates=("temp",)),
            (3, "temp", "warm"),
            "column 'temp': 'warm' at line 5 is not a number; fix or remove the row",
        ),
        (
            DataConfig(past_covariates=("temp",)),
            (4, "temp", ""),
            "series 's0' has an empty 'temp' at line 6; fill it or pass --fill "
            "ffill|interpolate|zero",
        ),
        (
            DataConfig(target=("y",), past_covariates=("y",)),
            None,
            "column 'y' cannot be both a covariate and the target, time or id",
        ),
    ],
)
def test_bad_covariates_name_file_column_and_line(tmp_path, cfg, edit, message):
    frame = flag_frame(12).astype({"temp": object})
    if edit is not None:
        row, column, value = edit
        frame.loc[row, column] = value
    path = write(frame, tmp_path / "d.csv")
    with pytest.raises(RnnForecastError) as err:
        load(path, cfg)
    assert str(err.value) == f"{path}: {message}"


def test_covariate_settings_round_trip_through_yaml():
    cfg = Config().with_overrides({"past_covariates": "temp, flag", "future_covariates": ["hol"]})
    assert cfg.data.covariates == ("temp", "flag", "hol")  # the order of the input channels
    assert Config.from_yaml(cfg.to_yaml()) == cfg
    assert Config.from_yaml(cfg.to_yaml(comments=True)) == cfg


def test_covariates_listed_twice_are_refused():
    with pytest.raises(RnnForecastError) as err:
        Config().with_overrides({"past_covariates": "temp,flag", "future_covariates": "flag"})
    assert str(err.value) == (
        "covariate 'flag' is listed twice; name each column once, in --past-covariates or in "
        "--future-covariates"
    )


def test_fill_repairs_covariates_and_flags_read_as_numbers(tmp_path):
    frame = flag_frame(12)
    frame["flag"] = frame["flag"].astype(bool)  # written as True/False
    frame.loc[4, "temp"] = np.nan
    path = write(frame.drop(index=7), tmp_path / "d.csv")  # a missing timestamp too
    loaded = load(path, DataConfig(past_covariates=("temp", "flag"), fill="interpolate"))
    got = loaded.frame
    assert len(got) == 12 and got[["y", "temp", "flag"]].notna().all().all()
    assert got["temp"].iat[4] == pytest.approx((frame["temp"].iat[3] + frame["temp"].iat[5]) / 2)
    assert set(got["flag"].drop(index=7)) <= {0.0, 1.0}
    assert any("filled" in note for note in loaded.notes)


# --- training and forecasting ------------------------------------------------------------


def test_a_future_covariate_is_forecast_from_far_better(tmp_path):
    """y = 10 + 5 * flag + noise with a random flag: without the flag the best a model can do
    is a level between 10 and 15; with the flag's future values it forecasts to the noise."""
    n = 400
    full = flag_frame(n + HORIZON).drop(columns="temp")
    train_csv = write(full.iloc[:n], tmp_path / "train.csv")
    predict_csv = write(with_future_rows(full), tmp_path / "predict.csv")
    truth = full["y"].to_numpy()[n:]
    fast = ["--horizon", HORIZON, "--lookback", 24, "--hidden-size", 8, "--epochs", 15]
    fast += ["--lr", "0.02", "--blend", "none", "--quiet"]  # the network's own use of the flag
    errors = {}
    for name, extra, data in [
        ("with", ["--future-covariates", "flag"], [predict_csv]),
        ("without", [], []),
    ]:
        model = tmp_path / name
        result = invoke("train", train_csv, "--out", model, *fast, *extra)
        assert result.exit_code == 0, result.output
        out = invoke("predict", *data, "-m", model)
        assert out.exit_code == 0, out.output
        forecast = pd.read_csv(io.StringIO(out.stdout))
        errors[name] = float(np.abs(forecast["y_hat"].to_numpy() - truth).mean())
    assert errors["with"] < 0.6 < 1.5 < errors["without"], errors
    # holdout on the file with its actuals: the flags after the cut-off are read from it
    report = invoke("evaluate", write(full, tmp_path / "full.csv"), "-m", tmp_path / "with",
                    "--out", tmp_path / "report", "--json", "--max-plots", 0)  # fmt: skip
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["overall"]["model"]["mae"] < 0.6


@pytest.fixture(scope="module")
def covariate_model(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    """A model with a past (temp) and a future (flag) covariate, trained on a file that ends in
    future rows; and that file."""
    tmp = tmp_path_factory.mktemp("cov")
    frame = with_future_rows(flag_frame(120, n_series=2))
    data = write(frame, tmp / "data.csv")
    model = tmp / "model"
    result = invoke(
        "train", data, "--out", model, "--horizon", HORIZON, "--lookback", 12,
        "--past-covariates", "temp", "--future-covariates", "flag", *FAST[:-1],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "12 rows after the last observed y of their series hold future covariates" in (
        result.stderr
    )
    return model, data, frame


def test_covariate_model_directory(covariate_model):
    model, _, frame = covariate_model
    art = artifact.load(model)
    assert art.config.data.past_covariates == ("temp",)
    assert art.config.data.future_covariates == ("flag",)
    assert art.weights["rnns.0.weight_ih_l0"].shape[1] == 1 + 2  # target, temp, flag
    assert art.weights["future.weight"].shape == (HORIZON, HORIZON * 1)
    assert art.tail.columns.tolist() == ["unique_id", "ds", "y", "temp", "flag"]
    assert art.tail.groupby("unique_id").size().tolist() == [12, 12]
    # covariate statistics: per series, from the training part (before validation) only
    observed = frame[frame["y"].notna()]
    val_size = art.config.window.val_size
    for i, uid in enumerate(["s0", "s1"]):
        fit = observed[observed["unique_id"] == uid].iloc[:-val_size]
        for name in ("temp", "flag"):
            stats = art.series["covariates"][name]
            assert stats["loc"][i] == pytest.approx(fit[name].mean(), rel=1e-12)
            assert stats["scale"][i] == pytest.approx(fit[name].std(ddof=0), rel=1e-12)
    facts = invoke("info", model, "--json")
    assert json.loads(facts.stdout)["future_covariates"] == ["flag"]
    assert "past temp; future flag" in invoke("info", model).stdout


def test_covariates_after_the_training_part_do_not_change_the_scaler(tmp_path, covariate_model):
    """No look-ahead: covariate values in the validation part and the future rows are not in
    the statistics the model is saved with."""
    model, _, frame = covariate_model
    observed = frame["y"].notna()
    late = ~observed | (frame[observed].groupby("unique_id").cumcount(ascending=False) < HORIZON)
    assert late.sum() == 2 * 2 * HORIZON  # validation and future rows of both series
    changed = frame.copy()
    changed.loc[late, "temp"] = 1e4
    changed.loc[late & observed, "flag"] = 1 - changed.loc[late & observed, "flag"]
    data = write(changed, tmp_path / "changed.csv")
    other = tmp_path / "other"
    result = invoke(
        "train", data, "--out", other, "--horizon", HORIZON, "--lookback", 12,
        "--past-covariates", "temp", "--future-covariates", "flag", *FAST,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert artifact.load(other).series["covariates"] == artifact.load(model).series["covariates"]


def test_predict_reads_future_rows_with_either_engine_and_in_chunks(covariate_model):
    model, data, frame = covariate_model
    whole = invoke("predict", data, "-m", model)
    assert whole.exit_code == 0, whole.output
    chunked = invoke("predict", data, "-m", model, "--chunk-size", 1)
    assert chunked.stdout == whole.stdout
    forecast = pd.read_csv(io.StringIO(whole.stdout), parse_dates=["ds"])
    future = last_rows(frame)
    assert forecast["ds"].tolist() == pd.to_datetime(future["ds"]).tolist()
    torch_run = invoke("predict", data, "-m", model, "--engine", "torch")
    torch_fc = pd.read_csv(io.StringIO(torch_run.stdout))
    np.testing.assert_allclose(torch_fc["y_hat"], forecast["y_hat"], rtol=1e-5)
    # the forecast follows the future flags the file gives
    flipped = frame.copy()
    rows = frame["y"].isna()
    flipped.loc[rows, "flag"] = 1 - flipped.loc[rows, "flag"]
    path = write(flipped, data.with_name("flipped.csv"))
    other = pd.read_csv(io.StringIO(invoke("predict", path, "-m", model).stdout))
    assert not np.allclose(other["y_hat"], forecast["y_hat"])


def test_numpy_predict_with_covariates_does_not_import_torch(covariate_model):
    model, data, _ = covariate_model
    assert "torch" not in heavy_imports(["predict", str(data), "-m", str(model), "-q"])


def test_predict_without_future_values_exits_2_naming_them(tmp_path, covariate_model):
    model, data, frame = covariate_model
    result = invoke("predict", "-m", model)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: {model}: the model uses future covariates (flag), so predict needs their values "
        f"for the 6 steps ahead: give a data file (`rnnforecast predict DATA -m {model}`) whose "
        "series end with 6 rows with y empty and flag filled"
    )
    # s1 has only 4 of its 6 future rows, and one of them has no flag
    short = frame.drop(index=frame.index[-2:]).copy()
    short.loc[short.index[-3], "flag"] = np.nan
    path = write(short, tmp_path / "short.csv")
    result = invoke("predict", path, "-m", model)
    assert result.exit_code == 2, result.output
    assert " ".join(result.stderr.split()) == (
        f"error: {path}: series 's1' lacks future values of flag at 2020-01-05 19:00:00, "
        "2020-01-05 22:00:00, 2020-01-05 23:00:00 (3 of the 6 steps after its last observation "
        "2020-01-05 17:00:00); add rows for those times with y empty and flag filled"
    )
    assert "Traceback" not in result.output


def test_past_covariates_only_predict_from_the_stored_tail(tmp_path):
    frame = flag_frame(80, n_series=2)
    data = write(frame, tmp_path / "d.csv")
    model = tmp_path / "m"
    result = invoke("train", data, "--out", model, "--horizon", HORIZON, "--lookback", 12,
                    "--past-covariates", "temp,flag", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert artifact.load(model).weights["rnns.0.weight_ih_l0"].shape[1] == 3
    assert "future.weight" not in artifact.load(model).weights
    from_tail, from_file = invoke("predict", "-m", model), invoke("predict", data, "-m", model)
    assert from_tail.exit_code == 0, from_tail.output
    assert from_tail.stdout == from_file.stdout
    # the covariates are inputs: other past values give another forecast
    hotter = write(frame.assign(temp=frame["temp"] + 10), tmp_path / "hot.csv")
    assert invoke("predict", hotter, "-m", model).stdout != from_file.stdout


def test_backtest_with_future_covariates(tmp_path):
    data = write(flag_frame(160, n_series=2), tmp_path / "d.csv")
    out = tmp_path / "report"
    result = invoke(
        "backtest", data, "--out", out, "--horizon", HORIZON, "--lookback", 12, "--folds", 2,
        "--future-covariates", "flag", "--past-covariates", "temp", *FAST, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["points_scored"] == 2 * 2 * HORIZON
    assert doc["config"]["data"]["future_covariates"] == ["flag"]


def test_old_model_directory_predicts_byte_identically(tmp_path):
    """A model directory written before covariates existed (format 2) loads and forecasts the
    very bytes it did then with the numpy engine, and the same float32 numbers with torch's
    (whose kernels round differently on other CPUs: AVX2 against AVX-512)."""
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "format2" / "model", model)
    assert json.loads((model / "manifest.json").read_text())["format_version"] == 2
    result = invoke("predict", "-m", model, "--engine", "numpy", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == (FIXTURES / "format2" / "tail_forecast.csv").read_text()
    result = invoke("predict", "-m", model, "--engine", "torch", "-q")
    assert result.exit_code == 0, result.output
    got = pd.read_csv(io.StringIO(result.stdout))
    want = pd.read_csv(FIXTURES / "format2" / "tail_forecast_torch.csv")
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-6)
    facts = json.loads(invoke("info", model, "--json").stdout)
    assert facts["past_covariates"] == [] and facts["future_covariates"] == []


def test_intervals_with_future_covariates_surround_the_forecast(covariate_model):
    """Calibration feeds each window its future covariates, as forecasting does."""
    model, data, _ = covariate_model
    result = invoke("predict", data, "-m", model, "--intervals", "80")
    assert result.exit_code == 0, result.output
    out = pd.read_csv(io.StringIO(result.stdout))
    assert (out["y_hat_lo_80"] < out["y_hat"]).all() and (out["y_hat"] < out["y_hat_hi_80"]).all()
