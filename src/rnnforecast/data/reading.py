"""Files to raw frames: the file checked; for CSV text, its encoding, delimiter, number marks
and header sniffed, and pandas.read_csv run with them, whole or by blocks of rows (Parquet:
`parquet`)."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.data.columns import TIME_NAMES
from rnnforecast.data.numbers import _number_marks
from rnnforecast.data.parquet import MAGIC as PARQUET_MAGIC
from rnnforecast.data.parquet import parquet_blocks, parquet_options
from rnnforecast.errors import RnnForecastError, quoted

_SNIFF_BYTES = 64 * 1024
_HEADER_BYTES = 16 * 2**20  # a header line longer than this (~1M column names) is refused
_ISO_DATE = re.compile(r"\s*\d{4}-\d\d")  # how an ISO 8601 date begins: 2024-01


def _csv_options(
    path: Path, id_col: str, time_col: str | None, cfg: DataConfig | None = None
) -> tuple[dict, list[str]]:
    """pandas.read_csv options for this file: compression (gzip), delimiter (, ; tab |),
    encoding (UTF-8, BOM, UTF-16, latin-1), the id column read as text with every value an id
    (NA and None are ids, not missing), the decimal mark and thousands separator, ISO dates
    parsed as they are read; and notes on what was guessed."""
    cfg = cfg or DataConfig()
    compression = _check_source(path)
    head = _head(path, compression)
    notes = []
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"  # Excel's "Unicode text": its byte-order mark says so
    elif b"\x00" in head:
        raise RnnForecastError(f"{path}: looks like a binary file, not CSV text; export it as CSV")
    else:
        try:
            head.decode("utf-8")
            encoding = "utf-8-sig"  # also strips a byte-order mark
        except UnicodeDecodeError as e:
            if e.start < len(head) - 3:  # not just a character cut at the end of the sample
                encoding = "latin-1"
                notes.append(f"{path}: not valid UTF-8; read as latin-1")
            else:
                encoding = "utf-8-sig"
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise RnnForecastError(f"{path}: the file is empty; it needs a header line and data rows")
    said = re.fullmatch(r"sep=(.)", text[:10].split("\n", 1)[0].strip())  # Excel's first line
    if said:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    sep = said.group(1) if said else _sniff_delimiter(text[:_SNIFF_BYTES])
    header, first = (list(csv.reader(text.splitlines()[:2], delimiter=sep)) + [[], []])[:2]
    _check_header(header, path)
    # only where the sample has spaces after a delimiter: it costs the parser a quarter
    skip = f"{sep} " in text[:_SNIFF_BYTES]
    read_as = [c.lstrip() if skip else c for c in header]  # names as read_csv gives them
    ids = [i for i, c in enumerate(read_as) if c.strip() == id_col]
    options: dict[str, Any] = {
        "sep": sep,
        "encoding": encoding,
        "compression": compression,
        # ids as text, object dtype: pandas 3's str dtype reads a 10M-row file ~0.5 s slower
        "dtype": {read_as[ids[0]]: object} if ids else None,
        "skipinitialspace": skip,
        "index_col": False,  # a row longer than the header must not become an index
        "skiprows": 1 if said else None,
    }
    if ids:  # pandas' missing markers (NA, None, null, n/a...) hold for every column but ids
        na = dict.fromkeys(range(len(read_as)), _NA_VALUES) | {ids[0]: [""]}
        options.update(keep_default_na=False, na_values=na)
    decimal, thousands, found = _number_marks(text[:_SNIFF_BYTES], sep, cfg, path)
    notes.extend(found)
    if decimal != ".":
        options["decimal"] = decimal
    if thousands:
        options["thousands"] = thousands
    at = _iso_time_column(header, first, id_col, time_col)
    if at is not None and cfg.date_format is None:
        options.update(parse_dates=[at], date_format="ISO8601")
    return options, notes


def _as_read(cfg: DataConfig, options: dict) -> DataConfig:
    """`cfg` with the number marks the file is read with (given or detected), so that text
    a column holds is checked as the reader read its numbers."""
    return dataclasses.replace(
        cfg, decimal=options.get("decimal", "."), thousands=options.get("thousands")
    )


# pandas' default missing-value markers (read_csv's na_values docs), kept for all but ids
_NA_VALUES = (
    "|#N/A|#N/A N/A|#NA|-1.#IND|-1.#QNAN|-NaN|-nan|1.#IND|1.#QNAN|<NA>|N/A|NA|NULL|NaN|None|n/a|"
    "nan|null"
).split("|")
_GZIP, _ZIP = b"\x1f\x8b", b"PK\x03\x04"


def _check_source(path: Path) -> str | None:
    """Refuse what cannot be read as a CSV or Parquet file (stdin, a pipe, a directory, a ZIP
    archive or Excel workbook); return how it is stored ('gzip', 'parquet' or None: plain
    text), found by the file's magic."""
    if str(path) == "-":
        raise RnnForecastError(
            "-: reading data from standard input is not supported; save the data to a file "
            "and give its path"
        )
    if not path.exists():
        raise RnnForecastError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise RnnForecastError(f"{path}: is a directory; give the path of a CSV file")
    if not path.is_file():  # a FIFO or device (/dev/stdin) cannot be read twice, as we do
        raise RnnForecastError(
            f"{path}: is not a regular file (a pipe or device); save the data to a file and "
            "give its path"
        )
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise RnnForecastError(f"{path}: cannot read ({e.strerror})") from None
    if magic.startswith(_ZIP):
        raise RnnForecastError(
            f"{path}: is a ZIP archive or an Excel workbook, not CSV text; export or unzip it "
            "as CSV"
        )
    if magic == PARQUET_MAGIC:
        return "parquet"
    return "gzip" if magic.startswith(_GZIP) else None


