"""CSV to one long frame (unique_id, ds, y): layout and column detection, frequency, validation.

Every error names the file and the column, line or series at fault and says what to do. Repairs
(sorting, filling under `--fill`) are reported back as notes, never done silently.
"""

from __future__ import annotations

import csv
import ctypes
import dataclasses
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnforecast.config import DataConfig
from rnnforecast.errors import RnnForecastError
from rnnforecast.windows import Panel

TIME_NAMES = ("ds", "date", "time", "timestamp", "datetime")
ID_NAME = "unique_id"
TARGET_NAME = "y"
KEY_COLUMNS = ("unique_id", "ds", "y", "_line")  # the long frame's own columns
_SNIFF_BYTES = 64 * 1024
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
    options, notes = _csv_options(path, cfg.id_col or ID_NAME, cfg.time_col)
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
        offsets=(np.cumsum(lengths) - lengths).astype(np.int64),
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
    options, notes = _csv_options(path, cfg.id_col or ID_NAME, cfg.time_col)
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
    frame["ds"] = _parse_times(frame["ds"], lines, path, time_col)
    frame["y"] = _parse_target(frame["y"], lines, targets, path)
    if cfg.transform == "log1p":
        _check_log1p(frame["y"], lines, targets, path)
    for name in cfg.covariates:
        frame[name] = _parse_covariate(frame[name], lines, name, path)
    frame, future = _split_future(frame, cfg, path)
    runs = heads if heads is not None and len(frame) == len(raw) else None  # rows all kept
    frame, freq, more = _regularise(frame, cfg, path, model, runs)
    schema = Schema(layout=layout, time_col=time_col, target=targets, id_col=id_col, freq=freq)
    notes = (notes or []) + more
    return Loaded(frame=frame, schema=schema, notes=tuple(notes), source=str(path), future=future)


def load_chunks(
    path: str | Path, cfg: DataConfig, series: int, model: str | None = None, rows: int = 500_000
) -> Iterator[Loaded]:
    """Yield a long file's series whole, about `series` at a time (0: every series complete
    in the rows read so far), reading `rows` lines at a time, so memory is bounded by the
    chunk and not by the file. The rows of each series must be together in the file (as
    `sort -t, -k1,1` or any export by series leaves them). The columns and frequency found
    in the first chunk hold for the others."""
    path = Path(path)
    options, notes = _csv_options(path, cfg.id_col or ID_NAME, cfg.time_col)
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
            raise RnnForecastError(f"{path}: no id column '{id_col}', needed to read it by chunks")
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


def _run_starts(ids: np.ndarray) -> np.ndarray:
    """Where each run of equal neighbouring ids begins (an empty id, NaN, equals nothing, so
    it always begins one)."""
    return np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))


def _pinned(cfg: DataConfig, schema: Schema) -> DataConfig:
    """`cfg` with the columns and frequency a first chunk settled, for the chunks after it."""
    return dataclasses.replace(
        cfg,
        time_col=schema.time_col,
        target=schema.target,
        id_col=schema.id_col,
        freq=cfg.freq or schema.freq,
    )


def _series_starts(
    ids: pd.Series, handed_out: set[str], path: Path
) -> tuple[np.ndarray, list[str]]:
    """Positions where each series' run of rows begins, and its id; a series that appears
    again after its run ended (in these rows, or in a chunk already handed out) cannot be
    read by chunks. Numpy compares the ids: pandas' string comparison is ~8x slower."""
    values = ids.to_numpy(dtype=object)
    starts = _run_starts(values)
    if pd.isna(values[starts]).any():  # NaN != NaN: name them as str() does, equal, and again
        values = np.where(pd.isna(values), "nan", values)
        starts = _run_starts(values)
    heads = [str(v) for v in values[starts]]
    again = pd.Series(heads).duplicated().to_numpy() | [h in handed_out for h in heads]
    if again.any():
        i = int(again.argmax())
        raise RnnForecastError(
            f"{path}: series '{heads[i]}' appears again at line {ids.index[starts[i]] + 2}; to "
            "read by chunks the rows of each series must be together: sort the file by id, or "
            "pass --chunk-size 0 to read it whole"
        )
    return starts, heads


