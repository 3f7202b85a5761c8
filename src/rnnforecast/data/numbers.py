"""Target and covariate values: text to float64 in the file's decimal mark and thousands
separator, checked for non-numbers, infinities and magnitudes scaling cannot square."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.errors import RnnForecastError, quoted

_COMMA_DECIMAL = re.compile(r"[+-]?\d+,\d+")  # 190,09
_DOT_GROUPS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")  # 1.900 or 1.900,90
_DOT_DECIMAL = re.compile(r"[+-]?\d*\.\d+([eE][+-]?\d+)?")  # 190.09


def _number_marks(
    text: str, sep: str, cfg: DataConfig, path: Path
) -> tuple[str, str | None, list[str]]:
    """(decimal mark, thousands separator, notes): as given, else a decimal comma (and dot
    thousands, 1.900,90) where the delimiter is not a comma and the sample's numbers are
    written so, with none written 190.09."""
    if cfg.decimal is None and cfg.thousands in (".", ","):  # the other mark is the decimal
        return ("," if cfg.thousands == "." else "."), cfg.thousands, []
    if cfg.decimal is not None or sep == ",":
        return cfg.decimal or ".", cfg.thousands, []
    rows = list(csv.reader(text.splitlines()[1:200], delimiter=sep))
    cells = [c.strip() for row in rows for c in row]
    commas = [c for c in cells if _COMMA_DECIMAL.fullmatch(c) or _DOT_GROUPS.fullmatch(c)]
    dots = [c for c in cells if _DOT_DECIMAL.fullmatch(c) and not _DOT_GROUPS.fullmatch(c)]
    if not any("," in c for c in commas) or dots:
        return ".", cfg.thousands, []
    grouped = cfg.thousands is None and any(_DOT_GROUPS.fullmatch(c) for c in commas)
    thousands = "." if grouped else cfg.thousands
    also = " and '.' as the thousands separator" if grouped else ""
    note = (
        f"{path}: read ',' as the decimal mark{also} (the file is '{sep}'-separated and its "
        f"numbers are written like {quoted(commas[0], 20)}); pass --decimal . if that is wrong"
    )
    return ",", thousands, [note]


def _parse_target(
    col: pd.Series,
    lines: np.ndarray,
    targets: tuple[str, ...],
    path: Path,
    cfg: DataConfig | None = None,
) -> pd.Series:
    """Float values; a non-number, an infinity or a magnitude beyond what scaling can square
    names its line and column (and, for text that is numbers written with a decimal comma or
    thousands separators, the option that reads it)."""
    rows = len(col) // len(targets)  # several targets are stacked, one block each
    if pd.api.types.is_bool_dtype(col):
        raise RnnForecastError(
            f"{path}: target column '{quoted(targets[0])}' holds true/false, not numbers"
        )
    if pd.api.types.is_numeric_dtype(col):
        values = col.astype("float64")
    else:
        # as text: read_csv keeps an integer of hundreds of digits as a Python int, which
        # to_numeric cannot make a float
        text = col.astype("string") if col.dtype == object else col
        values = pd.to_numeric(_in_plain_marks(text, cfg), errors="coerce")
        bad = (values.isna() & col.notna() & (col.astype(str).str.strip() != "")).to_numpy()
        if bad.any():
            at = bad.argmax()
            block = col.iloc[(at // rows) * rows : (at // rows + 1) * rows]
            hint = _number_hint(block, cfg or DataConfig(), col.iloc[at])
            raise RnnForecastError(
                f"{path}: column '{quoted(targets[at // rows])}': '{quoted(col.iloc[at])}' at "
                f"line {lines[at]} is not a number; "
                + (f"the column {hint}" if hint else "fix or remove the row")
            )
        values = values.astype("float64")
    magnitude = np.abs(values.to_numpy())
    written = np.isinf(magnitude)  # 1e400 reads as inf too, but is a number out of range
    if written.any() and not pd.api.types.is_numeric_dtype(col):
        inf_text = col[written].astype(str).str.strip().str.lower().str.lstrip("+-")
        written[written] = inf_text.isin(["inf", "infinity"]).to_numpy()
    inf = written
    if inf.any():
        at = inf.argmax()
        raise RnnForecastError(
            f"{path}: column '{quoted(targets[at // rows])}': {values.iloc[at]} at line "
            f"{lines[at]}; replace infinities with real values or leave the cell empty and use "
            "--fill"
        )
    extreme = (magnitude > LARGEST) | ((magnitude < SMALLEST) & (magnitude > 0))
    if extreme.any():
        at = extreme.argmax()
        shown = f"{values.iloc[at]:g}" if np.isfinite(magnitude[at]) else quoted(col.iloc[at], 30)
        raise RnnForecastError(
            f"{path}: column '{quoted(targets[at // rows])}': {shown} at line "
            f"{lines[at]} is outside the magnitudes that can be scaled ({SMALLEST:g} to "
            f"{LARGEST:g}: squaring them must stay finite and nonzero); rescale the column, "
            "e.g. to thousands or millionths"
        )
    return values


def _in_plain_marks(col: pd.Series, cfg: DataConfig | None) -> pd.Series:
    """Text numbers written with the file's decimal mark and thousands separator, rewritten
    with a '.' and none (what a column with one stray word keeps as text); a number with a
    mark the file does not use stays unreadable, as the reader left it."""
    decimal, thousands = (cfg.decimal or ".", cfg.thousands) if cfg else (".", None)
    if decimal == "." and not thousands:
        return col
    text = col.astype("string").str.strip()
    if thousands:
        grouped = text.str.fullmatch(_number_pattern(decimal, thousands)).fillna(False)
        text = text.where(~grouped, text.str.replace(thousands, "", regex=False))
    if decimal == ",":
        text = text.mask(text.str.contains(".", regex=False).fillna(False))
        text = text.str.replace(",", ".", regex=False)
    return text


# the largest and smallest magnitudes read: per-series scaling squares deviations, so values
# beyond 1e150 overflow float64 (1e300 gave NaN forecasts) and below 1e-150 square to zero
LARGEST, SMALLEST = 1e150, 1e-150

# (decimal mark, thousands separator) pairs a text column may be written in
_MARKS = ((".", None), (",", None), (".", ","), (",", "."), (".", " "), (",", " "), (".", "'"),
          (",", "'"))  # fmt: skip


def _number_hint(col: pd.Series, cfg: DataConfig, value: Any = None) -> str:
    """Which --decimal / --thousands would read a text column as numbers (and `value`, the
    cell found bad, among them), as a message's clause; '' if none would."""
    sample = col.dropna().astype(str).str.strip().head(200)
    sample = sample[sample != ""]
    if value is not None:
        sample = pd.concat([pd.Series([str(value).strip()]), sample], ignore_index=True)
    if sample.empty:
        return ""
    now = sample.str.fullmatch(_number_pattern(cfg.decimal or ".", cfg.thousands)).mean()
    for decimal, thousands in _MARKS:
        read = sample.str.fullmatch(_number_pattern(decimal, thousands))
        if (value is None or read.iat[0]) and read.mean() >= 0.9 and read.mean() > now:
            flags = [f"--decimal {decimal}"] if decimal != (cfg.decimal or ".") else []
            if thousands:
                flags.append(f"--thousands {thousands!r}" if thousands in " '" else
                             f"--thousands {thousands}")  # fmt: skip
            with_ = f"with {' '.join(flags)}" if flags else ""
            without = "without --thousands" if cfg.thousands and not thousands else ""
            return f"reads as numbers {' and '.join(filter(None, [with_, without]))}"
    return ""


