"""Series as one contiguous array, per-series scaling, and (lookback -> horizon) windows.

Windows are never materialised: a window is its start index into the concatenated array, and a
batch is gathered from those indices (numpy here, `Tensor.unfold` views on the torch side). This
module is torch-free so that baselines, evaluation and the numpy engine share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnforecast.panel import Panel, offsets_of, ranges

WINDOW_STD_FLOOR = 1e-5  # model input windows flatter than this are only centred, never divided


# --- scaling: fit / apply / invert ---------------------------------------------------------


BLOCK_ROWS = 1 << 16  # rows per block of the scaler's float64 temporaries (0.5 MB each)


def _blocks(panel: Panel) -> list[tuple[int, int, slice]]:
    """Runs of whole series [s0, s1) of about BLOCK_ROWS values each (one long series alone)
    and the rows they hold, so per-value temporaries are taken a block at a time, not for all
    N values at once."""
    rows = BLOCK_ROWS
    ends = np.cumsum(panel.lengths)
    cuts = np.unique(np.searchsorted(ends, np.arange(rows, ends[-1] if len(ends) else 0, rows)))
    bounds = [0, *(cuts + 1).tolist(), len(panel.lengths)]
    return [
        (a, b, slice(panel.offsets[a], ends[b - 1]))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        if b > a
    ]


def fit_scaler(
    panel: Panel,
    n_fit: np.ndarray,
    kind: str,
    values: np.ndarray | None = None,
    season: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-series (loc, scale) from each series' first `n_fit[i]` values only (of the target,
    or of `values` [N], a covariate column): the mean, and the standard deviation
    ("standard") or the mean absolute change over a season ("mase": the scale MASE divides
    by, lag 1 where a series holds one season or less), so that an error in scaled units is
    the MASE of its window and a loss on them is the metric reported.

    Fitting on the training part alone keeps validation and future values out of the scaler.
    A constant series gets scale 1 so nothing divides by zero.
    """
    n_series = len(panel.ids)
    if kind == "none":
        return np.zeros(n_series), np.ones(n_series)
    values = panel.values if values is None else values
    used = np.clip(n_fit, 0, panel.lengths)  # the first `used[i]` values of series i
    counts = np.maximum(used, 1).astype(np.float64)
    loc = _segment_sums(values, panel.offsets, used) / counts
    scale = _mean_change(panel, values, used, season) if kind == "mase" else None
    if scale is None:
        var = np.empty(n_series)
        for a, b, rows in _blocks(panel):  # (value - loc)^2 a block of series at a time
            dev = np.repeat(loc[a:b], panel.lengths[a:b])
            np.subtract(values[rows], dev, out=dev)
            dev *= dev
            offsets = panel.offsets[a:b] - rows.start
            var[a:b] = _segment_sums(dev, offsets, used[a:b]) / counts[a:b]
        scale = np.sqrt(var)
    # constant: a spread within rounding of the level (relative, so 1e-100-sized data scales)
    scale[~(scale > 1e-8 * np.abs(loc))] = 1.0
    return loc, scale


def _mean_change(panel: Panel, values: np.ndarray, used: np.ndarray, season: int) -> np.ndarray:
    """[S] mean |x_t - x_{t-lag}| over each series' first `used[i]` values, lag the season
    (1 where they hold a season or less): metrics.mase_scale of every series at once."""
    out = np.zeros(len(panel.ids))
    lags = np.where(used > season, season, 1)
    for lag in np.unique(lags):
        for a, b, rows in _blocks(panel):  # |x_t - x_{t-lag}|, paired within a block
            block = values[rows]
            change = np.abs(block[lag:] - block[:-lag])  # change[j] pairs rows j and j + lag
            pairs = np.maximum(used[a:b] - lag, 0)
            sums = _segment_sums(change, panel.offsets[a:b] - rows.start, pairs)
            mine = lags[a:b] == lag
            out[a:b][mine] = (sums / np.maximum(pairs, 1))[mine]
    return out


