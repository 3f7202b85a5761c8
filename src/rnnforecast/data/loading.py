"""The loaders: a file to a `Loaded` frame, to `Compact` arrays, or to chunks of whole series."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.data.chunks import CHUNK_ROWS, _chunks, _joined, _joined_facts
from rnnforecast.data.columns import ID_NAME
from rnnforecast.data.long import prepare
from rnnforecast.data.reading import _as_read, _read, read_options
from rnnforecast.data.results import Compact, Loaded, compact
from rnnforecast.errors import RnnForecastError


def load_compact(
    path: str | Path, cfg: DataConfig, times: bool = False, rows: int = CHUNK_ROWS
) -> Compact:
    """`load` then `compact`, reading a long file `rows` lines at a time so that neither the
    parser's text nor a frame of the whole file is ever held; the result is the same. A file
    whose series' rows are not together (or without an id column) is read whole, as is one
    a chunk finds fault with: the error the whole file gives is the one to report."""
    path = Path(path)
    cfg, options, notes = _opened(path, cfg)
    if options["dtype"]:  # an id column: a long file, read by chunks
        try:
            chunks = _chunks(path, cfg, options, notes, 0, None, rows)
            parts = [compact(part, cfg.covariates, times) for part in chunks]
            return _joined(parts)  # empties `parts` as it copies them
        except RnnForecastError:  # scattered series (a chunk's may have looked gappy), or bad
            pass  # data: the whole file says
    return compact(_whole(path, cfg, options, notes), cfg.covariates, times)


def load(path: str | Path, cfg: DataConfig, model: str | None = None) -> Loaded:
    """Read, detect columns, parse, validate and (under cfg.fill) repair one CSV file.

    `model` names the model directory whose settings `cfg` holds, when reading data for an
    existing model: errors then say the data does not match that model.
    """
    path = Path(path)
    cfg, options, notes = _opened(path, cfg)
    if options["dtype"]:  # a long file: by chunks, as `load_compact` reads it, then joined:
        try:  # the same frame, ~30 % faster on 10M rows than preparing it whole
            parts = list(_chunks(path, cfg, options, notes, 0, model, CHUNK_ROWS))
            frame = pd.concat([p.frame for p in parts], ignore_index=True)
            return Loaded(frame=frame, **_joined_facts(parts))
        except RnnForecastError:  # scattered series, or bad data: the whole file says
            pass
    return _whole(path, cfg, options, notes, model)


def _whole(
    path: Path, cfg: DataConfig, options: dict, notes: list[str], model: str | None = None
) -> Loaded:
    """The file read and prepared in one piece (`options` and `notes` from `read_options`)."""
    return prepare(next(_read(path, options)), cfg, path, model, notes)


def load_chunks(
    path: str | Path, cfg: DataConfig, series: int, model: str | None = None, rows: int = 500_000
) -> Iterator[Loaded]:
    """Yield a long file's series whole, about `series` at a time (0: every series complete
    in the rows read so far), reading `rows` lines at a time, so memory is bounded by the
    chunk and not by the file. The rows of each series must be together in the file (as
    `sort -t, -k1,1` or any export by series leaves them). The columns, date format (day or
    month first) and frequency found in the first chunk hold for the others."""
    path = Path(path)
    cfg, options, notes = _opened(path, cfg)
    yield from _chunks(path, cfg, options, notes, series, model, rows)


def _opened(path: Path, cfg: DataConfig) -> tuple[DataConfig, dict, list[str]]:
    """`cfg` with the number marks the file is read with, its read options, and the notes on
    what was guessed (`read_options`)."""
    options, notes = read_options(path, cfg.id_col or ID_NAME, cfg.time_col, cfg)
    return _as_read(cfg, options), options, notes
