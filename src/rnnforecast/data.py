"""CSV to one long frame (unique_id, ds, y): layout and column detection, frequency, validation.

Every error names the file and the column, line or series at fault and says what to do. Repairs
(sorting, filling under `--fill`) are reported back as notes, never done silently.
"""

from __future__ import annotations

import csv
import ctypes
import dataclasses
import gzip
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.errors import RnnForecastError, listed, quoted
from rnnforecast.panel import Panel, offsets_of, run_starts

TIME_NAMES = ("ds", "date", "time", "timestamp", "datetime")
ID_NAME = "unique_id"
TARGET_NAME = "y"
KEY_COLUMNS = ("unique_id", "ds", "y", "_line")  # the long frame's own columns
_SNIFF_BYTES = 64 * 1024
_HEADER_BYTES = 16 * 2**20  # a header line longer than this (~1M column names) is refused
_ISO_DATE = re.compile(r"\s*\d{4}-\d\d")  # how an ISO 8601 date begins: 2024-01
# rows read at a time when training loads a long file by chunks: read_csv holds ~50 bytes a
# row while parsing, so a whole 10M-row file peaks near 0.5 GB; 200k rows cost ~10 MB and
# parse as fast (measured in benchmarks/bench_scale.py)
CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class Schema:
    """Where the series are in a file, so predict can read fresher data the same way."""

    layout: str  # long (id column), single (one target) or wide (several targets)
    time_col: str
    target: tuple[str, ...]
    id_col: str | None
    freq: str  # a pandas offset alias, e.g. MS, QS-JAN, 30min
    # how the time column was parsed: ISO8601, a strftime format such as %d/%m/%Y, or None
    # (whole years, or a form pandas recognised by itself)
    date_format: str | None = None

    @property
    def dayfirst(self) -> bool | None:
        """Whether numeric dates read day first (None: the dates raise no such question)."""
        return {"%d": True, "%m": False}.get((self.date_format or "")[:2])


@dataclass(frozen=True)
class Loaded:
    """A validated long frame, sorted by unique_id then ds, and what was repaired on the way."""

    frame: pd.DataFrame  # unique_id: str, ds: datetime64, y: float64, then covariates: float64
    schema: Schema
    notes: tuple[str, ...]
    source: str  # the file it came from, for messages
    # with future covariates: the rows after each series' last observed y (unique_id, ds, the
    # future covariates), sorted; their values over the horizon are what predict needs
    future: pd.DataFrame | None = None


@dataclass(frozen=True)
class Compact:
    """Loaded series as arrays, without the frame: the values end to end (a Panel), each
    series' first and last timestamp; what training reads, at ~8 bytes a value instead of
    the frame's ~30 (ids, timestamps and line numbers per row)."""

    panel: Panel  # times only when asked for (calendar features read them)
    first: pd.DatetimeIndex  # [S]
    last: pd.DatetimeIndex  # [S]
    schema: Schema
    notes: tuple[str, ...]
    source: str
    future: pd.DataFrame | None = None  # as in Loaded


def compact(loaded: Loaded, covariates: tuple[str, ...] = (), times: bool = False) -> Compact:
    """A loaded frame as arrays (with every timestamp under `times`)."""
    panel = Panel.from_frame(loaded.frame, covariates)
    ds = pd.DatetimeIndex(loaded.frame["ds"])
    if not times:
        panel = dataclasses.replace(panel, times=None)
    return Compact(
        panel=panel,
        first=ds[panel.offsets],
        last=ds[panel.offsets + panel.lengths - 1],
        schema=loaded.schema,
        notes=loaded.notes,
        source=loaded.source,
        future=loaded.future,
    )


def load_compact(
    path: str | Path, cfg: DataConfig, times: bool = False, rows: int = CHUNK_ROWS
) -> Compact:
    """`load` then `compact`, reading a long file `rows` lines at a time so that neither the
    parser's text nor a frame of the whole file is ever held; the result is the same. A file
    whose series' rows are not together (or without an id column) is read whole, as is one
    a chunk finds fault with: the error the whole file gives is the one to report."""
    path = Path(path)
    options, notes = _csv_options(path, cfg.id_col or ID_NAME, cfg.time_col, cfg)
    cfg = _as_read(cfg, options)
    if options["dtype"]:  # an id column: a long file, read by chunks
        try:
            chunks = _chunks(path, cfg, options, notes, 0, None, rows)
            parts = [compact(part, cfg.covariates, times) for part in chunks]
            joined = _joined(parts)  # empties `parts` as it copies them
            _trim_heap()
            return joined
        except RnnForecastError:  # scattered series (a chunk's may have looked gappy), or bad
            pass  # data: the whole file says
    return compact(_whole(path, cfg, options, notes), cfg.covariates, times)


