"""Forecast files: CSV at the precision the model computes in, Parquet, and where predict's
forecasts go (atomically to --out, or held back for stdout until the last chunk is read).
Only ever replacing a file predict wrote: a forecast CSV's header, or a Parquet file's mark."""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import numpy as np
import pandas as pd

from rnnforecast import __version__, fsutil
from rnnforecast.data.parquet import pyarrow_parquet

# the first line of every forecast CSV predict writes: what it may replace without --force
HEADER = re.compile(r"unique_id,ds,y_hat(,y_hat_(lo|hi)_\d+)*")
SPOOL_BYTES = 16 << 20  # a forecast streamed in chunks is held back up to this, then on disk


def to_csv(frame: pd.DataFrame, dates: bool, header: bool = True) -> str:
    """Forecast CSV text (ISO times, or dates alone; numbers at the precision the model
    computes them in, `float32_text`); the same frame gives the same bytes."""
    ds = frame["ds"].dt.strftime("%Y-%m-%d") if dates else frame["ds"].astype(str)
    numbers = {c: float32_text(frame[c].to_numpy()) for c in frame.select_dtypes("floating")}
    return frame.assign(ds=ds, **numbers).to_csv(index=False, header=header, lineterminator="\n")


def float32_text(values: np.ndarray) -> np.ndarray:
    """Each value as the shortest decimal that reads back as its float32, written out
    positionally (443.535, not the float64 443.53499877716763 nor 4.43535e+02); NaN empty.
    Vectorised: numpy writes a float32's shortest digits, in scientific notation from 1e6
    (and below 1e-4), and a float64 of those same digits positionally from 1e-4 to 1e16;
    only values beyond those are formatted one by one. A value beyond float32's normal range
    (data at 1e-140 or 1e140 is forecast in float64 units) keeps its float64 repr."""
    with np.errstate(over="ignore"):
        x = values.astype(np.float32)
    text = x.astype(str)
    sci = np.flatnonzero(np.char.find(text, "e") >= 0)
    text = text.astype(object)
    if len(sci):
        wide = text[sci].astype(np.float64).astype(str)
        text[sci] = [
            str(w) if "e" not in w else np.format_float_positional(v, unique=True, trim="0")
            for w, v in zip(wide, x[sci], strict=True)
        ]
    normal = np.isfinite(x) & (np.abs(x) >= np.finfo(np.float32).tiny)
    beyond = np.isfinite(values) & (values != 0) & ~normal
    text[beyond] = [repr(float(v)) for v in values[beyond]]
    text[np.isnan(x)] = ""
    return text


# the key of the metadata every forecast Parquet file predict writes carries (in its footer,
# where fsutil looks for it): what `--out x.parquet` may replace without --force
PARQUET_MARK = b"rnnforecast.forecast"


def is_parquet(out: str | Path) -> bool:
    """Whether forecasts to `out` are written as Parquet (by its suffix) rather than CSV."""
    return Path(out).suffix.lower() in (".parquet", ".pq")


@contextlib.contextmanager
def parquet_sink(f: BinaryIO, path: Path, dates: bool) -> Iterator[Callable[[pd.DataFrame], None]]:
    """A function that appends forecast frames to `f` as one Parquet file (a row group each,
    so a chunked predict holds one chunk): the columns of the CSV, ds as dates or timestamps
    as the CSV writes them, and PARQUET_MARK in the metadata. The footer is written as the
    block ends."""
    import pyarrow as pa

    pq = pyarrow_parquet(path, "writing")
    writer = None

    def write(frame: pd.DataFrame) -> None:
        nonlocal writer
        if dates:
            frame = frame.assign(ds=frame["ds"].dt.date)
        if writer is None:
            ds = pa.date32() if dates else pa.Array.from_pandas(frame["ds"]).type
            fields = [("unique_id", pa.string()), ("ds", ds)]
            fields += [(c, pa.float64()) for c in frame.columns[2:]]
            schema = pa.schema(fields, metadata={PARQUET_MARK: __version__.encode()})
            writer = pq.ParquetWriter(f, schema)
        writer.write_table(pa.Table.from_pandas(frame, schema=writer.schema, preserve_index=False))

    try:
        yield write
    finally:
        if writer is not None:
            writer.close()


def mark(out: str | Path) -> fsutil.Mark:
    """What a forecast file predict wrote bears, so that --out may replace it; for Parquet,
    pyarrow is checked for first, before any work."""
    if is_parquet(out):
        pyarrow_parquet(Path(out), "writing")
        return PARQUET_MARK
    return HEADER


def sink(
    stack: contextlib.ExitStack,
    out: str | Path | None,
    stream: TextIO | None,
    force: bool,
    dates: bool,
) -> tuple[Callable[[pd.DataFrame, bool], None] | None, Any]:
    """Where predict's forecasts go, entered on `stack`: a function of (a chunk's forecasts,
    whether it is the first) that writes them, and the spooled text for `stream` (None when
    they go to `out`: CSV, or Parquet by its suffix, written atomically; or nowhere)."""
    if out is not None and is_parquet(out):
        f = stack.enter_context(fsutil.atomic_binary(out, PARQUET_MARK, force))
        append = stack.enter_context(parquet_sink(f, Path(out), dates))
        return lambda frame, first: append(frame), None
    if out is not None:
        text = stack.enter_context(fsutil.atomic_open(out, HEADER, force))
    elif stream is not None:  # held back, then written at once (fsutil.deliver)
        text = stack.enter_context(
            tempfile.SpooledTemporaryFile(SPOOL_BYTES, "w+", encoding="utf-8", newline="")
        )
    else:
        return None, None
    return lambda frame, first: text.write(to_csv(frame, dates, header=first)), text
