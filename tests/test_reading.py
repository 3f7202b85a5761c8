"""Input is read as it was meant: dates in either order, decimal commas, ids that look like
missing values, numbers and sizes at the edges; what cannot be read is one bounded line."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import FAST, long_frame, seasonal
from test_robustness import assert_clean_error, invoke

from rnnforecast import data
from rnnforecast.config import DataConfig
from rnnforecast.errors import RnnForecastError

QUICK = [*FAST, "--epochs", "1", "--horizon", "3", "--lookback", "6"]
LOUD = [f for f in QUICK if f != "--quiet"]  # notes shown


def series_csv(path, dates, values=None, sep=",", time="date", target="y"):
    """A single-series CSV with the dates given as text."""
    values = seasonal(len(dates)) if values is None else values
    pd.DataFrame({time: dates, target: values}).to_csv(path, index=False, sep=sep)
    return path


def forecasts(*args) -> pd.DataFrame:
    result = invoke("predict", *args, "-q")
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), keep_default_na=False)


def saved(model) -> dict:
    return yaml.safe_load((model / "config.yaml").read_text())


# --- dates -----------------------------------------------------------------------------------


def test_day_first_daily_dates_are_read_day_first(tmp_path):
    days = pd.date_range("2021-01-01", periods=40, freq="D")
    path = series_csv(tmp_path / "d.csv", days.strftime("%d/%m/%Y"))
    result = invoke("train", path, "-o", tmp_path / "m", *QUICK)
    assert result.exit_code == 0, result.output
    assert saved(tmp_path / "m")["data"]["freq"] == "D"
    assert saved(tmp_path / "m")["data"]["dayfirst"] is True
    assert forecasts("-m", tmp_path / "m")["ds"].iloc[0] == "2021-02-10"


def test_numeric_dates_that_nothing_decides_are_ambiguous(tmp_path):
    months = pd.date_range("2015-01-01", periods=36, freq="MS")
    path = series_csv(tmp_path / "m.csv", months.strftime("%d/%m/%Y"))
    result = invoke("train", path, "-o", tmp_path / "m", *QUICK)
    assert_clean_error(result, "'01/01/2015' at line 2", "--dayfirst", "--date-format %d/%m/%Y")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("flags", [["--dayfirst"], ["--date-format", "%d/%m/%Y"]])
def test_dayfirst_or_a_date_format_reads_monthly_numeric_dates(tmp_path, flags):
    months = pd.date_range("2015-01-01", periods=36, freq="MS")
    path = series_csv(tmp_path / "m.csv", months.strftime("%d/%m/%Y"))
    result = invoke("train", path, "-o", tmp_path / "m", *QUICK, *flags)
    assert result.exit_code == 0, result.output
    assert saved(tmp_path / "m")["data"]["freq"] == "MS"
    assert forecasts("-m", tmp_path / "m")["ds"].tolist() == ["2018-01-01", "2018-02-01",
                                                              "2018-03-01"]  # fmt: skip


def test_dates_in_both_orders_are_refused_naming_both(tmp_path):
    dates = [*pd.date_range("2021-01-10", periods=10).strftime("%d/%m/%Y"), "01/20/2021"]
    path = series_csv(tmp_path / "d.csv", dates)
    result = invoke("train", path, "-o", tmp_path / "m", *QUICK)
    assert_clean_error(result, "'13/01/2021' at line 5", "'01/20/2021' at line 12", "one order")


def test_fresh_data_is_read_in_the_models_date_order(tmp_path):
    """Twelve days of April read either way; the model's own order decides them."""
    days = pd.date_range("2021-01-01", periods=40, freq="D")
    train = series_csv(tmp_path / "d.csv", days.strftime("%d/%m/%Y"))
    assert invoke("train", train, "-o", tmp_path / "m", *QUICK).exit_code == 0
    april = pd.date_range("2021-04-01", periods=12, freq="D")
    fresh = series_csv(tmp_path / "fresh.csv", april.strftime("%d/%m/%Y"))
    assert forecasts(fresh, "-m", tmp_path / "m")["ds"].iloc[0] == "2021-04-13"


