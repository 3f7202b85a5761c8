"""Every setting a user leaves unset, derived from the data: season, horizon, transform,
lookback, validation size and ensemble size. The constants behind the rules live in config;
the rules live here, so the saved config of a model names every value it was trained with.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from rnnforecast import config, transforms
from rnnforecast.config import Config
from rnnforecast.data import Schema
from rnnforecast.errors import RnnForecastError
from rnnforecast.panel import Panel
from rnnforecast.windows import train_counts


def season_length(freq: str) -> int:
    """Steps per natural cycle: a year for monthly/quarterly/weekly, a week for daily, a day
    for hourly and finer (an hour for sub-5-minute data)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    base = offset.rule_code.split("-")[0]
    per_year = {"YS": 1, "YE": 1, "QS": 4, "QE": 4, "MS": 12, "ME": 12, "SMS": 24, "SME": 24,
                "W": 52, "D": 7, "B": 5}  # fmt: skip
    if base in per_year:
        return max(1, per_year[base] // max(offset.n, 1))
    try:
        step = pd.Timedelta(offset)
    except (ValueError, TypeError):  # business hours and other irregular steps
        return 1
    per_day = int(pd.Timedelta(days=1) / step)
    if per_day > 288:
        return max(1, int(pd.Timedelta(hours=1) / step))
    return max(1, per_day)


def default_horizon(freq: str, season: int) -> int:
    """M4-style horizons: 6 years, 8 quarters, 12 months, 13 weeks, 14 days, one day sub-daily."""
    base = pd.tseries.frequencies.to_offset(freq).rule_code.split("-")[0]
    by_base = {"YS": 6, "YE": 6, "QS": 8, "QE": 8, "MS": 12, "ME": 12, "W": 13, "D": 14, "B": 10}
    return by_base.get(base, season)


def resolve(cfg: Config, schema: Schema, panel: Panel, reserve: int = 0) -> Config:
    """Fill every unset setting from the data (`panel`, its series, read as `schema` says):
    detected columns, frequency, season, transform, horizon, lookback, validation size and
    padding, so the saved config alone can rebuild the run. `reserve` points per series are
    kept back (a backtest's folds) when fitting the default lookback."""
    season = cfg.data.season or season_length(schema.freq)
    longest = int(panel.lengths.max())
    if cfg.data.season and cfg.data.season >= longest:
        raise RnnForecastError(
            f"--season {season}: no series holds more than one season of it (the longest has "
            f"{longest} points); give the number of steps of one cycle, or leave it unset"
        )
    kind = cfg.data.transform
    if kind == "auto":
        kind = transforms.choose(panel, season)
    horizon = cfg.window.horizon or default_horizon(schema.freq, season)
    val_size = cfg.window.val_size
    if val_size is None:
        val_size = horizon + origins(panel.lengths - reserve, horizon) - 1
    if val_size and val_size < horizon:
        raise RnnForecastError(
            f"--val-size {val_size} is shorter than the horizon {horizon}; use 0 (no validation) "
            f"or at least {horizon}"
        )
    lost = transforms.LOST[kind]  # points a transform takes from the front of each series
    lookback = cfg.window.lookback
    if lookback is None:
        lookback = min(max(2 * horizon, 3 * season), config.LOOKBACK_CAP)
        room = longest - reserve - horizon - val_size - lost
        lookback = max(1, min(lookback, room))
    usable = panel.lengths - reserve - lost  # each series' points as the network sees them
    pad = cfg.window.pad
    if pad is None:  # pad only where some series holds no whole window and its validation
        pad = lookback - 1 if (usable < lookback + horizon + val_size).any() else 0
    if pad >= lookback:
        raise RnnForecastError(
            f"--pad {pad}: a window of lookback {lookback} would hold no point of its series; "
            f"use at most {lookback - 1}"
        )
    point, loss, norm = cfg.train.point, cfg.train.loss, cfg.model.norm
    sparse = intermittent(panel, reserve).mean() > 0.5  # intermittent demand
    if point == "auto":
        point = "mean" if sparse else "median"
    if norm == "auto":
        norm = "none" if sparse else "window"
    if loss == "auto":
        loss = config.POINT_LOSSES[point]
    # a floor at 0 only where the data never go below it: else there is nothing to keep
    allow_negative = cfg.model.allow_negative or bool((panel.values < 0).any())
    ensemble = cfg.model.ensemble
    if ensemble is None:
        windows = int(train_counts(usable + pad, lookback, horizon, val_size).sum())
        ensemble = config.SMALL_ENSEMBLE if windows * lookback < config.SMALL_DATA else 1
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(
            cfg.data,
            time_col=schema.time_col,
            target=schema.target,
            id_col=schema.id_col,
            freq=schema.freq,
            dayfirst=schema.dayfirst if cfg.data.dayfirst is None else cfg.data.dayfirst,
            season=season,
            transform=kind,
        ),
        window=dataclasses.replace(
            cfg.window, lookback=lookback, horizon=horizon, val_size=val_size, pad=pad
        ),
        model=dataclasses.replace(
            cfg.model, ensemble=ensemble, allow_negative=allow_negative, norm=norm
        ),
        train=dataclasses.replace(cfg.train, point=point, loss=loss),
    ).validated()


