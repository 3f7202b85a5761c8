"""pipeline.fit's bookkeeping around training: what the model keeps of the data."""

from __future__ import annotations

import pandas as pd
from conftest import long_frame

from rnnforecast import data, forecast, pipeline
from rnnforecast.config import Config


def test_stored_tail_and_dates_skip_short_series(tmp_path):
    """The tail, first and last dates are those of the trained series only, in their order,
    as a groupby over the kept rows gives them (they are now picked by position)."""
    frame = long_frame(n_series=4, n=60)
    short = frame["unique_id"] == "s1"
    frame = frame[~short | (frame["ds"] >= frame["ds"].iloc[50])]  # s1: 10 points, too short
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    cfg = Config().with_overrides(
        {"epochs": 1, "hidden_size": 8, "layers": 1, "lookback": 12, "transform": "none"}
    )
    loaded = data.load(path, cfg.data)
    result = pipeline.fit(loaded, cfg)

    kept = loaded.frame[loaded.frame["unique_id"] != "s1"]
    by_id = kept.groupby("unique_id", sort=False)
    pd.testing.assert_frame_equal(result.model.tail, by_id.tail(12).reset_index(drop=True))
    series = result.model.series
    assert series["unique_id"] == ["s0", "s2", "s3"]
    assert series["first_ds"] == [forecast.format_time(t) for t in by_id["ds"].first()]
    assert series["last_ds"] == [forecast.format_time(t) for t in by_id["ds"].last()]
    assert series["length"] == by_id.size().tolist()
