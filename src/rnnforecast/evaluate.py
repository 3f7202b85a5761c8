"""Holdout and rolling-origin backtests, and the scores of training's validation windows: the
model and the baselines on the same cut-offs.

A cut-off splits each series into the history a forecaster may see and the next H actuals.
Folds are placed from the end of each series: fold k of K has its cut-off
`step * (K - 1 - k)` points before the last H. Everything here is torch-free; training a model
per fold is the caller's `fit` function (pipeline passes its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rnnforecast import (
    __version__,
    artifact,
    baselines,
    forecast,
    intervals,
    metrics,
    transforms,
    windows,
)
from rnnforecast.artifact import Artifact
from rnnforecast.config import Config
from rnnforecast.errors import RnnForecastError
from rnnforecast.panel import Panel
from rnnforecast.windows import gather, invert_scaler

BASELINE_COLUMNS = ("naive", "seasonal_naive", "drift", "window_mean", *baselines.INTERMITTENT)
METRICS = ("mae", "rmse", "mape", "smape", "mase", "rmsse", "bias")
COLUMNS = ["unique_id", "ds", "cutoff", "fold", "step", "y", "y_hat", *BASELINE_COLUMNS]


def columns(levels: tuple[int, ...] = ()) -> list[str]:
    """COLUMNS with the interval bounds of `levels` after y_hat."""
    at = COLUMNS.index("y_hat") + 1
    return [*COLUMNS[:at], *intervals.columns(levels), *COLUMNS[at:]]


@dataclass(frozen=True)
class Backtest:
    """Every scored point, and the fitted models' training histories (one per refit)."""

    forecasts: pd.DataFrame  # unique_id, ds, cutoff, fold, step, y, y_hat, <baselines>
    # unique_id, fold, scale, rmsse_scale: the in-sample seasonal-naive MAE for MASE, the
    # naive RMSE for RMSSE
    scales: pd.DataFrame
    histories: list[pd.DataFrame]
    notes: list[str]
    levels: tuple[int, ...] = ()  # prediction-interval levels: y_hat_lo_<level>, y_hat_hi_<level>


def cut_points(lengths: np.ndarray, horizon: int, folds: int, step: int) -> np.ndarray:
    """[K, S] how many points of each series lie before each fold's cut-off."""
    back = step * (folds - 1 - np.arange(folds))  # [K], the last fold ends at the series' end
    return lengths[None, :] - horizon - back[:, None]


def backtest(
    frame: pd.DataFrame,
    horizon: int,
    folds: int,
    step: int,
    season: int,
    fit: Callable[[pd.DataFrame], Artifact],
    refit: bool = True,
    engine: str = "numpy",
    levels: tuple[int, ...] = (),
) -> Backtest:
    """Rolling-origin evaluation: for each fold, `fit` on the data before its cut-off (every
    fold with `refit`, else only the first), forecast H steps (with intervals at `levels`),
    and score against baselines."""
    panel = Panel.from_frame(frame)
    cuts = cut_points(panel.lengths, horizon, folds, step)
    if (cuts[0] < 2).any():
        short = panel.ids[cuts[0] < 2][0]
        need = horizon + step * (folds - 1) + 2
        raise RnnForecastError(
            f"series '{short}' is too short for {folds} folds of horizon {horizon} every {step} "
            f"steps (needs at least {need} points); use fewer --folds or a smaller --step"
        )
    parts, scales, histories, notes = [], [], [], []
    model = None
    for k in range(folds):
        history = _before(frame, panel, cuts[k])
        if model is None or refit:
            model = fit(history)
            histories.append(model.history)
        part, more = score_cut(
            model, history, frame, panel, cuts[k], horizon, season, engine, levels
        )
        parts.append(part.assign(fold=k)[columns(levels)])
        scales.append(_scales(panel, cuts[k], season).assign(fold=k))
        notes.extend(more)
    return Backtest(
        forecasts=pd.concat(parts, ignore_index=True),
        scales=pd.concat(scales, ignore_index=True),
        histories=histories,
        notes=sorted(set(notes)),
        levels=levels,
    )


