"""The only place that strings the steps together. Returns results; renders nothing.

train:   seed -> load -> resolve sizes -> scale -> window -> fit -> score -> save
predict: load model -> load data (or the stored tail) -> forecast -> write
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import random
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from rnnforecast import (
    __version__,
    artifact,
    data,
    defaults,
    evaluate,
    features,
    forecast,
    fsutil,
    intervals,
    metrics,
    report,
    transforms,
)
from rnnforecast.config import Config
from rnnforecast.errors import RnnForecastError, quoted
from rnnforecast.panel import Panel
from rnnforecast.windows import (
    apply_covariate_scaler,
    apply_scaler,
    fit_covariate_scaler,
    fit_scaler,
    gather,
    invert_scaler,
    split_windows,
)

Notify = Callable[[str], None]
# the first line of every forecast CSV predict writes: what it may replace without --force
FORECAST_HEADER = re.compile(r"unique_id,ds,y_hat(,y_hat_(lo|hi)_\d+)*")
SPOOL_BYTES = 16 << 20  # a forecast streamed in chunks is held back up to this, then on disk


@dataclass
class TrainResult:
    model: artifact.Artifact  # with its path once saved
    history: Any  # train.History
    n_series: int
    n_train_windows: int
    n_val_windows: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # gradient health, in plain words


@dataclass
class EvaluateResult:
    document: dict[str, Any]  # metrics.json
    backtest: evaluate.Backtest
    out: Path
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass
class PredictResult:
    forecasts: pd.DataFrame | None  # None when written in several chunks
    series: int
    rows: int
    out: Path | None
    engine: str
    seconds: float
    notes: list[str] = field(default_factory=list)


def set_seed(seed: int) -> None:
    """Seed every generator in one place: Python, numpy and torch (CPU and CUDA)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def load_config(
    path: str | Path | None, overrides: dict[str, Any], warm_start: str | Path | None = None
) -> tuple[Config, artifact.Artifact | None]:
    """The run's settings (defaults < warm-start model < config file < flags) and the model
    to start from, if any."""
    start = artifact.load(warm_start) if warm_start is not None else None
    return Config.load(path, overrides, base=start.config if start else None), start


def train(
    data_path: str | Path,
    out: str | Path,
    cfg: Config,
    on_note: Notify | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    start: artifact.Artifact | None = None,
    wait: float = 0.0,
    resume: bool = False,
    force: bool = False,
) -> TrainResult:
    """Train a model on a CSV file (from `start`'s weights, if given) and write its model
    directory at `out`, holding `out`'s lock so two runs never write it at once. `out` is
    checked before anything else (see `check_train_out`).

    Interrupted, it saves a checkpoint beside `out` that `resume` continues from. Under
    torchrun every process trains its share; only rank 0 locks, logs and writes.
    """
    from rnnforecast import distributed
    from rnnforecast.train import Interrupted, is_checkpoint, save_checkpoint

    check_train_out(out, force)  # on every process: all stop at once if it is refused
    checkpoint = checkpoint_path(out)
    with distributed.session(cfg.train.device):
        writer = distributed.rank() == 0
        lock = fsutil.locked(out, wait, on_note) if writer else contextlib.nullcontext()
        with lock:
            try:  # the loaded series are not kept here: fit frees them once windowed
                result = fit(
                    data.load_compact(data_path, cfg.data, times=cfg.model.calendar), cfg,
                    on_note, on_epoch, start, checkpoint if resume else None,
                )  # fmt: skip
            except Interrupted as stop:
                if writer:
                    save_checkpoint(checkpoint, stop.state, force)
                raise RnnForecastError(
                    f"{stop}; the best weights so far (epoch {stop.state['best_epoch']}) and the "
                    f"optimizer state are saved in {checkpoint}; run the same command with "
                    "--resume to continue",
                    stop.exit_code,
                ) from None
            if writer:
                result.model = artifact.save(result.model, out, force)
                if is_checkpoint(checkpoint):  # never a file of the user's by that name
                    checkpoint.unlink(missing_ok=True)
    return result


