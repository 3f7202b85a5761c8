"""Loading: layouts, column detection, frequency, timestamps and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnforecast.config import DataConfig
from rnnforecast.data import load, normalize_freq
from rnnforecast.defaults import default_horizon, season_length
from rnnforecast.errors import RnnForecastError
from rnnforecast.forecast import future_times


def write(tmp_path, text: str, name: str = "d.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_long_layout(long_csv):
    loaded = load(long_csv, DataConfig())
    assert loaded.schema.layout == "long"
    assert loaded.schema.id_col == "unique_id"
    assert loaded.schema.freq == "MS"
    assert loaded.frame.columns.tolist() == ["unique_id", "ds", "y"]
    assert loaded.frame.groupby("unique_id").size().tolist() == [60, 60, 60]


def test_single_layout_detects_columns(single_csv):
    loaded = load(single_csv, DataConfig())
    s = loaded.schema
    assert (s.layout, s.time_col, s.target, s.id_col) == ("single", "date", ("sales",), None)
    assert set(loaded.frame["unique_id"]) == {"sales"}  # the series is named after its column


def test_wide_layout_needs_targets(wide_csv):
    with pytest.raises(RnnForecastError) as err:
        load(wide_csv, DataConfig())
    assert "numeric columns a, b" in str(err.value)
    assert "--target" in str(err.value)
    loaded = load(wide_csv, DataConfig(target=("a", "b")))
    assert loaded.schema.layout == "wide"
    assert loaded.schema.time_col == "month"  # the one date-like column
    assert loaded.frame.groupby("unique_id").size().to_dict() == {"a": 60, "b": 60}


def test_extra_numeric_columns_are_ignored(tmp_path):
    path = write(
        tmp_path, "unique_id,ds,y,temp\na,2020-01-01,1,5\na,2020-01-02,2,6\na,2020-01-03,3,7\n"
    )
    loaded = load(path, DataConfig())
    assert loaded.frame["y"].tolist() == [1.0, 2.0, 3.0]
    assert loaded.schema.freq == "D"


def test_explicit_columns(tmp_path):
    text = "when,store,units,price\n" + "".join(
        f"2020-01-{d:02d},{s},{d * 2},{d}\n" for s in ("x", "y") for d in range(1, 8)
    )
    path = write(tmp_path, text)
    loaded = load(path, DataConfig(time_col="when", id_col="store", target=("units",)))
    assert loaded.schema.layout == "long"
    assert loaded.frame.groupby("unique_id")["y"].sum().tolist() == [56.0, 56.0]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters_are_sniffed(tmp_path, sep):
    rows = [f"2020-01-0{d}{sep}{d}" for d in range(1, 8)]
    path = write(tmp_path, f"ds{sep}y\n" + "\n".join(rows) + "\n")
    assert load(path, DataConfig()).frame["y"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_bom_and_latin1(tmp_path):
    body = "".join(f"2020-01-0{d},{d}\n" for d in range(1, 8))
    bom = write(tmp_path, "\ufeffds,y\n" + body, "bom.csv")
    assert load(bom, DataConfig()).schema.time_col == "ds"
    latin = write(tmp_path, "ds,y,café\n" + body.replace("\n", ",é\n"), "l.csv", "latin-1")
    loaded = load(latin, DataConfig(target=("y",)))
    assert any("latin-1" in n for n in loaded.notes)


def test_unsorted_rows_are_sorted_and_reported(tmp_path):
    path = write(tmp_path, "ds,y\n2020-01-03,3\n2020-01-01,1\n2020-01-02,2\n")
    loaded = load(path, DataConfig())
    assert loaded.frame["y"].tolist() == [1.0, 2.0, 3.0]
    assert any("sorted" in n for n in loaded.notes)


def test_gap_is_an_error_or_filled(tmp_path):
    path = write(tmp_path, "ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n2020-01-05,5\n")
    with pytest.raises(RnnForecastError) as err:
        load(path, DataConfig(freq="D"))
    assert "gap after 2020-01-03" in str(err.value) and "--fill" in str(err.value)
    filled = load(path, DataConfig(freq="D", fill="interpolate"))
    assert filled.frame["y"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert load(path, DataConfig(freq="D", fill="ffill")).frame["y"].tolist()[3] == 3.0
    assert load(path, DataConfig(freq="D", fill="zero")).frame["y"].tolist()[3] == 0.0


def test_gaps_do_not_stop_frequency_inference(tmp_path):
    ds = pd.date_range("2000-01-01", periods=30, freq="MS").delete([10, 20])
    path = tmp_path / "g.csv"
    pd.DataFrame({"ds": ds, "y": np.arange(len(ds))}).to_csv(path, index=False)
    assert len(load(path, DataConfig(fill="ffill")).frame) == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ds,y\n2020-01-01,1\n2020-01-02,abc\n", "column 'y': 'abc' at line 3 is not a number"),
        ("ds,y\n2020-01-01,1\nnot-a-date,2\n", "column 'ds': 'not-a-date' at line 3 is not a date"),
        ("ds,y\n2020-01-01,1\n2020-01-01,2\n", "duplicate time 2020-01-01 00:00:00 (lines 2, 3)"),
        ("ds,y\n2020-01-01,1\n2020-01-02,inf\n", "column 'y': inf at line 3"),
        ("a,b\nx,1\n", "no time column found"),
        ("ds,date,y\n2020-01-01,2020-01-01,1\n", "several time columns (ds, date)"),
        ("ds,y\n", "has a header but no data rows"),
        ("unique_id,ds,y\na,2020-01-01,1\n,2020-01-02,2\n,2020-01-03,3\n", "empty id at line 3"),
        ("unique_id,ds,y\n,2020-01-01,1\na,2020-01-01,2\n", "empty id at line 2"),
    ],
)
def test_errors_name_the_place(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(RnnForecastError) as err:
        load(path, DataConfig())
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(RnnForecastError, match="no such file"):
        load(tmp_path / "nope.csv", DataConfig())
    with pytest.raises(RnnForecastError, match="is a directory"):
        load(tmp_path, DataConfig())


@pytest.mark.parametrize(
    ("alias", "dates", "expected"),
    [
        ("M", ["2020-01-01", "2020-02-01"], "MS"),
        ("M", ["2020-01-31", "2020-02-29"], "ME"),
        ("ME", None, "ME"),
        ("MS", None, "MS"),
        ("H", None, "h"),
        ("h", None, "h"),
        ("T", None, "min"),
        ("30T", None, "30min"),
        ("Q", ["2020-01-01", "2020-04-01"], "QS"),
        ("A", ["2020-12-31"], "YE"),
        ("D", None, "D"),
        ("W-SUN", None, "W-SUN"),
    ],
)
def test_frequency_aliases_old_and_new(alias, dates, expected):
    ds = pd.Series(pd.to_datetime(dates)) if dates else None
    assert normalize_freq(alias, ds) == expected


def test_unknown_frequency():
    with pytest.raises(RnnForecastError, match="unknown frequency 'fortnightly'"):
        normalize_freq("fortnightly")


@pytest.mark.parametrize(
    ("freq", "last", "expected"),
    [
        ("MS", "1960-12-01", ["1961-01-01", "1961-02-01", "1961-03-01"]),
        ("ME", "2020-01-31", ["2020-02-29", "2020-03-31", "2020-04-30"]),
        ("D", "2020-02-28", ["2020-02-29", "2020-03-01", "2020-03-02"]),
        ("h", "2020-01-01 23:00", ["2020-01-02 00:00", "2020-01-02 01:00", "2020-01-02 02:00"]),
        ("30min", "2020-01-01 23:00", ["2020-01-01 23:30", "2020-01-02 00:00", "2020-01-02 00:30"]),
        ("QS-JAN", "2016-10-01", ["2017-01-01", "2017-04-01", "2017-07-01"]),
        ("W-SUN", "2020-01-05", ["2020-01-12", "2020-01-19", "2020-01-26"]),
    ],
)
def test_future_timestamps(freq, last, expected):
    got = future_times(np.array([np.datetime64(pd.Timestamp(last))]), 3, freq)
    assert [pd.Timestamp(t) for t in got[0]] == [pd.Timestamp(t) for t in expected]


@pytest.mark.parametrize(
    ("freq", "season", "horizon"),
    [("MS", 12, 12), ("QS-JAN", 4, 8), ("D", 7, 14), ("h", 24, 24), ("30min", 48, 48),
     ("W-SUN", 52, 13), ("YS-JAN", 1, 6), ("min", 60, 60)],
)  # fmt: skip
def test_seasons_and_horizons_from_frequency(freq, season, horizon):
    assert season_length(freq) == season
    assert default_horizon(freq, season) == horizon


def test_frequency_inferred_for_common_data(tmp_path):
    for freq, expected in [
        ("MS", "MS"),
        ("QS", "QS-JAN"),
        ("D", "D"),
        ("h", "h"),
        ("30min", "30min"),
    ]:
        ds = pd.date_range("2020-01-01", periods=12, freq=freq)
        path = tmp_path / f"{freq}.csv"
        pd.DataFrame({"ds": ds, "y": np.arange(12.0)}).to_csv(path, index=False)
        assert load(path, DataConfig()).schema.freq == expected


def _times_file(tmp_path, times: list[str], name: str = "ds"):
    rows = "".join(f"s{s},{t},{s + i}\n" for s in range(2) for i, t in enumerate(times))
    return write(tmp_path, f"unique_id,{name},y\n{rows}")


ISO_CASES = {
    "dates": [f"2020-01-{d:02d}" for d in range(1, 9)],
    "hours": [f"2020-03-29 {h:02d}:00:00" for h in range(8)],
    "offsets": [f"2020-03-29T{h:02d}:00+01:00" for h in range(8)],
    "utc": [f"2020-03-29T{h:02d}:00Z" for h in range(8)],
    "months": [f"2020-{m:02d}" for m in range(1, 9)],
    "spaces": [f" 2020-01-{d:02d}" for d in range(1, 9)],
    "mixed_offsets": [f"2020-03-29T{h:02d}:00+0{h % 2}:00" for h in range(8)],
    "bad_date": [f"2020-01-{d:02d}" for d in range(1, 8)] + ["2020-13-45"],
    "empty": [f"2020-01-{d:02d}" for d in range(1, 8)] + [""],
    "a_number": [f"2020-01-{d:02d}" for d in range(1, 8)] + ["5"],
}


@pytest.mark.parametrize("case", sorted(ISO_CASES))
def test_dates_parsed_while_reading_match_parsing_after(tmp_path, monkeypatch, case):
    """ISO times are parsed by read_csv as it reads (fast, no strings kept); whatever the
    values, the frame or the error is exactly what parsing the text afterwards gives."""
    from rnnforecast.data import reading

    path = _times_file(tmp_path, ISO_CASES[case])
    options, _ = reading._csv_options(path, "unique_id", None)
    assert options.get("parse_dates") == [1]  # the fast path is taken

    def run():
        try:
            return load(path, DataConfig(fill="ffill"))
        except RnnForecastError as e:
            return str(e)

    fast = run()
    monkeypatch.setattr(reading, "_iso_time_column", lambda *args: None)
    slow = run()
    assert type(fast) is type(slow)
    if isinstance(slow, str):
        assert fast == slow
    else:
        pd.testing.assert_frame_equal(fast.frame, slow.frame, check_exact=True)
        assert (fast.schema, fast.notes) == (slow.schema, slow.notes)


@pytest.mark.parametrize(
    ("header", "first", "time_col", "expected"),
    [
        ("unique_id,ds,y", "a,2020-01-01,1", None, [1]),
        ("Date,y", "2020-01-01 00:00,1", None, [0]),
        ("when,y", "2020-01-01,1", "when", [0]),
        ("when,y", "2020-01-01,1", None, None),  # found by content later, not by name
        ("ds,y", "2001,1", None, None),  # years and other numbers keep their own path
        ("ds,y", "01/02/2020,1", None, None),  # not ISO
        ("ds,date,y", "2020-01-01,2020-01-01,1", None, None),  # ambiguous: detect_columns says
    ],
)
def test_which_time_column_is_parsed_while_reading(tmp_path, header, first, time_col, expected):
    from rnnforecast.data import reading

    path = write(tmp_path, f"{header}\n{first}\n")
    assert reading._csv_options(path, "unique_id", time_col)[0].get("parse_dates") == expected


def test_mixed_offsets_and_a_bad_date_fail_cleanly(tmp_path):
    path = write(tmp_path, "ds,y\n2020-01-01T00:00+01:00,1\n2020-01-02T00:00+02:00,2\nx,3\n")
    with pytest.raises(RnnForecastError, match="mixes time zones or offsets"):
        load(path, DataConfig())


def test_spaces_after_delimiters_read_as_without(tmp_path):
    """`a, b` files (spaces after each comma) load exactly as tight ones: ids, dates and
    values without their leading spaces, and a quoted field after a space is still one
    field (its comma does not split it)."""
    rows = [f'2020-{m:02d}-01,{s + m}.5,"s,{s}"' for s in range(2) for m in range(1, 9)]
    tight = write(tmp_path, "ds,y,unique_id\n" + "\n".join(rows) + "\n", "tight.csv")
    spaced = write(
        tmp_path,
        "ds, y, unique_id\n" + "\n".join(r.replace(",", ", ", 2) for r in rows) + "\n",
        "spaced.csv",
    )
    a, b = load(tight, DataConfig()), load(spaced, DataConfig())
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert b.frame["unique_id"].tolist()[0] == "s,0"


def test_load_by_chunks_gives_the_whole_file_frame(tmp_path, monkeypatch):
    """`load` reads a long file by chunks and joins them: frame, schema and notes are those
    of one whole read, also for a file whose series are scattered (read whole then)."""
    from conftest import long_frame

    from rnnforecast.data import loading

    frame = long_frame(n_series=4, n=30)
    frame = frame.drop(index=[5, 40]).sample(frac=1.0, random_state=0)  # gaps, shuffled rows
    tidy = frame.sort_values(["unique_id"], kind="stable")  # series together, times shuffled
    for name, part in (("together.csv", tidy), ("scattered.csv", frame)):
        path = tmp_path / name
        part.to_csv(path, index=False)
        cfg = DataConfig(fill="interpolate")
        monkeypatch.setattr(loading, "CHUNK_ROWS", 10**9)
        whole = load(path, cfg)
        monkeypatch.setattr(loading, "CHUNK_ROWS", 7)  # several series a chunk, and every row
        chunked = load(path, cfg)
        pd.testing.assert_frame_equal(chunked.frame, whole.frame)
        assert chunked.schema == whole.schema and chunked.notes == whole.notes, name
        assert len(whole.frame) == 4 * 30 and whole.schema.freq == "MS"


def test_chunks_of_a_tidy_file_find_series_gaps_and_duplicates_as_a_whole_read(tmp_path):
    """In a tidy file (series together, in time order) the chunk reader's runs of ids tell
    where series change, in place of a second pass over the ids: series boundaries, gaps and
    duplicate times come out as the whole file's own pass finds them."""
    from conftest import long_frame

    from rnnforecast import data
    from rnnforecast.data import loading, reading

    frame = long_frame(n_series=3, n=20).drop(index=[5, 26])  # a gap in s0 and one in s1
    path = tmp_path / "tidy.csv"
    frame.to_csv(path, index=False)
    cfg = DataConfig(fill="interpolate")
    options, notes = reading._csv_options(path, "unique_id", None)
    whole = loading._whole(path, cfg, options, list(notes))
    for rows in (7, 19, 1000):  # several series a chunk, a series over several, one chunk
        parts = list(data.load_chunks(path, cfg, series=0, rows=rows))
        chunked = pd.concat([p.frame for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(chunked, whole.frame)
        assert {n for p in parts for n in p.notes} == set(whole.notes)  # not re-sorted
    pd.concat([frame.iloc[:30], frame.iloc[[29]], frame.iloc[30:]]).to_csv(path, index=False)
    with pytest.raises(RnnForecastError) as err:
        loading._whole(path, cfg, options, [])
    assert "series 's1' has duplicate time 2000-12-01 00:00:00 (lines 31, 32)" in str(err.value)
    for rows in (7, 1000):
        with pytest.raises(RnnForecastError) as err_chunked:
            list(data.load_chunks(path, cfg, series=0, rows=rows))
        assert str(err_chunked.value) == str(err.value)
