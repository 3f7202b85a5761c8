"""Target transforms applied per series before the scaler, and their exact inverses.

The network, the scaler, window normalisation and the linear skip all work on the transformed
series; only forecasts (and every score) come back to original units, through `inverse`.
Torch-free, like windows.py, so training, forecasting and evaluation share it.

- none:       y
- log1p:      log(1 + y), for y > -1 (data.py refuses other values, naming the line)
- difference: y_t - y_{t-1}; each series loses its first point, and forecasts are cumulated
              from the last observed value
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rnnforecast.windows import Panel

LOST = {"none": 0, "log1p": 0, "difference": 1}  # points at the head of each series it costs


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
        offsets=(np.cumsum(lengths) - lengths).astype(np.int64),
        lengths=lengths,
        times=panel.times[keep],
        covariates=None if panel.covariates is None else panel.covariates[keep],
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
