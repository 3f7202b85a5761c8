"""The series' frequency: inferred from the data, or a --freq alias normalised."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from rnnforecast.errors import RnnForecastError, quoted
from rnnforecast.panel import lengths_of, starts_of


def _infer_freq(frame: pd.DataFrame, same: np.ndarray, path: Path) -> str:
    """The frequency of the longest series (the others are checked against it later)."""
    starts = starts_of(~same)
    lengths = lengths_of(starts, len(frame))
    for i in np.argsort(-lengths, kind="stable")[:3]:
        if lengths[i] < 3:
            break
        freq = guess_freq(frame["ds"].iloc[starts[i] : starts[i] + lengths[i]])
        if freq:
            return freq
    raise RnnForecastError(
        f"{path}: cannot infer the frequency (too few points or irregular spacing); "
        "pass --freq, e.g. --freq MS for monthly or --freq h for hourly"
    )


def guess_freq(ds: pd.Series) -> str | None:
    """pandas' inferred alias, or the most common one over short runs when there are gaps."""
    values = pd.DatetimeIndex(ds)
    found = _infer(values)
    if found or len(values) < 5:
        return found
    picks = [_infer(values[i : i + 5]) for i in np.linspace(0, len(values) - 5, 25).astype(int)]
    picks = [p for p in picks if p]
    return max(set(picks), key=picks.count) if picks else None


def _infer(values: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = pd.infer_freq(values)
        except (ValueError, TypeError):
            return None
    return _canonical(getattr(found, "freqstr", found))


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _canonical(freq: str | None) -> str | None:
    """One name for a quarterly step, whatever pandas version inferred it: QS-OCT and
    QS-JAN step through the same months, so a quarter start is anchored in the year's first
    quarter (QS-JAN, QS-FEB, QS-MAR) and a quarter end in its last (QE-OCT, -NOV, -DEC)."""
    m = re.fullmatch(r"(\d*)(QS|QE|BQS|BQE)-([A-Z]{3})", freq or "")
    if m is None or m.group(3) not in _MONTHS:
        return freq
    month = _MONTHS.index(m.group(3)) % 3 + (9 if m.group(2).endswith("E") else 0)
    return f"{m.group(1)}{m.group(2)}-{_MONTHS[month]}"


_TICK_ALIASES = {"H": "h", "T": "min", "S": "s", "L": "ms", "U": "us", "N": "ns", "BH": "bh"}
_ANCHORED = {"M": "M", "ME": "M", "MS": "M", "Q": "Q", "QE": "Q", "QS": "Q",
             "Y": "Y", "YE": "Y", "YS": "Y", "A": "Y", "AS": "Y"}  # fmt: skip


def normalize_freq(alias: str, ds: pd.Series | None = None) -> str:
    """Accept old and new pandas aliases (M/MS/ME, H/h, T/min...) and return a current one.

    A bare M, Q or Y/A takes its start or end form from the data (the first of each month, or
    the last), so `--freq M` works on month-start dates as users expect.
    """
    m = re.fullmatch(r"\s*(\d*)\s*([A-Za-z]+)(-[A-Za-z]+)?\s*", alias)
    if m is None:
        raise RnnForecastError(_bad_freq(alias))
    count, base, anchor = m.group(1), m.group(2), m.group(3) or ""
    if count and int(count) == 0:
        raise RnnForecastError(
            f"--freq '{quoted(alias)}' steps by zero; give a positive step, e.g. D or 2D"
        )
    if base in _TICK_ALIASES:
        base = _TICK_ALIASES[base]
    elif base.upper() in _ANCHORED:
        family, upper = _ANCHORED[base.upper()], base.upper()
        if upper in ("ME", "QE", "YE", "MS", "QS", "YS"):
            base = upper
        elif upper == "AS":
            base = "YS"
        else:
            base = family + _start_or_end(family, ds)
    result = f"{count}{base}{anchor}"
    try:
        pd.tseries.frequencies.to_offset(result)
    except (ValueError, OverflowError):
        raise RnnForecastError(_bad_freq(alias)) from None
    return result


def _start_or_end(family: str, ds: pd.Series | None) -> str:
    if ds is None or ds.empty:
        return "E"
    values = pd.DatetimeIndex(ds)
    is_start = {"M": values.is_month_start, "Q": values.is_quarter_start, "Y": values.is_year_start}
    return "S" if bool(np.all(is_start[family])) else "E"


def _bad_freq(alias: str) -> str:
    return (
        f"--freq: unknown frequency '{quoted(alias)}'; use a pandas alias such as D, W, MS, ME, "
        "QS, h or 30min"
    )
