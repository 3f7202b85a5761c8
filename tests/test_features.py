"""Calendar features: the right cycles per frequency, and their values by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnforecast.features import calendar, calendar_names


@pytest.mark.parametrize(
    ("freq", "cycles"),
    [
        ("30min", ["hour_of_day", "day_of_week", "day_of_year"]),
        ("h", ["hour_of_day", "day_of_week", "day_of_year"]),
        ("D", ["day_of_week", "day_of_year"]),
        ("W-SUN", ["day_of_year", "month_of_year"]),
        ("MS", ["month_of_year"]),
        ("QS-JAN", ["month_of_year"]),
        ("YS-JAN", []),
    ],
)
def test_cycles_follow_the_frequency(freq, cycles):
    assert calendar_names(freq) == [f"{c}_{f}" for c in cycles for f in ("sin", "cos")]


def test_values_by_hand():
    ds = pd.date_range("2024-01-01", periods=4, freq="6h")  # Monday 00:00, 06:00, 12:00, 18:00
    x = calendar(ds, "6h")
    assert x.shape == (4, 6) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0], [0, 1, 0, -1], atol=1e-6)  # sin of the hour of day
    np.testing.assert_allclose(x[:, 1], [1, 0, -1, 0], atol=1e-6)  # cos of the hour of day
    monday_noon = 2 * np.pi * 0.5 / 7
    np.testing.assert_allclose(x[2, 2:4], [np.sin(monday_noon), np.cos(monday_noon)], atol=1e-6)


def test_december_is_next_to_january():
    ds = pd.date_range("2023-11-01", periods=4, freq="MS")
    x = calendar(ds, "MS")
    dec_jan = np.linalg.norm(x[1] - x[2])
    nov_dec = np.linalg.norm(x[0] - x[1])
    assert dec_jan == pytest.approx(nov_dec, rel=1e-5)


def test_yearly_data_has_no_features():
    assert calendar(pd.date_range("2000", periods=3, freq="YS"), "YS").shape == (3, 0)
