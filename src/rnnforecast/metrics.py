"""Forecast metrics and baselines as pure numpy functions.

Metrics take actuals y and forecasts f of shape [..., H] and reduce the last axis, so one call
scores one window or a batch of them. Definitions match tests/reference/score.py.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "mae",
    "rmse",
    "mape",
    "smape",
    "mase",
    "rmsse",
    "bias",
    "mase_scale",
    "rmsse_scale",
    "coverage",
    "interval_width",
    "summarize",
]


def mae(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    return np.mean(np.abs(y - f), axis=-1)


def rmse(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((y - f) ** 2, axis=-1))


def bias(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Mean error f - y: positive when the forecast is too high."""
    return np.mean(f - y, axis=-1)


def mape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Mean absolute percentage error in percent; points where y == 0 are left out."""
    y, f = np.broadcast_arrays(np.asarray(y, float), np.asarray(f, float))
    nonzero = y != 0
    ape = np.abs(y - f) / np.where(nonzero, np.abs(y), 1.0)
    with np.errstate(invalid="ignore"):
        return 100.0 * np.sum(ape * nonzero, axis=-1) / np.sum(nonzero, axis=-1)


def smape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """M4 sMAPE in percent: mean of 200 |y - f| / (|y| + |f|), a 0/0 term counting 0."""
    num = np.abs(y - f)
    den = np.abs(y) + np.abs(f)
    terms = np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)
    return 200.0 * np.mean(terms, axis=-1)


def mase(y: np.ndarray, f: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    """MAE over `scale`, the in-sample seasonal-naive MAE (see `mase_scale`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(scale) > 0, mae(y, f) / scale, np.nan)


def rmsse(y: np.ndarray, f: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    """RMSE over `scale`, the in-sample naive RMSE (see `rmsse_scale`): M5's metric. A squared
    error is least at the mean, so it scores a forecast of the mean as MASE scores the median
    (on intermittent demand, MASE prefers forecasting 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(scale) > 0, rmse(y, f) / scale, np.nan)


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Share of actuals inside their interval, ends included (0.8 for a good 80% interval)."""
    return np.mean((lo <= y) & (y <= hi), axis=-1)


def interval_width(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean width hi - lo: narrower is better at the same coverage."""
    return np.mean(hi - lo, axis=-1)


def interval_score(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: int) -> np.ndarray:
    """The interval (Winkler) score of each point: the width, plus 2 / alpha times how far
    the actual falls outside (alpha = 1 - level / 100). Lower is better; it rewards narrow
    intervals and punishes misses, so it ranks calibrations that coverage alone cannot (over
    the MASE scale it is M4's MSIS)."""
    alpha = 1.0 - level / 100.0
    return (hi - lo) + (2.0 / alpha) * (np.maximum(lo - y, 0.0) + np.maximum(y - hi, 0.0))


def mase_scale(history: np.ndarray, m: int) -> float:
    """In-sample MAE of the seasonal naive with period m; m = 1 when history has <= m points."""
    if len(history) <= m:
        m = 1
    if len(history) <= m:
        return float("nan")
    return float(np.mean(np.abs(history[m:] - history[:-m])))


def rmsse_scale(history: np.ndarray) -> float:
    """In-sample RMSE of the naive forecast (one step); NaN with fewer than 2 points."""
    if len(history) < 2:
        return float("nan")
    return float(np.sqrt(np.mean(np.diff(history) ** 2)))


def summarize(
    y: np.ndarray,
    f: np.ndarray,
    series: np.ndarray,
    scale: np.ndarray,
    rmsse_scales: np.ndarray | None = None,
) -> dict:
    """Mean over series of each series' mean over its windows (y, f [W, H]; series [W];
    scale [S] the MASE scale per series; rmsse_scales [S] the RMSSE one, if given)."""
    per_window = {
        "mae": mae(y, f),
        "rmse": rmse(y, f),
        "smape": smape(y, f),
        "mase": mase(y, f, scale[series]),
        "bias": bias(y, f),
    }
    if rmsse_scales is not None:
        per_window["rmsse"] = rmsse(y, f, rmsse_scales[series])
    out = {}
    for name, values in per_window.items():
        sums = np.bincount(series, weights=np.nan_to_num(values), minlength=len(scale))
        counts = np.bincount(series, weights=np.isfinite(values), minlength=len(scale))
        with np.errstate(invalid="ignore"):
            per_series = sums / counts
        out[name] = float(np.nanmean(per_series)) if np.isfinite(per_series).any() else None
    return out
