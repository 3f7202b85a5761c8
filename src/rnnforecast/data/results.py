"""What loading returns: the schema found, the long frame (`Loaded`) or its arrays (`Compact`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from rnnforecast.panel import Panel


@dataclass(frozen=True)
class Schema:
    """Where the series are in a file, so predict can read fresher data the same way."""

    layout: str  # long (id column), single (one target) or wide (several targets)
    time_col: str
    target: tuple[str, ...]
    id_col: str | None
    freq: str  # a pandas offset alias, e.g. MS, QS-JAN, 30min
    # how the time column was parsed: ISO8601, a strftime format such as %d/%m/%Y, or None
    # (whole years, or a form pandas recognised by itself)
    date_format: str | None = None

    @property
    def dayfirst(self) -> bool | None:
        """Whether numeric dates read day first (None: the dates raise no such question)."""
        return {"%d": True, "%m": False}.get((self.date_format or "")[:2])


@dataclass(frozen=True)
class Loaded:
    """A validated long frame, sorted by unique_id then ds, and what was repaired on the way."""

    frame: pd.DataFrame  # unique_id: str, ds: datetime64, y: float64, then covariates: float64
    schema: Schema
    notes: tuple[str, ...]
    source: str  # the file it came from, for messages
    # with future covariates: the rows after each series' last observed y (unique_id, ds, the
    # future covariates), sorted; their values over the horizon are what predict needs
    future: pd.DataFrame | None = None


@dataclass(frozen=True)
class Compact:
    """Loaded series as arrays, without the frame: the values end to end (a Panel), each
    series' first and last timestamp; what training reads, at ~8 bytes a value instead of
    the frame's ~30 (ids, timestamps and line numbers per row)."""

    panel: Panel  # times only when asked for (calendar features read them)
    first: pd.DatetimeIndex  # [S]
    last: pd.DatetimeIndex  # [S]
    schema: Schema
    notes: tuple[str, ...]
    source: str
    future: pd.DataFrame | None = None  # as in Loaded


def compact(loaded: Loaded, covariates: tuple[str, ...] = (), times: bool = False) -> Compact:
    """A loaded frame as arrays (with every timestamp under `times`)."""
    panel = Panel.from_frame(loaded.frame, covariates)
    ds = pd.DatetimeIndex(loaded.frame["ds"])
    if not times:
        panel = dataclasses.replace(panel, times=None)
    return Compact(
        panel=panel,
        first=ds[panel.offsets],
        last=ds[panel.offsets + panel.lengths - 1],
        schema=loaded.schema,
        notes=loaded.notes,
        source=loaded.source,
        future=loaded.future,
    )