def holdout(
    model: Artifact,
    frame: pd.DataFrame,
    season: int,
    engine: str = "numpy",
    levels: tuple[int, ...] = (),
) -> Backtest:
    """Score an existing model on the last H points of each series, seen only up to them."""
    horizon = model.config.window.horizon
    panel = Panel.from_frame(frame)
    cuts = panel.lengths - horizon
    if (cuts < 1).any():
        short = panel.ids[cuts < 1][0]
        raise RnnForecastError(
            f"series '{short}' has only {int(panel.lengths.min())} points; holding out the "
            f"horizon ({horizon}) leaves no history"
        )
    history = _before(frame, panel, cuts)
    part, notes = score_cut(model, history, frame, panel, cuts, horizon, season, engine, levels)
    seen = seen_in_training(model, frame, panel, cuts)
    return Backtest(
        forecasts=part.assign(fold=0)[columns(levels)],
        scales=_scales(panel, cuts, season).assign(fold=0),
        histories=[model.history],
        notes=[*notes, *seen],
        levels=levels,
    )


def seen_in_training(
    model: Artifact, frame: pd.DataFrame, panel: Panel, cuts: np.ndarray
) -> list[str]:
    """A note when the points held out after `cuts` lie inside the data `model` was trained
    on (series.json's last_ds of the same series): scored on them, the model looks better
    than it will on new data, most of all on its validation window, which early stopping
    chose its weights on."""
    trained = pd.Series(
        pd.to_datetime(model.series["last_ds"], format="ISO8601"), index=model.series["unique_id"]
    )
    known = pd.Index(panel.ids).isin(trained.index)
    if not known.any():
        return []
    ds = frame["ds"].to_numpy()
    first = pd.DatetimeIndex(ds[panel.offsets + cuts])[known]  # each first held-out time
    last = pd.DatetimeIndex(ds[panel.offsets + panel.lengths - 1])[known]
    end = pd.DatetimeIndex(trained.reindex(panel.ids[known]).to_numpy())
    try:
        inside = np.asarray(first <= end)
    except TypeError:  # time zones on one side only: not the data it was trained on
        return []
    if not inside.any():
        return []
    w = model.config.window
    n, total = int(inside.sum()), len(panel.ids)
    upto = span(end[inside].min(), end[inside].max())
    validation = w.val_size >= w.horizon and bool(np.asarray(last[inside] == end[inside]).all())
    where = (
        f"their last {w.horizon} points are the model's validation window (early stopping chose "
        "its weights on them)"
        if validation
        else f"the points they are scored on lie inside the data the model was trained on "
        f"(up to {upto})"
    )
    return [
        f"{n} of {total} series are scored on data the model has seen: {where}, so these scores "
        f"are optimistic; for an honest score run `rnnforecast backtest` on the data, or "
        f"evaluate on data after {upto}"
    ]