def intermittent(panel: Panel, reserve: int = 0) -> np.ndarray:
    """[S] whether each series is intermittent (Syntetos and Boylan, 2005): its mean interval
    between demands (ADI: points over non-zero points, of all but its last `reserve`) exceeds
    config.INTERMITTENT_ADI. A series without any demand is."""
    used = np.maximum(panel.lengths - reserve, 0)
    counted = (panel.values != 0) & panel.leading(used)
    demands = np.bincount(panel.series_of_rows(), weights=counted, minlength=len(panel.ids))
    with np.errstate(divide="ignore"):
        return used / demands > config.INTERMITTENT_ADI


def origins(lengths: np.ndarray, horizon: int) -> int:
    """Validation origins per series (step 1, the last of them a horizon before the end):
    enough for MIN_VALIDATION windows in all, where the series are long enough to spare a
    tenth of their median length; one origin at least. One window a series lets a day, or one
    series' last horizon, decide early stopping and the blend (bench_accuracy.py: a half-hourly
    series' last day gave the forecast to Theta, which then did 36 % worse on the next)."""
    wanted = -(-config.MIN_VALIDATION // max(len(lengths), 1))  # ceil
    room = int(np.median(lengths)) // 10 - horizon + 1 if len(lengths) else 1
    return max(1, min(wanted, room))


def described(
    cfg: Config, n_series: int, asked: str, asked_point: str = "median", sparse: int = 0
) -> list[str]:
    """What `resolve` settled, in words for the training summary (`asked`: the transform the
    user gave, so an automatic choice is explained; `asked_point` the point forecast, and
    `sparse` how many series are intermittent)."""
    w, kind = cfg.window, cfg.data.transform
    said = [
        f"{n_series} series, frequency {cfg.data.freq}, season {cfg.data.season}: "
        f"lookback {w.lookback}, horizon {w.horizon}, validation {w.val_size}"
    ]
    if asked == "auto" and kind != "none":
        said.append(
            f"transform {kind}: the series trend from season to season, so the network learns "
            "their changes (--transform none to model the levels)"
        )
    if asked_point == "auto" and cfg.train.point == "mean":
        floor = "" if cfg.model.allow_negative else ", never below 0"
        said.append(
            f"intermittent demand: {sparse} of {n_series} series have a demand on fewer than "
            f"1 in {config.INTERMITTENT_ADI} periods, so the point forecast is the mean rate "
            f"(what orders sum; the median is 0){floor}: loss {cfg.train.loss}, window "
            f"normalisation {cfg.model.norm}, validation by squared error (RMSSE), Croston, "
            "SBA, TSB and ADIDA among the blend partners (--point median for the median)"
        )
    return said


def trainable(panel: Panel, cfg: Config, source: str) -> None:
    """Refuse data from which no training window can be cut: every series shorter than one
    window's real points, its horizon and validation."""
    w, kind = cfg.window, cfg.data.transform
    lost = transforms.LOST[kind]
    need = w.lookback - w.pad + w.horizon + w.val_size + lost
    if (panel.lengths >= need).any():
        return
    plus = f" + {lost} (the first point, lost to --transform {kind})" if lost else ""
    raise RnnForecastError(
        f"{source}: every series is shorter than lookback - padding + horizon + validation"
        f"{plus} = {need} points (longest: {int(panel.lengths.max())}); lower --lookback or "
        "--horizon, or use --val-size 0"
    )
