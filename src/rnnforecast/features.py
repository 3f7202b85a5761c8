"""What the network reads: the scaled target, calendar features and scaled covariates.

`fit_scaling` and `network_inputs` are the one path from a (transformed) panel to the
network's input channels, shared by training and forecasting so the two never disagree.

Calendar features: a pair (sin, cos) of `2 pi position / period` tells a network where in the
day, week or year a step falls without a jump at the wrap-around (December is next to
January). Which cycles are used follows the data's frequency: a cycle shorter than two steps
carries no information.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnforecast.errors import RnnForecastError, quoted
from rnnforecast.panel import Panel
from rnnforecast.windows import (
    apply_covariate_scaler,
    apply_scaler,
    fit_covariate_scaler,
    fit_scaler,
)

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
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """[N, F] network inputs: the scaled target in channel 0, then (given `mask` [N], true for
    real points) 1 for a real point and 0 for padding, then (with `with_calendar`) the
    calendar features of each step's timestamp, then the scaled covariates [N, C] (past, then
    future: the future ones are the last channels, which training reads over the horizon too).
    Training and forecasting both build them here, so the two can never disagree."""
    target = scaled.astype(np.float32, copy=False)[:, None]  # no copy of float32 input
    parts = [target]
    if mask is not None:
        parts.append(mask.astype(np.float32)[:, None])
    if with_calendar:
        parts.append(calendar(times, freq))
    if covariates is not None:
        parts.append(covariates.astype(np.float32, copy=False))
    return target if len(parts) == 1 else np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class Scaling:
    """Per-series statistics the inputs are scaled by: the target's loc and scale [S], and
    each covariate's [S, C] (None without covariates)."""

    loc: np.ndarray
    scale: np.ndarray
    c_loc: np.ndarray | None = None
    c_scale: np.ndarray | None = None


def fit_scaling(
    seen: Panel,
    n_fit: np.ndarray,
    kind: str,
    covariates: tuple[str, ...],
    source: str,
    share: Callable[[np.ndarray], np.ndarray] = lambda stats: stats,
    season: int = 1,
) -> Scaling:
    """Scaling fitted on each series' first `n_fit` points (its training part), the target's
    and the named covariates'; `share` makes every process of a distributed run agree on
    them. Series whose statistics overflow are refused, naming them."""
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below
        loc, scale = share(np.stack(fit_scaler(seen, n_fit, kind, season=season)))
    check_scaling(loc, scale, seen.ids, source)
    if not covariates:
        return Scaling(loc, scale)
    with np.errstate(over="ignore", invalid="ignore"):
        c_loc, c_scale = share(np.stack(fit_covariate_scaler(seen, n_fit, kind)))
    for c, name in enumerate(covariates):
        check_scaling(c_loc[:, c], c_scale[:, c], seen.ids, source, name)
    return Scaling(loc, scale, c_loc, c_scale)


def network_inputs(
    seen: Panel, scaling: Scaling, freq: str, with_calendar: bool, with_mask: bool = False
) -> np.ndarray:
    """[N, F] the network's inputs for every point of `seen` (the transformed series, padded
    or not), scaled by `scaling`: see `model_inputs` for the channels."""
    covariates = None
    if scaling.c_loc is not None:  # [N, C], scaled like the target: per series
        covariates = apply_covariate_scaler(
            seen.covariates, seen.series_of_rows(), scaling.c_loc, scaling.c_scale
        )
    scaled = apply_scaler(seen, scaling.loc, scaling.scale)
    mask = ~seen.is_pad() if with_mask else None
    return model_inputs(scaled, seen.times, freq, with_calendar, covariates, mask)


def check_scaling(
    loc: np.ndarray, scale: np.ndarray, ids: np.ndarray, source: str, covariate: str = ""
) -> None:
    """Refuse series whose scaling statistics overflow float64 (values near its limit, 1e308,
    or a spread beyond 1e154, whose square does): the network would see NaN."""
    bad = np.flatnonzero(~(np.isfinite(loc) & np.isfinite(scale)))
    if len(bad):
        what = f"covariate '{quoted(covariate)}' of series" if covariate else "series"
        raise RnnForecastError(
            f"{source}: {what} '{quoted(ids[bad[0]])}' has values too large to scale "
            "(their mean or spread overflows float64); divide the data by a power of ten (e.g. "
            "1e6) and train again"
        )
