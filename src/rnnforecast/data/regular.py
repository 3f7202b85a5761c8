"""Series in order on a regular grid: future rows split off, rows grouped and sorted,
duplicates refused, gaps and empty values refused or filled under --fill."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.data.frequency import _infer_freq, normalize_freq
from rnnforecast.errors import RnnForecastError, quoted
from rnnforecast.panel import starts_of


def _split_future(
    frame: pd.DataFrame, cfg: DataConfig, path: Path
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """With future covariates, the rows after a series' last observed y are its future rows:
    the covariates' known values for the coming steps, not data to train on or fill."""
    if not cfg.future_covariates:
        return frame, None
    columns = ["unique_id", "ds", *cfg.future_covariates]
    observed = frame["y"].notna().to_numpy()
    last = frame["ds"][observed].groupby(frame["unique_id"][observed]).max()
    after = (frame["ds"] > frame["unique_id"].map(last)).to_numpy()  # no y at all: NaT, False
    if not after.any():
        return frame, frame[columns].iloc[:0].reset_index(drop=True)
    future = frame[after].sort_values(["unique_id", "ds"], kind="stable")
    dup = future.duplicated(["unique_id", "ds"], keep=False).to_numpy()
    if dup.any():
        i = int(dup.argmax())
        raise RnnForecastError(
            f"{path}: series '{quoted(future['unique_id'].iat[i])}' has duplicate future time "
            f"{future['ds'].iat[i]} (lines {', '.join(map(str, future['_line'][dup][:2]))}); "
            "keep one row per time"
        )
    return frame[~after].reset_index(drop=True), future[columns].reset_index(drop=True)


def _regularise(
    frame: pd.DataFrame,
    cfg: DataConfig,
    path: Path,
    model: str | None,
    heads: np.ndarray | None = None,
    id_hint: Callable[[], str] | None = None,
):
    """Group rows by series in time order, reject duplicates, settle the frequency, and fill
    gaps/NaNs under cfg.fill. Already ordered files (the usual case) are not re-sorted.
    `heads`: where each run of ids begins in `frame`, if known; `id_hint`: the advice for
    duplicate times when a column would tell the series apart ('' if none would)."""
    notes: list[str] = []
    ids, same, step = _neighbours(frame, heads)
    back_in_time = bool((same & (step < 0)).any())
    if back_in_time or not _grouped(ids, same):
        if back_in_time:
            notes.append(f"{path}: rows were not in time order; sorted them by time")
        frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        ids, same, step = _neighbours(frame)
    dup = same & (step == 0)
    if dup.any():
        i = int(dup.argmax())
        lines = frame["_line"].to_numpy()[i : i + 2].tolist()
        hint = id_hint() if id_hint else ""
        raise RnnForecastError(
            f"{path}: series '{quoted(ids[i])}' has duplicate time {frame['ds'].iat[i]} "
            f"(lines {', '.join(map(str, lines))}); {hint or 'keep one row per time'}"
        )
    if cfg.freq:
        freq = normalize_freq(cfg.freq, frame["ds"])
    else:
        freq = _infer_freq(frame, same, path)
    frame, fill_notes = _fill(frame, freq, cfg.fill, path, model, same, step)
    notes.extend(fill_notes)
    return frame.drop(columns="_line").reset_index(drop=True), freq, notes


def _grouped(ids: np.ndarray, same: np.ndarray) -> bool:
    """Whether each series' rows are together: true at once when the runs come in sorted id
    order (the usual export), else when there are as many runs as distinct ids."""
    heads = ids[starts_of(~same)]
    return bool((heads[1:] > heads[:-1]).all()) or len(heads) == len(pd.unique(ids))


