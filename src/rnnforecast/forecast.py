"""Latest window of each series -> H forecasts in original units with real future timestamps."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from rnnforecast import intervals
from rnnforecast.artifact import Artifact
from rnnforecast.config import ModelConfig
from rnnforecast.errors import RnnForecastError
from rnnforecast.features import model_inputs
from rnnforecast.windows import Panel, apply_scaler, fit_scaler, gather, invert_scaler, last_starts

Engine = Callable[[np.ndarray], np.ndarray]  # inputs [B, L, F] -> forecasts [B, H]
HUGE_BATCH = 200_000  # series in one call above which `auto` prefers the torch engine


def resolve_engine(engine: str, device: str, n_series: int) -> str:
    """'auto' -> numpy on CPU (no torch import); torch on a GPU or for huge batches."""
    if engine == "auto":
        return "torch" if device.startswith("cuda") or n_series > HUGE_BATCH else "numpy"
    return engine


def make_engine(art: Artifact, engine: str, device: str = "auto") -> Engine:
    """The forecasting function of the named engine, built from the model's weights."""
    return engine_for(art.config.model, art.weights, engine, device)


def engine_for(
    cfg: ModelConfig, weights: dict[str, np.ndarray], engine: str, device: str = "auto"
) -> Engine:
    """The named engine for a model or an ensemble (the median of its members' forecasts)."""
    if engine == "numpy":
        if device.startswith("cuda"):
            raise RnnForecastError(
                "--engine numpy runs on the CPU; use --engine torch for --device cuda"
            )
        from rnnforecast import engine_numpy

        fns = [engine_numpy.make(cfg, w) for w in members(weights)]
    elif engine == "torch":
        from rnnforecast import engine_torch

        fns = [engine_torch.make(cfg, w, device) for w in members(weights)]
    else:
        raise RnnForecastError(f"--engine {engine}: not an engine; use auto, numpy or torch")
    if len(fns) == 1:
        return fns[0]
    return lambda x: np.median(np.stack([fn(x) for fn in fns]), axis=0)  # [B, H]


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


def forecast(
    art: Artifact, frame: pd.DataFrame, engine: Engine, levels: tuple[int, ...] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Forecast every series of `frame` (long, sorted) that holds at least `lookback` points,
    with prediction intervals at `levels` (percent) from the model's calibration.

    Series the model was trained on keep their training scaler; new series are scaled by
    their own history (the model is global, so it forecasts them too).
    """
    cfg = art.config
    lookback = cfg.window.lookback
    panel = Panel.from_frame(frame)
    last_ds = frame["ds"].to_numpy()[panel.offsets + panel.lengths - 1]
    notes = []
    long_enough = panel.lengths >= lookback
    if not long_enough.all():
        short = ", ".join(map(str, panel.ids[~long_enough][:5]))
        notes.append(
            f"skipped {int((~long_enough).sum())} series shorter than lookback {lookback}: {short}"
        )
        if not long_enough.any():
            raise RnnForecastError(
                f"no series has the {lookback} points the model needs as input; give more history"
            )
        panel, last_ds = panel.select(long_enough), last_ds[long_enough]

    loc, scale = fit_scaler(panel, panel.lengths, cfg.window.scaler)
    known = pd.Series(range(len(art.series["unique_id"])), index=art.series["unique_id"])
    pos = known.reindex(panel.ids).to_numpy()
    seen = ~np.isnan(pos)
    loc[seen] = np.asarray(art.series["loc"])[pos[seen].astype(int)]
    scale[seen] = np.asarray(art.series["scale"])[pos[seen].astype(int)]
    if not seen.all():
        notes.append(
            f"{int((~seen).sum())} series not seen in training, scaled by their own history"
        )

    inputs = model_inputs(
        apply_scaler(panel, loc, scale), panel.times, cfg.data.freq, cfg.model.calendar
    )  # [N, F]
    x = gather(inputs, last_starts(panel, lookback), lookback)  # [S, L, F]
    f = engine(x).astype(np.float64)  # [S, H] scaled units
    bounds = intervals.bounds(art.intervals, f, x[..., 0], levels, art.path) if levels else {}
    y = invert_scaler(f, loc, scale)  # [S, H]
    bounds = {name: invert_scaler(b, loc, scale) for name, b in bounds.items()}
    return _frame(panel.ids, last_ds, y, cfg.data.freq, bounds), notes


def future_times(last: np.ndarray, horizon: int, freq: str) -> np.ndarray:
    """[S, H] the `horizon` timestamps after each series' last one, stepping by `freq`."""
    offset = pd.tseries.frequencies.to_offset(freq)
    last = pd.DatetimeIndex(last)
    return np.stack([(last + k * offset).to_numpy() for k in range(1, horizon + 1)], axis=1)


def _frame(
    ids: np.ndarray,
    last_ds: np.ndarray,
    y: np.ndarray,
    freq: str,
    bounds: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    n, horizon = y.shape
    return pd.DataFrame(
        {
            "unique_id": np.repeat(ids, horizon),
            "ds": future_times(last_ds, horizon, freq).reshape(-1),
            "y_hat": y.reshape(-1),
            **{name: b.reshape(-1) for name, b in (bounds or {}).items()},
        }
    )


def format_time(ts: pd.Timestamp) -> str:
    """One timestamp as ISO text, the date alone when it is midnight."""
    ts = pd.Timestamp(ts)
    return ts.strftime("%Y-%m-%d") if ts.tz is None and ts == ts.normalize() else str(ts)


def dates_only(ds: pd.Series, freq: str) -> bool:
    """Whether forecasts stepping by `freq` from times like `ds` are all midnights: then
    they are written as plain dates. Decided once per model, so every chunk agrees."""
    try:
        sub_daily = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)) < pd.Timedelta(days=1)
    except (ValueError, TypeError):  # months, quarters...: calendar steps keep the time of day
        sub_daily = False
    return not sub_daily and ds.dt.tz is None and bool((ds.dt.normalize() == ds).all())


def to_csv(frame: pd.DataFrame, dates: bool, header: bool = True) -> str:
    """Forecast CSV text (ISO times, or dates alone); the same frame gives the same bytes."""
    ds = frame["ds"].dt.strftime("%Y-%m-%d") if dates else frame["ds"].astype(str)
    return frame.assign(ds=ds).to_csv(index=False, header=header, lineterminator="\n")
