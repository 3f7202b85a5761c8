"""forecast: H rows per series at the real times after its last one; new series forecast and
noted, series too short for the lookback skipped and noted; the times and the CSV text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import long_frame, seasonal

from rnnforecast import data, forecast, pipeline, writers
from rnnforecast.config import Config
from rnnforecast.errors import RnnForecastError

HORIZON, LOOKBACK = 6, 12
# the network alone (--skip none, --norm none): a linear skip or a window-normalised network
# (the defaults) forecast the same whatever a series' scaler, which would hide which
# statistics scale it
SETTINGS = {"epochs": 2, "hidden_size": 8, "layers": 1, "lookback": LOOKBACK,
            "horizon": HORIZON, "transform": "none", "norm": "none", "skip": "none",
            "blend": "none"}  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model of three monthly series (pipeline.fit), the data it was trained on as
    loaded, and its numpy engine."""
    path = tmp_path_factory.mktemp("forecast") / "data.csv"
    long_frame(n_series=3, n=60).to_csv(path, index=False)
    cfg = Config().with_overrides(SETTINGS)
    frame = data.load(path, cfg.data).frame
    model = pipeline.fit(data.load(path, cfg.data), cfg).model
    return model, frame, forecast.make_engine(model, "numpy")


def series(name: str, n: int, level: float = 0.0, seed: int = 9) -> pd.DataFrame:
    """A monthly series named `name` of `n` points, like the trained ones, `level` higher."""
    ds = pd.date_range("2001-01-01", periods=n, freq="MS")
    y = seasonal(n, seed=seed) + level
    return pd.DataFrame({"unique_id": name, "ds": ds, "y": y})


def test_h_rows_per_series_at_the_times_after_its_last(trained):
    model, frame, engine = trained
    out, notes = forecast.forecast(model, frame, engine)
    assert notes == []
    assert list(out.columns) == ["unique_id", "ds", "y_hat"]
    assert out["unique_id"].tolist() == [s for s in ("s0", "s1", "s2") for _ in range(HORIZON)]
    for name, rows in out.groupby("unique_id"):
        last = frame.loc[frame["unique_id"] == name, "ds"].max()
        after = pd.date_range(last, periods=HORIZON + 1, freq="MS")[1:]
        assert rows["ds"].tolist() == after.tolist(), name
    assert np.isfinite(out["y_hat"]).all()
    # only the last `lookback` points are read, on the training scale: the model's stored
    # tail forecasts the same
    from_tail, _ = forecast.forecast(model, model.tail, engine)
    pd.testing.assert_frame_equal(from_tail, out)


def test_series_not_seen_in_training_are_forecast_and_noted(trained):
    """New series are forecast on their own scale (their own history's statistics), so one
    100 times another is forecast 100 times as high; the trained series' forecasts do not
    change."""
    model, frame, engine = trained
    known, _ = forecast.forecast(model, frame, engine)
    new = series("new", 40)
    big = new.assign(unique_id="big", y=new["y"] * 100)
    out, notes = forecast.forecast(model, pd.concat([frame, new, big], ignore_index=True), engine)
    assert notes == ["2 series not seen in training, scaled by their own history"]
    pd.testing.assert_frame_equal(out.iloc[: len(known)], known)
    rows = out.iloc[len(known) :]
    assert rows["unique_id"].tolist() == ["new"] * HORIZON + ["big"] * HORIZON
    after = pd.date_range(new["ds"].iloc[-1], periods=HORIZON + 1, freq="MS")[1:]
    assert rows["ds"].tolist() == [*after, *after]
    y_new, y_big = rows["y_hat"].to_numpy().reshape(2, HORIZON)
    np.testing.assert_allclose(y_big, 100 * y_new, rtol=1e-5)


def test_a_series_shorter_than_lookback_is_forecast_from_a_padded_window(trained):
    """A series of fewer than `lookback` points fills its window with copies of its first
    value: exactly the forecast of that padded series; one point alone is naive, and said."""
    model, frame, engine = trained
    known, _ = forecast.forecast(model, frame, engine)
    short = series("short", LOOKBACK - 3)
    out, notes = forecast.forecast(model, pd.concat([frame, short], ignore_index=True), engine)
    assert notes == ["1 series not seen in training, scaled by their own history"]
    pd.testing.assert_frame_equal(out.iloc[: len(known)], known)
    # a trained series cut short keeps its training scaler: its forecast is exactly that of
    # the same points after copies of the first, as a whole window
    cut = frame[frame["unique_id"] == "s0"].iloc[-(LOOKBACK - 3) :]
    padded = pd.concat([cut.iloc[[0, 0, 0]], cut], ignore_index=True)
    padded["ds"] = pd.date_range(end=cut["ds"].iloc[-1], periods=LOOKBACK, freq="MS")
    pd.testing.assert_frame_equal(
        forecast.forecast(model, cut, engine)[0], forecast.forecast(model, padded, engine)[0]
    )
    one, notes = forecast.forecast(model, short.iloc[-1:], engine)
    assert one["y_hat"].tolist() == [short["y"].iloc[-1]] * HORIZON
    assert notes[0].startswith("1 series have fewer than 2 points, too few for the network")


