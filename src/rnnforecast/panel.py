"""Many series as one contiguous array: the layout every step from loading to forecasting shares.

Series i is values[offsets[i] : offsets[i] + lengths[i]]; nothing per series is a Python object,
so a catalogue of a million series costs a few arrays. Numpy only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Panel:
    """All series end to end: series i is values[offsets[i] : offsets[i] + lengths[i]]."""

    ids: np.ndarray  # [S] str
    values: np.ndarray  # [N] float64, original units
    offsets: np.ndarray  # [S] int64
    lengths: np.ndarray  # [S] int64
    times: np.ndarray | None  # [N] datetime64 of every value; None once nothing reads them
    covariates: np.ndarray | None = None  # [N, C] float64, original units; None: no covariates
    pads: np.ndarray | None = None  # [S] leading rows of each series that are padding (`padded`)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, covariates: tuple[str, ...] = ()) -> Panel:
        """From a long frame sorted by unique_id then ds (as `data.load` returns it), with the
        named covariate columns."""
        ids, lengths = runs(frame["unique_id"].to_numpy())
        values = frame["y"].to_numpy(np.float64)
        times = frame["ds"].to_numpy()
        extra = frame[list(covariates)].to_numpy(np.float64) if covariates else None
        return cls(
            ids=ids,
            values=values,
            offsets=offsets_of(lengths),
            lengths=lengths,
            times=times,
            covariates=extra,
        )

    def select(self, keep: np.ndarray) -> Panel:
        """Only the series where `keep` is true, still contiguous."""
        kept = self._rows(keep[self.series_of_rows()], self.ids[keep], self.lengths[keep])
        return kept if self.pads is None else dataclasses.replace(kept, pads=self.pads[keep])

    def tail(self, n: int) -> Panel:
        """Each series' last `n` points (all of a shorter one)."""
        lengths = np.minimum(self.lengths, n)
        ends = self.offsets + self.lengths
        _, rows = ranges(ends - lengths, lengths)  # the rows, in order
        return self._rows(rows, self.ids, lengths)

    def _rows(self, rows: np.ndarray, ids: np.ndarray, lengths: np.ndarray) -> Panel:
        """These rows (an index or a mask, in order) of every per-row array, as the series
        `ids` of `lengths`."""
        return Panel(
            ids=ids,
            values=self.values[rows],
            offsets=offsets_of(lengths),
            lengths=lengths,
            times=None if self.times is None else self.times[rows],
            covariates=None if self.covariates is None else self.covariates[rows],
        )

    def layout(self) -> Panel:
        """The series and where they lie, without their values: what window indexing reads,
        so the values can be freed once copied into the network's inputs."""
        return Panel(
            ids=self.ids,
            values=np.empty(0),
            offsets=self.offsets,
            lengths=self.lengths,
            times=None,
            pads=self.pads,
        )

    def padded(self, pads: np.ndarray) -> Panel:
        """Each series i after pads[i] copies of its first row (its value, time and
        covariates), so a window may begin before a series does: a short series still fills
        a whole input window. `pads` is kept, to tell the copies from the data. No pads at
        all returns the panel itself."""
        if not pads.any():
            return self if self.pads is not None else dataclasses.replace(self, pads=pads)
        which, at = ranges(np.zeros_like(self.lengths), self.lengths + pads)
        rows = self.offsets[which] + np.maximum(at - pads[which], 0)  # a pad takes the first row
        padded = self._rows(rows, self.ids, self.lengths + pads)
        return dataclasses.replace(padded, pads=pads)

    def is_pad(self) -> np.ndarray:
        """[N] whether each row is padding."""
        if self.pads is None:
            return np.zeros(len(self.values), dtype=bool)
        return self.leading(self.pads)

    def leading(self, counts: np.ndarray) -> np.ndarray:
        """[N] whether each row is among the first `counts` [S] rows of its series."""
        at = np.arange(len(self.values)) - np.repeat(self.offsets, self.lengths)
        return at < np.repeat(counts, self.lengths)

    def series_of_rows(self) -> np.ndarray:
        """[N] the series index of every value."""
        return np.repeat(np.arange(len(self.ids)), self.lengths)


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    """[S] where each of series laid end to end begins."""
    return (np.cumsum(lengths) - lengths).astype(np.int64)


def run_starts(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal neighbouring keys begins (an empty id, NaN, equals nothing, so
    it always begins one)."""
    if len(keys) == 0:
        return np.empty(0, np.int64)
    return starts_of(keys[1:] != keys[:-1])


def starts_of(changes: np.ndarray) -> np.ndarray:
    """Where each run begins, from [N-1] whether each row after the first begins one (row 0
    always does)."""
    return np.flatnonzero(np.concatenate([[True], changes]))


def lengths_of(starts: np.ndarray, n: int) -> np.ndarray:
    """[S] how many of `n` rows each run beginning at `starts` has."""
    return np.diff(np.append(starts, n)).astype(np.int64)


def runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct consecutive keys and how many rows each run has."""
    if len(keys) == 0:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    starts = run_starts(keys)
    return keys[starts], lengths_of(starts, len(keys))


def ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, starts[i] + k) for k < counts[i], in order, as two [sum(counts)] arrays, built
    without a Python loop over i (negative counts count as none)."""
    counts = np.maximum(counts, 0)
    which = np.repeat(np.arange(len(starts)), counts)
    at = np.arange(counts.sum(), dtype=np.int64)  # then shifted in place: few large arrays
    at += np.repeat(starts - offsets_of(counts), counts)
    return which, at