def _trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim; elsewhere
    nothing). Parsing 10M rows by chunks leaves ~35 MB free in the heap, which the large
    arrays made next (scaled inputs: fresh pages of their own) never reuse, so it would sit
    in the training process's peak."""
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


def load(path: str | Path, cfg: DataConfig, model: str | None = None) -> Loaded:
    """Read, detect columns, parse, validate and (under cfg.fill) repair one CSV file.

    `model` names the model directory whose settings `cfg` holds, when reading data for an
    existing model: errors then say the data does not match that model.
    """
    path = Path(path)
    options, notes = _csv_options(path, cfg.id_col or ID_NAME, cfg.time_col, cfg)
    cfg = _as_read(cfg, options)
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
    """The file read and prepared in one piece (`options` and `notes` from `_csv_options`)."""
    return prepare(next(_read(path, options)), cfg, path, model, notes)


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


def load_chunks(
    path: str | Path, cfg: DataConfig, series: int, model: str | None = None, rows: int = 500_000
) -> Iterator[Loaded]:
    """Yield a long file's series whole, about `series` at a time (0: every series complete
    in the rows read so far), reading `rows` lines at a time, so memory is bounded by the
    chunk and not by the file. The rows of each series must be together in the file (as
    `sort -t, -k1,1` or any export by series leaves them). The columns, date format (day or
    month first) and frequency found in the first chunk hold for the others."""
    path = Path(path)
    options, notes = _csv_options(path, cfg.id_col or ID_NAME, cfg.time_col, cfg)
    cfg = _as_read(cfg, options)
    yield from _chunks(path, cfg, options, notes, series, model, rows)


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
    """Refuse what cannot be read as a CSV file (stdin, a pipe, a directory, a ZIP archive or
    Excel workbook); return the compression ('gzip' or None), found by the file's magic."""
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


