"""Parquet data in (train, predict, evaluate, backtest) and forecasts out (predict --out x.parquet):
the same checks and the same forecasts as CSV; pyarrow optional, and named when missing."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq  # in the dev extra, so CI runs these tests
import pytest
from conftest import FAST, long_frame
from typer.testing import CliRunner

from rnnforecast import data
from rnnforecast.cli import app
from rnnforecast.config import DataConfig
from rnnforecast.data import parquet, reading
from rnnforecast.errors import RnnForecastError

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def ns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its times in nanoseconds: pandas 3 reads CSV times as microseconds and
    Parquet's in the unit stored, the same instants."""
    return frame.assign(ds=frame["ds"].astype("datetime64[ns]"))


def both(tmp_path, frame: pd.DataFrame, **parquet_kwargs):
    """The frame as a CSV file and as a Parquet file (ds as timestamps) of the same rows:
    the values as read_csv reads them back, since its default parser may read the last digit
    of a 17-digit number one unit off, and Parquet holds the exact double."""
    csv, par = tmp_path / "d.csv", tmp_path / "d.parquet"
    frame.to_csv(csv, index=False)
    frame.assign(y=pd.read_csv(csv)["y"]).to_parquet(par, index=False, **parquet_kwargs)
    return csv, par


def test_train_and_predict_on_parquet_give_the_csv_forecasts(tmp_path):
    """Train on Parquet and predict to Parquet: the model and the forecasts are those of the
    same data as CSV (by chunks too), the forecast file carries the columns of the CSV."""
    csv, par = both(tmp_path, long_frame(n_series=3, n=48))
    for src in (csv, par):
        out = tmp_path / f"m_{src.suffix[1:]}"
        result = invoke("train", src, "--horizon", "6", "--seed", "0", "--out", out, *FAST)
        assert result.exit_code == 0, result.output
    from_csv, from_parquet = tmp_path / "m_csv", tmp_path / "m_parquet"
    for name in ("weights.safetensors", "series.json", "tail.csv", "metrics.json"):
        assert (from_csv / name).read_bytes() == (from_parquet / name).read_bytes(), name
    result = invoke("predict", csv, "-m", tmp_path / "m_csv", "-o", tmp_path / "f.csv")
    assert result.exit_code == 0, result.output
    expected = pd.read_csv(tmp_path / "f.csv", parse_dates=["ds"])
    for chunk in ("0", "1"):  # all at once, and one series at a time (Parquet batches)
        out = tmp_path / f"f{chunk}.parquet"
        result = invoke("predict", par, "-m", tmp_path / "m_parquet", "-o", out,
                        "--chunk-size", chunk, "--intervals", "80")  # fmt: skip
        assert result.exit_code == 0, result.output
        got = pd.read_parquet(out)
        assert list(got.columns) == ["unique_id", "ds", "y_hat", "y_hat_lo_80", "y_hat_hi_80"]
        assert pq.read_schema(out).field("ds").type == "date32[day]"  # dates, as the CSV's
        got["ds"] = pd.to_datetime(got["ds"])
        # Parquet keeps the float64 values; the CSV writes them at the float32 precision the
        # model computes in: equal once both are float32
        numbers = expected.columns[2:]
        got[numbers], expected[numbers] = got[numbers].astype("f4"), expected[numbers].astype("f4")
        pd.testing.assert_frame_equal(ns(got[expected.columns]), ns(expected), check_exact=True)


def test_evaluate_and_backtest_read_parquet(tmp_path):
    _, par = both(tmp_path, long_frame(n_series=2, n=48))
    model, report = tmp_path / "m", tmp_path / "r"
    assert invoke("train", par, "--horizon", "6", "--out", model, *FAST).exit_code == 0
    result = invoke("evaluate", par, "-m", model, "-o", report, "--quiet")
    assert result.exit_code == 0, result.output
    result = invoke("backtest", par, "--horizon", "6", "--folds", "2", "-o", tmp_path / "b", *FAST)
    assert result.exit_code == 0, result.output


def test_parquet_is_read_as_csv_is_by_batches_and_whole(tmp_path):
    """Parquet and CSV of the same rows load to the same frame and schema, by chunks of
    whole series (read in batches of rows across row groups) as well as whole; ids written
    as numbers are text, as in a CSV."""
    frame = long_frame(n_series=4, n=30)
    frame["unique_id"] = frame["unique_id"].str[1:].astype(int)  # ids 0..3
    csv, par = both(tmp_path, frame, row_group_size=25)
    options, notes = reading.read_options(par, "unique_id", None, DataConfig())
    assert options["format"] == "parquet" and notes == []
    blocks = list(reading._read(par, options, rows=7))
    assert [len(b) for b in blocks] == [7] * 17 + [1]
    assert blocks[1].index[0] == 7 and blocks[0]["unique_id"].iat[0] == "0"
    whole, read = data.load(csv, DataConfig()), data.load(par, DataConfig())
    pd.testing.assert_frame_equal(ns(read.frame), ns(whole.frame))
    assert read.schema == whole.schema
    chunks = list(data.load_chunks(par, DataConfig(), series=1, rows=11))
    assert [c.frame["unique_id"].iat[0] for c in chunks] == ["0", "1", "2", "3"]
    pd.testing.assert_frame_equal(
        ns(pd.concat([c.frame for c in chunks], ignore_index=True)), ns(whole.frame)
    )


