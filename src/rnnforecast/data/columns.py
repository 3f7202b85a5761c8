"""Which columns hold the id, time, target(s) and covariates, and the raw rows as one long
frame (unique_id, ds, y, covariates, _line)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.data.numbers import _MARKS, _in_plain_marks, _number_hint, _number_pattern
from rnnforecast.errors import RnnForecastError, listed, quoted
from rnnforecast.panel import run_starts

TIME_NAMES = ("ds", "date", "time", "timestamp", "datetime")
ID_NAME = "unique_id"
TARGET_NAME = "y"
KEY_COLUMNS = ("unique_id", "ds", "y", "_line")  # the long frame's own columns


def detect_columns(
    raw: pd.DataFrame, cfg: DataConfig, path: Path, model: str | None = None
) -> tuple[str, str, tuple[str, ...], str | None]:
    """Return (layout, time column, target columns, id column) for a raw frame."""
    columns = list(raw.columns)

    def need(name: str, flag: str) -> str:
        if name not in columns:
            why = f"the model in '{model}' was trained on it" if model else flag
            raise RnnForecastError(
                f"{path}: no column '{quoted(name)}' ({why}); columns are: {listed(columns)}"
            )
        return name

    id_col = (
        need(cfg.id_col, "--id-col") if cfg.id_col else (ID_NAME if ID_NAME in columns else None)
    )
    if cfg.time_col:
        time_col = need(cfg.time_col, "--time-col")
        if time_col == id_col:
            raise RnnForecastError(
                f"{path}: column '{quoted(time_col)}' cannot be both the id and the time "
                "column; give --id-col and --time-col different columns"
            )
    else:
        time_col = _detect_time(raw, [c for c in columns if c != id_col], path)
    if not cfg.target and TARGET_NAME in cfg.covariates and TARGET_NAME in columns:
        raise RnnForecastError(
            f"{path}: column '{TARGET_NAME}' is the target, so it cannot also be a covariate; "
            "leave it out of the covariates, or name another target with --target"
        )
    rest = [c for c in columns if c not in (id_col, time_col, *cfg.covariates)]
    if cfg.target:
        targets = tuple(need(t, "--target") for t in cfg.target)
        clash = [t for t in targets if t in (id_col, time_col)]
        if clash:
            raise RnnForecastError(
                f"{path}: column '{quoted(clash[0])}' cannot be both target and key"
            )
    elif TARGET_NAME in rest:
        targets = (TARGET_NAME,)
    else:
        rest = [c for c in rest if not (c.startswith("Unnamed: ") and _blank(raw[c]))]
        numeric = [c for c in rest if _mostly_numeric(raw[c], cfg)]
        if len(numeric) != 1:
            found = "no numeric column" if not numeric else f"numeric columns {listed(numeric)}"
            hints = [] if numeric else [(c, _number_hint(raw[c], cfg)) for c in rest[:50]]
            hints = [f"'{quoted(c)}' {hint}" for c, hint in hints if hint][:1]
            raise RnnForecastError(
                f"{path}: cannot tell the target column ({'; '.join([found, *hints])}); name it "
                "with --target (several comma-separated targets make one series each)"
            )
        targets = (numeric[0],)
    if id_col and len(targets) > 1:
        raise RnnForecastError(
            f"{path}: a long file (id column '{quoted(id_col)}') takes one --target, got "
            f"{len(targets)}"
        )
    for name in cfg.covariates:
        kind = "past" if name in (cfg.past_covariates or ()) else "future"
        need(name, f"--{kind}-covariates")
        if name in (id_col, time_col, *targets):
            raise RnnForecastError(
                f"{path}: column '{quoted(name)}' cannot be both a covariate and the target, "
                "time or id"
            )
        if name in KEY_COLUMNS:
            raise RnnForecastError(
                f"{path}: covariate column '{quoted(name)}' has a name used for the series' own "
                f"columns ({', '.join(KEY_COLUMNS[:3])}); rename it"
            )
    layout = "long" if id_col else ("single" if len(targets) == 1 else "wide")
    return layout, time_col, targets, id_col


def _detect_time(raw: pd.DataFrame, candidates: list[str], path: Path) -> str:
    named = [c for c in candidates if c.lower() in TIME_NAMES]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise RnnForecastError(
            f"{path}: several time columns ({listed(named)}); choose one with --time-col"
        )
    parseable = [c for c in candidates[:1000] if _looks_like_dates(raw[c])]
    if len(parseable) == 1:
        return parseable[0]
    if not parseable:
        raise RnnForecastError(
            f"{path}: no time column found (looked for {', '.join(TIME_NAMES)} or dates); "
            "name it with --time-col"
        )
    raise RnnForecastError(
        f"{path}: several columns look like dates ({listed(parseable)}); choose with --time-col"
    )


def _looks_like_dates(col: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(col):
        return True
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return False
    sample = col.dropna().astype(str).head(20)
    if sample.empty or _written_as_numbers(sample):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
        except ValueError:  # mixed time zones raise even when coercing: dates all the same
            parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().mean() >= 0.9)


def _written_as_numbers(sample: pd.Series) -> bool:
    """Text that reads as numbers in one of the marks a file may use (1.002,08): the parser
    of dates takes such values for days and months."""
    text = sample.str.strip()
    return any(text.str.fullmatch(_number_pattern(d, t)).mean() >= 0.9 for d, t in _MARKS)


def _blank(col: pd.Series) -> bool:
    """A column without values; one also without a name in the header (pandas calls it
    'Unnamed: 2') comes of a trailing delimiter, as some spreadsheets export, and is no
    candidate for the target."""
    return bool(col.isna().all())


def _mostly_numeric(col: pd.Series, cfg: DataConfig | None = None) -> bool:
    """Numbers, or text that is mostly numbers as the file writes them (a stray word keeps a
    column text)."""
    if pd.api.types.is_bool_dtype(col):
        return False
    if pd.api.types.is_numeric_dtype(col):
        return True
    sample = _in_plain_marks(col.dropna().head(200), cfg)
    return bool(len(sample)) and pd.to_numeric(sample, errors="coerce").notna().mean() >= 0.9


def _to_long(
    raw: pd.DataFrame,
    targets: tuple[str, ...],
    time_col: str,
    id_col: str | None,
    covariates: tuple[str, ...],
    path: Path,
    heads: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per observation with its CSV line; several targets are stacked in order, each
    with the same covariate columns. `heads`: where each run of ids begins, if known."""
    line = (raw.index + 2).to_numpy()  # the index counts data rows; the header is line 1
    if id_col:  # an empty id begins a run: the runs' first rows find it, 3x faster than
        ids = raw[id_col].to_numpy()  # isna over every id
        heads = run_starts(ids) if heads is None else heads
        missing = pd.isna(ids[heads])
        if missing.any():
            at = int(line[heads[missing.argmax()]])
            raise RnnForecastError(
                f"{path}: id column '{quoted(id_col)}': empty id at line {at}; fill it in"
            )
    ids = raw[id_col] if id_col else None
    # read as object, ids are str (empty ones were refused above): no scan of every value
    if ids is not None and ids.dtype != object and not pd.api.types.is_string_dtype(ids):
        ids = ids.astype(str)
    parts = [
        pd.DataFrame(
            {
                "unique_id": ids if ids is not None else t,
                "ds": raw[time_col],
                "y": raw[t],
                **{name: raw[name] for name in covariates},
                "_line": line,
            },
            copy=False,  # the columns as read, not copies (copy-on-write keeps `raw` intact)
        )
        for t in targets
    ]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _id_hint(raw: pd.DataFrame, time_col: str, targets: tuple[str, ...], cfg: DataConfig) -> str:
    """For a file read without an id column whose times repeat: the columns (text first,
    then whole numbers) whose values, with the time, make every row unique while grouping
    several rows each, i.e. that name several series, as advice ('' if none)."""
    keys = [c for c in raw.columns if c not in (time_col, *targets, *cfg.covariates)]
    kinds = [c for c in keys if not pd.api.types.is_numeric_dtype(raw[c])]
    kinds += [c for c in keys if pd.api.types.is_integer_dtype(raw[c])]
    found = [
        c
        for c in kinds[:50]
        if raw[c].notna().all()
        and raw[c].nunique() < len(raw)
        and not raw.duplicated([c, time_col]).any()
    ]
    if not found:
        return ""
    also = f" (or {listed(found[1:3])})" if len(found) > 1 else ""
    return f"the file holds several series: pass --id-col {quoted(found[0])}{also}"
