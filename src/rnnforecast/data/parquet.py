"""Parquet files to the raw frames the CSV reader gives (index: the row number; ids as text),
whole or by batches of rows, so column detection and validation apply unchanged. pyarrow is
optional (the `parquet` extra) and imported only when a Parquet file is read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.errors import RnnForecastError, quoted

MAGIC = b"PAR1"  # a Parquet file begins (and ends) with these bytes
EXTRA = "pip install 'rnnforecast[parquet]'"


def pyarrow_parquet(path: Path, doing: str = "reading") -> ModuleType:
    """pyarrow.parquet, or the one-line error naming the extra that installs it."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise RnnForecastError(f"{doing} {path} needs pyarrow: {EXTRA}") from None
    return pq


def parquet_options(path: Path, id_col: str, cfg: DataConfig) -> dict:
    """What `_read` needs to read this file: the id column (read as text, like the CSV
    reader's; a long file is read by chunks) and the number marks given, for text columns."""
    pq = pyarrow_parquet(path)
    try:
        names = pq.read_schema(path).names
    except Exception as e:  # pyarrow's ArrowInvalid, OSError: a damaged or foreign file
        raise _unreadable(path, e) from None
    ids = [c for c in names if c.strip() == id_col]
    return {
        "format": "parquet",
        "dtype": {ids[0]: object} if ids else None,
        "decimal": cfg.decimal or ".",
        "thousands": cfg.thousands,
    }


def parquet_blocks(path: Path, options: dict, rows: int | None) -> Iterator[pd.DataFrame]:
    """The file as one frame, or batches of `rows` rows (pyarrow reads a row group at a time,
    so memory is bounded by a row group and a batch, not by the file)."""
    pq = pyarrow_parquet(path)
    start = 0
    try:
        file = pq.ParquetFile(path)
        batches = iter([file.read()]) if rows is None else file.iter_batches(batch_size=rows)
        for batch in batches:
            frame = _frame(batch, options, start)
            start += len(frame)
            yield frame
        if start == 0 and rows is not None:  # no rows at all: the columns alone
            yield _frame(file.schema_arrow.empty_table(), options, 0)
    except RnnForecastError:
        raise
    except Exception as e:  # pyarrow's ArrowInvalid, OSError: a damaged or foreign file
        raise _unreadable(path, e) from None


def _frame(batch, options: dict, start: int) -> pd.DataFrame:
    """A pyarrow table or batch as the CSV reader's frame: timestamps in nanoseconds, dates
    as timestamps, the id column as text."""
    frame = batch.to_pandas(date_as_object=False, coerce_temporal_nanoseconds=True)
    frame.index = pd.RangeIndex(start, start + len(frame))
    for name in options["dtype"] or {}:
        ids = frame[name]
        if ids.dtype != object:  # numbers or categories: their text, as a CSV holds them
            frame[name] = ids.astype(object).where(ids.isna(), ids.astype(str))
    return frame


def _unreadable(path: Path, e: Exception) -> RnnForecastError:
    detail = quoted((str(e).strip().splitlines() or [type(e).__name__])[0], 120)
    return RnnForecastError(
        f"{path}: cannot read it as Parquet ({detail}); check that the file is whole, or "
        "export it again"
    )
