"""Hostile and unlucky input: every case ends in a correct result or one line naming what to
fix, never in a silently misread number, date, column or setting."""

from __future__ import annotations

import io
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import FAST, long_frame, seasonal
from test_robustness import assert_clean_error, invoke

MONTHS = pd.date_range("2000-01-01", periods=40, freq="MS").strftime("%Y-%m-%d")
VALUES = 1000 + 300 * seasonal(40)  # 3,000 to 5,000: every value has a thousands group


def write(path, sep: str, cells: list[str]):
    path.write_text(
        f"ds{sep}y\n" + "".join(f"{d}{sep}{c}\n" for d, c in zip(MONTHS, cells, strict=True))
    )
    return path


@pytest.mark.parametrize(
    ("sep", "cells", "flags", "advice"),
    [
        # 190,09 written with a decimal comma: read_csv's thousands=',' made it 19009
        (";", [f"{v:.2f}".replace(".", ",") for v in VALUES], ["--thousands", ","],
         "reads as numbers with --decimal , and without --thousands"),
        # 4012.3456: a '.' thousands separator would have made it 40123456
        (",", [f"{v:.4f}" for v in VALUES], ["--thousands", "."],
         "reads as numbers with --decimal . and without --thousands"),
    ],
)  # fmt: skip
def test_a_thousands_separator_off_its_grouping_is_refused_not_dropped(
    tmp_path, sep, cells, flags, advice
):
    path = write(tmp_path / "data.csv", sep, cells)
    result = invoke("train", path, "--out", tmp_path / "m", *flags, *FAST)
    assert_clean_error(result, str(path), "line 2 is not a number", advice)
    assert not (tmp_path / "m").exists()


def test_thousands_separators_in_their_groups_read_as_meant(tmp_path):
    """1.234,56 with --thousands . (the decimal mark is then ','), forecast in the data's units;
    and a value off the grouping in the same column is named, not read as 123456."""
    cells = [f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for v in VALUES]
    path = write(tmp_path / "eu.csv", ",", [f'"{c}"' for c in cells])
    assert invoke("train", path, "-o", tmp_path / "m", "--thousands", ".", *FAST).exit_code == 0
    out = invoke("predict", "-m", tmp_path / "m", "-q")
    assert out.exit_code == 0, out.output
    y_hat = pd.read_csv(io.StringIO(out.stdout))["y_hat"]
    assert len(y_hat) == 12 and ((y_hat > 1000) & (y_hat < 10_000)).all(), y_hat
    cells[5] = "1.2345,6"  # not a group of three
    bad = write(tmp_path / "bad.csv", ",", [f'"{c}"' for c in cells])
    result = invoke("train", bad, "-o", tmp_path / "m2", "--thousands", ".", *FAST)
    assert_clean_error(result, str(bad), "'1.2345,6' at line 7 is not a number")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--id-col", "ds", "--time-col", "ds"],
         "column 'ds' cannot be both the id and the time column; give --id-col and --time-col "
         "different columns"),
        (["--past-covariates", "y"],
         "column 'y' is the target, so it cannot also be a covariate"),
        (["--future-covariates", "y"],
         "column 'y' is the target, so it cannot also be a covariate"),
    ],
)  # fmt: skip
def test_one_column_in_two_roles_is_named(tmp_path, long_csv, flags, message):
    result = invoke("train", long_csv, "--out", tmp_path / "m", *flags, *FAST)
    assert_clean_error(result, str(long_csv), message)


def test_a_target_listed_twice_is_named(tmp_path):
    path = tmp_path / "wide.csv"
    frame = long_frame(1).drop(columns="unique_id")
    frame.assign(z=frame["y"] * 2).to_csv(path, index=False)
    result = invoke("train", path, "--out", tmp_path / "m", "--target", "y,z,y", *FAST)
    assert_clean_error(result, "--target: column 'y' is listed twice")


def show(tmp_path, text: str):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    return config, invoke("config", "show", "-c", config)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("window:\n  horizon: 3\n  horizon: 4\n", "line 3: key 'horizon' is given twice"),
        ("window:\n  horizon: 3\nmodel:\n  layers: 1\nwindow:\n  lookback: 9\n",
         "line 5: key 'window' is given twice"),
    ],
)  # fmt: skip
def test_a_config_key_given_twice_is_refused(tmp_path, text, line):
    config, result = show(tmp_path, text)
    assert_clean_error(result, f"{config}: {line}")