def _csv_options(path: Path, id_col: str, time_col: str | None) -> tuple[dict, list[str]]:
    """pandas.read_csv options for this file: delimiter (, ; tab |), encoding (UTF-8, BOM,
    latin-1), the id column read as text, ISO dates parsed as they are read; and notes on
    what was guessed."""
    if not path.exists():
        raise RnnForecastError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise RnnForecastError(f"{path}: is a directory; give the path of a CSV file")
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError as e:
        raise RnnForecastError(f"{path}: cannot read ({e.strerror})") from None
    if not head.strip():
        raise RnnForecastError(f"{path}: the file is empty; it needs a header line and data rows")
    if b"\x00" in head:
        raise RnnForecastError(f"{path}: looks like a binary file, not CSV text; export it as CSV")
    notes = []
    try:
        head.decode("utf-8")
        encoding = "utf-8-sig"  # also strips a byte-order mark
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # not just a character cut at the end of the sample
            encoding = "latin-1"
            notes.append(f"{path}: not valid UTF-8; read as latin-1")
        else:
            encoding = "utf-8-sig"
    text = head.decode(encoding, errors="replace")
    sep = _sniff_delimiter(text)
    header, first = (list(csv.reader(text.splitlines()[:2], delimiter=sep)) + [[], []])[:2]
    # only where the sample has spaces after a delimiter: it costs the parser a quarter
    skip = f"{sep} " in text
    read_as = [c.lstrip() if skip else c for c in header]  # names as read_csv gives them
    ids = [c for c in read_as if c.strip() == id_col]
    options = {
        "sep": sep,
        "encoding": encoding,
        # ids as text, object dtype: pandas 3's str dtype reads a 10M-row file ~0.5 s slower
        "dtype": {ids[0]: object} if ids else None,
        "skipinitialspace": skip,
        "index_col": False,  # a row longer than the header must not become an index
    }
    at = _iso_time_column(header, first, id_col, time_col)
    if at is not None:
        options.update(parse_dates=[at], date_format="ISO8601")
    return options, notes


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
    result = _strict(path, lambda: pd.read_csv(path, chunksize=rows, **options))
    blocks = iter([result]) if rows is None else result
    first = True
    while (block := _strict(path, lambda: next(blocks, None))) is not None:
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
        detail = str(e).strip().splitlines()[-1]
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
    listed = ", ".join(columns)

    def need(name: str, flag: str) -> str:
        if name not in columns:
            why = f"the model {model} was trained on it" if model else flag
            raise RnnForecastError(f"{path}: no column '{name}' ({why}); columns are: {listed}")
        return name

    id_col = (
        need(cfg.id_col, "--id-col") if cfg.id_col else (ID_NAME if ID_NAME in columns else None)
    )
    if cfg.time_col:
        time_col = need(cfg.time_col, "--time-col")
    else:
        time_col = _detect_time(raw, [c for c in columns if c != id_col], path)
    rest = [c for c in columns if c not in (id_col, time_col, *cfg.covariates)]
    if cfg.target:
        targets = tuple(need(t, "--target") for t in cfg.target)
        clash = [t for t in targets if t in (id_col, time_col)]
        if clash:
            raise RnnForecastError(f"{path}: column '{clash[0]}' cannot be both target and key")
    elif TARGET_NAME in rest:
        targets = (TARGET_NAME,)
    else:
        numeric = [c for c in rest if _mostly_numeric(raw[c])]
        if len(numeric) != 1:
            found = "no numeric column" if not numeric else f"numeric columns {', '.join(numeric)}"
            raise RnnForecastError(
                f"{path}: cannot tell the target column ({found}); name it with --target "
                "(several comma-separated targets make one series each)"
            )
        targets = (numeric[0],)
    if id_col and len(targets) > 1:
        raise RnnForecastError(
            f"{path}: a long file (id column '{id_col}') takes one --target, got {len(targets)}"
        )
    for name in cfg.covariates:
        kind = "past" if name in (cfg.past_covariates or ()) else "future"
        need(name, f"--{kind}-covariates")
        if name in (id_col, time_col, *targets):
            raise RnnForecastError(
                f"{path}: column '{name}' cannot be both a covariate and the target, time or id"
            )
        if name in KEY_COLUMNS:
            raise RnnForecastError(
                f"{path}: covariate column '{name}' has a name used for the series' own "
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
            f"{path}: several time columns ({', '.join(named)}); choose one with --time-col"
        )
    parseable = [c for c in candidates if _looks_like_dates(raw[c])]
    if len(parseable) == 1:
        return parseable[0]
    if not parseable:
        raise RnnForecastError(
            f"{path}: no time column found (looked for {', '.join(TIME_NAMES)} or dates); "
            "name it with --time-col"
        )
    raise RnnForecastError(
        f"{path}: several columns look like dates ({', '.join(parseable)}); choose with --time-col"
    )


def _looks_like_dates(col: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(col):
        return True
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return False
    sample = col.dropna().astype(str).head(20)
    if sample.empty:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
        except ValueError:  # mixed time zones raise even when coercing: dates all the same
            parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().mean() >= 0.9)


