"""Prediction intervals: half-widths per level and horizon step, calibrated when training.

The calibration set is the model's own errors on the later half of each series' training windows
(in-sample; the recent past resembles the coming errors more than a series' early years), each
divided by the spread of its input window, so series of any size and stretches of calm or turbulent
history pool into one set, and any series, even one unseen in training, gets intervals of its
own scale. The spread is the window's own seasonal-naive error (the mean of |x_t - x_{t-m}|,
the scale MASE divides by, taken inside the window): how unpredictable the recent past was, not
how far it swung. A regular season with a large swing is easy to forecast, and its intervals
stay narrow. The half-width of step h at level p is the p-quantile of |error_h / spread| (as
split-conformal takes it: the ceil((n + 1) p)-th smallest of n), times the window's spread:
intervals widen with the step as the errors do.

In-sample errors suit the small, early-stopped models of rnnforecast: a default network hardly
fits its training windows better than new ones. Where it does (errors on the windows reaching
into the validation part are larger than in-sample errors at the same steps), every width is
scaled up by that ratio; it is never scaled down. benchmarks/bench_intervals.py measures the
resulting coverage on the public datasets.

Torch-free: `predict` adds intervals with the numpy engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rnnforecast.config import MIN_VALIDATION, Config
from rnnforecast.errors import RnnForecastError
from rnnforecast.panel import Panel
from rnnforecast.windows import WINDOW_STD_FLOOR, gather, window_ends

GRID = tuple(range(1, 100))  # levels stored: any whole percentage works at predict time
MAX_WINDOWS = 20_000  # in-sample windows forecast for calibration: enough, and bounded work
CHUNK = 2048  # windows forecast at once while calibrating
MIN_ERRORS = 20  # in-sample errors a horizon step needs to get its own quantiles
# a spread is at least this share of its window's std: a window that repeats its season almost
# exactly would otherwise get a near-zero spread, and its errors the calibration's fattest tails
# (bench_intervals.py, taylor's 95 % width over the MASE scale: 12.25 without it, 4.80 with it)
STD_SHARE = 0.2
# from config.MIN_VALIDATION validation windows, intervals are calibrated on them: errors out of
# sample of the forecast as it is made (blended); the in-sample errors of the network alone gave
# 80 % intervals that covered 92 % of M3 monthly's development split, 98 % of M3 yearly's
VALIDATION_METHOD = "quantiles of validation errors over the input window's spread, per step"
Engine = Callable[[np.ndarray, np.ndarray | None], np.ndarray]  # [B, L, F], future -> [B, H]


def columns(levels: tuple[int, ...]) -> list[str]:
    """Bound columns in output order: y_hat_lo_80, y_hat_hi_80, y_hat_lo_95, ..."""
    return [f"y_hat_{side}_{level}" for level in levels for side in ("lo", "hi")]


def spread_lag(season: int, lookback: int) -> int | None:
    """The lag of the seasonal-naive error a spread takes: the season when a window holds
    more than one, else 1 (the naive error); none for a window of one point (its std, then)."""
    if lookback < 2:
        return None
    return season if 0 < season < lookback else 1


def spread(x: np.ndarray, lag: int | None = None, n: np.ndarray | None = None) -> np.ndarray:
    """[B] the spread of each input window's target [B, L]: the mean of |x_t - x_{t-lag}|
    inside the window, at least STD_SHARE of its std; without a lag (a calibration from an
    older rnnforecast, which stored none) the std alone. Only the last n[b] points of a
    window are real (the others pad a short series): the spread is theirs alone. Flat windows
    count 1, as in the model's window normalisation (a flat history says nothing about the
    coming noise)."""
    if n is None:
        std = x.std(axis=1)
        s = std if lag is None else np.abs(x[:, lag:] - x[:, :-lag]).mean(axis=1)
    else:
        real = np.arange(x.shape[1])[None, :] >= (x.shape[1] - n)[:, None]  # [B, L]
        count = np.maximum(n, 1)
        mean = np.where(real, x, 0.0).sum(axis=1) / count
        std = np.sqrt(np.where(real, (x - mean[:, None]) ** 2, 0.0).sum(axis=1) / count)
        s = std
        if lag is not None:
            pairs = real[:, lag:] & real[:, :-lag]
            change = np.where(pairs, np.abs(x[:, lag:] - x[:, :-lag]), 0.0).sum(axis=1)
            s = np.where(pairs.any(axis=1), change / np.maximum(pairs.sum(axis=1), 1), std)
    return np.where(std > WINDOW_STD_FLOOR, np.maximum(s, STD_SHARE * std), 1.0)


def errors(
    values: np.ndarray, starts: np.ndarray, lookback: int, horizon: int, engine: Engine,
    n_future: int = 0, cumulate: bool = False, lag: int | None = None, masked: bool = False,
) -> np.ndarray:  # fmt: skip
    """[W, H] forecast errors of the windows at `starts` in units of their input's spread;
    `values` [N, F] holds the scaled target in channel 0 and the `n_future` future
    covariates in the last channels. With `cumulate` (a model of differences) the errors
    are those of the levels: step h's error is the sum of the changes' errors up to h.
    `lag` is the spread's (`spread_lag`); `masked`: channel 1 flags real points (1) and
    padding (0), which the spread leaves out.
    Taken CHUNK windows at a time, so the gathered inputs and float64 temporaries stay small
    beside the data however many windows are asked for; kept as float32 (ranks and means of
    them need no more), in one array filled in place."""
    out = np.empty((len(starts), horizon), np.float32)
    for b in range(0, len(starts), CHUNK):
        at = starts[b : b + CHUNK]
        x = gather(values, at, lookback)  # [w, L, F]
        ahead = gather(values, at + lookback, horizon)[..., -n_future:] if n_future else None
        f = engine(x, ahead).astype(np.float64)  # [w, H]
        y = gather(values[:, 0], at + lookback, horizon).astype(np.float64)  # [w, H]
        error = np.cumsum(y - f, axis=1) if cumulate else y - f
        n = x[..., 1].sum(axis=1).astype(np.int64) if masked else None
        out[b : b + len(at)] = error / spread(x[..., 0].astype(np.float64), lag, n)[:, None]
    return out


def late_windows(
    panel: Panel, n_fit: np.ndarray, lookback: int, horizon: int, limit: int = MAX_WINDOWS
) -> tuple[np.ndarray, np.ndarray]:
    """Windows whose horizon reaches past each series' first `n_fit` points (the training
    part): their starts [W] and which of their steps are out of sample [W, H]; an even
    sample of at most about `limit` of them. With the default validation of one horizon, a
    series has H of them; the last is its validation window, and step h is out of sample in
    h of them."""
    width = lookback + horizon
    series, ends = window_ends(n_fit + 1, panel.lengths)
    keep = ends >= width
    every = max(1, int(keep.sum()) // limit)
    series, ends = series[keep][::every], ends[keep][::every]
    target = ends[:, None] - horizon + np.arange(horizon)  # [W, H] series-relative
    return panel.offsets[series] + ends - width, target >= n_fit[series][:, None]


def fit(
    seen: Panel,
    split: Any,
    values: np.ndarray,
    predict_fn: Engine,
    cfg: Config,
    truth: Any = None,
    final: np.ndarray | None = None,
) -> dict[str, Any]:
    """Prediction-interval calibration: from the errors of the forecast as made (`final`
    [W, H], blended) on the validation windows (`truth`, evaluate.validation_truth) when
    there are config.MIN_VALIDATION of them, errors on data the model did not train on; else from
    the network's errors on the later half of its training windows and on the windows
    reaching into validation (see above), a sample of each when many. `seen` is the
    (transformed) panel the windows index."""
    w = cfg.window
    lag = spread_lag(cfg.data.season, w.lookback)
    if final is not None and len(final) >= MIN_VALIDATION:
        kind = cfg.data.transform
        scored = validation_errors(truth.y, final, truth.history, truth.n, w.lookback, kind, lag)
        none = np.empty((0, w.horizon))
        return calibrate(scored, none, none.astype(bool), lag, VALIDATION_METHOD)
    late, out_of_sample = late_windows(seen, split.n_fit, w.lookback, w.horizon)
    # the in-sample errors the coming ones resemble when a series drifts: AirPassengers' early
    # years widened its backtests' 80 % intervals to 88 % covered (83 % on the later half)
    recent = split.train_starts.later_half()
    sample = recent[:: max(1, len(recent) // MAX_WINDOWS)]
    n_future = len(cfg.data.future_covariates or ())
    cumulate = cfg.data.transform == "difference"  # its errors add up along the horizon
    args = (w.lookback, w.horizon, predict_fn, n_future, cumulate, lag, bool(w.pad))
    return calibrate(
        errors(values, sample, *args), errors(values, late, *args),
        out_of_sample, lag,
    )  # fmt: skip


def calibrate(
    in_sample: np.ndarray,
    late: np.ndarray,
    out_of_sample: np.ndarray,
    lag: int | None = None,
    method: str = "quantiles of in-sample errors over the input window's spread, per step",
) -> dict:
    """The stored calibration from spread-normalised errors: `in_sample` [W, H] of training
    windows and `late` [V, H] of the windows reaching into validation, `out_of_sample` [V, H]
    marking their steps past the training part (the others are in-sample errors too); `lag`
    the spread's, which `bounds` takes again."""
    horizon = in_sample.shape[1]
    pool = [
        np.abs(np.concatenate([in_sample[:, h], late[~out_of_sample[:, h], h]]))
        for h in range(horizon)
    ]
    counted = sum(len(p) for p in pool)
    if any(len(p) < MIN_ERRORS for p in pool):  # a step with too few errors of its own (a
        everything = np.concatenate(pool)  # short series) borrows every step's
        pool = [p if len(p) >= MIN_ERRORS else everything for p in pool]
    for p in pool:
        p.sort()  # in place: the pool's arrays are its own (a shared one sorts once, then again)
    mae = np.array([p.mean() for p in pool])  # [H] in-sample error per step
    seen = np.abs(late[out_of_sample]).sum()
    usual = np.broadcast_to(mae, late.shape)[out_of_sample].sum()
    ratio = float(seen / usual) if usual > 0 else 1.0  # no in-sample error: nothing to scale
    inflation = max(1.0, ratio)
    table = np.array([[_conformal_quantile(p, level) for p in pool] for level in GRID])
    return {
        "method": method,
        "spread_lag": lag,  # the spread's lag: the window's mean |x_t - x_{t-lag}|
        "in_sample_errors": counted,
        "out_of_sample_errors": int(out_of_sample.sum()),
        "out_of_sample_ratio": ratio,  # their mean error over the in-sample one at their steps
        "inflation": inflation,  # the ratio, when above 1: every width is multiplied by it
        "levels": list(GRID),
        "half_widths": (table * inflation).tolist(),  # [level, step], in units of the spread
    }


