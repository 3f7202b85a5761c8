"""The model directory: everything needed to rebuild and re-run a model, and nothing executable.

    config.yaml          effective settings (yaml.safe_load only)
    weights.safetensors  tensors, no pickle
    series.json          per-series scaler statistics (of the covariates too) and time span
    tail.csv             the last `lookback` rows of each series (with covariates), so predict
                         needs no data
    history.csv          one row per epoch
    metrics.json         validation metrics of the model and the baselines
    intervals.json       prediction-interval calibration (absent in older model directories)
    manifest.json        format version, tool version, creation time, SHA-256 of every file

The directory is written beside its target and renamed into place (fsutil.staged_dir), and the
manifest is checked on load, so a truncated, edited or foreign directory is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import re
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnforecast import __version__, baselines
from rnnforecast.config import GATES, Config, parse_yaml
from rnnforecast.errors import RnnForecastError, listed, quoted
from rnnforecast.features import Scaling, calendar_names
from rnnforecast.fsutil import MODEL_DIR, READ_FLAGS, staged_dir, write_new
from rnnforecast.panel import Panel, ranges, run_starts
from rnnforecast.transforms import LOST

# 2: model.skip and model.calendar (format 1 models had neither); 3: data.past_covariates and
# data.future_covariates (older models have none: the defaults read them right); 4: window.pad
FORMAT_VERSION = 4
MANIFEST = "manifest.json"
READ_ATTEMPTS = 5  # a directory swapped in while we read is read again


@dataclass(frozen=True)
class Artifact:
    """A trained model: in memory after training (path None), or loaded from its directory."""

    config: Config
    weights: dict[str, np.ndarray]
    series: dict[str, list]  # unique_id, loc, scale, first_ds, last_ds, length
    tail: pd.DataFrame  # unique_id, ds, y
    history: pd.DataFrame  # one row per epoch
    metrics: dict[str, Any]
    intervals: dict[str, Any] | None = None  # calibration for prediction intervals
    path: Path | None = None
    manifest: dict[str, Any] | None = None


def save(art: Artifact, out: str | Path, force: bool = False) -> Artifact:
    """Write a complete model directory at `out`, atomically replacing an old one; what is at
    `out` must be a model directory holding only its own files, or nothing (fsutil.MODEL_DIR),
    unless `force`."""
    from safetensors.numpy import save as st_save

    weights = {k: np.ascontiguousarray(v) for k, v in art.weights.items()}
    files = {
        "config.yaml": art.config.to_yaml().encode(),
        "weights.safetensors": st_save(weights),
        "series.json": _json(art.series),
        "tail.csv": art.tail.to_csv(index=False).encode(),
        "history.csv": art.history.to_csv(index=False).encode(),
        "metrics.json": _json(art.metrics),
    }
    if art.intervals is not None:
        files["intervals.json"] = _json(art.intervals)
    manifest = {
        "format": "rnnforecast-model",
        "format_version": FORMAT_VERSION,
        "rnnforecast_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    out = Path(out)
    with staged_dir(out, MODEL_DIR, force) as tmp:
        for name, data in files.items():
            write_new(tmp, name, data)
        write_new(tmp, MANIFEST, _json(manifest))
    return dataclasses.replace(art, path=out, manifest=manifest)


def load(path: str | Path) -> Artifact:
    """Read and verify a model directory; never unpickles and never runs code from it.

    The manifest proves that the files belong together, not who wrote them, so every file is
    read as bad input could be: only the names a model directory holds, only regular files
    (never a link followed, never a FIFO waited on), each within a size limit, and `validated`
    checks that they agree with each other before anything uses them.
    """
    path = Path(path)
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise RnnForecastError(
            f"{path}: model directory {what}; train one with `rnnforecast train`"
        )
    for attempt in range(READ_ATTEMPTS):
        with _opened(path) as folder:
            try:
                manifest = _read_manifest(path, folder)
                config, data = _read_files(path, manifest, folder)
                break
            except RnnForecastError:
                # a training run may have swapped in a new directory while we read this one
                # (and removed its files): then `path` is another directory; read that one
                if attempt == READ_ATTEMPTS - 1 or not _replaced(path, folder):
                    raise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a time read_csv cannot parse is reported below
        tail = _table(
            path / "tail.csv",
            lambda: pd.read_csv(
                io.BytesIO(data["tail.csv"]),
                dtype={"unique_id": str},
                parse_dates=["ds"],
                keep_default_na=False,  # an id such as NA or None is an id, not a missing value
                na_values=[""],
            ),
        )
        history = data.get("history.csv")
        history = (
            _table(path / "history.csv", lambda: pd.read_csv(io.BytesIO(history)))
            if history and history.strip()
            else pd.DataFrame()  # an empty history is written as an empty line
        )
    intervals = data.get("intervals.json")
    return validated(
        Artifact(
            config=config,
            weights=_weights(data["weights.safetensors"], path / "weights.safetensors"),
            series=_parse_json(data["series.json"], path / "series.json"),
            tail=tail,
            history=history,
            metrics=_parse_json(data["metrics.json"], path / "metrics.json"),
            intervals=_parse_json(intervals, path / "intervals.json") if intervals else None,
            path=path,
            manifest=manifest,
        )
    )


def _migrate(raw: Any, version: int) -> Any:
    """An older format's config as the current format reads it."""
    if version < 2 and isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        raw["model"].setdefault("skip", "none")  # both came in format 2
        raw["model"].setdefault("calendar", False)
    if isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        # saved before ensembles: one network, stored under its plain tensor names
        raw["model"].setdefault("ensemble", 1)
    if version < 4 and isinstance(raw, dict) and isinstance(raw.get("window"), dict):
        raw["window"].setdefault("pad", 0)  # saved before padding: short series were skipped
    if version < 4 and isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        raw["model"].setdefault("blend", "none")  # saved before blending: the network alone
        raw["model"].setdefault("blend_share", 0.0)
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        # saved before --transform: trained on the plain target (the default is now auto,
        # which training resolves; a saved config always names the transform it used)
        raw["data"].setdefault("transform", "none")
    if isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        # saved before the floor at 0: forecasts went where the network put them
        raw["model"].setdefault("allow_negative", True)
        raw["model"].setdefault("norm", "window")  # the default before auto
    if isinstance(raw, dict) and isinstance(raw.get("train"), dict):
        raw["train"].setdefault("point", "median")  # saved before --point: the L1 loss's
    return raw