def test_parquet_data_is_validated_as_csv_is(tmp_path):
    """The same checks, with the same messages but the file's name: a duplicate time, and a
    target of text."""
    frame = long_frame(n_series=2, n=20)
    dup = pd.concat([frame.iloc[:5], frame.iloc[[4]], frame.iloc[5:]], ignore_index=True)
    csv, par = both(tmp_path, dup)
    errors = []
    for path in (csv, par):
        with pytest.raises(RnnForecastError) as err:
            data.load(path, DataConfig())
        errors.append(str(err.value).replace(str(path), "FILE"))
    assert errors[0] == errors[1]
    assert "series 's0' has duplicate time 2000-05-01 00:00:00 (lines 6, 7)" in errors[1]


def test_a_damaged_parquet_file_is_one_line_exit_2(tmp_path):
    _, par = both(tmp_path, long_frame(n_series=1, n=20))
    par.write_bytes(par.read_bytes()[:200])  # cut short: the footer is gone
    result = invoke("train", par, "--out", tmp_path / "m", *FAST)
    assert result.exit_code == 2, result.output
    assert f"{par}: cannot read it as Parquet (" in result.output
    assert "Traceback" not in result.output


# rnnforecast on a machine without pyarrow: blocked before pandas is imported, as pandas 3
# decides then whether its strings live in pyarrow
WITHOUT_PYARROW = (
    "import sys; sys.modules['pyarrow'] = sys.modules['pyarrow.parquet'] = None; "
    "from rnnforecast.cli import main; sys.argv[0] = 'rnnforecast'; main()"
)


def without_pyarrow(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_PYARROW, *map(str, args)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_missing_pyarrow_is_named_with_the_extra(tmp_path):
    csv, par = both(tmp_path, long_frame(n_series=1, n=30))
    model = tmp_path / "m"
    assert invoke("train", csv, "--horizon", "6", "--out", model, *FAST).exit_code == 0
    result = without_pyarrow("train", par, "--out", tmp_path / "m2", *FAST)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith(
        f"reading {par} needs pyarrow: pip install 'rnnforecast[parquet]'"
    )
    assert not (tmp_path / "m2").exists()
    out = tmp_path / "f.parquet"
    result = without_pyarrow("predict", csv, "-m", model, "-o", out)
    assert result.returncode == 2, result.stderr
    assert f"writing {out} needs pyarrow: pip install 'rnnforecast[parquet]'" in result.stderr
    assert not out.exists() and "Traceback" not in result.stderr
    result = without_pyarrow("predict", csv, "-m", model, "-o", tmp_path / "f.csv")  # CSV
    assert result.returncode == 0, result.stderr


def test_parquet_out_replaces_only_a_forecast_predict_wrote(tmp_path):
    csv, par = both(tmp_path, long_frame(n_series=1, n=30))
    model, out = tmp_path / "m", tmp_path / "f.parquet"
    assert invoke("train", csv, "--horizon", "6", "--out", model, *FAST).exit_code == 0
    assert invoke("predict", csv, "-m", model, "-o", out).exit_code == 0
    assert invoke("predict", csv, "-m", model, "-o", out).exit_code == 0  # its own: replaced
    result = invoke("predict", csv, "-m", model, "-o", par)  # a user's Parquet data
    assert result.exit_code == 2, result.output
    assert f"{par}: exists and is not a file rnnforecast wrote" in result.output
    assert pd.read_parquet(par)["y"].notna().all()  # untouched
    assert invoke("predict", csv, "-m", model, "-o", par, "--force").exit_code == 0
    assert "y_hat" in pd.read_parquet(par).columns
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_parquet_detected_by_its_bytes_not_its_name(tmp_path):
    frame = long_frame(n_series=1, n=30)
    csv, _ = both(tmp_path, frame)
    path = tmp_path / "data.bin"
    frame.to_parquet(path, index=False)
    assert path.read_bytes()[:4] == parquet.MAGIC
    pd.testing.assert_frame_equal(
        ns(data.load(path, DataConfig()).frame), ns(data.load(csv, DataConfig()).frame)
    )
