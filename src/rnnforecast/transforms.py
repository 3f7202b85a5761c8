"""Target transforms applied per series before the scaler, and their exact inverses.

The network, the scaler, window normalisation and the linear skip all work on the transformed
series; only forecasts (and every score) come back to original units, through `inverse`.
Torch-free, like windows.py, so training, forecasting and evaluation share it.

- none:       y
- log1p:      log(1 + y), for y > -1 (data.py refuses other values, naming the line)
- difference: y_t - y_{t-1}; each series loses its first point, and forecasts are cumulated
              from the last observed value
- auto:       `choose` picks difference for trending data, else none (resolved when training;
              a saved model always names the transform it uses)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rnnforecast.panel import Panel, offsets_of

LOST = {"none": 0, "log1p": 0, "difference": 1}  # points at the head of each series it costs
TREND = 1.0  # |mean| / std of the seasonal changes above which `auto` differences


def trend_strength(panel: Panel, season: int) -> float:
    """The median over series of |mean| / std of y_t - y_{t-season} (lag 1 for a series
    that holds no two seasons): above 1, a series grows (or shrinks) from one season to the
    next by more than that change varies. AirPassengers: 1.79; nottem, sunspots, the
    half-hourly loads and visnights: 0.14 at most (benchmarks/bench_accuracy.py data)."""
    ratios = []
    for o, n in zip(panel.offsets, panel.lengths, strict=True):
        y = panel.values[o : o + n]
        lag = season if n > season + 2 else 1
        change = y[lag:] - y[:-lag]
        if len(change) > 1 and change.std() > 0:
            ratios.append(abs(change.mean()) / change.std())
    return float(np.median(ratios)) if ratios else 0.0


def choose(panel: Panel, season: int) -> str:
    """`auto`'s pick: difference when the series trend (`trend_strength` above TREND), so the
    network forecasts changes it has seen rather than levels above all it was trained on;
    otherwise none (differencing a stationary series only adds noise: nottem 0.62 -> 1.33)."""
    return "difference" if trend_strength(panel, season) > TREND else "none"


def forward(panel: Panel, kind: str) -> Panel:
    """The series as the model sees them, with the timestamps of the values they hold (a
    difference y_t - y_{t-1} keeps the time of y_t)."""
    if kind == "none":
        return panel
    if kind == "log1p":
        return dataclasses.replace(panel, values=np.log1p(panel.values))
    if kind != "difference":
        raise ValueError(f"unknown transform {kind!r}; valid: {', '.join(LOST)}")
    change = np.empty_like(panel.values)
    change[1:] = panel.values[1:] - panel.values[:-1]
    keep = np.ones(len(panel.values), dtype=bool)
    keep[panel.offsets[panel.lengths > 0]] = False  # a series' first point has no predecessor
    lengths = np.maximum(panel.lengths - 1, 0)
    return Panel(
        ids=panel.ids,
        values=change[keep],
        offsets=offsets_of(lengths),
        lengths=lengths,
        times=None if panel.times is None else panel.times[keep],
        covariates=None if panel.covariates is None else panel.covariates[keep],
        pads=panel.pads,  # the change into the first real point is from its copy, 0: a pad
    )


def inverse(y: np.ndarray, last: np.ndarray, kind: str) -> np.ndarray:
    """y[B, H]: the next H values of B series in transformed units -> original units.
    `last[B]` is each series' last observed value before them, where differences are
    cumulated from (the other transforms ignore it)."""
    if kind == "log1p":
        return np.expm1(y)
    if kind == "difference":
        return last[:, None] + np.cumsum(y, axis=1)
    return y


def original_starts(
    starts: np.ndarray, series: np.ndarray, seen: Panel, panel: Panel, kind: str
) -> np.ndarray:
    """Start indices into `panel` (original) of the windows starting at `starts` in `seen`
    (= forward(panel, kind)), so that both windows cover the same timestamps."""
    return starts - seen.offsets[series] + panel.offsets[series] + LOST[kind]
