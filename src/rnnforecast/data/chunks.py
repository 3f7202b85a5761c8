"""A long file read by blocks of rows and handed out as whole series, and chunks joined."""

from __future__ import annotations

import ctypes
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.data.columns import ID_NAME
from rnnforecast.data.long import prepare
from rnnforecast.data.reading import _read
from rnnforecast.data.results import Compact, Loaded, Schema
from rnnforecast.errors import RnnForecastError, quoted
from rnnforecast.panel import Panel, offsets_of, run_starts

# rows read at a time when training loads a long file by chunks: read_csv holds ~50 bytes a
# row while parsing, so a whole 10M-row file peaks near 0.5 GB; 200k rows cost ~10 MB and
# parse as fast (measured in benchmarks/bench_scale.py)
CHUNK_ROWS = 200_000


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim; elsewhere
    nothing): process-wide, so the caller decides when. Parsing 10M rows by chunks leaves
    ~35 MB free in the heap, which the large arrays made next (scaled inputs: fresh pages of
    their own) never reuse, so it would sit in the training process's peak."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError, TypeError):
        pass


def _joined(parts: list[Compact]) -> Compact:
    """The chunks' series end to end, as one. `parts` is emptied as its rows are copied, so
    each chunk is freed once copied and the rows are held about once, not twice (10M rows:
    80 MB of float64 values)."""
    panels = [p.panel for p in parts]
    lengths = np.concatenate([p.lengths for p in panels])
    ids = np.concatenate([p.ids for p in panels])
    first = parts[0].first.append([p.first for p in parts[1:]])
    last = parts[0].last.append([p.last for p in parts[1:]])
    facts = _joined_facts(parts)
    end = int(lengths.sum())  # rows, filled from the end
    columns = {  # the per-row arrays, allocated whole and filled chunk by chunk
        name: np.empty((end, *a.shape[1:]), a.dtype)
        for name, a in (("values", panels[0].values), ("times", panels[0].times),
                        ("covariates", panels[0].covariates))
        if a is not None
    }  # fmt: skip
    del panels  # from here `parts` alone holds the chunks, so popping one frees it
    while parts:  # the last chunk first: freed memory at the top of the heap goes back
        panel = parts.pop().panel
        n = len(panel.values)
        for name, out in columns.items():
            out[end - n : end] = getattr(panel, name)
        end -= n
    panel = Panel(
        ids=ids,
        offsets=offsets_of(lengths),
        lengths=lengths,
        values=columns["values"],
        times=columns.get("times"),
        covariates=columns.get("covariates"),
    )
    return Compact(panel=panel, first=first, last=last, **facts)


def _joined_facts(parts: list[Loaded] | list[Compact]) -> dict[str, Any]:
    """What chunks share or add up to besides their series: the first chunk's schema and
    source, every distinct note once, and the future rows of them all."""
    futures = [p.future for p in parts if p.future is not None]
    return {
        "schema": parts[0].schema,
        "notes": tuple(dict.fromkeys(n for p in parts for n in p.notes)),
        "source": parts[0].source,
        "future": pd.concat(futures, ignore_index=True) if futures else None,
    }


def _chunks(
    path: Path,
    cfg: DataConfig,
    options: dict,
    notes: list[str],
    series: int,
    model: str | None,
    rows: int,
) -> Iterator[Loaded]:
    """`load_chunks` with the file's read options and notes already found."""
    id_col = cfg.id_col or ID_NAME
    handed_out: set[str] = set()
    waiting = None  # rows read but not yet handed out; the last series may still be running
    for block in _read(path, options, rows):
        if id_col not in block.columns:
            raise RnnForecastError(
                f"{path}: no id column '{quoted(id_col)}', needed to read it by chunks"
            )
        waiting = block if waiting is None else pd.concat([waiting, block])
        starts, heads = _series_starts(waiting[id_col], handed_out, path)
        while len(starts) > max(series, 1):  # whole series, and the next one has begun
            take = series or len(starts) - 1
            chunk, waiting = waiting.iloc[: starts[take]], waiting.iloc[starts[take] :]
            starts_taken, starts = starts[:take], starts[take:] - starts[take]
            handed_out.update(heads[:take])
            heads = heads[take:]
            part = prepare(chunk, cfg, path, model, notes, heads=starts_taken)
            yield part
            cfg = _pinned(cfg, part.schema)
            notes = []
    if waiting is not None:
        yield prepare(waiting, cfg, path, model, notes, heads=starts)


def _pinned(cfg: DataConfig, schema: Schema) -> DataConfig:
    """`cfg` with the columns, date format and frequency a first chunk settled, for the
    chunks after it: a later chunk's dates are read as the first's, or named as not fitting."""
    return dataclasses.replace(
        cfg,
        time_col=schema.time_col,
        target=schema.target,
        id_col=schema.id_col,
        freq=cfg.freq or schema.freq,
        date_format=cfg.date_format or schema.date_format,
    )


def _series_starts(
    ids: pd.Series, handed_out: set[str], path: Path
) -> tuple[np.ndarray, list[str]]:
    """Positions where each series' run of rows begins, and its id; a series that appears
    again after its run ended (in these rows, or in a chunk already handed out) cannot be
    read by chunks. Numpy compares the ids: pandas' string comparison is ~8x slower."""
    values = ids.to_numpy(dtype=object)
    starts = run_starts(values)
    if pd.isna(values[starts]).any():  # NaN != NaN: name them as str() does, equal, and again
        values = np.where(pd.isna(values), "nan", values)
        starts = run_starts(values)
    heads = [str(v) for v in values[starts]]
    again = pd.Series(heads).duplicated().to_numpy() | [h in handed_out for h in heads]
    if again.any():
        i = int(again.argmax())
        raise RnnForecastError(
            f"{path}: series '{quoted(heads[i])}' appears again at line "
            f"{ids.index[starts[i]] + 2}; to read by chunks the rows of each series must be "
            "together: sort the file by id, or "
            "pass --chunk-size 0 to read it whole"
        )
    return starts, heads
