"""Latest window of each series -> H forecasts in original units with real future timestamps."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from rnnforecast import artifact, baselines, intervals, transforms, windows
from rnnforecast.artifact import Artifact, format_time
from rnnforecast.config import Config, ModelConfig
from rnnforecast.errors import RnnForecastError, quoted
from rnnforecast.features import Scaling, network_inputs
from rnnforecast.panel import Panel
from rnnforecast.windows import (
    apply_covariate_scaler,
    fit_covariate_scaler,
    fit_scaler,
    gather,
    invert_scaler,
    last_starts,
)

# inputs [B, L, F] (and future covariates [B, H, C] or None) -> forecasts [B, H]
Engine = Callable[[np.ndarray, np.ndarray | None], np.ndarray]
HUGE_BATCH = 200_000
# points (after the transform) a series needs for the network to forecast it: from fewer, no
# window tells a level from a change, and the forecast is naive (the last value) instead
MIN_POINTS = 2  # series in one call above which `auto` prefers the torch engine


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
    """The named engine for a model or an ensemble (the median of its members' forecasts,
    each built with its own cell: `cfg.member(k)`)."""
    if engine == "numpy":
        if device.startswith("cuda"):
            raise RnnForecastError(
                "--engine numpy runs on the CPU; use --engine torch for --device cuda"
            )
        from rnnforecast import engine_numpy

        fns = [engine_numpy.make(cfg.member(k), w) for k, w in enumerate(artifact.members(weights))]
    elif engine == "torch":
        from rnnforecast import engine_torch

        fns = [
            engine_torch.make(cfg.member(k), w, device)
            for k, w in enumerate(artifact.members(weights))
        ]
    else:
        raise RnnForecastError(f"--engine {engine}: not an engine; use auto, numpy or torch")
    if len(fns) == 1:
        return fns[0]
    return lambda x, future=None: np.median(np.stack([fn(x, future) for fn in fns]), axis=0)


def forecast(
    art: Artifact,
    frame: pd.DataFrame,
    engine: Engine,
    future: pd.DataFrame | None = None,
    source: str = "the data",
    levels: tuple[int, ...] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """Forecast every series of `frame` (long, sorted), with prediction intervals at `levels`
    (percent) from the model's calibration.

    Series the model was trained on keep their training scaler; new series are scaled by
    their own history (the model is global, so it forecasts them too). A series shorter than
    the lookback fills its input window with copies of its first value; one with fewer than
    MIN_POINTS (after the transform) is forecast by naive, and said. A model with future
    covariates reads their values for the H steps after each series' end from `future` (rows
    unique_id, ds and those columns; `source` names it in errors).
    """
    cfg = art.config
    horizon, lost = cfg.window.horizon, transforms.LOST[cfg.data.transform]
    panel = Panel.from_frame(frame, cfg.data.covariates)
    last_ds = frame["ds"].to_numpy()[panel.offsets + panel.lengths - 1]
    last_y = panel.values[panel.offsets + panel.lengths - 1]
    y = np.repeat(last_y[:, None], horizon, axis=1)  # [S, H], naive until the network's
    bounds = {name: y.copy() for name in intervals.columns(levels)}
    notes = []
    usable = panel.lengths >= MIN_POINTS + lost
    if not usable.all():
        notes.append(short_note(panel.ids[~usable], MIN_POINTS + lost, bool(levels)))
    if usable.any():
        part = panel if usable.all() else panel.select(usable)
        with np.errstate(all="ignore"):  # values beyond float64's or float32's range: _finite
            f, f_bounds, unseen = _forecast(
                art, part, last_ds[usable], engine, future, source, levels
            )
        if unseen:
            notes.append(f"{unseen} series not seen in training, scaled by their own history")
        f, f_bounds = _finite(f, f_bounds, part, art)
        allow = cfg.model.allow_negative
        f = baselines.floored(f, allow)  # as validation scored it, before the blend
        y[usable] = _blended(art, part, f)
        for name, b in f_bounds.items():  # the network's intervals, around the blend
            bounds[name][usable] = baselines.floored(b + (y[usable] - f), allow)
    return _frame(panel.ids, last_ds, y, cfg.data.freq, bounds), notes


def _blended(art: Artifact, panel: Panel, network: np.ndarray) -> np.ndarray:
    """[S, H] the forecast of the series of `panel` (original units), given the network's:
    blended with the simple forecast the model chose, if any (config: model.blend)."""
    cfg = art.config
    m, w = cfg.model, cfg.window
    if m.blend == "none" or not m.blend_share:
        return network
    width = baselines.history_points(w.lookback, w.horizon, cfg.data.season, cfg.train.point)
    every = np.arange(len(panel.ids))
    history, n = windows.history(panel, every, panel.lengths, width)  # [S, T], [S]
    simple = baselines.EVERY[m.blend](history, w.horizon, cfg.data.season, n)
    simple = baselines.floored(simple, m.allow_negative)
    return baselines.blended(network, simple, m.blend_share)


def short_note(ids: np.ndarray, need: int, levels: bool = False) -> str:
    """The note naming series too short for the network, which naive forecasts instead."""
    empty = "; their intervals have no width: so few points show no spread" if levels else ""
    return (
        f"{len(ids)} series have fewer than {need} points, too few for the network: each is "
        f"forecast by its last value (naive){empty}: {', '.join(map(str, ids[:5]))}"
    )


def _forecast(
    art: Artifact,
    panel: Panel,
    last_ds: np.ndarray,
    engine: Engine,
    future: pd.DataFrame | None,
    source: str,
    levels: tuple[int, ...],
) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    """[S, H] forecasts in original units of the series of `panel` (each of MIN_POINTS at
    least), their interval bounds at `levels`, and how many of them the model has not seen."""
    cfg = art.config
    lookback, kind = cfg.window.lookback, cfg.data.transform
    last_y = panel.values[panel.offsets + panel.lengths - 1]  # differences cumulate from it
    pads = np.maximum(lookback + transforms.LOST[kind] - panel.lengths, 0)
    seen = transforms.forward(panel, kind)  # what the scaler and the network see
    scaling, unseen = _scaling(art, seen)
    if pads.any():  # a short series' window begins with copies of its first value
        seen = transforms.forward(panel.padded(pads), kind)
    loc, scale = scaling.loc, scaling.scale
    ahead = None
    if cfg.data.future_covariates:
        n_past = len(cfg.data.past_covariates or ())
        values = _future_values(panel.ids, last_ds, future, cfg, source)  # [S, H, Cf]
        series = np.arange(len(panel.ids))[:, None]  # [S, 1], one scaler row per series
        ahead = apply_covariate_scaler(
            values, series, scaling.c_loc[:, n_past:], scaling.c_scale[:, n_past:]
        )
    mask = bool(cfg.window.pad)  # a model trained with padding reads which points are pads
    inputs = network_inputs(seen, scaling, cfg.data.freq, cfg.model.calendar, mask)  # [N, F]
    x = gather(inputs, last_starts(seen, lookback), lookback)  # [S, L, F]
    f = engine(x, ahead).astype(np.float64)  # [S, H] scaled, transformed units
    y = transforms.inverse(invert_scaler(f, loc, scale), last_y, kind)  # [S, H] original units
    bounds = {}
    real = np.minimum(seen.lengths - pads, lookback)  # of each window's points, not padding
    if levels and kind == "difference":  # calibrated on the levels' errors, in changes' units
        bounds = intervals.bounds(art.intervals, y, x[..., 0], levels, art.path, scale, real)
    elif levels:  # log1p's inverse is monotone, so bounds stay bounds
        bounds = {
            name: transforms.inverse(invert_scaler(b, loc, scale), last_y, kind)
            for name, b in intervals.bounds(
                art.intervals, f, x[..., 0], levels, art.path, n=real
            ).items()
        }
    return y, bounds, unseen


def _finite(
    y: np.ndarray, bounds: dict[str, np.ndarray], panel: Panel, art: Artifact
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The forecasts and bounds when every one is a finite number; else an error naming the
    first series whose forecast is not (its values too large, or too far from the scale the
    model was trained on, for the float32 network and float64 scaling), never a CSV of NaN."""
    bad = ~np.isfinite(y).all(axis=1)
    for b in bounds.values():
        bad |= ~np.isfinite(b).all(axis=1)
    if not bad.any():
        return y, bounds
    s = int(np.flatnonzero(bad)[0])
    values = panel.values[panel.offsets[s] : panel.offsets[s] + panel.lengths[s]]
    what = "forecast" if not np.isfinite(y[s]).all() else "prediction interval"
    where = f"{art.path}: " if art.path is not None else ""
    raise RnnForecastError(
        f"{where}the {what} of series '{quoted(panel.ids[s])}' is not a finite number: its "
        f"values (up to {np.abs(values).max():.3g} in size) are beyond what the model can "
        "compute with (float32 inputs, float64 outputs), or far from those it was trained on; "
        "rescale the data (divide it by a power of ten) and train again"
    )