def test_a_later_chunk_in_the_other_order_is_named_not_switched(tmp_path):
    """Series a (read first) is day first; series b, alone, would read month first: its
    dates are read day first as far as they can be, and the first that cannot is named."""
    a = pd.date_range("2021-01-10", periods=20).strftime("%d/%m/%Y")
    b = pd.date_range("2021-01-10", periods=20).strftime("%m/%d/%Y")
    frame = pd.DataFrame({"unique_id": ["a"] * 20 + ["b"] * 20, "ds": [*a, *b], "y": 1.0})
    frame.to_csv(tmp_path / "ab.csv", index=False)
    with pytest.raises(RnnForecastError) as err:
        list(data.load_chunks(tmp_path / "ab.csv", DataConfig(), series=1))
    assert "'01/13/2021' at line 25 is not a date in the format %d/%m/%Y" in str(err.value)


@pytest.mark.parametrize(
    ("dates", "bad"),
    [
        ([f"1500-01-{d:02d}" for d in range(1, 31)], "'1500-01-01"),  # written as text:
        ([f"{3000 + m // 12}-{m % 12 + 1:02d}-01" for m in range(30)], "'3000-01-01"),  # pandas 2
        # holds no such timestamp
        (list(range(1600, 1630)), "'1600' at line 2"),
    ],
)
def test_dates_outside_the_nanosecond_range_name_the_line(tmp_path, dates, bad):
    path = series_csv(tmp_path / "d.csv", dates, time="ds")
    result = invoke("train", path, "-o", tmp_path / "m", *QUICK)
    assert_clean_error(result, bad, "1677-09-22 to 2262-04-11")


@pytest.mark.parametrize("freq", ["0D", "0min", "-1D", "5X"])
def test_frequencies_that_step_nowhere_are_refused(tmp_path, long_csv, freq):
    result = invoke("train", long_csv, "-o", tmp_path / "m", f"--freq={freq}", *QUICK)
    assert_clean_error(result, "--freq", f"'{freq}'")


# --- filling ---------------------------------------------------------------------------------


def test_a_fill_that_would_invent_most_of_the_grid_is_refused(tmp_path):
    days = pd.date_range("2021-01-01", periods=40, freq="D")
    path = series_csv(tmp_path / "d.csv", days.strftime("%Y-%m-%d"))
    gap = invoke("train", path, "-o", tmp_path / "m", "--freq", "h", *QUICK)
    assert_clean_error(gap, "has a gap after 2021-01-01", "likely misread", "--freq")
    assert "--fill" not in gap.stderr  # not suggested when it would invent 96 % of the points
    filled = invoke("train", path, "-o", tmp_path / "m", "--freq", "h", "--fill", "ffill", *QUICK)
    assert_clean_error(filled, "--fill ffill refused", "897 of the series' 937 points")
    assert not (tmp_path / "m").exists()
    few = series_csv(tmp_path / "few.csv", days.delete(20).strftime("%Y-%m-%d"))
    assert_clean_error(invoke("train", few, "-o", tmp_path / "m", *QUICK), "--fill ffill")
    assert invoke("train", few, "-o", tmp_path / "m", "--fill", "ffill", *QUICK).exit_code == 0


def test_predict_and_evaluate_take_fill(tmp_path, long_csv):
    model = tmp_path / "m"
    assert invoke("train", long_csv, "-o", model, *QUICK).exit_code == 0
    fresh = long_frame()
    fresh.loc[fresh.index[-5], "y"] = np.nan  # s2, five points before its end
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    refused = invoke("predict", tmp_path / "fresh.csv", "-m", model)
    assert_clean_error(refused, "has an empty value at line", "--fill")
    assert len(forecasts(tmp_path / "fresh.csv", "-m", model, "--fill", "ffill")) == 9
    (tmp_path / "c.yaml").write_text("data:\n  fill: interpolate\n")
    assert len(forecasts(tmp_path / "fresh.csv", "-m", model, "-c", tmp_path / "c.yaml")) == 9
    scored = invoke("evaluate", tmp_path / "fresh.csv", "-m", model, "-o", tmp_path / "r",
                    "--fill", "zero", "-q")  # fmt: skip
    assert scored.exit_code == 0, scored.output


