"""Raw rows to a validated long frame: columns, times, numbers, order and frequency in turn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.data.columns import _id_hint, _to_long, detect_columns
from rnnforecast.data.dates import _parse_times
from rnnforecast.data.numbers import _check_log1p, _parse_covariate, _parse_target
from rnnforecast.data.regular import _regularise, _split_future
from rnnforecast.data.results import Loaded, Schema


def prepare(
    raw: pd.DataFrame,
    cfg: DataConfig,
    path: Path,
    model: str | None = None,
    notes: list[str] | None = None,
    heads: np.ndarray | None = None,
) -> Loaded:
    """Detect columns, parse, validate and repair rows read from `path` (whose index is the
    row number in the file, so errors name the right line); `heads`, where each run of ids
    begins, when the chunk reader has found them already."""
    layout, time_col, targets, id_col = detect_columns(raw, cfg, path, model)
    frame = _to_long(raw, targets, time_col, id_col, cfg.covariates, path, heads)
    lines = frame["_line"].to_numpy()
    frame["ds"], date_format = _parse_times(frame["ds"], lines, path, time_col, cfg, model)
    frame["y"] = _parse_target(frame["y"], lines, targets, path, cfg)
    if cfg.transform == "log1p":
        _check_log1p(frame["y"], lines, targets, path)
    for name in cfg.covariates:
        frame[name] = _parse_covariate(frame[name], lines, name, path, cfg)
    frame, future = _split_future(frame, cfg, path)
    runs = heads if heads is not None and len(frame) == len(raw) else None  # rows all kept

    def id_hint() -> str:  # only asked when duplicate times are found
        return "" if id_col else _id_hint(raw, time_col, targets, cfg)

    frame, freq, more = _regularise(frame, cfg, path, model, runs, id_hint)
    schema = Schema(
        layout=layout,
        time_col=time_col,
        target=targets,
        id_col=id_col,
        freq=freq,
        date_format=date_format,
    )
    notes = (notes or []) + more
    return Loaded(frame=frame, schema=schema, notes=tuple(notes), source=str(path), future=future)