def validation_errors(
    y: np.ndarray,
    f: np.ndarray,
    history: np.ndarray,
    n: np.ndarray,
    lookback: int,
    kind: str,
    lag: int | None,
) -> np.ndarray:
    """[W, H] the errors of forecasts f of targets y (original units) over the spread of
    their input windows, in the units `bounds` will put them back in: levels for none and
    difference, log1p's logs for log1p (whose bounds are taken there); the spread of the
    input as the network saw it (a difference's: of the changes). `history` [W, T] ends with
    each window's input, of which n [W] points are real."""
    error = np.log1p(y) - np.log1p(f) if kind == "log1p" else y - f
    seen = np.log1p(history) if kind == "log1p" else history
    real = np.minimum(n, lookback)
    if kind == "difference":
        seen = np.diff(history, axis=1)
        real = np.minimum(np.maximum(n - 1, 0), lookback)
    return error / spread(seen[:, -lookback:], lag, real)[:, None]


def _conformal_quantile(ordered: np.ndarray, level: int) -> float:
    """The ceil((n + 1) p)-th smallest of n sorted scores (the largest when that exceeds n):
    the split-conformal quantile, slightly above the plain one for small n."""
    k = int(np.ceil((len(ordered) + 1) * level / 100.0))
    return float(ordered[min(k, len(ordered)) - 1])