# --- numbers ---------------------------------------------------------------------------------


def test_decimal_commas_of_a_semicolon_file_are_read_and_said(tmp_path):
    months = pd.date_range("2015-01-01", periods=36, freq="MS").strftime("%Y-%m-%d")
    values = [f"{v:.2f}".replace(".", ",") for v in 180 + seasonal(36)]
    path = series_csv(tmp_path / "eu.csv", months, values, sep=";", target="sales")
    result = invoke("train", path, "-o", tmp_path / "m", *LOUD)
    assert result.exit_code == 0, result.output
    assert "read ',' as the decimal mark" in result.stderr
    assert forecasts("-m", tmp_path / "m")["y_hat"].between(150, 230).all()
    values[20] = "n/a?"  # one stray word keeps the column text: it is the one named
    series_csv(path, months, values, sep=";", target="sales")
    stray = invoke("train", path, "-o", tmp_path / "m", *QUICK)
    assert_clean_error(stray, "'n/a?' at line 22 is not a number")


def test_thousands_separators_name_the_option_that_reads_them(tmp_path):
    months = pd.date_range("2015-01-01", periods=36, freq="MS").strftime("%Y-%m-%d")
    path = series_csv(tmp_path / "t.csv", months, [f"{v:,.2f}" for v in 1900 + seasonal(36)])
    assert_clean_error(invoke("train", path, "-o", tmp_path / "m", *QUICK),
                       "'1,910.01' at line 2 is not a number", "--thousands ,")  # fmt: skip
    result = invoke("train", path, "-o", tmp_path / "m", "--thousands", ",", *QUICK)
    assert result.exit_code == 0, result.output
    assert forecasts("-m", tmp_path / "m")["y_hat"].between(1850, 1990).all()


def test_decimal_commas_in_a_comma_file_name_the_decimal_option(tmp_path):
    months = pd.date_range("2015-01-01", periods=36, freq="MS").strftime("%Y-%m-%d")
    values = [f"{v:.2f}".replace(".", ",") for v in 180 + seasonal(36)]
    path = series_csv(tmp_path / "c.csv", months, values, target="sales")
    assert_clean_error(invoke("train", path, "-o", tmp_path / "m", *QUICK),
                       "'sales' reads as numbers with --decimal ,")  # fmt: skip
    dotted = tmp_path / "dotted.csv"  # 1.900,09: the thousands mark comes with the comma
    series_csv(dotted, months, [f"1.9{v:02.0f},09" for v in seasonal(36)], sep=";")
    result = invoke("train", dotted, "-o", tmp_path / "m", *QUICK)
    assert result.exit_code == 0, result.output
    assert forecasts("-m", tmp_path / "m")["y_hat"].between(1850, 1990).all()


@pytest.mark.parametrize("value", ["1e300", "-1e300", "1e-300"])
def test_magnitudes_beyond_scaling_are_refused_by_line(tmp_path, value):
    days = pd.date_range("2021-01-01", periods=40, freq="D").strftime("%Y-%m-%d")
    values = [f"{v:.3f}" for v in seasonal(40)]
    values[7] = value
    path = series_csv(tmp_path / "d.csv", days, values)
    result = invoke("train", path, "-o", tmp_path / "m", *QUICK)
    assert_clean_error(result, f"{float(value):g} at line 9", "rescale")


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--lr", "nan"), ("--clip-norm", "inf"), ("--clip-value", "nan"), ("--dropout", "nan"),
     ("--weight-decay", "inf"), ("--ema", "nan"), ("--wait", "nan"), ("--wait", "inf")],
)  # fmt: skip
def test_non_finite_options_are_refused_naming_the_flag(tmp_path, long_csv, flag, value):
    result = invoke("train", long_csv, "-o", tmp_path / "m", flag, value, *QUICK)
    assert_clean_error(result, flag, value)
    assert not (tmp_path / "m").exists()