def test_a_merged_key_may_be_overridden_but_not_given_twice(tmp_path):
    base = "window:\n  <<: {horizon: 3, lookback: 9}\n  horizon: 5\n"
    _, result = show(tmp_path, base)
    assert result.exit_code == 0, result.output
    window = yaml.safe_load(result.stdout)["window"]
    assert (window["horizon"], window["lookback"]) == (5, 9)
    config, result = show(tmp_path, base + "  horizon: 6\n")
    assert_clean_error(result, f"{config}: line 4: key 'horizon' is given twice")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("window:\n  horizon: 010\n", 10),  # YAML 1.1: octal 8; --horizon 010: 10
        ("window:\n  horizon: 1:30\n", "window.horizon must be of type int, got '1:30'"),  # 90
        ("window:\n  horizon: 0x10\n", "window.horizon must be of type int, got '0x10'"),  # 16
        ("train:\n  lr: 1:30.5\n", "train.lr must be of type float, got '1:30.5'"),  # 90.5
    ],
)  # fmt: skip
def test_config_numbers_read_as_their_flags_read_them(tmp_path, text, expected):
    config, result = show(tmp_path, text)
    if isinstance(expected, int):
        assert result.exit_code == 0, result.output
        assert yaml.safe_load(result.stdout)["window"]["horizon"] == expected
    else:
        assert_clean_error(result, f"{config}: {expected}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("window:\n  horizon: 0\n", "window.horizon: 0 is too small"),
        ("train:\n  lr: .nan\n", "train.lr: nan is not a finite number"),
        ("data:\n  target: y,y\n", "data.target: column 'y' is listed twice"),
        ("\x00\x01", "not valid YAML"),  # no line to name: no empty ':' either
    ],
)  # fmt: skip
def test_a_bad_value_in_a_config_names_the_file(tmp_path, text, message):
    config, result = show(tmp_path, text)
    assert_clean_error(result, f"{config}: {message}")
    assert "::" not in result.stderr


def test_months_written_as_numbers_are_pointed_to_their_format(tmp_path):
    path = tmp_path / "yyyymm.csv"
    path.write_text("ds,y\n" + "".join(f"{d.replace('-', '')[:6]},{v:.3f}\n"
                                       for d, v in zip(MONTHS, VALUES, strict=True)))  # fmt: skip
    result = invoke("train", path, "--out", tmp_path / "m", *FAST)
    assert_clean_error(
        result, "(line 2: 200001)", "for months written 202401 pass --date-format %Y%m"
    )
    result = invoke("train", path, "--out", tmp_path / "m", "--date-format", "%Y%m", *FAST)
    assert result.exit_code == 0, result.output


def test_a_models_commands_give_advice_they_can_take(tmp_path, long_csv):
    """predict and evaluate have no --dayfirst: dates whose order nothing decides are asked for
    in a form the model reads, not with a flag the command lacks."""
    model = tmp_path / "m"
    assert invoke("train", long_csv, "--out", model, *FAST).exit_code == 0
    frame = pd.read_csv(long_csv)
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.strftime("%d/%m/%Y")  # every day is 01
    fresh = tmp_path / "fresh.csv"
    frame.to_csv(fresh, index=False)
    for command in (["predict", fresh, "-m", model], ["evaluate", fresh, "-m", model]):
        result = invoke(*command, "--out", tmp_path / "out")
        assert_clean_error(result, str(fresh), "no value decides", "write these as ISO 8601")
        assert "--dayfirst" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags", [[], ["--decimal", ",", "--thousands", "."]])
def test_numbers_with_dots_and_commas_are_not_taken_for_dates(tmp_path, flags):
    """1.002,08 parses as a date to a lenient date reader: the dotted dates beside it are the
    time column, and the values keep their thousands."""
    days = pd.date_range("2021-01-01", periods=60, freq="D")
    cells = [f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for v in VALUES]
    path = tmp_path / "umsatz.csv"
    path.write_text(
        "Datum;Umsatz\n"
        + "".join(f"{d:%d.%m.%Y};{c}\n" for d, c in zip(days, (cells * 2)[:60], strict=True))
    )
    result = invoke("train", path, "--out", tmp_path / "m", "--dayfirst", *flags, *FAST)
    assert result.exit_code == 0, result.output
    out = invoke("predict", "--model", tmp_path / "m")
    forecast = pd.read_csv(io.StringIO(out.stdout))
    assert forecast["ds"].iloc[0] == "2021-03-02"  # the day after 01.03.2021, read day first
    assert forecast["y_hat"].between(1000, 10000).all()  # 4.012,35 is four thousand


def test_a_device_that_is_no_device_is_refused_by_predict_too(tmp_path, long_csv):
    assert invoke("train", long_csv, "--out", tmp_path / "m", *FAST).exit_code == 0
    result = invoke("predict", "--model", tmp_path / "m", "--device", "tpu")
    assert_clean_error(result, "--device: 'tpu' is not a device", "use auto, cpu, cuda or cuda:N")


def test_a_season_longer_than_every_series_is_refused(tmp_path, long_csv):
    result = invoke("train", long_csv, "--out", tmp_path / "m", "--season", "1000", *FAST)
    assert_clean_error(result, "--season 1000", "the longest has 60 points")
    assert not (tmp_path / "m").exists()


def test_a_quiet_backtest_with_zero_gradients_prints_nothing(tmp_path, long_csv):
    """lookback 1 leaves a recurrent weight without gradient: its norm, 0, has no place on a
    log axis, and matplotlib's warning broke --quiet."""
    args = ["backtest", long_csv, "--out", tmp_path / "r", "--lookback", "1", "--folds", "2"]
    done = subprocess.run(  # a process of its own: pytest would catch the warning itself
        [sys.executable, "-m", "rnnforecast", *map(str, args), *FAST],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert (tmp_path / "r" / "plots" / "training.png").stat().st_size > 0
