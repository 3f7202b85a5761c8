"""The time column to timestamps: ISO 8601, a given format, numeric dates day or month first,
or what pandas recognises; the first bad line named."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.errors import RnnForecastError, quoted


def _parse_times(
    col: pd.Series,
    lines: np.ndarray,
    path: Path,
    name: str,
    cfg: DataConfig,
    model: str | None = None,
) -> tuple[pd.Series, str | None]:
    """Timestamps from strings (or year numbers), and the format they were read in (for the
    schema); names the first bad line. The format given (--date-format) wins; else ISO 8601
    (the common case, and the fast one); else numeric dates such as 01/02/2015, day or month
    first as the whole column (or --dayfirst) says; else whatever pandas recognises. `model`:
    the model directory whose settings `cfg` holds, when its commands (no date flags) read."""
    empty = col.isna().to_numpy()
    if empty.any():
        raise RnnForecastError(
            f"{path}: column '{quoted(name)}' is empty at line {lines[empty.argmax()]}; "
            "every row needs a time"
        )
    if pd.api.types.is_datetime64_any_dtype(col):
        return _in_range(col, col, lines, path, name), "ISO8601"
    if cfg.date_format:  # numbers too: 20240131 read with %Y%m%d
        parsed = _with_format(col.astype(str), cfg.date_format, lines, path, name)
        return _in_range(parsed, col, lines, path, name), cfg.date_format
    if pd.api.types.is_numeric_dtype(col):
        values = col.to_numpy()
        whole = np.isfinite(values).all() and np.all(np.mod(values, 1) == 0)
        if whole and values.min() >= 1000 and values.max() <= 3000:
            outside = (values < 1678) | (values > 2261)
            if outside.any():  # whole years pandas 2 cannot hold
                at = outside.argmax()
                raise RnnForecastError(
                    f"{path}: column '{quoted(name)}': '{int(values[at])}' at line {lines[at]} "
                    f"{OUTSIDE}"
                )
            parsed = pd.to_datetime(col.astype(int).astype(str), format="%Y")
            return _in_range(parsed, col, lines, path, name), None
        compact = whole and values.min() >= 10_000_000 and values.max() < 100_000_000
        months = whole and values.min() >= 100_001 and values.max() <= 300_012
        months = months and bool(np.all((values % 100 >= 1) & (values % 100 <= 12)))
        hint = ""
        if compact and not model:
            hint = "; for dates written 20240131 pass --date-format %Y%m%d"
        elif months and not model:
            hint = "; for months written 202401 pass --date-format %Y%m"
        raise RnnForecastError(
            f"{path}: column '{quoted(name)}' holds numbers, not dates (line {lines[0]}: "
            f"{values[0]}); use dates such as 2024-01-31, or whole years{hint}"
        )
    try:
        return _in_range(_parse_iso(col), col, lines, path, name), "ISO8601"  # the fast path
    except (ValueError, TypeError, OverflowError):
        pass
    text = col.astype(str).str.strip()
    dayfirst = _date_order(text, lines, path, name, cfg.dayfirst, model)
    if dayfirst is not None:
        fmt = _numeric_format(text.iat[0], dayfirst)
        if fmt is not None:
            parsed = _with_format(text, fmt, lines, path, name)
            return _in_range(parsed, col, lines, path, name), fmt
        with warnings.catch_warnings():  # a time after a 2-digit year: no single format
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=dayfirst)
        _check_parsed(parsed, text, lines, path, name)
        return _in_range(parsed, col, lines, path, name), None
    return _in_range(_parse_any(text, lines, path, name), col, lines, path, name), None


def _parse_any(text: pd.Series, lines: np.ndarray, path: Path, name: str) -> pd.Series:
    """Dates in a form pandas recognises by itself, all in one format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text)
    except (ValueError, TypeError, OverflowError) as e:
        zones = RnnForecastError(
            f"{path}: column '{quoted(name)}' mixes time zones or offsets; convert to one zone"
        )
        if "time zone" in str(e).lower() or "timezone" in str(e).lower():
            raise zones from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        except ValueError as again:  # mixed offsets raise even when bad values are coerced
            if "timezone" not in str(again).lower():
                raise
            raise zones from None
        bad = parsed.isna().to_numpy()
        if not bad.any():
            raise RnnForecastError(
                f"{path}: column '{quoted(name)}': timestamps in inconsistent formats; use one "
                "format (ISO 8601, e.g. 2024-01-31 or 2024-01-31 13:00), or name it with "
                "--date-format"
            ) from None
        _check_parsed(parsed, text, lines, path, name)
    _check_parsed(parsed, text, lines, path, name)
    return parsed


def _check_parsed(
    parsed: pd.Series,
    text: pd.Series,
    lines: np.ndarray,
    path: Path,
    name: str,
    fix: str = "is not a date; fix or remove the row",
) -> None:
    """Refuse what pandas returns for mixed offsets (objects) or could not read (NaT)."""
    if parsed.dtype == object:  # pandas 2 returns objects for mixed offsets
        raise RnnForecastError(
            f"{path}: column '{quoted(name)}' mixes time zones or offsets; convert to one zone"
        )
    bad = parsed.isna().to_numpy()
    if bad.any():
        at = bad.argmax()
        fix = OUTSIDE if _outside(text.iloc[at]) else fix
        raise RnnForecastError(
            f"{path}: column '{quoted(name)}': '{quoted(text.iloc[at])}' at line {lines[at]} {fix}"
        )