def _read(path: Path, options: dict, rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The whole file as one frame, or blocks of `rows` rows; the index is the row number."""
    # thousands separators are taken out by `_in_plain_marks`, which checks their grouping:
    # read_csv's `thousands` drops the mark wherever it is (190,09 -> 19009, 1,2 -> 12)
    given = {k: v for k, v in options.items() if k != "thousands"}
    result = _strict(path, lambda: pd.read_csv(path, chunksize=rows, **given))
    blocks = iter([result]) if rows is None else result
    first = True
    while (block := _strict(path, lambda: next(blocks, None))) is not None:
        if options.get("skiprows"):  # lines above the header count too
            block.index = block.index + options["skiprows"]
        block.columns = [str(c).strip() for c in block.columns]
        if first and block.empty:
            raise RnnForecastError(f"{path}: has a header but no data rows")
        if len(set(block.columns)) != len(block.columns):
            raise RnnForecastError(f"{path}: duplicate column names in the header; rename them")
        first = False
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
        at = bad.argmax()
        raise RnnForecastError(
            f"{path}: column '{quoted(name)}': '{quoted(text.iloc[at])}' at line {lines[at]} is "
            "not a date; fix or remove the row"
        ) from None
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
            f"{path}: column '{quoted(name)}': '{quoted(col.iloc[at])}' at line {lines[at]} is "
            "outside the dates that can be computed with (1677-09-22 to 2262-04-11); fix or "
            "remove the row"
        )
    return parsed


def _parse_iso(col: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(col, format="ISO8601")
    if parsed.dtype == object:  # mixed offsets: let the slow path explain
        raise ValueError("mixed time zones")
    return parsed


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


def _split_future(
    frame: pd.DataFrame, cfg: DataConfig, path: Path
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """With future covariates, the rows after a series' last observed y are its future rows:
    the covariates' known values for the coming steps, not data to train on or fill."""
    if not cfg.future_covariates:
        return frame, None
    columns = ["unique_id", "ds", *cfg.future_covariates]
    observed = frame["y"].notna().to_numpy()
    last = frame["ds"][observed].groupby(frame["unique_id"][observed]).max()
    after = (frame["ds"] > frame["unique_id"].map(last)).to_numpy()  # no y at all: NaT, False
    if not after.any():
        return frame, frame[columns].iloc[:0].reset_index(drop=True)
    future = frame[after].sort_values(["unique_id", "ds"], kind="stable")
    dup = future.duplicated(["unique_id", "ds"], keep=False).to_numpy()
    if dup.any():
        i = int(dup.argmax())
        raise RnnForecastError(
            f"{path}: series '{quoted(future['unique_id'].iat[i])}' has duplicate future time "
            f"{future['ds'].iat[i]} (lines {', '.join(map(str, future['_line'][dup][:2]))}); "
            "keep one row per time"
        )
    return frame[~after].reset_index(drop=True), future[columns].reset_index(drop=True)


def _regularise(
    frame: pd.DataFrame,
    cfg: DataConfig,
    path: Path,
    model: str | None,
    heads: np.ndarray | None = None,
    id_hint: Callable[[], str] | None = None,
):
    """Group rows by series in time order, reject duplicates, settle the frequency, and fill
    gaps/NaNs under cfg.fill. Already ordered files (the usual case) are not re-sorted.
    `heads`: where each run of ids begins in `frame`, if known; `id_hint`: the advice for
    duplicate times when a column would tell the series apart ('' if none would)."""
    notes: list[str] = []
    ids, same, step = _neighbours(frame, heads)
    back_in_time = bool((same & (step < 0)).any())
    if back_in_time or not _grouped(ids, same):
        if back_in_time:
            notes.append(f"{path}: rows were not in time order; sorted them by time")
        frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        ids, same, step = _neighbours(frame)
    dup = same & (step == 0)
    if dup.any():
        i = int(dup.argmax())
        lines = frame["_line"].to_numpy()[i : i + 2].tolist()
        hint = id_hint() if id_hint else ""
        raise RnnForecastError(
            f"{path}: series '{quoted(ids[i])}' has duplicate time {frame['ds'].iat[i]} "
            f"(lines {', '.join(map(str, lines))}); {hint or 'keep one row per time'}"
        )
    if cfg.freq:
        freq = normalize_freq(cfg.freq, frame["ds"])
    else:
        freq = _infer_freq(frame, same, path)
    frame, fill_notes = _fill(frame, freq, cfg.fill, path, model, same, step)
    notes.extend(fill_notes)
    return frame.drop(columns="_line").reset_index(drop=True), freq, notes


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


def _grouped(ids: np.ndarray, same: np.ndarray) -> bool:
    """Whether each series' rows are together: true at once when the runs come in sorted id
    order (the usual export), else when there are as many runs as distinct ids."""
    heads = ids[np.concatenate([[0], np.flatnonzero(~same) + 1])]
    return bool((heads[1:] > heads[:-1]).all()) or len(heads) == len(pd.unique(ids))


def _neighbours(
    frame: pd.DataFrame, heads: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Series ids, whether each row's successor is of the same series, and the time step to
    it (in the unit of `ds`): the facts ordering, duplicate and gap checks need, in a few
    vector ops. Where the runs of ids begin (`heads`) tells the second without comparing
    the ids again, ~10 ns a row."""
    ids = frame["unique_id"].to_numpy()
    times = pd.DatetimeIndex(frame["ds"]).asi8
    if heads is None:
        same = ids[1:] == ids[:-1]
    else:
        same = np.ones(max(len(ids) - 1, 0), dtype=bool)
        same[heads[1:] - 1] = False
    return ids, same, np.diff(times)


def _infer_freq(frame: pd.DataFrame, same: np.ndarray, path: Path) -> str:
    """The frequency of the longest series (the others are checked against it later)."""
    starts = np.concatenate([[0], np.flatnonzero(~same) + 1])
    lengths = np.diff(np.concatenate([starts, [len(frame)]]))
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
    return getattr(found, "freqstr", found)


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


def _fill(
    frame: pd.DataFrame,
    freq: str,
    fill: str,
    path: Path,
    model: str | None,
    same: np.ndarray,
    step: np.ndarray,
) -> tuple[pd.DataFrame, list[str]]:
    """Check every series steps by `freq` (`same[i]`: row i+1 is of row i's series, `step[i]`
    the time from row i to it, as `_neighbours` gives them); fill gaps and NaNs under `fill`,
    or raise."""
    offset = pd.tseries.frequencies.to_offset(freq)
    ds = frame["ds"]
    if isinstance(offset, pd.offsets.Tick):  # fixed steps: compare each step with the offset
        expected = pd.Timedelta(offset) / pd.Timedelta(1, unit=pd.DatetimeIndex(ds).unit)
        gap = np.append(same & (step > expected), False)
        off = np.append(same & (step < expected), False)
    else:  # calendar steps (months, quarters, weeks...): pandas' offset arithmetic
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-vectorised offsets warn about performance
            expected = pd.DatetimeIndex(ds + offset).as_unit("ns").asi8
            on_grid = np.asarray((ds + offset) - offset == ds)
        following = np.append(pd.DatetimeIndex(ds).as_unit("ns").asi8[1:], 0)
        next_same = np.append(same, False)
        gap = next_same & (following > expected)
        off = ~on_grid | (next_same & (following < expected))
    if off.any():
        i = int(off.argmax())
        uid = frame["unique_id"].iat[i]
        fix = (
            f"the model {model} forecasts at frequency '{freq}'; give data at that frequency"
            if model
            else "pass the right --freq or resample the data"
        )
        raise RnnForecastError(
            f"{path}: series '{quoted(uid)}': time {ds.iat[i]} (line {frame['_line'].iat[i]}) is "
            f"off the '{freq}' grid or irregular; {fix}"
        )
    columns = [c for c in frame.columns if c not in ("unique_id", "ds", "_line")]  # y, covariates
    empty = frame[columns].isna().to_numpy()  # [N, 1 + C]
    nan = empty.any(axis=1)
    if fill == "none":
        if gap.any():
            i = int(gap.argmax())
            invented, grid = _to_fill(frame, i, offset, nan)
            advice = (
                "pass --fill ffill|interpolate|zero, or --freq if the frequency is wrong"
                if invented <= MAX_FILL_SHARE * grid
                else _misread(invented, grid, freq, "filling it")
            )
            raise RnnForecastError(
                f"{path}: series '{quoted(frame['unique_id'].iat[i])}' has a gap after "
                f"{ds.iat[i]} (line {frame['_line'].iat[i]}; next is {ds.iat[i + 1]}, frequency "
                f"{freq}); {advice}"
            )
        if nan.any():
            i = int(nan.argmax())
            name = columns[int(empty[i].argmax())]
            what = "an empty value" if name == "y" else f"an empty '{quoted(name)}'"
            invented, grid = _to_fill(frame, i, offset, nan)
            advice = (
                "fill it or pass --fill ffill|interpolate|zero"
                if invented <= MAX_FILL_SHARE * grid
                else f"{invented:,} of its {grid:,} rows are empty, too many to fill; fill them "
                "in the data, or leave the series out"
            )
            raise RnnForecastError(
                f"{path}: series '{quoted(frame['unique_id'].iat[i])}' has {what} at line "
                f"{frame['_line'].iat[i]}; {advice}"
            )
        return frame, []
    if not gap.any() and not nan.any():
        return frame, []
    notes = []
    repaired = []
    gappy = set(frame["unique_id"][gap | nan])
    for uid, part in frame.groupby("unique_id", sort=False):
        if uid not in gappy:
            repaired.append(part)
            continue
        full = pd.date_range(part["ds"].iat[0], part["ds"].iat[-1], freq=offset)
        part = part.set_index("ds").reindex(full).rename_axis("ds").reset_index()
        missing = int(part[columns].isna().to_numpy().sum())
        invented = int(part[columns].isna().any(axis=1).sum())
        if invented > MAX_FILL_SHARE * len(part):
            raise RnnForecastError(
                f"{path}: series '{quoted(uid)}': --fill {fill} refused: "
                + _misread(invented, len(part), freq, "it")
            )
        part["unique_id"] = uid
        for name in columns:
            part[name] = _fill_values(part[name], fill)
        if part[columns].isna().to_numpy().any():
            raise RnnForecastError(
                f"{path}: series '{quoted(uid)}' starts with empty values that --fill {fill} "
                "cannot fill; remove the leading empty rows"
            )
        part["_line"] = part["_line"].fillna(-1).astype(int)
        repaired.append(part[frame.columns])
        notes.append(
            f"series '{quoted(uid)}': filled {missing} missing value(s) with --fill {fill}"
        )
    return pd.concat(repaired, ignore_index=True), notes


# the most of a series' points a fill may invent: beyond it the data is not this series with
# a few holes but a misread one (day-first dates read month-first, a wrong --freq)
MAX_FILL_SHARE = 0.2


def _to_fill(frame: pd.DataFrame, i: int, offset: Any, empty: np.ndarray) -> tuple[int, int]:
    """(points a fill would invent, points on the grid) for the series of row i: the grid's
    missing timestamps plus its rows with an empty value."""
    rows = (frame["unique_id"] == frame["unique_id"].iat[i]).to_numpy()
    ds = pd.DatetimeIndex(frame["ds"][rows])
    first, last = ds.min(), ds.max()
    if isinstance(offset, pd.offsets.Tick):  # arithmetic: a misread grid may be huge
        grid = int((last - first) // pd.Timedelta(offset)) + 1
    else:
        grid = len(pd.date_range(first, last, freq=offset))
    return grid - int(rows.sum()) + int(empty[rows].sum()), max(grid, 1)


def _misread(invented: int, grid: int, freq: str, what: str) -> str:
    return (
        f"{what} would invent {invented:,} of the series' {grid:,} points at frequency "
        f"{freq} ({invented / grid:.0%}, over {MAX_FILL_SHARE:.0%}), so the dates or the "
        "frequency are likely misread; check the dates (--dayfirst, --date-format) and --freq"
    )


def _fill_values(y: pd.Series, fill: str) -> pd.Series:
    if fill == "ffill":
        return y.ffill()
    if fill == "zero":
        return y.fillna(0.0)
    return y.interpolate(method="linear", limit_area="inside")