def _scaling(art: Artifact, panel: Panel) -> tuple[Scaling, int]:
    """The scaling of the (transformed) series of `panel`: the training statistics for series
    the model has seen, each series' own history for new ones; and how many are new."""
    kind = art.config.window.scaler
    loc, scale = fit_scaler(panel, panel.lengths, kind, season=art.config.data.season)
    known = pd.Series(range(len(art.series["unique_id"])), index=art.series["unique_id"])
    pos = known.reindex(panel.ids).to_numpy()
    seen = ~np.isnan(pos)
    at = pos[seen].astype(int)
    loc[seen] = np.asarray(art.series["loc"])[at]
    scale[seen] = np.asarray(art.series["scale"])[at]
    unseen = int((~seen).sum())
    names = art.config.data.covariates
    if not names:
        return Scaling(loc, scale), unseen
    c_loc, c_scale = fit_covariate_scaler(panel, panel.lengths, kind)
    stored = art.series["covariates"]
    c_loc[seen] = np.array([stored[name]["loc"] for name in names]).T[at]
    c_scale[seen] = np.array([stored[name]["scale"] for name in names]).T[at]
    return Scaling(loc, scale, c_loc, c_scale), unseen


def _future_values(
    ids: np.ndarray, last_ds: np.ndarray, future: pd.DataFrame | None, cfg: Config, source: str
) -> np.ndarray:
    """[S, H, Cf] the future covariates at the H timestamps after each series' last one, or an
    error naming the first series without them and its first missing timestamps."""
    names = list(cfg.data.future_covariates)
    horizon = cfg.window.horizon
    if future is None:
        raise RnnForecastError(
            f"the model uses future covariates ({', '.join(names)}): forecasting needs their "
            f"values for the {horizon} steps after each series' end; pass a data file with "
            "those rows (y empty, the covariates filled) after each series' history"
        )
    times = future_times(last_ds, horizon, cfg.data.freq)  # [S, H]
    wanted = pd.MultiIndex.from_arrays([np.repeat(ids, horizon), times.reshape(-1)])
    given = future.set_index(["unique_id", "ds"])[names]
    values = given.reindex(wanted).to_numpy(np.float64).reshape(len(ids), horizon, len(names))
    missing = np.isnan(values).any(axis=2)  # [S, H]
    if missing.any():
        s = int(missing.any(axis=1).argmax())
        stamps = pd.DatetimeIndex(times[s])
        at = [str(t) for t in (stamps.date if (stamps == stamps.normalize()).all() else stamps)]
        at = [a for a, gone in zip(at, missing[s], strict=True) if gone]
        more = f" and {len(at) - 3} more" if len(at) > 3 else ""
        raise RnnForecastError(
            f"{source}: series '{ids[s]}' lacks future values of {', '.join(names)} at "
            f"{', '.join(at[:3])}{more} ({len(at)} of the {horizon} steps after its last "
            f"observation {format_time(last_ds[s])}); add rows for those times with y empty "
            f"and {', '.join(names)} filled"
        )
    return values


def future_times(last: np.ndarray, horizon: int, freq: str) -> np.ndarray:
    """[S, H] the `horizon` timestamps after each series' last one, stepping by `freq`."""
    offset = pd.tseries.frequencies.to_offset(freq)
    last = pd.DatetimeIndex(last)
    try:
        return np.stack([(last + k * offset).to_numpy() for k in range(1, horizon + 1)], axis=1)
    except (OverflowError, pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta):
        raise RnnForecastError(
            f"{horizon} steps of {freq} after {format_time(last.max())} pass "
            f"{format_time(pd.Timestamp.max.floor('D'))}, the last time pandas can represent; "
            "check the data's dates"
        ) from None


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


def dates_only(ds: pd.Series, freq: str) -> bool:
    """Whether forecasts stepping by `freq` from times like `ds` are all midnights: then
    they are written as plain dates. Decided once per model, so every chunk agrees."""
    try:
        sub_daily = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)) < pd.Timedelta(days=1)
    except (ValueError, TypeError):  # months, quarters...: calendar steps keep the time of day
        sub_daily = False
    return not sub_daily and ds.dt.tz is None and bool((ds.dt.normalize() == ds).all())