def bounds(
    calibration: dict[str, Any] | None,
    f: np.ndarray,
    x: np.ndarray,
    levels: tuple[int, ...],
    model: Path | None = None,
    unit: np.ndarray | float = 1.0,
    n: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Lower and upper bounds [S, H] per level, named as `columns`, around forecasts f [S, H]
    from input windows x [S, L]: both in the same units, or f in `unit` [S] times x's (a
    model of differences: f its levels in original units, x the scaled changes). n [S]: how
    many of each window's points are real (the others pad a short series)."""
    if not calibration:
        where = f"{model}: " if model is not None else ""
        raise RnnForecastError(
            f"{where}this model has no prediction-interval calibration (trained by an older "
            "rnnforecast); train it again to forecast with --intervals"
        )
    table = np.asarray(calibration["half_widths"])  # [level, step]
    row = {level: i for i, level in enumerate(calibration["levels"])}
    lag = calibration.get("spread_lag")  # absent before it was stored: the window's std
    s = (spread(np.asarray(x, np.float64), lag, n) * unit)[:, None]  # [S, 1]
    out = {}
    for level in levels:
        if level not in row:
            have = ", ".join(map(str, calibration["levels"]))
            raise RnnForecastError(f"--intervals {level}: this model is calibrated for {have}")
        half = table[row[level]][None, :] * s  # [S, H]
        out[f"y_hat_lo_{level}"], out[f"y_hat_hi_{level}"] = f - half, f + half
    return out