def check_train_out(out: str | Path, force: bool = False) -> None:
    """Refuse an unusable --out of train before any work: a path that cannot be written, or
    one whose replacement would destroy what rnnforecast did not write (and its checkpoint
    path, written if the run is interrupted)."""
    fsutil.check_dir_out(out, fsutil.MODEL_DIR, force)
    checkpoint = fsutil.check_file_out(checkpoint_path(out))
    if not force and (checkpoint.is_symlink() or checkpoint.exists()):
        from rnnforecast.train import is_checkpoint

        if not is_checkpoint(checkpoint):
            raise RnnForecastError(
                f"{checkpoint}: exists and is not a checkpoint rnnforecast wrote; a train run "
                "into --out keeps its checkpoint there when interrupted: move it, choose "
                "another --out, or pass --force to replace it"
            )


def checkpoint_path(out: str | Path) -> Path:
    """Where an interrupted training run into `out` keeps its state."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt")


def fit(
    loaded: data.Loaded | data.Compact,
    cfg: Config,
    on_note: Notify | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    start: artifact.Artifact | None = None,
    resume: Path | None = None,
) -> TrainResult:
    """Train a model on loaded data (a frame is made compact first); the result holds the
    model in memory, unsaved. `resume` is a checkpoint of an interrupted run of the same data
    and settings."""
    import torch

    from rnnforecast import distributed

    started = time.perf_counter()
    notes: list[str] = []

    def note(msg: str) -> None:
        notes.append(msg)
        if on_note is not None:
            on_note(msg)

    for msg in loaded.notes:
        note(msg)
    if loaded.future is not None and len(loaded.future):
        note(
            f"{len(loaded.future)} rows after the last observed y of their series hold future "
            "covariates only; they are for predict, not trained on"
        )
    if isinstance(loaded, data.Loaded):
        loaded = data.compact(loaded, cfg.data.covariates, times=cfg.model.calendar)
    panel = loaded.panel
    asked = cfg.data.transform
    cfg = defaults.resolve(cfg, loaded.schema, panel)
    w = cfg.window
    kind = cfg.data.transform
    note(
        f"{len(panel.ids)} series, frequency {cfg.data.freq}, season {cfg.data.season}: "
        f"lookback {w.lookback}, horizon {w.horizon}, validation {w.val_size}"
    )
    if asked == "auto" and kind != "none":
        note(
            f"transform {kind}: the series trend from season to season, so the network learns "
            "their changes (--transform none to model the levels)"
        )
    lost = transforms.LOST[kind]
    need = w.lookback + w.horizon + w.val_size + lost
    plus = f" + {lost} (the first point, lost to --transform {kind})" if lost else ""
    enough = panel.lengths >= need
    if not enough.any():
        raise RnnForecastError(
            f"{loaded.source}: every series is shorter than lookback + horizon + validation"
            f"{plus} = {need} points (longest: {int(panel.lengths.max())}); lower --lookback or "
            "--horizon, or use --val-size 0"
        )
    first, last, source = loaded.first, loaded.last, loaded.source
    if not enough.all():
        names = ", ".join(map(str, panel.ids[~enough][:5]))
        note(f"skipped {int((~enough).sum())} series shorter than {need} points{plus}: {names}")
        panel, first, last = panel.select(enough), first[enough], last[enough]
    del loaded  # `train` hands the series over: what follows frees them once windowed
    # what the model directory keeps of the data (a difference needs one more point): the
    # points now, as rows once training is done and the series' values are freed
    ends = panel.tail(w.lookback + lost)
    first_ds = [forecast.format_time(t) for t in first]
    last_ds = [forecast.format_time(t) for t in last]

    seen = transforms.forward(panel, kind)  # the series as the scaler and the network see them
    split = split_windows(seen, w.lookback, w.horizon, w.val_size)
    few = _few_windows(len(split.train_starts), len(split.val_starts), w, len(panel.ids))
    if few:
        note(few)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below
        loc, scale = distributed.broadcast_numpy(np.stack(fit_scaler(seen, split.n_fit, w.scaler)))
    _check_scaler(loc, scale, panel.ids, source)
    scaled = apply_scaler(seen, loc, scale)
    covariates = None
    if cfg.data.covariates:  # scaled like the target: per series, on the training part only
        with np.errstate(over="ignore", invalid="ignore"):
            c_loc, c_scale = distributed.broadcast_numpy(
                np.stack(fit_covariate_scaler(seen, split.n_fit, w.scaler))
            )
        for c, name in enumerate(cfg.data.covariates):
            _check_scaler(c_loc[:, c], c_scale[:, c], panel.ids, source, name)
        covariates = apply_covariate_scaler(
            seen.covariates, seen.series_of_rows(), c_loc, c_scale
        )  # [N, C]
    values = features.model_inputs(
        scaled, seen.times, cfg.data.freq, cfg.model.calendar, covariates
    )  # [N, F]
    n_future = len(cfg.data.future_covariates or ())
    # the original values are read again only by validation scores: take their part now and
    # free the [N] float64 arrays (and covariates) before the network's working set exists
    truth = _validation_truth(panel, seen, split, cfg)
    panel, seen = panel.layout(), seen.layout()

    from rnnforecast import train
    from rnnforecast.model import Forecaster

    start_lag, start_seasons = _skip_start(
        values[:, 0], split.train_starts, w.lookback, w.horizon, cfg.data.season, kind,
        cfg.model.norm,
    )  # fmt: skip
    if cfg.model.skip == "linear" and start is None:
        note(f"the linear skip starts as {_start_name(start_lag, start_seasons, kind)}")
    if start is not None:
        _check_warm_start(start, cfg)
        note(f"warm start from {start.path} (its best epoch {start.metrics.get('best_epoch')})")
    fingerprint = _fingerprint(cfg, values, split, distributed.world())
    state = train.load_checkpoint(resume) if resume is not None else None
    if state is not None and state.get("fingerprint") != fingerprint:
        raise RnnForecastError(
            f"{resume}: the checkpoint comes from other data or settings; rerun the interrupted "
            "command unchanged, or delete the checkpoint and train without --resume"
        )
    # members finished before an interruption: their weights and histories
    done = list(state.get("members", [])) if state is not None else []
    histories = _resumed_histories(state, done, cfg, resume) if state is not None else []
    resumed = len(done)  # the member a checkpoint stopped in: the only one it continues
    for k in range(resumed, cfg.model.ensemble):
        if cfg.model.ensemble > 1:
            cell = cfg.model.member(k).cell
            note(f"ensemble member {k + 1}/{cfg.model.ensemble}: {cell}, seed {cfg.train.seed + k}")
        set_seed(cfg.train.seed + k)
        model = Forecaster(
            cfg.model.member(k), w.lookback, w.horizon, values.shape[1],
            season=start_lag, n_future=n_future, seasons=start_seasons,
        )  # fmt: skip
        if start is not None:
            member = forecast.members(start.weights)[k]
            model.load_state_dict({n: torch.from_numpy(v.copy()) for n, v in member.items()})
        member_cfg = dataclasses.replace(cfg.train, seed=cfg.train.seed + k)
        try:
            with train.flush_denormals():
                histories.append(
                    train.fit(
                        model, values, split.train_starts, split.val_starts, w.lookback,
                        member_cfg, on_epoch, state if k == resumed else None,
                    )
                )  # fmt: skip
        except train.Interrupted as stop:
            stop.state["fingerprint"] = fingerprint
            stop.state["members"] = done
            stop.state["histories"] = [dataclasses.asdict(h) for h in histories]
            raise
        done.append(model.state_dict())
    weights = forecast.join_members(
        [{n: v.detach().cpu().numpy() for n, v in member.items()} for member in done]
    )
    history = histories[0]  # history.csv and the summary follow the first member
    predict_fn = forecast.engine_for(cfg.model, weights, "torch", history.device)
    parts = forecast.members(weights) if cfg.model.ensemble > 1 else []
    member_fns = [  # each member alone: what the median adds
        forecast.engine_for(cfg.model.member(k), part, "torch", history.device)
        for k, part in enumerate(parts)
    ]
    scores = _validation_scores(truth, split, values, loc, scale, predict_fn, cfg, member_fns)
    if parts:
        scores["member_best_epochs"] = [h.best_epoch for h in histories]
        for k, member in enumerate(scores.get("members", [])):
            member["cell"] = cfg.model.member(k).cell
    scores["best_epoch"] = history.best_epoch
    scores["stop_reason"] = history.stop_reason
    scores["skip_start"] = {"lag": start_lag, "seasons": start_seasons}
    calibration = _calibrate(seen, split, values, predict_fn, cfg)

    series = {
        "unique_id": panel.ids.tolist(),
        "loc": loc.tolist(),
        "scale": scale.tolist(),
        "first_ds": first_ds,
        "last_ds": last_ds,
        "length": panel.lengths.tolist(),
    }
    if cfg.data.covariates:
        series["covariates"] = {
            name: {"loc": c_loc[:, c].tolist(), "scale": c_scale[:, c].tolist()}
            for c, name in enumerate(cfg.data.covariates)
        }
    model_art = artifact.Artifact(
        config=cfg,
        weights=weights,
        series=series,
        tail=_tail(ends, last, cfg.data.freq, cfg.data.covariates),
        history=pd.DataFrame(history.rows),
        metrics=scores,
        intervals=calibration,
    )
    return TrainResult(
        model=model_art,
        history=history,
        n_series=len(panel.ids),
        n_train_windows=len(split.train_starts),
        n_val_windows=len(split.val_starts),
        seconds=time.perf_counter() - started,
        notes=notes,
        warnings=train.diagnose(history.rows, cfg.train.clip_norm, cfg.model.member(0)),
    )


# Fewer training windows than this, and the warning of `_few_windows`: a window is one example,
# and a network of even the smallest sizes has hundreds of weights, so it can fit so few by
# heart; what it learns beyond its starting forecast is then noise, and the epoch early stopping
# keeps is picked on as few validation windows. 60 monthly points with the defaults (lookback 36,
# horizon 12, validation 12) give 1; AirPassengers' 144 give 85, and 1 with --horizon 48.
MIN_TRAIN_WINDOWS = 10


def _resumed_histories(state: dict[str, Any], done: list, cfg: Config, path: Path) -> list:
    """The histories of the ensemble members a checkpoint holds as finished, once their
    weights are known to be those of this run's members (a checkpoint is input too)."""
    from rnnforecast import train

    shapes = artifact.weight_shapes(cfg)
    fix = "delete it and train without --resume"
    for k, member in enumerate(done):
        prefix = f"members.{k}." if cfg.model.ensemble > 1 else ""
        want = {n[len(prefix) :]: s for n, s in shapes.items() if n.startswith(prefix)}
        if k + 1 >= cfg.model.ensemble or {n: tuple(v.shape) for n, v in member.items()} != want:
            raise RnnForecastError(
                f"{path}: the weights of ensemble member {k + 1} are not those of this run's "
                f"model; {fix}"
            )
    rows = state.get("histories", [])
    try:
        histories = [train.History(**h) for h in rows]
    except TypeError:
        histories = None
    if histories is None or len(histories) != len(done):
        raise RnnForecastError(f"{path}: the finished members' histories do not fit; {fix}")
    return histories