def test_seeds_beyond_the_generators_range_are_refused(tmp_path, long_csv):
    top = str(2**32 - 1)
    assert_clean_error(invoke("train", long_csv, "-o", tmp_path / "m", "--seed", str(2**32),
                              *QUICK), "--seed: 4294967296")  # fmt: skip
    assert_clean_error(invoke("train", long_csv, "-o", tmp_path / "m", "--seed", top,
                              "--ensemble", "2", *QUICK), "one per ensemble member")  # fmt: skip
    assert invoke("train", long_csv, "-o", tmp_path / "m", "--seed", top, *QUICK).exit_code == 0


def test_sizes_absurd_together_are_refused_by_the_memory_they_need(tmp_path, long_csv):
    result = invoke("train", long_csv, "-o", tmp_path / "m", *FAST, "--lookback", "100000",
                    "--hidden-size", "4096", "--layers", "64")  # fmt: skip
    assert_clean_error(result, "GB of memory", "--hidden-size", "--lookback")


# --- ids and series --------------------------------------------------------------------------


def test_duplicate_times_name_the_column_that_tells_the_series_apart(tmp_path):
    months = pd.date_range("2015-01-01", periods=36, freq="MS").strftime("%Y-%m-%d")
    frame = pd.concat(
        [pd.DataFrame({"store": s, "date": months, "units": seasonal(36, seed=i)})
         for i, s in enumerate(["north", "south"])]
    )  # fmt: skip
    frame.to_csv(tmp_path / "s.csv", index=False)
    result = invoke("train", tmp_path / "s.csv", "-o", tmp_path / "m", *QUICK)
    assert_clean_error(result, "series 'units' has duplicate time", "pass --id-col store")
    ok = invoke("train", tmp_path / "s.csv", "-o", tmp_path / "m", "--id-col", "store", *QUICK)
    assert ok.exit_code == 0, ok.output
    assert sorted(set(forecasts("-m", tmp_path / "m")["unique_id"])) == ["north", "south"]


def test_ids_that_look_missing_are_ids_in_and_back_from_the_tail(tmp_path):
    ids = ["NA", "None", "null", "nan", "N/A"]
    frame = long_frame(n_series=len(ids), n=30)
    frame["unique_id"] = frame["unique_id"].map({f"s{i}": v for i, v in enumerate(ids)})
    frame.to_csv(tmp_path / "na.csv", index=False)
    result = invoke("train", tmp_path / "na.csv", "-o", tmp_path / "m", *QUICK)
    assert result.exit_code == 0, result.output
    assert sorted(set(forecasts("-m", tmp_path / "m")["unique_id"])) == sorted(ids)
    fresh = forecasts(tmp_path / "na.csv", "-m", tmp_path / "m")
    assert sorted(set(fresh["unique_id"])) == sorted(ids)


# --- YAML ------------------------------------------------------------------------------------


def test_yaml_scalars_are_read_as_their_flag_would_be(tmp_path):
    (tmp_path / "c.yaml").write_text("train:\n  lr: 1e-3\n  epochs: '7'\n")
    result = invoke("config", "show", "-c", tmp_path / "c.yaml")
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)["train"]
    assert (shown["lr"], shown["epochs"]) == (0.001, 7)