def score_cut(
    model: Artifact,
    history: pd.DataFrame,
    frame: pd.DataFrame,
    panel: Panel,
    cuts: np.ndarray,
    horizon: int,
    season: int,
    engine: str,
    levels: tuple[int, ...] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """Forecasts of the model and the baselines for the H points after each cut-off."""
    fn = forecast.make_engine(model, engine)
    # the file's values after the cut-off are the future covariates' "known" future
    predicted, notes = forecast.forecast(model, history, fn, future=frame, levels=levels)
    actual = _after(frame, panel, cuts, horizon)
    cutoff = history.groupby("unique_id", sort=False)["ds"].last().rename("cutoff")
    baselines = _baselines(panel, cuts, horizon, season, model.config.window.lookback)
    out = actual.merge(cutoff, on="unique_id").merge(predicted, on=["unique_id", "ds"], how="left")
    out = out.merge(baselines, on=["unique_id", "step"])
    return out[[c for c in columns(levels) if c != "fold"]], notes


def _before(frame: pd.DataFrame, panel: Panel, cuts: np.ndarray) -> pd.DataFrame:
    """The first cuts[s] rows of each series s."""
    position = np.arange(len(frame)) - np.repeat(panel.offsets, panel.lengths)
    keep = position < np.repeat(cuts, panel.lengths)
    return frame[keep].reset_index(drop=True)


def _after(frame: pd.DataFrame, panel: Panel, cuts: np.ndarray, horizon: int) -> pd.DataFrame:
    """The `horizon` rows after each cut-off, numbered by step 1..H."""
    position = np.arange(len(frame)) - np.repeat(panel.offsets, panel.lengths)
    start = np.repeat(cuts, panel.lengths)
    keep = (position >= start) & (position < start + horizon)
    out = frame.loc[keep, ["unique_id", "ds", "y"]].reset_index(drop=True)
    out["step"] = (position - start)[keep] + 1
    return out


def _baselines(
    panel: Panel, cuts: np.ndarray, horizon: int, season: int, lookback: int
) -> pd.DataFrame:
    """Each baseline from each series' own history before its cut-off: naive, seasonal naive
    and drift from the whole history, the window mean from the last `lookback` points, the
    intermittent-demand ones (Croston, SBA, TSB, ADIDA) from the last MEAN_HISTORY."""
    every = np.arange(len(panel.ids))  # the mean-rate ones all at once: each loops over time
    recent, n = windows.history(panel, every, cuts, baselines.MEAN_HISTORY)  # [S, T], [S]
    rates = {name: fn(recent, horizon, season, n) for name, fn in baselines.INTERMITTENT.items()}
    rows = []
    for i, uid in enumerate(panel.ids):
        hist = panel.values[panel.offsets[i] : panel.offsets[i] + cuts[i]][None, :]  # [1, n]
        rows.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "step": np.arange(1, horizon + 1),
                    "naive": baselines.naive(hist, horizon)[0],
                    "seasonal_naive": baselines.seasonal_naive(hist, horizon, season)[0],
                    "drift": baselines.drift(hist, horizon)[0],
                    "window_mean": baselines.window_mean(hist[:, -lookback:], horizon)[0],
                    **{name: f[i] for name, f in rates.items()},
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _scales(panel: Panel, cuts: np.ndarray, season: int) -> pd.DataFrame:
    parts = [panel.values[o : o + c] for o, c in zip(panel.offsets, cuts, strict=True)]
    return pd.DataFrame(
        {
            "unique_id": panel.ids,
            "scale": [metrics.mase_scale(part, season) for part in parts],
            "rmsse_scale": [metrics.rmsse_scale(part) for part in parts],
        }
    )


# --- validation: the windows training held out ---------------------------------------------


@dataclass(frozen=True)
class Truth:
    """What validation scores read in original units, taken before training so the original
    values can be freed while the network trains: the points before each validation window's
    first target [W, T] (its input and, for the simple forecasts, what came before; copies of
    the series' first point where fewer are real), how many of them are real [W], the
    targets [W, H], and each series' MASE and RMSSE scales [S]."""

    history: np.ndarray
    n: np.ndarray
    y: np.ndarray
    mase_scales: np.ndarray
    rmsse_scales: np.ndarray


def validation_truth(panel: Panel, seen: Panel, split: Any, cfg: Config) -> Truth:
    """The validation windows in original units (`seen` is the transformed panel their starts
    index, `panel` the original one, padded alike), and the MASE scales of the series'
    training parts."""
    w = cfg.window
    kind = cfg.data.transform
    series = split.val_series
    starts = transforms.original_starts(split.val_starts, series, seen, panel, kind)
    origins = starts + w.lookback  # each window's first target
    width = baselines.history_points(w.lookback, w.horizon, cfg.data.season, cfg.train.point)
    history, n = windows.history(panel, series, origins - panel.offsets[series], width)
    lost = transforms.LOST[kind]
    pads = panel.pads if panel.pads is not None else np.zeros(len(panel.ids), np.int64)
    parts = [  # each series' training part, its padding left out
        panel.values[o + p : o + n + lost]
        for o, p, n in zip(panel.offsets, pads, split.n_fit, strict=True)
    ]
    mase_scales = np.array([metrics.mase_scale(part, cfg.data.season) for part in parts])
    rmsse_scales = np.array([metrics.rmsse_scale(part) for part in parts])
    y = gather(panel.values, origins, w.horizon)
    return Truth(history=history, n=n, y=y, mase_scales=mase_scales, rmsse_scales=rmsse_scales)


def validation_forecasts(
    truth: Truth,
    split: Any,
    values: np.ndarray,
    scaling: Any,
    engines: dict[str, forecast.Engine],
    cfg: Config,
) -> dict[str, np.ndarray]:
    """[W, H] forecasts of the validation windows in original units: of each engine of
    `engines` (the network, its members) from the inputs `values` [N, F] scaled by `scaling`,
    and of each simple forecast (baselines.EVERY) from the windows' history; at or above 0
    unless cfg.model.allow_negative, as predict makes them."""
    w = cfg.window
    series = split.val_series
    if not len(series):
        return {}
    scaled = gather(values, split.val_starts, w.lookback)  # [W, L, F]
    n_future = len(cfg.data.future_covariates or ())
    ahead = None
    if n_future:  # the future covariates over each window's horizon: the last channels
        ahead = gather(values, split.val_starts + w.lookback, w.horizon)[..., -n_future:]
    last = truth.history[:, -1]
    loc, scale = scaling.loc[series], scaling.scale[series]
    out = {
        name: transforms.inverse(
            invert_scaler(fn(scaled, ahead).astype(np.float64), loc, scale),
            last,
            cfg.data.transform,
        )  # fmt: skip
        for name, fn in engines.items()
    }
    for name, simple in baselines.EVERY.items():
        out[name] = simple(truth.history, w.horizon, cfg.data.season, truth.n)
    return {name: baselines.floored(f, cfg.model.allow_negative) for name, f in out.items()}


def validation_scores(
    truth: Truth,
    series: np.ndarray,
    forecasts: dict[str, np.ndarray],
    cfg: Config,
    histories: list[Any],
) -> dict[str, Any]:
    """metrics.json of a trained model: MAE, RMSE, sMAPE, MASE, bias and RMSSE on the
    validation windows
    (of `series` [W]), in original units, of the model's forecast (the network's, blended as
    cfg.model says), the network alone, each simple forecast and, for an ensemble, each
    member alone; then how training ended (`histories`, one per member)."""
    out: dict[str, Any] = {"validation_windows": int(len(series))}
    if len(series):
        m = cfg.model
        model = baselines.blended(
            forecasts["network"], forecasts.get(m.blend), m.blend_share or 0.0
        )
        out["season"] = cfg.data.season
        out["model"] = metrics.summarize(
            truth.y, model, series, truth.mase_scales, truth.rmsse_scales
        )
        for name, f in forecasts.items():
            if not name.startswith("member"):
                out[name] = metrics.summarize(
                    truth.y, f, series, truth.mase_scales, truth.rmsse_scales
                )
        members = [forecasts[k] for k in forecasts if k.startswith("member")]
        if members:  # each ensemble member alone on the same windows
            out["members"] = [
                {**metrics.summarize(truth.y, f, series, truth.mase_scales, truth.rmsse_scales),
                 "cell": cfg.model.member(k).cell}
                for k, f in enumerate(members)
            ]  # fmt: skip
    if len(histories) > 1:
        out["member_best_epochs"] = [h.best_epoch for h in histories]
    out["best_epoch"] = histories[0].best_epoch
    out["stop_reason"] = histories[0].stop_reason
    return out


def document(
    command: str,
    data_path: Any,
    cfg: Config,
    result: Backtest,
    season: int,
    folds: int,
    refit: bool,
) -> dict[str, Any]:
    """metrics.json of `evaluate` and `backtest`: the scores with what produced them."""
    return {
        "command": command,
        "rnnforecast_version": __version__,
        "data": str(data_path),
        "horizon": cfg.window.horizon,
        "season": season,
        "folds": folds,
        "refit": refit,
        **summarize(result),
        "config": cfg.to_dict(),
    }


# --- scoring ---------------------------------------------------------------------------------


def summarize(result: Backtest) -> dict:
    """Every metric per series, per fold, per horizon step and overall (mean over series), for
    the model and each baseline, and whether the model beat seasonal naive."""
    fc = result.forecasts.merge(result.scales, on=["unique_id", "fold"])
    fc = fc[fc["y_hat"].notna()]
    models = ["y_hat", *BASELINE_COLUMNS]
    windows = fc.groupby(["unique_id", "fold"], sort=True)
    per_window = []
    for (uid, fold), g in windows:
        y, scale = g["y"].to_numpy(), float(g["scale"].iloc[0])
        rmsse_scale = float(g["rmsse_scale"].iloc[0]) if "rmsse_scale" in g else np.nan
        row = {"unique_id": uid, "fold": fold, "cutoff": g["cutoff"].iloc[0]}
        for name in models:
            f = g[name].to_numpy()
            scores = _window_metrics(y, f, scale, rmsse_scale)
            row.update({f"{name}:{m}": float(v) for m, v in scores.items()})
        per_window.append(row)
    pw = pd.DataFrame(per_window)
    cols = [c for c in pw.columns if ":" in c]
    per_series = pw.groupby("unique_id", sort=True)[cols].mean()
    per_fold = pw.groupby("fold", sort=True)[cols].mean()
    overall = per_series.mean()

    abs_err = {name: (fc[name] - fc["y"]).abs() for name in models}
    by_step = pd.DataFrame({"step": fc["step"], "scale": fc["scale"], **abs_err})
    per_step = []
    for step, g in by_step.groupby("step", sort=True):
        per_step.append(
            {
                "step": int(step),
                **{
                    _label(n): {"mae": float(g[n].mean()), "mase": _nanmean(g[n] / g["scale"])}
                    for n in models
                },
            }
        )

    series_rows = []
    for uid, row in per_series.iterrows():
        ratio = _ratio(row["y_hat:mase"], row["seasonal_naive:mase"])
        series_rows.append(
            {
                "unique_id": uid,
                **{_label(n): _block(row, n) for n in models},
                "mase_ratio_vs_seasonal_naive": ratio,
                "beats_seasonal_naive": bool(ratio is not None and ratio < 1),
            }
        )
    overall_ratio = _ratio(overall["y_hat:mase"], overall["seasonal_naive:mase"])
    folds = pw.groupby("fold", sort=True)["cutoff"].agg(["min", "max"])
    coverage = {"intervals": interval_scores(fc, result.levels)} if result.levels else {}
    return {
        "overall": {_label(n): _block(overall, n) for n in models},
        "mase_ratio_vs_seasonal_naive": overall_ratio,
        "beats_seasonal_naive": bool(overall_ratio is not None and overall_ratio < 1),
        "series_beating_seasonal_naive": sum(r["beats_seasonal_naive"] for r in series_rows),
        "n_series": len(series_rows),
        "per_series": series_rows,
        "per_fold": [
            {
                "fold": int(k),
                "cutoff": span(folds.loc[k, "min"], folds.loc[k, "max"]),
                **{_label(n): _block(row, n) for n in models},
            }
            for k, row in per_fold.iterrows()
        ],
        "per_step": per_step,
        **coverage,
        "zero_actuals_left_out_of_mape": int((fc["y"] == 0).sum()),
        "points_scored": int(len(fc)),
    }


def interval_scores(fc: pd.DataFrame, levels: tuple[int, ...]) -> dict[str, dict]:
    """Per level: the share of actuals inside the interval (to set beside the level itself),
    its mean width in original units and over the MASE scale (comparable across series), the
    mean scaled interval score (MSIS: width and misses in one figure), and all of them per
    fold and per horizon step (intervals should widen with the step)."""

    def scores(g: pd.DataFrame, level: int) -> dict[str, float | None]:
        y = g["y"].to_numpy()
        lo, hi = g[f"y_hat_lo_{level}"].to_numpy(), g[f"y_hat_hi_{level}"].to_numpy()
        return {
            "coverage": float(metrics.coverage(y, lo, hi)),
            "mean_width": float(metrics.interval_width(lo, hi)),
            "mean_scaled_width": _nanmean((hi - lo) / g["scale"]),
            "msis": _nanmean(metrics.interval_score(y, lo, hi, level) / g["scale"]),
        }

    return {
        str(level): {
            **scores(fc, level),
            "per_fold": [{"fold": int(k), **scores(g, level)} for k, g in fc.groupby("fold")],
            "per_step": [{"step": int(h), **scores(g, level)} for h, g in fc.groupby("step")],
        }
        for level in levels
    }


def _window_metrics(
    y: np.ndarray, f: np.ndarray, scale: float, rmsse_scale: float = np.nan
) -> dict[str, float]:
    return {
        "mae": metrics.mae(y, f),
        "rmse": metrics.rmse(y, f),
        "mape": metrics.mape(y, f),
        "smape": metrics.smape(y, f),
        "mase": metrics.mase(y, f, scale),
        "rmsse": metrics.rmsse(y, f, rmsse_scale),
        "bias": metrics.bias(y, f),
    }


def _label(name: str) -> str:
    return "model" if name == "y_hat" else name


def _block(row: pd.Series, name: str) -> dict[str, float | None]:
    return {m: _clean(row[f"{name}:{m}"]) for m in METRICS}


def _clean(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _nanmean(values: pd.Series) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else None


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if np.isfinite(a) and np.isfinite(b) and b > 0 else None


def span(first: pd.Timestamp, last: pd.Timestamp) -> str:
    """A time, or a range of times when series end at different times."""
    a, b = artifact.format_time(first), artifact.format_time(last)
    return a if a == b else f"{a} .. {b}"