def _number_pattern(decimal: str, thousands: str | None) -> str:
    """A number written with this decimal mark and thousands separator: 1.900,90, 1900,9."""
    whole = r"\d+"
    if thousands:
        whole = rf"(?:\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+)"
    return rf"[+-]?{whole}(?:{re.escape(decimal)}\d+)?(?:[eE][+-]?\d+)?"


def _check_log1p(values: pd.Series, lines: np.ndarray, targets: tuple[str, ...], path: Path):
    """log(1 + y) has no value for y <= -1: name the first such line rather than train on NaN."""
    bad = (values <= -1).to_numpy()
    if bad.any():
        at = np.flatnonzero(bad)[np.argmin(lines[bad])]
        rows = len(values) // len(targets)
        raise RnnForecastError(
            f"{path}: column '{quoted(targets[at // rows])}': {values.iloc[at]:g} at line "
            f"{lines[at]} is "
            "-1 or less, and --transform log1p needs y > -1; use --transform none (or shift the "
            "series above -1)"
        )


def _parse_covariate(
    col: pd.Series, lines: np.ndarray, name: str, path: Path, cfg: DataConfig | None = None
) -> pd.Series:
    """Float values of a covariate column, checked as the target's are; true/false flags
    become 1/0. Empty cells stay NaN here: only the rows a forecast uses must be filled."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype("float64")
    return _parse_target(col, lines, (name,), path, cfg)
