"""predict on many series reads and forecasts by chunks, with the same bytes as all at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, long_frame
from typer.testing import CliRunner

from rnnforecast import data
from rnnforecast.cli import app
from rnnforecast.config import DataConfig
from rnnforecast.errors import RnnForecastError

runner = CliRunner()


@pytest.fixture
def many_csv(tmp_path):
    path = tmp_path / "many.csv"
    long_frame(n_series=7, n=50).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("rows", [3, 7, 50, 1000])
def test_chunks_hold_whole_series_and_add_up_to_the_file(many_csv, rows):
    whole = data.load(many_csv, DataConfig()).frame
    chunks = list(data.load_chunks(many_csv, DataConfig(freq="MS"), series=2, rows=rows))
    assert len(chunks) >= 3
    parts = [c.frame for c in chunks]
    for part in parts:  # a series is never split between chunks
        assert part.groupby("unique_id").size().eq(50).all()
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)


def test_chunked_predict_writes_the_same_bytes(tmp_path, many_csv):
    model = tmp_path / "m"
    result = runner.invoke(app, ["train", str(many_csv), "-o", str(model), "-H", "4", *FAST])
    assert result.exit_code == 0, result.output
    outputs = []
    for size in ("0", "2", "3"):
        out = tmp_path / f"f{size}.csv"
        args = ["predict", str(many_csv), "-m", str(model), "-o", str(out), "--chunk-size", size]
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        assert '"rows": 28' in result.stdout
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_series_split_across_the_file_cannot_stream(tmp_path):
    frame = long_frame(n_series=2, n=10)
    path = tmp_path / "mixed.csv"
    pd.concat([frame.iloc[:5], frame.iloc[10:], frame.iloc[5:10]]).to_csv(path, index=False)
    with pytest.raises(RnnForecastError) as err:
        list(data.load_chunks(path, DataConfig(freq="MS"), series=1, rows=4))
    assert "series 's0' appears again at line 17" in str(err.value)
    assert "--chunk-size 0" in str(err.value)


def test_errors_in_later_chunks_name_the_right_line(tmp_path):
    frame = long_frame(n_series=4, n=10).astype({"y": object})
    frame.loc[33, "y"] = "oops"  # data row 33 is line 35
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(RnnForecastError, match="'oops' at line 35 is not a number"):
        list(data.load_chunks(path, DataConfig(freq="MS"), series=1, rows=6))


@pytest.mark.parametrize("rows", [7, 60, 10_000])
def test_training_reads_by_chunks_what_it_reads_whole(tmp_path, rows):
    """Training's chunked reader gives the same series, values, dates, covariates and notes
    as reading the file whole; a file whose series are scattered is read whole instead."""
    frame = long_frame(n_series=6, n=30)
    frame["temp"] = frame["y"] + 1.0
    frame = frame.sample(frac=1.0, random_state=0).sort_values("unique_id", kind="stable")
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)  # grouped by series, shuffled in time: each is sorted
    scattered = tmp_path / "s.csv"
    pd.concat([frame.iloc[:20], frame.iloc[100:], frame.iloc[20:100]]).to_csv(
        scattered, index=False
    )
    cfg = DataConfig(past_covariates=("temp",))
    for source in (path, scattered):
        whole = data.compact(data.load(source, cfg), ("temp",), times=True)
        chunked = data.load_compact(source, cfg, times=True, rows=rows)
        for name in ("ids", "values", "lengths", "offsets", "times", "covariates"):
            np.testing.assert_array_equal(
                getattr(chunked.panel, name), getattr(whole.panel, name), err_msg=name
            )
        pd.testing.assert_index_equal(chunked.first, whole.first)
        pd.testing.assert_index_equal(chunked.last, whole.last)
        assert chunked.schema == whole.schema
        assert chunked.notes == whole.notes and len(whole.notes) == 1  # "sorted them by time"


def test_chunks_after_the_first_keep_its_frequency(tmp_path):
    """The frequency the first chunk finds holds for the rest: a later series on another grid
    is refused, as it is when the file is read whole."""
    monthly = long_frame(n_series=2, n=30)
    weekly = long_frame(n_series=1, n=30, freq="W-SUN").assign(unique_id="s9")
    path = tmp_path / "d.csv"
    pd.concat([monthly, weekly]).to_csv(path, index=False)
    for read in (
        lambda: data.load(path, DataConfig()),
        lambda: data.load_compact(path, DataConfig(), rows=20),
    ):
        with pytest.raises(RnnForecastError, match="series 's9'.*off the 'MS' grid"):
            read()
