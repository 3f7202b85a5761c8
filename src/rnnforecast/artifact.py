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

import dataclasses
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnforecast import __version__
from rnnforecast.config import Config, parse_yaml
from rnnforecast.errors import RnnForecastError
from rnnforecast.fsutil import staged_dir

# 2: model.skip and model.calendar (format 1 models had neither); 3: data.past_covariates and
# data.future_covariates (older models have none: the defaults read them right)
FORMAT_VERSION = 3
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


def save(art: Artifact, out: str | Path) -> Artifact:
    """Write a complete model directory at `out`, atomically replacing any old one."""
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
    with staged_dir(out) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        (tmp / MANIFEST).write_bytes(_json(manifest))
    return dataclasses.replace(art, path=out, manifest=manifest)


def load(path: str | Path) -> Artifact:
    """Read and verify a model directory; never unpickles and never runs code from it."""
    path = Path(path)
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise RnnForecastError(
            f"{path}: model directory {what}; train one with `rnnforecast train`"
        )
    for attempt in range(READ_ATTEMPTS):
        manifest = _read_manifest(path)
        try:
            data = _read_files(path, manifest)
            break
        except RnnForecastError:
            # a training run may have swapped in a new directory while we read the old one:
            # then the manifest has changed, and reading again gives the new complete model
            if attempt == READ_ATTEMPTS - 1 or _read_manifest(path) == manifest:
                raise
    raw = parse_yaml(data["config.yaml"].decode(), str(path / "config.yaml"))
    config = Config.from_dict(_migrate(raw, manifest["format_version"]), str(path / "config.yaml"))
    history = data.get("history.csv")
    return Artifact(
        config=config,
        weights=_weights(data["weights.safetensors"], path),
        series=json.loads(data["series.json"]),
        tail=pd.read_csv(
            io.BytesIO(data["tail.csv"]), dtype={"unique_id": str}, parse_dates=["ds"]
        ),
        history=pd.read_csv(io.BytesIO(history)) if history else pd.DataFrame(),
        metrics=json.loads(data["metrics.json"]),
        intervals=json.loads(data["intervals.json"]) if "intervals.json" in data else None,
        path=path,
        manifest=manifest,
    )


def _migrate(raw: Any, version: int) -> Any:
    """An older format's config as the current format reads it."""
    if version < 2 and isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        raw["model"].setdefault("skip", "none")  # both came in format 2
        raw["model"].setdefault("calendar", False)
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        # saved before --transform: trained on the plain target (the default is now auto,
        # which training resolves; a saved config always names the transform it used)
        raw["data"].setdefault("transform", "none")
    return raw


def _read_files(path: Path, manifest: dict[str, Any]) -> dict[str, bytes]:
    data = {}
    for name, digest in manifest["files"].items():
        try:
            data[name] = (path / name).read_bytes()
        except OSError:
            raise RnnForecastError(
                f"{path}: {name} is missing; the model directory is incomplete"
            ) from None
        if hashlib.sha256(data[name]).hexdigest() != digest:
            raise RnnForecastError(
                f"{path / name}: contents do not match the manifest (edited, truncated or "
                "replaced); retrain or restore the model directory"
            )
    return data


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RnnForecastError(
            f"{path}: not an rnnforecast model directory (no {MANIFEST}); "
            "give the --out of a train run"
        ) from None
    except (OSError, ValueError):
        raise RnnForecastError(
            f"{path / MANIFEST}: unreadable or not JSON; retrain the model"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != "rnnforecast-model":
        raise RnnForecastError(f"{path}: {MANIFEST} is not an rnnforecast manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RnnForecastError(
            f"{path}: model format {version} is newer than this rnnforecast ({__version__}) reads; "
            "upgrade rnnforecast"
        )
    files = manifest.get("files")
    required = {"config.yaml", "weights.safetensors", "series.json", "tail.csv", "metrics.json"}
    if not isinstance(files, dict) or not required <= set(files):
        raise RnnForecastError(f"{path}: {MANIFEST} does not list the model's files; retrain")
    return manifest


def _weights(blob: bytes, path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    try:
        return st_load(blob)
    except (SafetensorError, ValueError, OSError):
        raise RnnForecastError(
            f"{path / 'weights.safetensors'}: not a safetensors file (pickles are never loaded); "
            "retrain the model"
        ) from None


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