def _few_windows(n_train: int, n_val: int, w: Any, n_series: int) -> str | None:
    """The note for a training run with fewer than MIN_TRAIN_WINDOWS windows to learn from,
    saying how to get more; None when there are enough."""
    if n_train >= MIN_TRAIN_WINDOWS:
        return None
    val = f"{n_val} validation window{'s' * (n_val != 1)}" if w.val_size else "no validation"
    return (
        f"too few windows: only {n_train} training window{'s' * (n_train != 1)} and {val} of "
        f"lookback {w.lookback} + horizon {w.horizon} points from {n_series} series, too few for "
        "the network to learn from or to validate on; use a shorter --lookback or a smaller "
        "--horizon (each step less gives every series one more window), or give more history"
    )


def _check_scaler(
    loc: np.ndarray, scale: np.ndarray, ids: np.ndarray, source: str, covariate: str = ""
) -> None:
    """Refuse series whose scaling statistics overflow float64 (values near its limit, 1e308,
    or a spread beyond 1e154, whose square does): the network would see NaN."""
    bad = np.flatnonzero(~(np.isfinite(loc) & np.isfinite(scale)))
    if len(bad):
        what = f"covariate '{quoted(covariate)}' of series" if covariate else "series"
        raise RnnForecastError(
            f"{source}: {what} '{quoted(ids[bad[0]])}' has values too large to scale "
            "(their mean or spread overflows float64); divide the data by a power of ten (e.g. "
            "1e6) and train again"
        )


