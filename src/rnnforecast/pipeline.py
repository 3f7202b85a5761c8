"""The only place that strings the steps together. Returns results; renders nothing.

train:   seed -> load -> resolve sizes -> scale -> window -> fit -> score -> save
predict: load model -> load data (or the stored tail) -> forecast -> write
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from rnnforecast import (
    artifact,
    baselines,
    data,
    defaults,
    evaluate,
    features,
    forecast,
    fsutil,
    intervals,
    select,
    transforms,
    windows,
    writers,
)
from rnnforecast.config import Config
from rnnforecast.errors import RnnForecastError
from rnnforecast.panel import Panel
from rnnforecast.windows import (
    split_windows,
)

Notify = Callable[[str], None]


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
    histories: list[Any] = field(default_factory=list)  # every member's, `history` first


@dataclass
class EvaluateResult:
    document: dict[str, Any]  # metrics.json
    backtest: evaluate.Backtest
    frame: pd.DataFrame  # the data scored, for the report's plots
    out: Path  # where the report goes (checked before any work)
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
                    _load_compact(data_path, cfg), cfg,
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


def _load_compact(data_path: str | Path, cfg: Config) -> data.Compact:
    """The training data as arrays, then the C heap's free pages given back (`data.trim_heap`)
    before training allocates its large arrays. Returned, not kept: `fit` frees the series."""
    loaded = data.load_compact(data_path, cfg.data, times=cfg.model.calendar)
    data.trim_heap()
    return loaded


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
    from rnnforecast import ensemble, train

    started = time.perf_counter()
    note = _Notes(on_note)
    loaded, cfg, sparse = _settle(loaded, cfg, note)
    inputs = _inputs(loaded, cfg, note)
    del loaded  # the original series are freed: what follows reads the network's inputs
    split, values = inputs.split, inputs.values
    skip = baselines.skip_start(
        values[:, 0], split.train_starts, cfg.window.lookback, cfg.window.horizon,
        cfg.data.season, cfg.data.transform, cfg.model.norm,
    )  # fmt: skip
    if cfg.model.skip == "linear" and start is None:
        note(f"the linear skip starts as {baselines.start_name(*skip, cfg.data.transform)}")
    if start is not None:
        ensemble.check_warm_start(start.config, cfg, start.path)
        note(f"warm start from {start.path} (its best epoch {start.metrics.get('best_epoch')})")
    members, histories = ensemble.fit_members(
        values, split, cfg, skip, artifact.members(start.weights) if start else None, resume,
        on_epoch, note,
    )  # fmt: skip
    weights = artifact.join_members(members)
    history = histories[0]  # history.csv and the summary follow the first member
    engines = {"network": forecast.engine_for(cfg.model, weights, "torch", history.device)}
    for k, part in enumerate(members if len(members) > 1 else []):  # what the median adds
        engines[f"member {k}"] = forecast.engine_for(cfg.model.member(k), part, "torch")
    val = evaluate.validation_forecasts(inputs.truth, split, values, inputs.scaling, engines, cfg)
    cfg, final, scores = _choose(val, inputs, cfg, histories, skip, note)
    scores["point"] = cfg.train.point
    scores["intermittent_series"] = sparse
    scores["floor"] = None if cfg.model.allow_negative else 0.0
    model = artifact.Artifact(
        config=cfg,
        weights=weights,
        series=inputs.series,
        tail=artifact.tail_frame(
            inputs.ends.tail(artifact.tail_rows(cfg)),
            inputs.last,
            cfg.data.freq,
            cfg.data.covariates,
        ),  # fmt: skip
        history=pd.DataFrame(history.rows),
        metrics=scores,
        intervals=intervals.fit(
            inputs.seen, split, values, engines["network"], cfg, inputs.truth, final
        ),
    )
    return TrainResult(
        model=model,
        history=history,
        n_series=len(inputs.seen.ids),
        n_train_windows=len(split.train_starts),
        n_val_windows=len(split.val_starts),
        seconds=time.perf_counter() - started,
        notes=note.lines,
        warnings=train.diagnose(history.rows, cfg.train.clip_norm, cfg.model.member(0)),
        histories=histories,
    )


@dataclass
class _Notes:
    """Notes of a run: kept for the result and passed on as they come."""

    on_note: Notify | None
    lines: list[str] = field(default_factory=list)

    def __call__(self, msg: str | None) -> None:
        if msg:
            self.lines.append(msg)
            if self.on_note is not None:
                self.on_note(msg)


def _settle(
    loaded: data.Loaded | data.Compact, cfg: Config, note: _Notes
) -> tuple[data.Compact, Config, int]:
    """The data as arrays and every unset setting taken from them, each said once, and how
    many series are intermittent; refuses data no window can be made of."""
    for msg in loaded.notes:
        note(msg)
    if loaded.future is not None and len(loaded.future):
        note(
            f"{len(loaded.future)} rows after the last observed y of their series hold future "
            "covariates only; they are for predict, not trained on"
        )
    if isinstance(loaded, data.Loaded):
        loaded = data.compact(loaded, cfg.data.covariates, times=cfg.model.calendar)
    asked, asked_point = cfg.data.transform, cfg.train.point
    cfg = defaults.resolve(cfg, loaded.schema, loaded.panel)
    sparse = int(defaults.intermittent(loaded.panel).sum())
    for msg in defaults.described(cfg, len(loaded.panel.ids), asked, asked_point, sparse):
        note(msg)
    defaults.trainable(loaded.panel, cfg, loaded.source)
    need = forecast.MIN_POINTS + transforms.LOST[cfg.data.transform]
    short = loaded.panel.ids[loaded.panel.lengths < need]
    if len(short):
        note(forecast.short_note(short, need))
    return loaded, cfg, sparse


@dataclass
class _Inputs:
    """The data as the network reads them, and what the model directory and the validation
    scores keep of the original series once their values are freed."""

    split: windows.Split
    values: np.ndarray  # [N, F] the network's input channels
    scaling: features.Scaling
    seen: Panel  # the transformed (and padded) series' layout, without their values
    truth: evaluate.Truth
    series: pd.DataFrame  # series.json
    ends: Panel  # each series' last points, for the stored tail
    last: pd.DatetimeIndex  # each series' last timestamp


def _inputs(loaded: data.Compact, cfg: Config, note: _Notes) -> _Inputs:
    """Transform, scale, pad and window the series, and build the network's inputs: the
    same functions forecasting calls (features), on the training part's statistics."""
    from rnnforecast import distributed

    panel, w, kind = loaded.panel, cfg.window, cfg.data.transform
    seen = transforms.forward(panel, kind)  # the series as the scaler and the network see them
    scaling = features.fit_scaling(
        seen, windows.scaled_part(seen.lengths, w.val_size), w.scaler, cfg.data.covariates,
        loaded.source, distributed.broadcast_numpy, cfg.data.season,
    )  # fmt: skip
    series = artifact.series_facts(panel, scaling, loaded.first, loaded.last, cfg.data.covariates)
    ends = panel.tail(artifact.tail_rows(cfg))  # the longest tail predict may need
    if w.pad:  # windows may begin up to `pad` points before their series: padded copies
        panel = panel.padded(np.full(len(panel.ids), w.pad))
        seen = transforms.forward(panel, kind)
    split = split_windows(seen, w.lookback, w.horizon, w.val_size)
    note(windows.few_windows(len(split.train_starts), len(split.val_starts), w, len(panel.ids)))
    values = features.network_inputs(seen, scaling, cfg.data.freq, cfg.model.calendar, bool(w.pad))
    truth = evaluate.validation_truth(panel, seen, split, cfg)
    return _Inputs(split, values, scaling, seen.layout(), truth, series, ends, loaded.last)