def _bomb() -> str:
    """Nine levels of nine aliases: 9**9 values if anything walks it."""
    parts = ['&a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        parts.append(f"&{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "train:\n  lr: [" + ", ".join(parts) + "]\n"


@pytest.mark.parametrize("text", [_bomb(), "train:\n  lr: " + "[" * 5000 + "]" * 5000 + "\n"])
def test_yaml_that_expands_or_nests_without_end_fails_fast_and_short(tmp_path, text):
    (tmp_path / "c.yaml").write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "rnnforecast", "config", "show", "-c", str(tmp_path / "c.yaml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert len(done.stderr) < 300, done.stderr[:1000]


# --- messages, sources and formats -----------------------------------------------------------


def test_messages_stay_one_short_line_whatever_the_input(tmp_path):
    wide = pd.DataFrame(np.ones((3, 20_000)), columns=[f"c{i}" for i in range(20_000)])
    wide.insert(0, "ds", ["2020-01-01", "2020-01-02", "2020-01-03"])
    wide.to_csv(tmp_path / "wide.csv", index=False)
    for args, fragment in [
        ([], "numeric columns c0, c1, c2, c3, c4 and 19,995 more"),
        (["--target", "nope"], "columns are: ds, c0, c1, c2, c3 and 19,996 more"),
    ]:
        result = invoke("train", tmp_path / "wide.csv", "-o", tmp_path / "m", *args, *QUICK)
        assert_clean_error(result, fragment)
        assert len(result.stderr) < 400
    big_id = "x" * 10_000_000  # its two rows have the same time
    rows = long_frame(n_series=1, n=30).to_csv(index=False)
    (tmp_path / "id.csv").write_text(rows + f"{big_id},2000-01-01,1\n{big_id},2000-01-01,2\n")
    result = invoke("train", tmp_path / "id.csv", "-o", tmp_path / "m", *QUICK)
    assert_clean_error(result, "has duplicate time", "(10,000,000 characters)")
    assert len(result.stderr) < 500
    (tmp_path / "c.yaml").write_text("train:\n  ? " + "k" * 100_000 + "\n  : 1\n")
    result = invoke("train", tmp_path / "id.csv", "-c", tmp_path / "c.yaml")
    assert_clean_error(result, "unknown key 'kkkk")
    assert len(result.stderr) < 500
    result = invoke("train", tmp_path / "id.csv", "--cell", "z" * 100_000)
    assert_clean_error(result, "is not one of rnn, lstm, gru")
    assert len(result.stderr) < 300


def test_standard_input_and_pipes_say_they_are_not_read(tmp_path, long_csv):
    assert_clean_error(invoke("train", "-", "-o", tmp_path / "m"), "standard input")
    assert invoke("train", long_csv, "-o", tmp_path / "m", *QUICK).exit_code == 0
    assert_clean_error(invoke("predict", "-m", tmp_path / "m", "-"), "standard input")
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    done = subprocess.run(  # a pipe with no writer: reading it would wait for ever
        [sys.executable, "-m", "rnnforecast", "predict", str(fifo), "-m", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "is not a regular file" in done.stderr, done.stderr


def _excel_like(path, text):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", text)


@pytest.mark.parametrize(
    ("write", "outcome"),
    [
        (lambda p, t: p.write_bytes(gzip.compress(t.encode())), None),
        (lambda p, t: p.write_text(t, encoding="utf-16"), None),
        (lambda p, t: p.write_text(t.replace("ds,y", "ds,sales").replace("\n", ",\n")),
         None),  # a trailing delimiter: an empty column without a name
        (lambda p, t: p.write_text(t.replace("ds,y", "ds,y,y").replace("\n2", ",1\n2")),
         "duplicate column name 'y'"),
        (_excel_like, "ZIP archive or an Excel workbook"),
        (lambda p, t: p.write_text("sep=,\n" + t), None),  # Excel's line naming the delimiter
    ],
)  # fmt: skip
def test_files_in_other_clothes_are_read_or_named(tmp_path, write, outcome):
    days = pd.date_range("2021-01-01", periods=40, freq="D").strftime("%Y-%m-%d")
    text = pd.DataFrame({"ds": days, "y": seasonal(40)}).to_csv(index=False)
    write(tmp_path / "d.csv", text)
    result = invoke("train", tmp_path / "d.csv", "-o", tmp_path / "m", *QUICK)
    if outcome is None:
        assert result.exit_code == 0, result.output
        assert len(forecasts("-m", tmp_path / "m")) == 3
    else:
        assert_clean_error(result, outcome)