def _head(path: Path, compression: str | None) -> bytes:
    """The file's first bytes, decompressed: at least the sample the delimiter is sniffed
    from, and the whole header line (up to _HEADER_BYTES)."""
    opener = gzip.open if compression else open
    try:
        with opener(path, "rb") as f:
            head = bytearray(f.read(_SNIFF_BYTES))
            more = head
            while not _ends_line(more) and len(head) < _HEADER_BYTES:
                more = f.read(_SNIFF_BYTES)
                if not more:
                    break
                head += more
    except OSError as e:  # gzip.BadGzipFile included
        raise RnnForecastError(f"{path}: cannot read ({e.strerror or e})") from None
    except EOFError:
        raise RnnForecastError(f"{path}: the gzip file is cut short; compress it again") from None
    if not _ends_line(head) and len(head) >= _HEADER_BYTES:
        raise RnnForecastError(
            f"{path}: the header line is longer than {_HEADER_BYTES >> 20} MB; is this a CSV file?"
        )
    return bytes(head)


def _ends_line(data: bytes | bytearray) -> bool:
    return b"\n" in data or b"\r" in data


def _check_header(header: list[str], path: Path) -> None:
    """Column names must tell the columns apart: pandas would rename a second 'y' 'y.1'."""
    names = [c.strip() for c in header if c.strip()]  # empty ones pandas names Unnamed: N
    twice = [c for c, n in pd.Series(names).value_counts().items() if n > 1]
    if twice:
        raise RnnForecastError(
            f"{path}: duplicate column name '{quoted(twice[0])}' in the header"
            f"{f' (and {len(twice) - 1:,} more)' if len(twice) > 1 else ''}; rename them"
        )


def _iso_time_column(
    header: list[str], first: list[str], id_col: str, time_col: str | None
) -> int | None:
    """Where the time column is, when the header alone names it (as `detect_columns` would
    find it) and its first value is an ISO date. read_csv then parses it block by block as it
    reads, several times faster than parsing the strings afterwards, and never holds them all.
    It parses exactly as `_parse_times` does (format ISO8601); a column it cannot parse stays
    text, for `_parse_times` to explain, and anything else (numbers, years) is left to it."""
    names = [c.strip() for c in header]
    if time_col:
        named = [i for i, c in enumerate(names) if c == time_col]
    else:
        named = [i for i, c in enumerate(names) if c != id_col and c.lower() in TIME_NAMES]
    if len(named) != 1 or named[0] >= len(first):
        return None
    return named[0] if _ISO_DATE.match(first[named[0]]) else None


def read_options(
    path: Path, id_col: str, time_col: str | None, cfg: DataConfig
) -> tuple[dict, list[str]]:
    """How to read this file, and notes on what was guessed: a Parquet file (by its first
    bytes) is read by pyarrow, anything else as CSV (`_csv_options`)."""
    if _check_source(path) == "parquet":
        return parquet_options(path, id_col, cfg), []
    return _csv_options(path, id_col, time_col, cfg)


def _read(path: Path, options: dict, rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The whole file as one frame, or blocks of `rows` rows; the index is the row number."""
    if options.get("format") == "parquet":
        blocks = parquet_blocks(path, options, rows)
    else:
        blocks = _csv_blocks(path, options, rows)
    first = True
    for block in blocks:
        block.columns = [str(c).strip() for c in block.columns]
        if first and block.empty:
            what = "columns" if options.get("format") == "parquet" else "a header"
            raise RnnForecastError(f"{path}: has {what} but no data rows")
        if len(set(block.columns)) != len(block.columns):
            raise RnnForecastError(f"{path}: duplicate column names in the header; rename them")
        first = False
        yield block


def _csv_blocks(path: Path, options: dict, rows: int | None) -> Iterator[pd.DataFrame]:
    """pandas.read_csv's frame, or its blocks of `rows` rows, with `options`."""
    # thousands separators are taken out by `_in_plain_marks`, which checks their grouping:
    # read_csv's `thousands` drops the mark wherever it is (190,09 -> 19009, 1,2 -> 12)
    given = {k: v for k, v in options.items() if k != "thousands"}
    result = _strict(path, lambda: pd.read_csv(path, chunksize=rows, **given))
    blocks = iter([result]) if rows is None else result
    while (block := _strict(path, lambda: next(blocks, None))) is not None:
        if options.get("skiprows"):  # lines above the header count too
            block.index = block.index + options["skiprows"]
        yield block


def _strict(path: Path, read: Callable[[], Any]) -> Any:
    """Run one pandas read, turning its parse errors into one-line messages."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return read()
    except pd.errors.ParserWarning:
        raise RnnForecastError(
            f"{path}: rows have more fields than the header; fix the ragged rows"
        ) from None
    except pd.errors.EmptyDataError:
        raise RnnForecastError(f"{path}: no columns found; it needs a header line") from None
    except pd.errors.ParserError as e:
        detail = quoted((str(e).strip().splitlines() or [""])[-1], 120)
        raise RnnForecastError(f"{path}: malformed CSV ({detail}); fix the ragged row") from None
    except UnicodeDecodeError:
        raise RnnForecastError(f"{path}: cannot decode the text; save it as UTF-8") from None


def _sniff_delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","