# --- reading: names, kinds and sizes first, then the bytes -----------------------------------

# The largest file of each name `load` reads, checked before a byte of it is: far beyond what
# rnnforecast writes (series.json takes ~200 bytes a series, so 1 GiB is five million series;
# tail.csv ~40 bytes a row), so a huge file put in a model directory is refused, not read into
# memory. The weights are held to what their config needs, too (`_weights_limit`).
MAX_BYTES = {
    MANIFEST: 1 << 20,
    "config.yaml": 1 << 20,
    "weights.safetensors": 1 << 34,
    "series.json": 1 << 30,
    "tail.csv": 1 << 31,
    "history.csv": 1 << 28,
    "metrics.json": 1 << 26,
    "intervals.json": 1 << 30,
}
FILES = tuple(name for name in MAX_BYTES if name != MANIFEST)  # what a manifest may list
REQUIRED = ("config.yaml", "weights.safetensors", "series.json", "tail.csv", "metrics.json")
_FIX = "retrain the model or restore its directory"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"[0-9A-Za-z.+!_-]{1,40}")  # what `info` shows of the tool's version
_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFDIR: "a directory",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


# files are opened relative to one open directory where the OS can (no mix of two directories
# when a training run swaps a new one in, and the one being read cannot be reused meanwhile)
_DIR_FD = {os.open, os.stat} <= os.supports_dir_fd and os.stat in os.supports_follow_symlinks


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[os.stat_result | int]:
    """The model directory held open (its descriptor), or where that is not possible, its
    identity (stat) as it was when reading began."""
    if not _DIR_FD:
        yield os.stat(path)
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as e:
        raise RnnForecastError(
            f"{path}: cannot be read ({e.strerror}); check its permissions"
        ) from None
    try:
        yield fd
    finally:
        os.close(fd)


def _replaced(path: Path, folder: os.stat_result | int) -> bool:
    """Whether `path` is now another directory than the one read (`_opened`)."""
    was = os.fstat(folder) if isinstance(folder, int) else folder
    try:
        now = os.stat(path)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) != (was.st_dev, was.st_ino)


def _read_files(
    path: Path, manifest: dict[str, Any], folder: os.stat_result | int
) -> tuple[Config, dict[str, bytes]]:
    """The manifest's files, each checked against its digest. All are opened at once, so a
    training run that swaps in a new directory and removes this one's files meanwhile takes
    nothing from under the reads; the config is read first, as it bounds the weights' size."""
    files = manifest["files"]
    opened: dict[str, Any] = {}
    try:
        for name in files:
            try:
                opened[name] = _open_regular(path / name, MAX_BYTES[name], folder)
            except FileNotFoundError:
                raise RnnForecastError(
                    f"{path}: {name} is missing; the model directory is incomplete: {_FIX}"
                ) from None
        data = {"config.yaml": _read_listed(path / "config.yaml", opened, files)}
        config = _config(data["config.yaml"], path / "config.yaml", manifest["format_version"])
        limit = _weights_limit(config)
        for name in files:
            if name not in data:
                data[name] = _read_listed(path / name, opened, files, limit)
    finally:
        for f in opened.values():
            f.close()
    return config, data


def _read_listed(
    where: Path, opened: dict[str, Any], files: dict[str, str], limit: int = 0
) -> bytes:
    """An opened file's bytes, if they are the ones the manifest lists; the weights within
    `limit` bytes (what the config's tensors take)."""
    name = where.name
    data = _read_open(
        where, opened[name], limit if name == "weights.safetensors" else MAX_BYTES[name]
    )
    if hashlib.sha256(data).hexdigest() != files[name]:
        raise RnnForecastError(
            f"{where}: contents do not match the manifest (edited, truncated or "
            "replaced); retrain or restore the model directory"
        )
    return data


def _open_regular(where: Path, limit: int, folder: os.stat_result | int) -> Any:
    """The regular file `where` (in the directory `folder` holds open, if it does) opened to
    read, if it holds at most `limit` bytes; a link, a FIFO, a directory or a device in its
    place is refused before it is opened (and again once open, in case it was swapped in
    between). FileNotFoundError when there is nothing there."""
    at = {"dir_fd": folder} if isinstance(folder, int) else {}
    name = where.name if at else where
    try:
        _check_kind(where, os.stat(name, follow_symlinks=False, **at), limit)
        f = open(os.open(name, READ_FLAGS, **at), "rb")
    except FileNotFoundError:
        raise
    except OSError as e:
        raise RnnForecastError(
            f"{where}: cannot be read ({e.strerror}); check its permissions, or {_FIX}"
        ) from None
    try:
        _check_kind(where, os.fstat(f.fileno()), limit)
    except RnnForecastError:
        f.close()
        raise
    return f


def _read_open(where: Path, f: Any, limit: int) -> bytes:
    """At most `limit` bytes of the open file `f`, or an error naming `where`."""
    size = os.fstat(f.fileno()).st_size
    if size > limit:
        _too_large(where, size, limit)
    data = f.read(limit + 1)
    if len(data) > limit:  # grown since
        _too_large(where, len(data), limit)
    return data


