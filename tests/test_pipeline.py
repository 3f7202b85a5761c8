"""pipeline.fit's bookkeeping around training: what the model keeps of the data."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import long_frame

from rnnforecast import artifact, data, defaults, pipeline
from rnnforecast.config import Config
from rnnforecast.panel import Panel


def test_stored_tail_and_dates_keep_short_series(tmp_path):
    """A series too short for a whole window and its validation is trained on through padded
    windows and kept: the tail, first and last dates are those of every series, in their
    order, as a groupby over the rows gives them (they are picked by position)."""
    frame = long_frame(n_series=4, n=60)
    short = frame["unique_id"] == "s1"
    frame = frame[~short | (frame["ds"] >= frame["ds"].iloc[50])]  # s1: 10 points
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    cfg = Config().with_overrides(
        {"epochs": 1, "hidden_size": 8, "layers": 1, "lookback": 12, "transform": "none",
         "blend": "none"}
    )  # fmt: skip
    loaded = data.load(path, cfg.data)
    result = pipeline.fit(loaded, cfg)
    assert result.model.config.window.pad == 11  # s1's 10 points hold no window of 12 + 12 + 12

    by_id = loaded.frame.groupby("unique_id", sort=False)
    expected = by_id.tail(12).reset_index(drop=True).astype({"unique_id": str})  # read: object
    pd.testing.assert_frame_equal(result.model.tail, expected)
    series = result.model.series
    assert series["unique_id"] == ["s0", "s1", "s2", "s3"]
    assert series["first_ds"] == [artifact.format_time(t) for t in by_id["ds"].first()]
    assert series["last_ds"] == [artifact.format_time(t) for t in by_id["ds"].last()]
    assert series["length"] == by_id.size().tolist()


@pytest.mark.parametrize(
    ("freq", "tz"), [("MS", None), ("QS-OCT", None), ("W-SUN", None), ("h", None), ("h", "UTC")]
)
def test_tail_rebuilt_from_arrays_is_the_frame_tail(freq, tz):
    """The tail is rebuilt from the series' values and last timestamps (the frame is gone by
    then): the same rows, times stepping back by the frequency, covariates included."""
    frame = long_frame(n_series=3, n=40, freq=freq)
    frame["ds"] = frame["ds"].dt.tz_localize(tz) if tz else frame["ds"]
    frame["temp"] = frame["y"] * 0.5 + 1
    frame = frame[(frame["unique_id"] != "s1") | (frame.index % 40 >= 35)]  # s1: 5 points
    schema = data.Schema("long", "ds", ("y",), "unique_id", freq)
    loaded = data.Loaded(frame=frame.reset_index(drop=True), schema=schema, notes=(), source="t")
    packed = data.compact(loaded, ("temp",))
    tail = artifact.tail_frame(packed.panel.tail(12), packed.last, freq, ("temp",))
    expected = loaded.frame.groupby("unique_id", sort=False).tail(12).reset_index(drop=True)
    pd.testing.assert_frame_equal(tail, expected)


def _resolved(n_series: int, n: int, **model) -> Config:
    frame = long_frame(n_series=n_series, n=n)
    schema = data.Schema(layout="long", time_col="ds", target=("y",), id_col="unique_id", freq="MS")
    cfg = Config.load(None, {"transform": "none", **model})
    return defaults.resolve(cfg, schema, Panel.from_frame(frame))


def test_small_data_gets_an_ensemble_by_default(default_ensemble):
    """Unset, the ensemble is 3 members when training windows x lookback is under
    SMALL_DATA (members are cheap there, and seeds disagree most), one model above it; a
    size the user gives is kept."""
    from rnnforecast.config import SMALL_DATA

    small = _resolved(3, 60, val_size=12)  # lookback 36, horizon 12: 1 window a series
    assert small.model.ensemble == 3
    # 3 * (n - 12 - 36 - 12 + 1) windows of lookback 36 cross SMALL_DATA between n and n + 1
    n = SMALL_DATA // (3 * 36) + 59
    assert _resolved(3, n, val_size=12).model.ensemble == 3
    assert _resolved(3, n + 1, val_size=12).model.ensemble == 1
    assert _resolved(3, 60, ensemble=1).model.ensemble == 1
    assert _resolved(3, n + 1, ensemble=5).model.ensemble == 5


def test_validation_takes_enough_origins_where_the_series_have_room():
    """One origin a series where a catalogue has 50 windows of one horizon anyway, or its
    series no room to spare (a tenth of their median length); else as many as give 50
    windows, within that room."""
    assert _resolved(60, 60).window.val_size == 12  # 60 series: 60 windows
    assert _resolved(3, 60).window.val_size == 12  # no room: a tenth of 60 is under 12
    assert _resolved(1, 600).window.val_size == 12 + 49 - 1  # room for 60 - 12 + 1 = 49
    assert _resolved(2, 3000).window.val_size == 12 + 25 - 1  # 25 each make 50
    assert _resolved(2, 3000, val_size=24).window.val_size == 24  # given: kept