def _choose(
    val: dict[str, np.ndarray],
    inputs: _Inputs,
    cfg: Config,
    histories: list[Any],
    skip: tuple[int, int],
    note: _Notes,
) -> tuple[Config, np.ndarray | None, dict[str, Any]]:
    """The blend validation prefers (select.blend), saved in the settings; the validation
    forecast as it will be made, and the scores metrics.json keeps (with the skip's start)."""
    m, truth, point = cfg.model, inputs.truth, cfg.train.point
    name, share, tried = select.blend(
        val, truth.y, inputs.split.val_series, truth.mase_scales, m.blend, m.blend_share, point,
        truth.rmsse_scales,
    )  # fmt: skip
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(m, blend=name, blend_share=share))
    metric = "rmsse" if point == "mean" else "mase"  # the point's own error measure
    note(select.described(name, share, tried, metric.upper()))
    final = baselines.blended(val["network"], val.get(name), share) if val else None
    scores = evaluate.validation_scores(truth, inputs.split.val_series, val, cfg, histories)
    scores["skip_start"] = {"lag": skip[0], "seasons": skip[1]}
    scores["blend"] = {"with": name, "share": share, f"validation_{metric}": tried}
    return cfg, final, scores


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

    The forecasts go to `out` (CSV, or Parquet for a .parquet name; atomically; an existing
    file there must be a forecast predict wrote, see `writers.mark`, unless `force`) or as
    CSV to `stream`, whole or not at all: with `chunk_size`, a
    long file is read and forecast that many series at a time, so memory stays bounded by the
    chunk. What goes to `stream` is held back (on disk past SPOOL_BYTES) until the last chunk
    has been read, then written at once, so a bad row late in the file or a Ctrl-C leaves no
    partial forecast there.
    """
    started = time.perf_counter()
    if out is not None:
        fsutil.check_file_out(out, writers.mark(out), force)
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
        write, sink = writers.sink(stack, out, stream, force, dates)
        for i, (frame, future, more) in enumerate(chunks):
            forecasts, skipped = forecast.forecast(
                art, frame, predict_fn, future, str(data_path), levels
            )
            notes.extend([*more, *skipped])
            if write is not None:
                write(forecasts, i == 0)
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
    doc = evaluate.document("evaluate", data_path, art.config, result, season, folds=1, refit=False)
    doc["model_dir"] = str(model_dir)
    doc["notes"] = list(result.notes)  # e.g. that the model was trained on the scored points
    notes = [*loaded.notes, *result.notes]
    return EvaluateResult(
        doc, result, loaded.frame, Path(out), time.perf_counter() - started, notes
    )


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
    doc = evaluate.document("backtest", data_path, cfg, result, cfg.data.season, folds, refit)
    doc["step"] = step
    notes = [*loaded.notes, *result.notes]
    return EvaluateResult(
        doc, result, loaded.frame, Path(out), time.perf_counter() - started, notes
    )


def info(model_dir: str | Path) -> dict[str, Any]:
    """What a model is, from its directory alone (no torch)."""
    return {"model_dir": str(model_dir), **artifact.describe(artifact.load(model_dir))}