def _read_regular(where: Path, limit: int, folder: os.stat_result | int) -> bytes:
    with _open_regular(where, limit, folder) as f:
        return _read_open(where, f, limit)


def _check_kind(where: Path, st: os.stat_result, limit: int) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise RnnForecastError(
            f"{where}: is a symbolic link; links in a model directory are never followed: put "
            f"the file itself there, or {_FIX}"
        )
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a file")
        raise RnnForecastError(
            f"{where}: is {kind}, not a regular file; a model directory holds only the files "
            f"rnnforecast writes: {_FIX}"
        )
    if st.st_size > limit:
        _too_large(where, st.st_size, limit)


def _too_large(where: Path, size: int, limit: int) -> None:
    raise RnnForecastError(
        f"{where}: is {size:,} bytes, more than the {limit:,} a {where.name} of rnnforecast "
        f"holds; it is not one rnnforecast wrote: {_FIX}"
    )


def _read_manifest(path: Path, folder: os.stat_result | int) -> dict[str, Any]:
    where = path / MANIFEST
    try:
        manifest = _parse_json(_read_regular(where, MAX_BYTES[MANIFEST], folder), where)
    except FileNotFoundError:
        raise RnnForecastError(
            f"{path}: not an rnnforecast model directory (no {MANIFEST}); "
            "give the --out of a train run"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != "rnnforecast-model":
        raise RnnForecastError(f"{path}: {MANIFEST} is not an rnnforecast manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RnnForecastError(
            f"{where}: format_version {quoted(version)} is not a model format; {_FIX}"
        )
    if version > FORMAT_VERSION:
        raise RnnForecastError(
            f"{path}: model format {version} is newer than this rnnforecast ({__version__}) reads; "
            "upgrade rnnforecast"
        )
    tool, created = manifest.get("rnnforecast_version"), manifest.get("created")
    if not isinstance(tool, str) or not _VERSION.fullmatch(tool):
        raise RnnForecastError(
            f"{where}: rnnforecast_version {quoted(tool)} is not a version; {_FIX}"
        )
    if not isinstance(created, str) or not _is_iso_time(created):
        raise RnnForecastError(f"{where}: created {quoted(created)} is not an ISO time; {_FIX}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not set(REQUIRED) <= set(files):
        raise RnnForecastError(f"{path}: {MANIFEST} does not list the model's files; retrain")
    for name, digest in files.items():
        if name not in FILES:  # also every path out of the directory: '../x', '/etc/passwd'
            raise RnnForecastError(
                f"{where}: lists '{quoted(name)}', which is not a file of a model directory "
                f"({', '.join(FILES)}); {_FIX}"
            )
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise RnnForecastError(
                f"{where}: the digest of {name} is {quoted(digest)}, not a SHA-256; {_FIX}"
            )
    return manifest


def _is_iso_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return len(text) <= 40


def _weights_limit(config: Config) -> int:
    """The most bytes weights.safetensors can take for `config`: its float32 tensors plus a
    generous header (the names, shapes and offsets of each tensor)."""
    shapes = weight_shapes(config)
    return sum(4 * math.prod(s) + 256 for s in shapes.values()) + (1 << 16)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (which plain json.loads keeps the last of)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _parse_json(data: bytes, where: Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys)
    except _DuplicateKey as e:
        raise RnnForecastError(f"{where}: gives the key '{quoted(e.key)}' twice; {_FIX}") from None
    except UnicodeDecodeError:
        raise RnnForecastError(
            f"{where}: not UTF-8 text, so not JSON rnnforecast wrote; {_FIX}"
        ) from None
    except json.JSONDecodeError as e:
        raise RnnForecastError(
            f"{where}: not valid JSON ({e.msg} at line {e.lineno}); {_FIX}"
        ) from None
    except (ValueError, RecursionError):  # a number of 5,000 digits; lists nested 100,000 deep
        raise RnnForecastError(f"{where}: not JSON rnnforecast wrote; {_FIX}") from None


def _table(where: Path, read: Any) -> pd.DataFrame:
    """A CSV file of the model directory read by `read`, or an error naming it."""
    try:
        return read()
    except (ValueError, OverflowError, TypeError) as e:  # pandas' parser errors are ValueErrors
        reason = "not UTF-8 text" if isinstance(e, UnicodeDecodeError) else quoted(str(e), 80)
        raise RnnForecastError(
            f"{where}: not a table rnnforecast wrote ({reason}); {_FIX}"
        ) from None


def _config(data: bytes, where: Path, version: int) -> Config:
    """config.yaml as a Config, with every size a trained model has resolved set."""
    try:
        raw = parse_yaml(data.decode("utf-8"), str(where))
    except UnicodeDecodeError:
        raise RnnForecastError(f"{where}: not UTF-8 text; {_FIX}") from None
    except RecursionError:
        raise RnnForecastError(f"{where}: nested too deeply to be a config; {_FIX}") from None
    cfg = Config.from_dict(_migrate(raw, version), str(where))
    unset = [
        name
        for name, value in [
            ("data.freq", cfg.data.freq),
            ("data.season", cfg.data.season),
            ("window.lookback", cfg.window.lookback),
            ("window.horizon", cfg.window.horizon),
            ("window.val_size", cfg.window.val_size),
            ("window.pad", cfg.window.pad),
            ("model.ensemble", cfg.model.ensemble),
        ]
        if value is None
    ]
    if unset:
        raise RnnForecastError(
            f"{where}: {unset[0]} is unset, but a trained model's config names every size it "
            f"was trained with; {_FIX}"
        )
    m = cfg.model
    if m.blend == "auto" or (m.blend != "none" and m.blend_share is None):
        raise RnnForecastError(
            f"{where}: model.blend is {m.blend} with share {m.blend_share}, but a trained "
            f"model's config names the blend it chose; {_FIX}"
        )
    if "auto" in (cfg.train.point, cfg.train.loss, cfg.model.norm):
        raise RnnForecastError(
            f"{where}: train.point is {cfg.train.point}, train.loss {cfg.train.loss} and "
            f"model.norm {cfg.model.norm}, but a trained model's config names each one it "
            f"used; {_FIX}"
        )
    if cfg.data.transform not in LOST:
        raise RnnForecastError(
            f"{where}: data.transform is {cfg.data.transform}, but a trained model's config "
            f"names the transform it used ({', '.join(LOST)}); {_FIX}"
        )
    try:
        offset = pd.tseries.frequencies.to_offset(cfg.data.freq)
    except (ValueError, TypeError):
        offset = None
    if offset is None or offset.n <= 0:
        raise RnnForecastError(
            f"{where}: data.freq '{quoted(cfg.data.freq)}' is not a frequency that steps forward "
            f"in time; {_FIX}"
        )
    return cfg


def _weights(blob: bytes, where: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file; its header is read first (JSON with each name once,
    every tensor float32), so nothing but plain float32 arrays comes out."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    size = int.from_bytes(blob[:8], "little") if len(blob) >= 8 else len(blob)
    try:
        header = json.loads(blob[8 : 8 + size], object_pairs_hook=_unique_keys)
    except _DuplicateKey as e:
        raise RnnForecastError(
            f"{where}: names the tensor '{quoted(e.key)}' twice; {_FIX}"
        ) from None
    except (ValueError, RecursionError):
        header = None  # not safetensors: said below
    if isinstance(header, dict):
        for name, entry in header.items():
            dtype = entry.get("dtype") if isinstance(entry, dict) else None
            if name != "__metadata__" and dtype != "F32":
                raise RnnForecastError(
                    f"{where}: tensor '{quoted(name)}' is {quoted(dtype)}, not the F32 "
                    f"(float32) rnnforecast writes; {_FIX}"
                )
    try:
        return st_load(blob)
    except (SafetensorError, ValueError, TypeError, KeyError, OSError):
        raise RnnForecastError(
            f"{where}: not a safetensors file (pickles are never loaded); retrain the model"
        ) from None


# --- consistency: what the files say of each other --------------------------------------------


def members(weights: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """An ensemble's weights, one dict per member (stored as `members.K.<name>`); a single
    model is one member."""
    if not any(name.startswith("members.") for name in weights):
        return [weights]
    split: dict[int, dict[str, np.ndarray]] = {}
    for name, value in weights.items():
        _, k, rest = name.split(".", 2)
        split.setdefault(int(k), {})[rest] = value
    return [split[k] for k in sorted(split)]


def join_members(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The inverse of `members`: one model keeps its names, an ensemble gets prefixes."""
    if len(parts) == 1:
        return parts[0]
    return {f"members.{k}.{name}": v for k, part in enumerate(parts) for name, v in part.items()}


def tail_rows(cfg: Config) -> int:
    """How many of each series' last points tail.csv keeps: what the network reads (lookback,
    plus the point a difference costs), or what a blended simple forecast reads if more."""
    w = cfg.window
    rows = w.lookback
    if cfg.model.blend != "none":
        rows = baselines.history_points(w.lookback, w.horizon, cfg.data.season, cfg.train.point)
    return rows + LOST[cfg.data.transform]


def tail_frame(
    ends: Panel, last: pd.DatetimeIndex, freq: str, covariates: tuple[str, ...]
) -> pd.DataFrame:
    """Each series' last points (`ends`, from `Panel.tail`) as rows (unique_id, ds, y,
    covariates), for predict without data; their times step back from each series' last one
    by `freq` (a loaded series lies on its frequency's grid)."""
    series = ends.series_of_rows()  # [R]
    back = (ends.offsets + ends.lengths - 1)[series] - np.arange(len(series))  # steps before
    offset = pd.tseries.frequencies.to_offset(freq)  # the series' last
    where, times = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-vectorised offsets (months...) warn of speed
        for k in np.unique(back):  # one vector shift per step back: lookback of them
            at = np.flatnonzero(back == k)
            where.append(at)
            times.append(last[series[at]] - k * offset)
    ds = times[0].append(times[1:])[np.argsort(np.concatenate(where), kind="stable")]
    return pd.DataFrame(
        {
            "unique_id": ends.ids[series],
            "ds": ds,
            "y": ends.values,
            **{name: ends.covariates[:, c] for c, name in enumerate(covariates)},
        }
    )


def series_facts(
    panel: Panel,
    scaling: Scaling,
    first: pd.DatetimeIndex,
    last: pd.DatetimeIndex,
    covariates: tuple[str, ...],
) -> dict[str, list]:
    """series.json: each trained series' id, scaling (its covariates' too), first and last
    timestamp and length."""
    series = {
        "unique_id": panel.ids.tolist(),
        "loc": scaling.loc.tolist(),
        "scale": scaling.scale.tolist(),
        "first_ds": [format_time(t) for t in first],
        "last_ds": [format_time(t) for t in last],
        "length": panel.lengths.tolist(),
    }
    if covariates:
        series["covariates"] = {
            name: {"loc": scaling.c_loc[:, c].tolist(), "scale": scaling.c_scale[:, c].tolist()}
            for c, name in enumerate(covariates)
        }
    return series


def format_time(ts: pd.Timestamp) -> str:
    """One timestamp as ISO text, the date alone when it is midnight."""
    ts = pd.Timestamp(ts)
    return ts.strftime("%Y-%m-%d") if ts.tz is None and ts == ts.normalize() else str(ts)


def describe(art: Artifact) -> dict[str, Any]:
    """What a model is, from its directory alone (what `info` shows)."""
    cfg, series, scores = art.config, art.series, art.metrics
    return {
        "created": art.manifest["created"],
        "rnnforecast_version": art.manifest["rnnforecast_version"],
        "format_version": art.manifest["format_version"],
        "cell": cfg.model.cell,
        "layers": cfg.model.layers,
        "hidden_size": cfg.model.hidden_size,
        "ensemble": cfg.model.ensemble,
        "member_cells": [cfg.model.member(k).cell for k in range(cfg.model.ensemble)],
        "layer_norm": cfg.model.layer_norm,
        "transform": cfg.data.transform,
        "point_forecast": cfg.train.point,
        "floor": None if cfg.model.allow_negative else 0.0,
        "parameters": int(sum(v.size for v in art.weights.values())),
        "frequency": cfg.data.freq,
        "season": cfg.data.season,
        "lookback": cfg.window.lookback,
        "horizon": cfg.window.horizon,
        "past_covariates": list(cfg.data.past_covariates or ()),
        "future_covariates": list(cfg.data.future_covariates or ()),
        "series": len(series["unique_id"]),
        "observations": int(sum(series["length"])),
        "data_from": min(series["first_ds"]),
        "data_to": max(series["last_ds"]),
        "best_epoch": scores.get("best_epoch"),
        "epochs_run": len(art.history),
        "validation": {k: scores[k] for k in ("model", "naive", "seasonal_naive") if k in scores},
        "intervals": _interval_facts(art.intervals),
        "config": cfg.to_dict(),
    }


def _interval_facts(calibration: dict[str, Any] | None) -> dict[str, Any] | None:
    """What `info` says about a model's prediction intervals (None: it has none)."""
    if not calibration:
        return None
    keys = ("method", "in_sample_errors", "out_of_sample_errors", "inflation")
    return {k: calibration[k] for k in keys}


def weight_shapes(cfg: Config) -> dict[str, tuple[int, ...]]:
    """Every tensor the network of `cfg` has, by name, with its shape: what
    `model.Forecaster(...).state_dict()` holds (an ensemble's members prefixed `members.K.`)."""
    m, w = cfg.model, cfg.window
    horizon, n_future = w.horizon, len(cfg.data.future_covariates or ())
    calendar = len(calendar_names(cfg.data.freq)) if m.calendar else 0
    n_inputs = 1 + bool(w.pad) + calendar + len(cfg.data.covariates)
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(m.ensemble):
        member = m.member(k)
        prefix = f"members.{k}." if m.ensemble > 1 else ""
        hidden = member.hidden_size
        gates = GATES[member.cell] * hidden
        for i in range(member.layers):
            layer = f"{prefix}rnns.{i}."
            shapes[layer + "weight_ih_l0"] = (gates, n_inputs if i == 0 else hidden)
            shapes[layer + "weight_hh_l0"] = (gates, hidden)
            shapes[layer + "bias_ih_l0"] = (gates,)
            shapes[layer + "bias_hh_l0"] = (gates,)
            if member.layer_norm:
                shapes[f"{prefix}norms.{i}.weight"] = (hidden,)
                shapes[f"{prefix}norms.{i}.bias"] = (hidden,)
        shapes[prefix + "head.weight"] = (horizon, hidden)
        shapes[prefix + "head.bias"] = (horizon,)
        if member.skip == "linear":
            shapes[prefix + "skip.weight"] = (horizon, w.lookback)
            shapes[prefix + "skip.bias"] = (horizon,)
        if n_future:
            shapes[prefix + "future.weight"] = (horizon, horizon * n_future)
    return shapes


def validated(art: Artifact) -> Artifact:
    """`art` (as loaded from `art.path`) once its files are found to agree with each other;
    else an error naming the file that does not. The weights are exactly the tensors the
    config's network has, finite; series.json, tail.csv and intervals.json describe the same
    series, horizon and lookback, with finite numbers, positive scales and times on the
    model's frequency. Both engines, the intervals and `info` rely on it."""
    path = art.path
    cfg = art.config
    _check_weights(art.weights, cfg, path / "weights.safetensors")
    _check_series(art.series, cfg, path / "series.json")
    _check_tail(art.tail, art.series, cfg, path / "tail.csv")
    if art.intervals is not None:
        _check_intervals(art.intervals, cfg, path / "intervals.json")
    _check_metrics(art.metrics, path / "metrics.json")
    _check_history(art.history, path / "history.csv")
    return art


def _describe(cfg: Config) -> str:
    """The settings of config.yaml that fix the weights' shapes, in words."""
    m = cfg.model
    cells = ",".join(dict.fromkeys(m.member(k).cell for k in range(m.ensemble)))
    words = (
        f"cell {cells}, {m.layers} layer(s) of {m.hidden_size}, lookback "
        f"{cfg.window.lookback}, horizon {cfg.window.horizon}, ensemble {m.ensemble}"
    )
    if cfg.data.covariates:
        words += f", covariates {', '.join(cfg.data.covariates)}"
    return quoted(words, 160)


def _check_weights(weights: dict[str, np.ndarray], cfg: Config, where: Path) -> None:
    expected = weight_shapes(cfg)
    missing = [name for name in expected if name not in weights]
    extra = [name for name in weights if name not in expected]
    if missing:
        raise RnnForecastError(
            f"{where}: lacks {listed(missing, 3)}, which the network of config.yaml "
            f"({_describe(cfg)}) has; the weights and the config do not belong together: {_FIX}"
        )
    if extra:
        raise RnnForecastError(
            f"{where}: holds {listed(extra, 3)}, which the network of config.yaml "
            f"({_describe(cfg)}) does not have; the weights and the config do not belong "
            f"together: {_FIX}"
        )
    for name, shape in expected.items():
        tensor = weights[name]
        if tensor.dtype != np.float32:
            raise RnnForecastError(
                f"{where}: tensor '{name}' is {tensor.dtype}, not the float32 rnnforecast "
                f"writes; {_FIX}"
            )
        if tensor.shape != shape:
            raise RnnForecastError(
                f"{where}: tensor '{name}' has shape {list(tensor.shape)}, but the network of "
                f"config.yaml ({_describe(cfg)}) needs {list(shape)}; the weights and the "
                f"config do not belong together: {_FIX}"
            )
        if not np.isfinite(tensor).all():
            raise RnnForecastError(
                f"{where}: tensor '{name}' holds NaN or infinite values; it would forecast NaN: "
                f"{_FIX}"
            )


def _numbers(
    values: Any, where: Path, key: str, ids: list, n: int, positive: bool = False
) -> np.ndarray:
    """[n] a JSON list of finite numbers (above 0 with `positive`), one per series."""
    if not isinstance(values, list) or len(values) != n:
        size = f"{len(values):,} entries" if isinstance(values, list) else quoted(values)
        raise RnnForecastError(
            f"{where}: {key} holds {size}, not a number for each of the {n:,} series of "
            f"unique_id; {_FIX}"
        )
    out = _flat(values)
    if out.dtype.kind in "fi":  # all numbers (an integer beyond int64 makes it an object array)
        out = out.astype(np.float64)
        good = np.isfinite(out) & ((out > 0) | (not positive))
        if good.all():
            return out
        bad = int(np.flatnonzero(~good)[0])
    else:  # the first entry that is not a number
        bad = next(i for i, v in enumerate(values) if type(v) not in (int, float) or abs(v) > 1e308)
    need = "a finite number above 0" if positive else "a finite number"
    raise RnnForecastError(
        f"{where}: {key} of series '{quoted(ids[bad])}' is {quoted(values[bad])}, not {need}; "
        f"{_FIX}"
    )


def _flat(values: list) -> np.ndarray:
    """A JSON list as a 1-d numpy array; an object array (checked item by item) for anything
    but plain numbers: nested lists, text, null, integers beyond int64."""
    try:
        out = np.array(values)
    except (ValueError, OverflowError):  # ragged nesting
        return np.empty(0, object)
    return out if out.ndim == 1 and len(out) == len(values) else np.empty(0, object)


def _times(values: Any, where: Path, key: str, ids: list) -> pd.DatetimeIndex:
    """[n] times from JSON text (format_time's ISO dates and times), one per series."""
    n = len(ids)
    if not isinstance(values, list) or len(values) != n:
        size = f"{len(values):,} entries" if isinstance(values, list) else quoted(values)
        raise RnnForecastError(
            f"{where}: {key} holds {size}, not a time for each of the {n:,} series of "
            f"unique_id; {_FIX}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if all(isinstance(v, str) for v in values):
            try:
                times = pd.DatetimeIndex(pd.to_datetime(values, format="ISO8601"))
                if not times.isna().any():
                    return times
            except (ValueError, TypeError, OverflowError):
                pass
        for i, v in enumerate(values):  # the first one that is not a time, or a mix of zones
            try:
                bad = not isinstance(v, str) or pd.isna(pd.Timestamp(v))
            except (ValueError, TypeError, OverflowError):
                bad = True
            if bad:
                raise RnnForecastError(
                    f"{where}: {key} of series '{quoted(ids[i])}' is {quoted(v)}, not a time; "
                    f"{_FIX}"
                )
    raise RnnForecastError(f"{where}: {key} mixes time zones or formats; {_FIX}")


def _check_series(series: Any, cfg: Config, where: Path) -> None:
    """series.json: one entry per series in every list, unique ids, finite statistics."""
    if not isinstance(series, dict):
        raise RnnForecastError(
            f"{where}: holds {type(series).__name__}, not the object of per-series statistics "
            f"rnnforecast writes; {_FIX}"
        )
    ids = series.get("unique_id")
    if not isinstance(ids, list) or not ids:
        raise RnnForecastError(f"{where}: unique_id is not a list of series; {_FIX}")
    bad = next((i for i, uid in enumerate(ids) if not isinstance(uid, str)), None)
    if bad is not None:
        raise RnnForecastError(
            f"{where}: unique_id entry {bad} is {quoted(ids[bad])}, not a text id; {_FIX}"
        )
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        twice = next(uid for uid in ids if uid in seen or seen.add(uid))
        raise RnnForecastError(f"{where}: series '{quoted(twice)}' is listed twice; {_FIX}")
    n = len(ids)
    _numbers(series.get("loc"), where, "loc", ids, n)
    _numbers(series.get("scale"), where, "scale", ids, n, positive=True)
    first = _times(series.get("first_ds"), where, "first_ds", ids)
    last = _times(series.get("last_ds"), where, "last_ds", ids)
    try:
        backwards = np.flatnonzero(first > last)
    except TypeError:  # one list with time zones, the other without
        raise RnnForecastError(f"{where}: first_ds and last_ds mix time zones; {_FIX}") from None
    if len(backwards):
        raise RnnForecastError(
            f"{where}: series '{quoted(ids[backwards[0]])}' ends (last_ds) before it starts "
            f"(first_ds); {_FIX}"
        )
    w = cfg.window
    # a model without padding trained only on series holding a whole window and validation
    need = 1 if w.pad else w.lookback + w.horizon + w.val_size + LOST[cfg.data.transform]
    lengths = series.get("length")
    if not isinstance(lengths, list) or len(lengths) != n:
        raise RnnForecastError(f"{where}: length is not a list of {n:,} point counts; {_FIX}")
    counts = _flat(lengths)
    if counts.dtype.kind != "i" or (counts < need).any():
        at = next(i for i, v in enumerate(lengths) if type(v) is not int or v < need)
        raise RnnForecastError(
            f"{where}: length of series '{quoted(ids[at])}' is {quoted(lengths[at])}, but "
            f"training took at least {need} point(s) of each (config.yaml); {_FIX}"
        )
    names = cfg.data.covariates
    stored = series.get("covariates")
    if not names:
        if stored:
            raise RnnForecastError(
                f"{where}: holds covariate statistics, but config.yaml names no covariates; {_FIX}"
            )
        return
    if not isinstance(stored, dict) or set(stored) != set(names):
        given = listed(list(stored)) if isinstance(stored, dict) else "none"
        raise RnnForecastError(
            f"{where}: has statistics of the covariates {given}, but config.yaml names "
            f"{listed(list(names))}; {_FIX}"
        )
    for name in names:
        block = stored[name] if isinstance(stored[name], dict) else {}
        _numbers(block.get("loc"), where, f"covariates.{quoted(name, 40)}.loc", ids, n)
        _numbers(block.get("scale"), where, f"covariates.{quoted(name, 40)}.scale", ids, n, True)


def _check_tail(tail: pd.DataFrame, series: dict[str, Any], cfg: Config, where: Path) -> None:
    """tail.csv: the last points the model reads (`tail_rows`) of every series of
    series.json, in its order, each ending at its last_ds and stepping by the frequency."""
    want = ["unique_id", "ds", "y", *cfg.data.covariates]
    columns = [str(c) for c in tail.columns]
    if columns != want:
        raise RnnForecastError(
            f"{where}: has the columns {listed(columns)}, not {', '.join(want)} as the model "
            f"(config.yaml) needs; {_FIX}"
        )
    if not len(tail):
        raise RnnForecastError(f"{where}: holds no rows; {_FIX}")
    ids = tail["unique_id"]
    empty = np.flatnonzero((ids.isna() | (ids == "")).to_numpy())
    if len(empty):
        raise RnnForecastError(f"{where}: line {empty[0] + 2} has no unique_id; {_FIX}")
    ds = tail["ds"]
    if not pd.api.types.is_datetime64_any_dtype(ds) or ds.isna().any():
        _bad_time(ds, where)
    for name in want[2:]:
        column = tail[name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            values = pd.to_numeric(column, errors="coerce")
            at = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise RnnForecastError(
                f"{where}: column '{name}': {quoted(column.iloc[at])} at line {at + 2} is not a "
                f"number; {_FIX}"
            )
        bad = np.flatnonzero(~np.isfinite(column.to_numpy(np.float64)))
        if len(bad):
            raise RnnForecastError(
                f"{where}: column '{name}' at line {bad[0] + 2} is empty or not finite; {_FIX}"
            )
    lost = LOST[cfg.data.transform]
    if lost == 0 and cfg.data.transform == "log1p" and (tail["y"] <= -1).any():
        at = int(np.flatnonzero((tail["y"] <= -1).to_numpy())[0])
        raise RnnForecastError(
            f"{where}: y at line {at + 2} is -1 or less, which the model's log1p transform "
            f"cannot take; {_FIX}"
        )
    keys = ids.to_numpy()
    starts = run_starts(keys)
    runs = keys[starts].tolist()
    expected = series["unique_id"]
    if runs != expected:
        in_tail, in_series = set(runs), set(expected)
        only_series = [uid for uid in expected if uid not in in_tail]
        only_tail = [uid for uid in dict.fromkeys(runs) if uid not in in_series]
        if only_series:
            problem = f"has no rows of {listed(only_series)}, which series.json lists"
        elif only_tail:
            problem = f"has rows of {listed(only_tail)}, which series.json does not list"
        else:
            problem = "does not hold the rows of each series together, in series.json's order"
        raise RnnForecastError(f"{where}: {problem}; the files do not belong together: {_FIX}")
    # the last points the model reads (tail_rows), all of a shorter series
    rows = np.minimum(np.asarray(series["length"], np.int64), tail_rows(cfg))
    counts = np.diff(np.append(starts, len(keys)))
    short = np.flatnonzero(counts != rows)
    if len(short):
        raise RnnForecastError(
            f"{where}: series '{quoted(runs[short[0]])}' has {counts[short[0]]} rows, but "
            f"the model reads its last {tail_rows(cfg)} points (config.yaml) and series.json "
            f"gives it {series['length'][short[0]]}, so it needs {rows[short[0]]}; the files do "
            f"not belong together: {_FIX}"
        )
    _check_grid(ds, series, cfg.data.freq, rows, where)


def _bad_time(ds: pd.Series, where: Path) -> None:
    """Raise naming the first value of tail.csv's ds that is not a time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, v in enumerate(ds):
            try:
                bad = pd.isna(v) or pd.isna(pd.Timestamp(v))
            except (ValueError, TypeError, OverflowError):
                bad = True
            if bad:
                raise RnnForecastError(
                    f"{where}: ds {quoted(v)} at line {i + 2} is not a time; {_FIX}"
                )
    raise RnnForecastError(
        f"{where}: ds is not a column of times as rnnforecast writes them (line 2: "
        f"{quoted(ds.iloc[0])}); {_FIX}"
    )


def _check_grid(
    ds: pd.Series, series: dict[str, Any], freq: str, rows: np.ndarray, where: Path
) -> None:
    """Each series' rows in tail.csv are rows[i] steps of `freq` ending at its last_ds."""
    last = pd.DatetimeIndex(pd.to_datetime(series["last_ds"], format="ISO8601"))
    times = pd.DatetimeIndex(ds)
    offset = pd.tseries.frequencies.to_offset(freq)
    series_of_row, at_row = ranges(np.zeros_like(rows), rows)
    back = rows[series_of_row] - 1 - at_row  # steps before the series' last time
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-vectorised offsets (months...) warn of speed
            wrong = np.zeros(len(times), bool)
            for k in range(int(rows.max())):  # one vector shift per step back, as tail_frame
                at = np.flatnonzero(back == k)
                ends = last[series_of_row[at]]
                wrong[at] = np.asarray(times[at] != (ends - k * offset if k else ends))
    except (TypeError, ValueError, OverflowError):  # a zone against none; past pandas' range
        wrong = np.ones(len(times), bool)
    if wrong.any():
        at = int(np.flatnonzero(wrong)[0])
        raise RnnForecastError(
            f"{where}: ds at line {at + 2} ({times[at]}) is not where series "
            f"'{quoted(series['unique_id'][series_of_row[at]])}' stands {back[at]} steps of "
            f"{freq} before its last time in series.json ({last[series_of_row[at]]}); {_FIX}"
        )


def _check_intervals(cal: Any, cfg: Config, where: Path) -> None:
    """intervals.json: half-widths [levels, horizon], finite and not negative."""
    if not isinstance(cal, dict):
        raise RnnForecastError(f"{where}: is not the calibration object rnnforecast writes; {_FIX}")
    levels, table = cal.get("levels"), cal.get("half_widths")
    if (
        not isinstance(levels, list)
        or not levels
        or any(type(v) is not int or not 0 < v < 100 for v in levels)
        or levels != sorted(set(levels))
    ):
        raise RnnForecastError(
            f"{where}: levels is not a rising list of whole percentages in (0, 100); {_FIX}"
        )
    horizon = cfg.window.horizon
    if (
        not isinstance(table, list)
        or len(table) != len(levels)
        or any(not isinstance(row, list) or len(row) != horizon for row in table)
    ):
        raise RnnForecastError(
            f"{where}: half_widths is not a table of {len(levels)} levels x {horizon} steps "
            f"(the horizon of config.yaml); {_FIX}"
        )
    if any(type(v) not in (int, float) for row in table for v in row):
        raise RnnForecastError(f"{where}: half_widths holds values that are not numbers; {_FIX}")
    widths = np.asarray(table, dtype=np.float64)
    if not (np.isfinite(widths) & (widths >= 0)).all():
        raise RnnForecastError(
            f"{where}: half_widths holds negative, NaN or infinite widths; {_FIX}"
        )
    lag = cal.get("spread_lag")
    if lag is not None and (type(lag) is not int or not 1 <= lag < cfg.window.lookback):
        raise RnnForecastError(
            f"{where}: spread_lag {quoted(lag)} is not a lag inside the lookback "
            f"({cfg.window.lookback}) of config.yaml; {_FIX}"
        )
    for key in ("in_sample_errors", "out_of_sample_errors"):
        if type(cal.get(key)) is not int or cal[key] < 0:
            raise RnnForecastError(f"{where}: {key} {quoted(cal.get(key))} is not a count; {_FIX}")
    inflation = cal.get("inflation")
    if type(inflation) not in (int, float) or not 1 <= inflation < math.inf:
        raise RnnForecastError(
            f"{where}: inflation {quoted(inflation)} is not a finite factor of at least 1; {_FIX}"
        )
    if not isinstance(cal.get("method"), str):
        raise RnnForecastError(f"{where}: method is not a description; {_FIX}")


def _check_metrics(scores: Any, where: Path) -> None:
    """metrics.json: the validation scores `info` shows are numbers (or null)."""
    if not isinstance(scores, dict):
        raise RnnForecastError(f"{where}: is not the object of scores rnnforecast writes; {_FIX}")
    best = scores.get("best_epoch")
    if best is not None and (type(best) is not int or best < 0):
        raise RnnForecastError(f"{where}: best_epoch {quoted(best)} is not an epoch; {_FIX}")
    for name in ("model", "naive", "seasonal_naive"):
        if name not in scores:
            continue
        block = scores[name]
        if not isinstance(block, dict) or any(
            block.get(m, "") is not None and type(block.get(m, "")) not in (int, float)
            for m in ("mae", "rmse", "smape", "mase")
        ):
            raise RnnForecastError(
                f"{where}: the {name} scores are not numbers for mae, rmse, smape and mase; {_FIX}"
            )


def _check_history(history: pd.DataFrame, where: Path) -> None:
    """history.csv: one row of numbers per epoch, with the columns the report plots."""
    if history.empty and not len(history.columns):
        return  # a model directory without one
    need = ["epoch", "train_loss", "val_loss", "grad_norm"]
    missing = [c for c in need if c not in history.columns]
    if missing:
        raise RnnForecastError(f"{where}: lacks the column(s) {listed(missing)}; {_FIX}")
    if "grad_norm_max" in history.columns and "clipped" not in history.columns:
        raise RnnForecastError(f"{where}: has grad_norm_max without clipped; {_FIX}")
    layers = [c for c in history.columns if str(c).startswith("grad_recurrent_l")]
    if layers and "grad_head" not in history.columns:
        raise RnnForecastError(f"{where}: has {layers[0]} without grad_head; {_FIX}")
    for name in history.columns if len(history) else ():
        column = history[name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise RnnForecastError(
                f"{where}: column '{quoted(name)}' holds values that are not numbers; {_FIX}"
            )


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, default=_default) + "\n").encode()


def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