def _neighbours(
    frame: pd.DataFrame, heads: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Series ids, whether each row's successor is of the same series, and the time step to
    it (in the unit of `ds`): the facts ordering, duplicate and gap checks need, in a few
    vector ops. Where the runs of ids begin (`heads`) tells the second without comparing
    the ids again, ~10 ns a row."""
    ids = frame["unique_id"].to_numpy()
    times = pd.DatetimeIndex(frame["ds"]).asi8
    if heads is None:
        same = ids[1:] == ids[:-1]
    else:
        same = np.ones(max(len(ids) - 1, 0), dtype=bool)
        same[heads[1:] - 1] = False
    return ids, same, np.diff(times)


def _fill(
    frame: pd.DataFrame,
    freq: str,
    fill: str,
    path: Path,
    model: str | None,
    same: np.ndarray,
    step: np.ndarray,
) -> tuple[pd.DataFrame, list[str]]:
    """Check every series steps by `freq` (`same[i]`: row i+1 is of row i's series, `step[i]`
    the time from row i to it, as `_neighbours` gives them); fill gaps and NaNs under `fill`,
    or raise."""
    offset = pd.tseries.frequencies.to_offset(freq)
    gap = _gaps(frame, freq, offset, path, model, same, step)
    columns = [c for c in frame.columns if c not in ("unique_id", "ds", "_line")]  # y, covariates
    empty = frame[columns].isna().to_numpy()  # [N, 1 + C]
    nan = empty.any(axis=1)
    if fill == "none":
        _refuse_holes(frame, freq, offset, path, columns, empty, gap)
        return frame, []
    if not gap.any() and not nan.any():
        return frame, []
    return _filled(frame, freq, fill, offset, path, columns, set(frame["unique_id"][gap | nan]))


def _gaps(
    frame: pd.DataFrame,
    freq: str,
    offset: Any,
    path: Path,
    model: str | None,
    same: np.ndarray,
    step: np.ndarray,
) -> np.ndarray:
    """[N] whether a gap follows each row; a time off the `freq` grid, or closer to the next
    than a step, raises."""
    ds = frame["ds"]
    if isinstance(offset, pd.offsets.Tick):  # fixed steps: compare each step with the offset
        expected = pd.Timedelta(offset) / pd.Timedelta(1, unit=pd.DatetimeIndex(ds).unit)
        gap = np.append(same & (step > expected), False)
        off = np.append(same & (step < expected), False)
    else:  # calendar steps (months, quarters, weeks...): pandas' offset arithmetic
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-vectorised offsets warn about performance
            expected = pd.DatetimeIndex(ds + offset).as_unit("ns").asi8
            on_grid = np.asarray((ds + offset) - offset == ds)
        following = np.append(pd.DatetimeIndex(ds).as_unit("ns").asi8[1:], 0)
        next_same = np.append(same, False)
        gap = next_same & (following > expected)
        off = ~on_grid | (next_same & (following < expected))
    if off.any():
        i = int(off.argmax())
        uid = frame["unique_id"].iat[i]
        fix = (
            f"the model {model} forecasts at frequency '{freq}'; give data at that frequency"
            if model
            else "pass the right --freq or resample the data"
        )
        raise RnnForecastError(
            f"{path}: series '{quoted(uid)}': time {ds.iat[i]} (line {frame['_line'].iat[i]}) is "
            f"off the '{freq}' grid or irregular; {fix}"
        )
    return gap


def _refuse_holes(
    frame: pd.DataFrame,
    freq: str,
    offset: Any,
    path: Path,
    columns: list[str],
    empty: np.ndarray,
    gap: np.ndarray,
) -> None:
    """Without --fill: the first gap, else the first empty value, named with the advice that
    fits (fill it, or the dates are misread when a fill would invent too much)."""
    ds, nan = frame["ds"], empty.any(axis=1)
    if gap.any():
        i = int(gap.argmax())
        invented, grid = _to_fill(frame, i, offset, nan)
        advice = (
            "pass --fill ffill|interpolate|zero, or --freq if the frequency is wrong"
            if invented <= MAX_FILL_SHARE * grid
            else _misread(invented, grid, freq, "filling it")
        )
        raise RnnForecastError(
            f"{path}: series '{quoted(frame['unique_id'].iat[i])}' has a gap after "
            f"{ds.iat[i]} (line {frame['_line'].iat[i]}; next is {ds.iat[i + 1]}, frequency "
            f"{freq}); {advice}"
        )
    if nan.any():
        i = int(nan.argmax())
        name = columns[int(empty[i].argmax())]
        what = "an empty value" if name == "y" else f"an empty '{quoted(name)}'"
        invented, grid = _to_fill(frame, i, offset, nan)
        advice = (
            "fill it or pass --fill ffill|interpolate|zero"
            if invented <= MAX_FILL_SHARE * grid
            else f"{invented:,} of its {grid:,} rows are empty, too many to fill; fill them "
            "in the data, or leave the series out"
        )
        raise RnnForecastError(
            f"{path}: series '{quoted(frame['unique_id'].iat[i])}' has {what} at line "
            f"{frame['_line'].iat[i]}; {advice}"
        )


def _filled(
    frame: pd.DataFrame,
    freq: str,
    fill: str,
    offset: Any,
    path: Path,
    columns: list[str],
    gappy: set,
) -> tuple[pd.DataFrame, list[str]]:
    """The `gappy` series reindexed onto the full grid and their gaps and empty values filled
    by `fill` (the others as they are), with a note for each series filled."""
    notes = []
    repaired = []
    for uid, part in frame.groupby("unique_id", sort=False):
        if uid not in gappy:
            repaired.append(part)
            continue
        full = pd.date_range(part["ds"].iat[0], part["ds"].iat[-1], freq=offset)
        part = part.set_index("ds").reindex(full).rename_axis("ds").reset_index()
        missing = int(part[columns].isna().to_numpy().sum())
        invented = int(part[columns].isna().any(axis=1).sum())
        if invented > MAX_FILL_SHARE * len(part):
            raise RnnForecastError(
                f"{path}: series '{quoted(uid)}': --fill {fill} refused: "
                + _misread(invented, len(part), freq, "it")
            )
        part["unique_id"] = uid
        for name in columns:
            part[name] = _fill_values(part[name], fill)
        if part[columns].isna().to_numpy().any():
            raise RnnForecastError(
                f"{path}: series '{quoted(uid)}' starts with empty values that --fill {fill} "
                "cannot fill; remove the leading empty rows"
            )
        part["_line"] = part["_line"].fillna(-1).astype(int)
        repaired.append(part[frame.columns])
        notes.append(
            f"series '{quoted(uid)}': filled {missing} missing value(s) with --fill {fill}"
        )
    return pd.concat(repaired, ignore_index=True), notes


# the most of a series' points a fill may invent: beyond it the data is not this series with
# a few holes but a misread one (day-first dates read month-first, a wrong --freq)
MAX_FILL_SHARE = 0.2


def _to_fill(frame: pd.DataFrame, i: int, offset: Any, empty: np.ndarray) -> tuple[int, int]:
    """(points a fill would invent, points on the grid) for the series of row i: the grid's
    missing timestamps plus its rows with an empty value."""
    rows = (frame["unique_id"] == frame["unique_id"].iat[i]).to_numpy()
    ds = pd.DatetimeIndex(frame["ds"][rows])
    first, last = ds.min(), ds.max()
    if isinstance(offset, pd.offsets.Tick):  # arithmetic: a misread grid may be huge
        grid = int((last - first) // pd.Timedelta(offset)) + 1
    else:
        grid = len(pd.date_range(first, last, freq=offset))
    return grid - int(rows.sum()) + int(empty[rows].sum()), max(grid, 1)


def _misread(invented: int, grid: int, freq: str, what: str) -> str:
    return (
        f"{what} would invent {invented:,} of the series' {grid:,} points at frequency "
        f"{freq} ({invented / grid:.0%}, over {MAX_FILL_SHARE:.0%}), so the dates or the "
        "frequency are likely misread; check the dates (--dayfirst, --date-format) and --freq"
    )


def _fill_values(y: pd.Series, fill: str) -> pd.Series:
    if fill == "ffill":
        return y.ffill()
    if fill == "zero":
        return y.fillna(0.0)
    return y.interpolate(method="linear", limit_area="inside")