def _segment_sums(x: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """[S] sums of x[starts[i] : starts[i] + counts[i]] (segments in order, not overlapping),
    by one np.add.reduceat over the segments' bounds: no per-value series index is built."""
    if not len(starts):
        return np.zeros(0)
    ends = starts + counts
    bounds = np.stack([starts, ends], axis=1).ravel()  # [2S]: each segment, then the gap after
    if ends[-1] == len(x):  # reduceat takes no bound at the end; the last segment runs to it
        bounds = bounds[:-1]
    sums = np.add.reduceat(x, bounds)[::2]
    return np.where(counts > 0, sums, 0.0)  # reduceat gives x[start] for an empty segment


def apply_scaler(panel: Panel, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """[N] scaled values of every series, float32 for the network (computed in float64 a
    block of series at a time, so the temporaries stay small beside the data)."""
    out = np.empty(len(panel.values), np.float32)
    for a, b, rows in _blocks(panel):
        shifted = panel.values[rows] - np.repeat(loc[a:b], panel.lengths[a:b])
        shifted /= np.repeat(scale[a:b], panel.lengths[a:b])
        out[rows] = shifted
    return out


def fit_covariate_scaler(
    panel: Panel, n_fit: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """[S, C] (loc, scale) of every covariate column per series, fitted like the target's: on
    each series' first `n_fit[i]` rows only."""
    kind = "standard" if kind == "mase" else kind  # inputs, not errors: their spread scales them
    pairs = [fit_scaler(panel, n_fit, kind, column) for column in panel.covariates.T]
    return np.stack([p[0] for p in pairs], axis=1), np.stack([p[1] for p in pairs], axis=1)


def apply_covariate_scaler(
    covariates: np.ndarray, series: np.ndarray, loc: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """[..., C] covariate rows of series `series` [...] in scaled units, float32."""
    return ((covariates - loc[series]) / scale[series]).astype(np.float32)


def invert_scaler(y: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """y[B, H] in scaled units of series loc[B], scale[B] -> original units."""
    return y * scale[:, None] + loc[:, None]


# --- windows ---------------------------------------------------------------------------------


def window_ends(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (series, end) with lo[s] <= end <= hi[s]; `end` is exclusive and series-relative."""
    return ranges(lo, hi - lo + 1)


@dataclass(frozen=True)
class Starts:
    """Window start indices in runs, one per series (series i: shift[i] + k for the k-th
    window overall, while k < ends[i]), kept as two [S] arrays instead of one index per
    window (there are about as many training windows as values). Indexed like the array it
    stands for: starts[positions] or starts[::k]; np.asarray(starts) makes every one."""

    shift: np.ndarray  # [S] int64: start minus position, within series i's run
    ends: np.ndarray  # [S] int64: cumulative window counts (the run of i ends there)

    @classmethod
    def runs(cls, first: np.ndarray, counts: np.ndarray) -> Starts:
        """Series i's windows start at first[i], first[i] + 1, ... (counts[i] of them)."""
        counts = counts.astype(np.int64)
        return cls(shift=(first - offsets_of(counts)).astype(np.int64), ends=np.cumsum(counts))

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def later_half(self) -> Starts:
        """The later half of each series' run (the middle window of an odd run included)."""
        counts = np.diff(self.ends, prepend=0)
        first = self.shift + self.ends - counts  # each run's first start
        skip = counts // 2
        return Starts.runs(first + skip, counts - skip)

    def __getitem__(self, at: slice | np.ndarray) -> np.ndarray:
        k = np.arange(*at.indices(len(self))) if isinstance(at, slice) else np.asarray(at)
        return k + self.shift[np.searchsorted(self.ends, k, side="right")]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self[:] if dtype is None else self[:].astype(dtype)


@dataclass(frozen=True)
class Split:
    """Window start indices into the panel for training and validation, and the series of
    each validation window."""

    train_starts: Starts  # [Wt] ~N of them, so computed when asked, not stored
    val_starts: np.ndarray  # [Wv] int64
    val_series: np.ndarray  # [Wv] int64
    n_fit: np.ndarray  # [S] points of each series before its validation part


def scaled_part(lengths: np.ndarray, val_size: int) -> np.ndarray:
    """[S] the points of each series its scaler is fitted on: those before validation, or,
    where fewer than 2 are, all of them (a scale from one point or none would be 1, and the
    series' loss weighted by its raw size)."""
    before = lengths - val_size
    return np.where(before >= 2, before, lengths)


def train_counts(lengths: np.ndarray, lookback: int, horizon: int, val_size: int) -> np.ndarray:
    """[S] training windows of each series: those wholly before its last `val_size` points."""
    return np.maximum(lengths - val_size - lookback - horizon + 1, 0)


def split_windows(panel: Panel, lookback: int, horizon: int, val_size: int) -> Split:
    """Training windows lie wholly before each series' last `val_size` points; validation
    windows have their whole horizon inside them (val_size - horizon + 1 per series)."""
    width = lookback + horizon
    n_fit = panel.lengths - val_size
    if val_size:
        va_series, va_ends = window_ends(n_fit + horizon, panel.lengths)
        va_ends_ok = va_ends >= width
        va_series, va_ends = va_series[va_ends_ok], va_ends[va_ends_ok]
    else:
        va_series, va_ends = np.empty(0, np.int64), np.empty(0, np.int64)
    return Split(
        train_starts=Starts.runs(
            panel.offsets, train_counts(panel.lengths, lookback, horizon, val_size)
        ),
        val_starts=panel.offsets[va_series] + va_ends - width,
        val_series=va_series,
        n_fit=n_fit,
    )


# Fewer training windows than this, and the note of `few_windows`: a window is one example,
# and a network of even the smallest sizes has hundreds of weights, so it can fit so few by
# heart; what it learns beyond its starting forecast is then noise, and the epoch early stopping
# keeps is picked on as few validation windows. 60 monthly points with the defaults (lookback 36,
# horizon 12, validation 12) give 1; AirPassengers' 144 give 85, and 1 with --horizon 48.
MIN_TRAIN_WINDOWS = 10


def few_windows(n_train: int, n_val: int, w: Any, n_series: int) -> str | None:
    """The note for a training run with fewer than MIN_TRAIN_WINDOWS windows to learn from,
    saying how to get more; None when there are enough."""
    if n_train >= MIN_TRAIN_WINDOWS:
        return None
    val = f"{n_val} validation window{'s' * (n_val != 1)}" if w.val_size else "no validation"
    return (
        f"too few windows: only {n_train} training window{'s' * (n_train != 1)} and {val} of "
        f"lookback {w.lookback} + horizon {w.horizon} points from {n_series} series, too few for "
        "the network to learn from or to validate on; use a shorter --lookback or a smaller "
        "--horizon (each step less gives every series one more window), or give more history"
    )


def history(
    panel: Panel, series: np.ndarray, ends: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """[W, width] the `width` points of series `series` [W] before their series-relative
    position `ends` [W] (exclusive), beginning with copies of the series' first real point
    where fewer are real (padding left out); and [W] how many are real."""
    pads = panel.pads[series] if panel.pads is not None else 0
    first = panel.offsets[series] + pads
    end = panel.offsets[series] + ends
    at = np.maximum(end[:, None] - width + np.arange(width), first[:, None])
    return panel.values[at], np.minimum(width, end - first)


def gather(values: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """[B, width] windows of `values` beginning at `starts` (one fancy-index gather)."""
    return values[starts[:, None] + np.arange(width)]


def last_starts(panel: Panel, lookback: int) -> np.ndarray:
    """Start index of the last `lookback` points of every series."""
    return panel.offsets + panel.lengths - lookback