# a numeric date, day and month in either order, then the year: 01/02/2015, 1.2.15, 01-02-2015
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})([/.\-])(\d{4}|\d{2})(?!\d)")


def _date_order(
    text: pd.Series,
    lines: np.ndarray,
    path: Path,
    name: str,
    dayfirst: bool | None,
    model: str | None = None,
) -> bool | None:
    """For numeric dates (the first value like 01/02/2015): whether they read day first, as
    `dayfirst` says or else as the whole column does: a first number above 12 is a day, a
    second above 12 is one. None: not numeric dates. The distinct values are examined, so a
    long file's repeated dates cost once."""
    values = pd.unique(text.to_numpy())
    if not _NUMERIC_DATE.match(values[0]):
        return None
    if dayfirst is not None:
        return dayfirst
    parts = pd.Series(values).str.extract("^" + _NUMERIC_DATE.pattern)
    known = parts[0].notna().to_numpy()
    first = parts[0][known].astype(int).to_numpy()
    second = parts[2][known].astype(int).to_numpy()
    values = values[known]

    def example(found: np.ndarray) -> str:
        value = values[found.argmax()]
        at = int(np.flatnonzero(text.to_numpy() == value)[0])
        return f"'{quoted(value, 30)}' at line {lines[at]}"

    days, months = (first > 12) & (second <= 12), (second > 12) & (first <= 12)
    if days.any() and months.any():
        raise RnnForecastError(
            f"{path}: column '{quoted(name)}' has dates day first ({example(days)}) and month "
            f"first ({example(months)}); write them in one order"
        )
    if days.any() or months.any():
        return bool(days.any())
    fix = (
        f"the model {model} was trained on dates of another form, so write these as ISO 8601 "
        "(2024-01-31)"
        if model
        else "pass --dayfirst (dd/mm/yyyy) or --no-dayfirst (mm/dd/yyyy), or the format, e.g. "
        "--date-format %d/%m/%Y"
    )
    raise RnnForecastError(
        f"{path}: column '{quoted(name)}': dates such as {example(np.ones(len(values), bool))} "
        f"can be read day first or month first, and no value decides (none has a number above "
        f"12); {fix}"
    )


def _numeric_format(first: str, dayfirst: bool) -> str | None:
    """The strftime format of numeric dates like `first`, day or month first; None when no
    one format fits (a time after a two-digit year)."""
    from pandas.tseries.api import guess_datetime_format

    fmt = guess_datetime_format(first, dayfirst=dayfirst)
    if fmt is not None and fmt.startswith("%d" if dayfirst else "%m"):
        return fmt
    m = _NUMERIC_DATE.match(first)
    if m is None or m.end() != len(first):
        return None
    order = ("%d", "%m") if dayfirst else ("%m", "%d")
    year = "%Y" if len(m.group(5)) == 4 else "%y"
    return f"{order[0]}{m.group(2)}{order[1]}{m.group(4)}{year}"


def _with_format(text: pd.Series, fmt: str, lines: np.ndarray, path: Path, name: str) -> pd.Series:
    """Every value read with one strftime format; the first that does not fit is named.
    Each distinct value is parsed once: a long file repeats its dates in every series."""
    codes, distinct = pd.factorize(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            once = pd.DatetimeIndex(pd.to_datetime(distinct, format=fmt, errors="coerce"))
            parsed = pd.Series(once.take(codes), index=text.index)
    except (ValueError, TypeError) as e:
        if "time zone" in str(e).lower() or "timezone" in str(e).lower():
            raise RnnForecastError(
                f"{path}: column '{quoted(name)}' mixes time zones or offsets; convert to one zone"
            ) from None
        raise RnnForecastError(
            f"{path}: column '{quoted(name)}': cannot read dates with the format '{quoted(fmt)}' "
            f"({quoted(str(e).splitlines()[0] if str(e) else e, 80)}); give a strftime "
            "format such as %d/%m/%Y"
        ) from None
    fix = (
        f"is not a date in the format {quoted(fmt)} the column is read in; fix the row, or give "
        "the right --date-format"
    )
    _check_parsed(parsed, text, lines, path, name, fix)
    return parsed


OUTSIDE = (
    "is outside the dates that can be computed with (1677-09-22 to 2262-04-11); fix or "
    "remove the row"
)


def _outside(value: object) -> bool:
    """Whether a value pandas could not read is a date of a year outside the nanosecond
    range (pandas 2 refuses those as unreadable; pandas 3 reads them, and `_in_range` says)."""
    years = re.findall(r"(?<!\d)(\d{4})(?!\d)", str(value))
    return any(not 1677 <= int(y) <= 2262 for y in years)


def _in_range(
    parsed: pd.Series, col: pd.Series, lines: np.ndarray, path: Path, name: str
) -> pd.Series:
    """Timestamps pandas can compute with (nanoseconds: 1677-09-22 to 2262-04-11), or the
    first outside named: the frequency and forecast dates need them."""
    index = pd.DatetimeIndex(parsed)
    factor = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[index.unit]
    lo, hi = pd.Timestamp.min.value // factor + 1, pd.Timestamp.max.value // factor
    values = index.asi8
    bad = (values < lo) | (values > hi)
    if bad.any():
        at = bad.argmax()
        raise RnnForecastError(
            f"{path}: column '{quoted(name)}': '{quoted(col.iloc[at])}' at line {lines[at]} "
            f"{OUTSIDE}"
        )
    return parsed


def _parse_iso(col: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(col, format="ISO8601")
    if parsed.dtype == object:  # mixed offsets: let the slow path explain
        raise ValueError("mixed time zones")
    return parsed