@pytest.mark.parametrize(
    ("freq", "last", "after"),
    [
        ("MS", "2000-11-01", ["2000-12-01", "2001-01-01", "2001-02-01"]),
        ("ME", "2000-01-31", ["2000-02-29", "2000-03-31", "2000-04-30"]),  # leap February
        ("QS-OCT", "2000-10-01", ["2001-01-01", "2001-04-01", "2001-07-01"]),
        ("W-SUN", "2000-01-02", ["2000-01-09", "2000-01-16", "2000-01-23"]),
        ("D", "2000-02-28", ["2000-02-29", "2000-03-01", "2000-03-02"]),
        ("h", "2000-01-01 22:00", ["2000-01-01 23:00", "2000-01-02 00:00", "2000-01-02 01:00"]),
        ("15min", "2000-01-01 23:30", ["2000-01-01 23:45", "2000-01-02 00:00", "2000-01-02 00:15"]),
    ],
)
def test_future_times_step_by_the_frequency(freq, last, after):
    """[S, H]: each series' own next H times, stepping by the frequency from its last one."""
    lasts = pd.to_datetime([last, after[0]]).to_numpy()  # the second ends a step later
    times = forecast.future_times(lasts, 3, freq)
    assert times.shape == (2, 3)
    assert pd.DatetimeIndex(times[0]).tolist() == pd.to_datetime(after).tolist()
    assert pd.DatetimeIndex(times[1]).tolist()[:2] == pd.to_datetime(after[1:]).tolist()


def test_future_times_past_pandas_range_are_refused():
    last = np.array([pd.Timestamp.max.floor("D").to_datetime64()])
    with pytest.raises(RnnForecastError, match="3 steps of D after .* the last time pandas"):
        forecast.future_times(last, 3, "D")


MIDNIGHTS = pd.Series(pd.date_range("2000-01-01", periods=3, freq="D"))


@pytest.mark.parametrize(
    ("ds", "freq", "dates"),
    [
        (MIDNIGHTS, "D", True),
        (MIDNIGHTS, "MS", True),
        (MIDNIGHTS, "W-SUN", True),
        (MIDNIGHTS, "h", False),  # hourly steps leave midnight
        (MIDNIGHTS + pd.Timedelta(hours=12), "D", False),  # noon stays noon
        (MIDNIGHTS.dt.tz_localize("UTC"), "D", False),  # a zone is written out
    ],
)
def test_dates_only_when_every_forecast_time_is_a_midnight(ds, freq, dates):
    assert forecast.dates_only(ds, freq) is dates


def test_to_csv_writes_dates_or_iso_times():
    """Dates alone where dates_only said so; else ISO times, with the zone where there is one;
    a header only when asked; the same frame, the same bytes."""
    frame = pd.DataFrame(
        {
            "unique_id": ["a", "a"],
            "ds": pd.to_datetime(["2000-02-01", "2000-03-01"]),
            "y_hat": [1.5, 2.25],
        }
    )
    text = writers.to_csv(frame, dates=True)
    assert text == "unique_id,ds,y_hat\na,2000-02-01,1.5\na,2000-03-01,2.25\n"
    assert writers.to_csv(frame, dates=True) == text
    assert writers.to_csv(frame, dates=True, header=False) == text.split("\n", 1)[1]
    hours = frame.assign(ds=frame["ds"] + pd.to_timedelta([0, 13], unit="h"))
    assert writers.to_csv(hours, dates=False) == (
        "unique_id,ds,y_hat\na,2000-02-01 00:00:00,1.5\na,2000-03-01 13:00:00,2.25\n"
    )
    zoned = hours.assign(ds=hours["ds"].dt.tz_localize("UTC"))
    assert writers.to_csv(zoned, dates=False, header=False) == (
        "a,2000-02-01 00:00:00+00:00,1.5\na,2000-03-01 13:00:00+00:00,2.25\n"
    )


def test_a_forecast_is_written_as_dates_when_the_model_steps_by_days_or_more(trained):
    """The model's monthly forecasts, as predict writes them: plain dates."""
    model, frame, engine = trained
    out, _ = forecast.forecast(model, frame, engine)
    dates = forecast.dates_only(model.tail["ds"], model.config.data.freq)
    text = writers.to_csv(out, dates)
    assert dates and text.splitlines()[1].startswith("s0,2005-01-01,")
    assert len(text.splitlines()) == 1 + 3 * HORIZON