def _skip_start(
    values: np.ndarray,
    starts: np.ndarray,
    lookback: int,
    horizon: int,
    season: int,
    transform: str = "none",
    norm: str = "window",
) -> tuple[int, int]:
    """Where the linear skip starts, as (lag, seasons) for `model.init_seasonal`: naive (1, 1),
    or the mean profile of the last k seasons at the last season's level (season, k; k = 1 is
    seasonal naive), whichever forecasts the training windows best. A trending or cycling
    series (sunspots) starts from naive, a stable seasonal one from a profile of several seasons
    (less noisy than one), a changing one from seasonal naive; training takes it on from there.

    On differences, lag 1 would repeat the last step's change H times, a poor start; the
    choice is then the season (seasonal naive plus the last season's change, once cumulated)
    or 0, a zero map (the window's mean change, or the training mean change without window
    normalisation: a drift forecast), scored on the levels the cumulated forecasts give."""
    differences = transform == "difference"
    if not len(starts) or (season <= 1 and not differences):
        return (0, 1) if differences else (1, 1)
    sample = starts[:: max(1, len(starts) // 20_000)]  # enough to tell, bounded work
    windows = gather(values, sample, lookback + horizon)  # [W, L+H], scaled units
    x, y = windows[:, :lookback], windows[:, lookback:]
    if differences:
        drift = x.mean(axis=1, keepdims=True) if norm == "window" else np.zeros((len(x), 1))
        seasons, other = ([1] if season > 1 else []), {(0, 1): np.broadcast_to(drift, y.shape)}
    else:
        seasons = range(1, lookback // season + 1) if season <= lookback else []
        other = {(1, 1): metrics.naive(x, horizon)}
    candidates = {  # [W, H] each, seasonal ones first: a tie keeps the season. einsum's own
        # loop, not BLAS (x @ map): BLAS's threads would keep ~10 MB of buffers to the end
        (season, k): np.einsum("wl,hl->wh", x, metrics.profile_map(lookback, horizon, season, k))
        for k in seasons
    } | other
    errors = {start: f - y for start, f in candidates.items()}  # [W, H] each
    if differences:  # the level errors the cumulated forecasts make
        errors = {start: np.cumsum(e, axis=1) for start, e in errors.items()}
    return min(errors, key=lambda start: np.abs(errors[start]).mean())  # ties: fewer seasons


def _start_name(lag: int, seasons: int, transform: str) -> str:
    """The simple forecast a (lag, seasons) skip start is, in words."""
    if lag == 0:
        return "drift (the mean change)"
    if lag == 1:
        return "naive (the last value)"
    if seasons == 1:
        return "seasonal naive" + (" on the changes" if transform == "difference" else "")
    return f"the mean profile of the last {seasons} seasons, at the last season's level"


def _fingerprint(cfg: Config, values: np.ndarray, split: Any, processes: int) -> str:
    """SHA-256 of the settings, the exact training data and the number of processes, to match
    a checkpoint to its run."""
    digest = hashlib.sha256(f"{processes}\n{cfg.to_yaml()}".encode())
    starts = split.train_starts
    for array in (values, starts.shift, starts.ends, split.val_starts):
        digest.update(np.ascontiguousarray(array))  # its buffer: the bytes, without a copy
    return digest.hexdigest()


def _check_warm_start(start: artifact.Artifact, cfg: Config) -> None:
    """The weights fit only a network of the same shape: cell, sizes, horizon, lookback."""
    old, new = start.config, cfg
    pairs = {
        **{
            f.name: (getattr(old.model, f.name), getattr(new.model, f.name))
            for f in dataclasses.fields(old.model)
        },
        "horizon": (old.window.horizon, new.window.horizon),
        "lookback": (old.window.lookback, new.window.lookback),
        "transform": (old.data.transform, new.data.transform),
        "past_covariates": (old.data.past_covariates, new.data.past_covariates),
        "future_covariates": (old.data.future_covariates, new.data.future_covariates),
    }
    differ = [f"{k} {a} -> {b}" for k, (a, b) in pairs.items() if a != b]
    if differ:
        raise RnnForecastError(
            f"--warm-start {start.path}: this run changes {', '.join(differ)}; a warm start "
            "keeps the model's shape, so drop those options or train from scratch"
        )


@dataclass(frozen=True)
class _Truth:
    """What validation scores read in original units, taken before training so the original
    values can be freed while the network trains: the last season of the validation windows'
    inputs (what naive, seasonal naive and an inverse difference read) [W, min(m, L)], their
    targets [W, H], and each series' MASE scale [S]."""

    x: np.ndarray
    y: np.ndarray
    mase_scales: np.ndarray


def _validation_truth(panel: Panel, seen: Panel, split: Any, cfg: Config) -> _Truth:
    """The validation windows in original units (`seen` is the transformed panel their starts
    index, `panel` the original one), and the MASE scales of the series' training parts."""
    w = cfg.window
    kind = cfg.data.transform
    starts = transforms.original_starts(split.val_starts, split.val_series, seen, panel, kind)
    keep = min(max(cfg.data.season, 1), w.lookback)  # of the inputs, what the baselines read
    raw = gather(panel.values, starts + w.lookback - keep, keep + w.horizon)  # the same times
    lost = transforms.LOST[kind]
    mase_scales = np.array(
        [
            metrics.mase_scale(panel.values[o : o + n + lost], cfg.data.season)
            for o, n in zip(panel.offsets, split.n_fit, strict=True)
        ]
    )
    return _Truth(x=raw[:, :keep], y=raw[:, keep:], mase_scales=mase_scales)


def _validation_scores(
    truth: _Truth, split, values, loc, scale, predict_fn, cfg: Config, members=()
) -> dict[str, Any]:
    """MAE, RMSE, sMAPE and MASE on the validation windows, in original units, for the model
    and for the naive and seasonal-naive forecasts of the same windows (and, under "members",
    for each engine of `members`)."""
    if not len(split.val_starts):
        return {"validation_windows": 0}
    w = cfg.window
    kind = cfg.data.transform
    series = split.val_series
    x, y = truth.x, truth.y
    scaled = gather(values, split.val_starts, w.lookback)  # [W, L, F]
    n_future = len(cfg.data.future_covariates or ())
    ahead = None
    if n_future:  # the future covariates over each window's horizon: the last channels
        ahead = gather(values, split.val_starts + w.lookback, w.horizon)[..., -n_future:]

    def in_original_units(fn: forecast.Engine) -> np.ndarray:  # [W, H]
        f_seen = invert_scaler(fn(scaled, ahead).astype(np.float64), loc[series], scale[series])
        return transforms.inverse(f_seen, x[:, -1], kind)

    m = cfg.data.season
    forecasts = {
        "model": in_original_units(predict_fn),
        "naive": metrics.naive(x, w.horizon),
        "seasonal_naive": metrics.seasonal_naive(x, w.horizon, m),
    }
    out: dict[str, Any] = {"validation_windows": int(len(series)), "season": m}
    for name, f in forecasts.items():
        out[name] = metrics.summarize(y, f, series, truth.mase_scales)
    if members:  # each ensemble member alone on the same windows
        out["members"] = [
            metrics.summarize(y, in_original_units(fn), series, truth.mase_scales) for fn in members
        ]
    return out


def _calibrate(seen, split, values, predict_fn, cfg: Config) -> dict[str, Any]:
    """Prediction-interval calibration from the model's errors on the later half of its
    training windows and on the windows reaching into validation (see intervals.py); a
    sample of each when many. `seen` is the (transformed) panel the windows index."""
    w = cfg.window
    late, out_of_sample = intervals.late_windows(seen, split.n_fit, w.lookback, w.horizon)
    # the in-sample errors the coming ones resemble when a series drifts: AirPassengers' early
    # years widened its backtests' 80 % intervals to 88 % covered (83 % on the later half)
    recent = split.train_starts.later_half()
    train = recent[:: max(1, len(recent) // intervals.MAX_WINDOWS)]
    n_future = len(cfg.data.future_covariates or ())
    cumulate = cfg.data.transform == "difference"  # its errors add up along the horizon
    lag = intervals.spread_lag(cfg.data.season, w.lookback)
    args = (w.lookback, w.horizon, predict_fn, n_future, cumulate, lag)
    return intervals.calibrate(
        intervals.errors(values, train, *args), intervals.errors(values, late, *args),
        out_of_sample, lag,
    )  # fmt: skip


def _tail(
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


def _not_a_model(data_path: str | Path | None) -> None:
    """`predict mymodel` puts the model where the data goes: say so, rather than that the
    default --model directory does not exist."""
    if data_path is not None and (Path(data_path) / artifact.MANIFEST).is_file():
        raise RnnForecastError(
            f"{data_path}: is a model directory, not data; give it as --model {data_path} "
            "(the argument is a CSV of data)"
        )


def _with_fill(cfg: Config, fill: str | None) -> Config:
    """A model's settings with the repair asked for when reading new data (--fill); none
    asked ('none' or None) keeps the model's own."""
    if fill in (None, "none"):
        return cfg
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, fill=fill))


def predict(
    model_dir: str | Path,
    data_path: str | Path | None = None,
    out: str | Path | None = None,
    engine: str = "auto",
    device: str = "auto",
    chunk_size: int = 0,
    stream: TextIO | None = None,
    levels: tuple[int, ...] = (),
    force: bool = False,
    fill: str | None = None,
) -> PredictResult:
    """Forecast H steps after the latest data (the file given, or the model's stored tail),
    with prediction intervals at `levels` (percent).

    The CSV goes to `out` (atomically; an existing file there must be a forecast, see
    FORECAST_HEADER, unless `force`) or to `stream`, whole or not at all: with `chunk_size`, a
    long file is read and forecast that many series at a time, so memory stays bounded by the
    chunk. What goes to `stream` is held back (on disk past SPOOL_BYTES) until the last chunk
    has been read, then written at once, so a bad row late in the file or a Ctrl-C leaves no
    partial forecast there.
    """
    started = time.perf_counter()
    if out is not None:
        fsutil.check_file_out(out, FORECAST_HEADER, force)
    _not_a_model(data_path)
    art = artifact.load(model_dir)
    cfg = _with_fill(art.config, fill)
    if data_path is None:
        if cfg.data.future_covariates:
            names = ", ".join(cfg.data.future_covariates)
            raise RnnForecastError(
                f"{model_dir}: the model uses future covariates ({names}), so predict needs "
                f"their values for the {cfg.window.horizon} steps ahead: give a data file "
                f"(`rnnforecast predict DATA -m {model_dir}`) whose series end with "
                f"{cfg.window.horizon} rows with y empty and {names} filled"
            )
        chunks: Any = [(art.tail, None, ())]
    elif chunk_size and cfg.data.id_col:
        loaded = data.load_chunks(data_path, cfg.data, chunk_size, model=str(model_dir))
        chunks = ((part.frame, part.future, part.notes) for part in loaded)
    else:
        part = data.load(data_path, cfg.data, model=str(model_dir))
        chunks = [(part.frame, part.future, part.notes)]
    dates = forecast.dates_only(art.tail["ds"], cfg.data.freq)
    engine = forecast.resolve_engine(engine, device, chunk_size or len(art.series["unique_id"]))
    predict_fn = forecast.make_engine(art, engine, device)
    notes: list[str] = []
    series = rows = 0
    with contextlib.ExitStack() as stack:
        if out is not None:
            sink = stack.enter_context(fsutil.atomic_open(out, FORECAST_HEADER, force))
        elif stream is not None:  # held back, then written at once (fsutil.deliver)
            sink = stack.enter_context(
                tempfile.SpooledTemporaryFile(SPOOL_BYTES, "w+", encoding="utf-8", newline="")
            )
        else:
            sink = None
        for i, (frame, future, more) in enumerate(chunks):
            forecasts, skipped = forecast.forecast(
                art, frame, predict_fn, future, str(data_path), levels
            )
            notes.extend([*more, *skipped])
            if sink is not None:
                sink.write(forecast.to_csv(forecasts, dates, header=i == 0))
            series, rows = series + forecasts["unique_id"].nunique(), rows + len(forecasts)
            kept = forecasts if i == 0 else None  # several chunks: keep none in memory
        if out is None and stream is not None:
            fsutil.deliver(sink, stream)
    return PredictResult(
        forecasts=kept,
        series=series,
        rows=rows,
        out=Path(out) if out is not None else None,
        engine=engine,
        seconds=time.perf_counter() - started,
        notes=list(dict.fromkeys(notes)),
    )


def evaluate_model(
    data_path: str | Path,
    model_dir: str | Path,
    out: str | Path,
    season: int | None = None,
    engine: str = "auto",
    max_plots: int = 6,
    levels: tuple[int, ...] = (),
    force: bool = False,
    fill: str | None = None,
) -> EvaluateResult:
    """Holdout: score a saved model on the last H points of each series of a CSV file (and
    its prediction intervals at `levels`); `out` is checked first (fsutil.check_dir_out)."""
    started = time.perf_counter()
    fsutil.check_dir_out(out, fsutil.REPORT_DIR, force)
    _not_a_model(data_path)
    art = artifact.load(model_dir)
    loaded = data.load(data_path, _with_fill(art.config, fill).data, model=str(model_dir))
    season = season or art.config.data.season
    engine = forecast.resolve_engine(engine, "cpu", 0)
    result = evaluate.holdout(art, loaded.frame, season, engine, levels)
    doc = _document("evaluate", data_path, art.config, result, season, folds=1, refit=False)
    doc["model_dir"] = str(model_dir)
    doc["notes"] = list(result.notes)  # e.g. that the model was trained on the scored points
    drawn = report.write_report(out, doc, result, loaded.frame, max_plots, force)
    notes = [*loaded.notes, *result.notes, *drawn]
    return EvaluateResult(doc, result, Path(out), time.perf_counter() - started, notes)


def backtest(
    data_path: str | Path,
    cfg: Config,
    out: str | Path,
    on_note: Notify | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    force: bool = False,
) -> EvaluateResult:
    """Rolling origin: for each of `folds` cut-offs, `step` apart, train on the data before it
    (every fold, or once without `refit`), forecast H and score beside the baselines. `out`
    is checked before any training (fsutil.check_dir_out)."""
    started = time.perf_counter()
    fsutil.check_dir_out(out, fsutil.REPORT_DIR, force)
    folds, step, refit = cfg.evaluate.folds, cfg.evaluate.step, cfg.evaluate.refit
    loaded = data.load(data_path, cfg.data)
    panel = Panel.from_frame(loaded.frame)
    horizon = defaults.resolve(cfg, loaded.schema, panel).window.horizon
    step = step or horizon
    cfg = defaults.resolve(cfg, loaded.schema, panel, reserve=horizon + step * (folds - 1))
    fold = iter(range(1, folds + 1))

    def fit_fold(history: pd.DataFrame) -> artifact.Artifact:
        k = next(fold) if refit else 1
        if on_note is not None:
            last = history.groupby("unique_id")["ds"].last()
            cut = evaluate.span(last.min(), last.max())
            scope = f"fold {k}/{folds}" if refit else f"folds 1-{folds} (no refit)"
            on_note(f"{scope}: training on data up to {cut}")
        fold_data = dataclasses.replace(loaded, frame=history, notes=(), future=None)
        return fit(fold_data, cfg, on_epoch=on_epoch).model

    result = evaluate.backtest(
        loaded.frame, horizon, folds, step, cfg.data.season, fit_fold, refit, engine="numpy",
        levels=cfg.predict.intervals or (),
    )  # fmt: skip
    doc = _document("backtest", data_path, cfg, result, cfg.data.season, folds, refit)
    doc["step"] = step
    drawn = report.write_report(out, doc, result, loaded.frame, cfg.evaluate.max_plots, force)
    notes = [*loaded.notes, *result.notes, *drawn]
    return EvaluateResult(doc, result, Path(out), time.perf_counter() - started, notes)


def info(model_dir: str | Path) -> dict[str, Any]:
    """What a model is, from its directory alone (no torch)."""
    art = artifact.load(model_dir)
    cfg, series, scores = art.config, art.series, art.metrics
    return {
        "model_dir": str(model_dir),
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


def _document(command, data_path, cfg: Config, result, season, folds, refit) -> dict[str, Any]:
    """metrics.json: the scores with what produced them."""
    return {
        "command": command,
        "rnnforecast_version": __version__,
        "data": str(data_path),
        "horizon": cfg.window.horizon,
        "season": season,
        "folds": folds,
        "refit": refit,
        **evaluate.summarize(result),
        "config": cfg.to_dict(),
    }