def _mostly_numeric(col: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(col):
        return False
    if pd.api.types.is_numeric_dtype(col):
        return True
    sample = col.dropna().head(200)
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
        heads = _run_starts(ids) if heads is None else heads
        missing = pd.isna(ids[heads])
        if missing.any():
            at = int(line[heads[missing.argmax()]])
            raise RnnForecastError(
                f"{path}: id column '{id_col}': empty id at line {at}; fill it in"
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


def _parse_times(col: pd.Series, lines: np.ndarray, path: Path, name: str) -> pd.Series:
    """Timestamps from strings (or year numbers); names the first bad line."""
    empty = col.isna().to_numpy()
    if empty.any():
        raise RnnForecastError(
            f"{path}: column '{name}' is empty at line {lines[empty.argmax()]}; "
            "every row needs a time"
        )
    if pd.api.types.is_datetime64_any_dtype(col):
        return col
    if pd.api.types.is_numeric_dtype(col):
        values = col.to_numpy()
        years = np.isfinite(values).all() and np.all(np.mod(values, 1) == 0)
        if years and values.min() >= 1000 and values.max() <= 3000:
            return pd.to_datetime(col.astype(int).astype(str), format="%Y")
        raise RnnForecastError(
            f"{path}: column '{name}' holds numbers, not dates (line {lines[0]}: {values[0]}); "
            "use dates such as 2024-01-31, or whole years"
        )
    try:
        return _parse_iso(col)  # the common case, and the fast one
    except (ValueError, TypeError, OverflowError):
        pass
    text = col.astype(str).str.strip()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text)
    except (ValueError, TypeError, OverflowError) as e:
        zones = RnnForecastError(
            f"{path}: column '{name}' mixes time zones or offsets; convert to one zone"
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
                f"{path}: column '{name}': timestamps in inconsistent formats; use one format "
                "(ISO 8601, e.g. 2024-01-31 or 2024-01-31 13:00)"
            ) from None
        at = bad.argmax()
        raise RnnForecastError(
            f"{path}: column '{name}': '{text.iloc[at]}' at line {lines[at]} is not a date; "
            "fix or remove the row"
        ) from None
    if parsed.dtype == object:  # pandas 2 returns objects for mixed offsets
        raise RnnForecastError(
            f"{path}: column '{name}' mixes time zones or offsets; convert to one zone"
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
    col: pd.Series, lines: np.ndarray, targets: tuple[str, ...], path: Path
) -> pd.Series:
    """Float values; a non-number or an infinity names its line and column."""
    rows = len(col) // len(targets)  # several targets are stacked, one block each
    if pd.api.types.is_bool_dtype(col):
        raise RnnForecastError(
            f"{path}: target column '{targets[0]}' holds true/false, not numbers"
        )
    if pd.api.types.is_numeric_dtype(col):
        values = col.astype("float64")
    else:
        values = pd.to_numeric(col, errors="coerce")
        bad = (values.isna() & col.notna() & (col.astype(str).str.strip() != "")).to_numpy()
        if bad.any():
            at = bad.argmax()
            raise RnnForecastError(
                f"{path}: column '{targets[at // rows]}': '{col.iloc[at]}' at line {lines[at]} "
                "is not a number; fix or remove the row"
            )
        values = values.astype("float64")
    inf = np.isinf(values.to_numpy())
    if inf.any():
        at = inf.argmax()
        raise RnnForecastError(
            f"{path}: column '{targets[at // rows]}': {values.iloc[at]} at line {lines[at]}; "
            "replace infinities with real values or leave the cell empty and use --fill"
        )
    return values


def _check_log1p(values: pd.Series, lines: np.ndarray, targets: tuple[str, ...], path: Path):
    """log(1 + y) has no value for y <= -1: name the first such line rather than train on NaN."""
    bad = (values <= -1).to_numpy()
    if bad.any():
        at = np.flatnonzero(bad)[np.argmin(lines[bad])]
        rows = len(values) // len(targets)
        raise RnnForecastError(
            f"{path}: column '{targets[at // rows]}': {values.iloc[at]:g} at line {lines[at]} is "
            "-1 or less, and --transform log1p needs y > -1; use --transform none (or shift the "
            "series above -1)"
        )


def _parse_covariate(col: pd.Series, lines: np.ndarray, name: str, path: Path) -> pd.Series:
    """Float values of a covariate column, checked as the target's are; true/false flags
    become 1/0. Empty cells stay NaN here: only the rows a forecast uses must be filled."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype("float64")
    return _parse_target(col, lines, (name,), path)


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
            f"{path}: series '{future['unique_id'].iat[i]}' has duplicate future time "
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
):
    """Group rows by series in time order, reject duplicates, settle the frequency, and fill
    gaps/NaNs under cfg.fill. Already ordered files (the usual case) are not re-sorted.
    `heads`: where each run of ids begins in `frame`, if known."""
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
        raise RnnForecastError(
            f"{path}: series '{ids[i]}' has duplicate time {frame['ds'].iat[i]} "
            f"(lines {', '.join(map(str, lines))}); keep one row per time"
        )
    if cfg.freq:
        freq = normalize_freq(cfg.freq, frame["ds"])
    else:
        freq = _infer_freq(frame, same, path)
    frame, fill_notes = _fill(frame, freq, cfg.fill, path, model, same, step)
    notes.extend(fill_notes)
    return frame.drop(columns="_line").reset_index(drop=True), freq, notes


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
    except ValueError:
        raise RnnForecastError(_bad_freq(alias)) from None
    return result


def _start_or_end(family: str, ds: pd.Series | None) -> str:
    if ds is None or ds.empty:
        return "E"
    values = pd.DatetimeIndex(ds)
    is_start = {"M": values.is_month_start, "Q": values.is_quarter_start, "Y": values.is_year_start}
    return "S" if bool(np.all(is_start[family])) else "E"


def _bad_freq(alias: str) -> str:
    return f"unknown frequency '{alias}'; use a pandas alias such as D, W, MS, ME, QS, h or 30min"


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
            f"{path}: series '{uid}': time {ds.iat[i]} (line {frame['_line'].iat[i]}) is off the "
            f"'{freq}' grid or irregular; {fix}"
        )
    columns = [c for c in frame.columns if c not in ("unique_id", "ds", "_line")]  # y, covariates
    empty = frame[columns].isna().to_numpy()  # [N, 1 + C]
    nan = empty.any(axis=1)
    if fill == "none":
        if gap.any():
            i = int(gap.argmax())
            raise RnnForecastError(
                f"{path}: series '{frame['unique_id'].iat[i]}' has a gap after {ds.iat[i]} "
                f"(line {frame['_line'].iat[i]}; next is {ds.iat[i + 1]}, frequency {freq}); "
                "pass --fill ffill|interpolate|zero, or --freq if the frequency is wrong"
            )
        if nan.any():
            i = int(nan.argmax())
            name = columns[int(empty[i].argmax())]
            what = "an empty value" if name == "y" else f"an empty '{name}'"
            raise RnnForecastError(
                f"{path}: series '{frame['unique_id'].iat[i]}' has {what} at line "
                f"{frame['_line'].iat[i]}; fill it or pass --fill ffill|interpolate|zero"
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
        part["unique_id"] = uid
        for name in columns:
            part[name] = _fill_values(part[name], fill)
        if part[columns].isna().to_numpy().any():
            raise RnnForecastError(
                f"{path}: series '{uid}' starts with empty values that --fill {fill} cannot fill; "
                "remove the leading empty rows"
            )
        part["_line"] = part["_line"].fillna(-1).astype(int)
        repaired.append(part[frame.columns])
        notes.append(f"series '{uid}': filled {missing} missing value(s) with --fill {fill}")
    return pd.concat(repaired, ignore_index=True), notes


def _fill_values(y: pd.Series, fill: str) -> pd.Series:
    if fill == "ffill":
        return y.ffill()
    if fill == "zero":
        return y.fillna(0.0)
    return y.interpolate(method="linear", limit_area="inside")


def season_length(freq: str) -> int:
    """Steps per natural cycle: a year for monthly/quarterly/weekly, a week for daily, a day
    for hourly and finer (an hour for sub-5-minute data)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    base = offset.rule_code.split("-")[0]
    per_year = {"YS": 1, "YE": 1, "QS": 4, "QE": 4, "MS": 12, "ME": 12, "SMS": 24, "SME": 24,
                "W": 52, "D": 7, "B": 5}  # fmt: skip
    if base in per_year:
        return max(1, per_year[base] // max(offset.n, 1))
    try:
        step = pd.Timedelta(offset)
    except (ValueError, TypeError):  # business hours and other irregular steps
        return 1
    per_day = int(pd.Timedelta(days=1) / step)
    if per_day > 288:
        return max(1, int(pd.Timedelta(hours=1) / step))
    return max(1, per_day)


def default_horizon(freq: str, season: int) -> int:
    """M4-style horizons: 6 years, 8 quarters, 12 months, 13 weeks, 14 days, one day sub-daily."""
    base = pd.tseries.frequencies.to_offset(freq).rule_code.split("-")[0]
    by_base = {"YS": 6, "YE": 6, "QS": 8, "QE": 8, "MS": 12, "ME": 12, "W": 13, "D": 14, "B": 10}
    return by_base.get(base, season)
