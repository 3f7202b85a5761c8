"""Calendar features from timestamps: the phase of each natural cycle as a sine/cosine pair.

A pair (sin, cos) of `2 pi position / period` tells a network where in the day, week or year a
step falls without a jump at the wrap-around (December is next to January). Which cycles are
used follows the data's frequency: a cycle shorter than two steps carries no information.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# (name, period, position of a timestamp within it, the shortest step it needs in hours)
_CYCLES = (
    ("hour_of_day", 24.0, lambda ds: ds.hour + ds.minute / 60.0, 12.0),
    ("day_of_week", 7.0, lambda ds: ds.day_of_week + ds.hour / 24.0, 3.5 * 24),
    ("day_of_year", 365.25, lambda ds: ds.day_of_year - 1.0, 182 * 24),
    ("month_of_year", 12.0, lambda ds: ds.month - 1.0, 6 * 30 * 24),
)


def calendar_names(freq: str) -> list[str]:
    """Feature names for data of this frequency, e.g. ['hour_of_day_sin', 'hour_of_day_cos']."""
    step = _step_hours(freq)
    names = []
    for name, _, _, longest_step in _CYCLES:
        if step <= longest_step and not _redundant(name, step):
            names += [f"{name}_sin", f"{name}_cos"]
    return names


def calendar(ds: pd.DatetimeIndex | pd.Series, freq: str) -> np.ndarray:
    """[N, K] float32 features of `calendar_names(freq)` for the timestamps `ds`."""
    ds = pd.DatetimeIndex(ds)
    wanted = set(calendar_names(freq))
    columns = []
    for name, period, position, _ in _CYCLES:
        if f"{name}_sin" in wanted:
            angle = 2 * np.pi * np.asarray(position(ds), dtype=np.float64) / period
            columns += [np.sin(angle), np.cos(angle)]
    if not columns:
        return np.empty((len(ds), 0), np.float32)
    return np.stack(columns, axis=1).astype(np.float32)


def _step_hours(freq: str) -> float:
    """The typical step of `freq` in hours (a month is ~730)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    try:
        return pd.Timedelta(offset) / pd.Timedelta(hours=1)
    except (ValueError, TypeError):  # calendar offsets: measure one step on their grid
        start = offset.rollforward(pd.Timestamp("2001-01-01"))
        return ((start + offset) - start) / pd.Timedelta(hours=1)


def _redundant(name: str, step: float) -> bool:
    """Month of year says nothing day of year does not, for daily or finer data; day of year
    is noise for monthly data (the month already fixes it)."""
    if name == "month_of_year":
        return step < 24 * 7
    return name == "day_of_year" and step >= 24 * 28


def model_inputs(
    scaled: np.ndarray,
    times: np.ndarray,
    freq: str,
    with_calendar: bool,
    covariates: np.ndarray | None = None,
) -> np.ndarray:
    """[N, F] network inputs: the scaled target in channel 0, then (with `with_calendar`) the
    calendar features of each step's timestamp, then the scaled covariates [N, C] (past, then
    future: the future ones are the last channels, which training reads over the horizon too).
    Training and forecasting both build them here, so the two can never disagree."""
    target = scaled.astype(np.float32, copy=False)[:, None]  # no copy of float32 input
    parts = [target]
    if with_calendar:
        parts.append(calendar(times, freq))
    if covariates is not None:
        parts.append(covariates.astype(np.float32, copy=False))
    return target if len(parts) == 1 else np.concatenate(parts, axis=1)
