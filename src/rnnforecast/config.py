"""Settings as small frozen dataclasses: the single source of defaults for the CLI, YAML and models.

Every setting has one key, unique across sections, so a command-line flag (`--hidden-size`), a
YAML key (`model: {hidden_size: ...}`) and the saved `config.yaml` of a model all name it alike.
Precedence is flag > config file > the defaults below.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rnnforecast.errors import RnnForecastError, quoted

FILL_CHOICES = ("none", "ffill", "interpolate", "zero")
SCALER_CHOICES = ("mase", "standard", "none")
CELL_CHOICES = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks stacked in each PyTorch weight matrix
ACTIVATION_CHOICES = ("tanh", "relu")
INIT_CHOICES = ("default", "orthogonal")
NORM_CHOICES = ("auto", "window", "none")
SKIP_CHOICES = ("linear", "none")
TRANSFORM_CHOICES = ("auto", "none", "log1p", "difference")
LOSS_CHOICES = ("auto", "mae", "mse", "huber")
POINT_CHOICES = ("auto", "median", "mean")
# the loss whose minimiser is each point forecast (auto: as the data decide, median unresolved)
POINT_LOSSES = {"median": "mae", "mean": "mse", "auto": "mae"}
# Syntetos-Boylan: a series is intermittent when its mean interval between demands (ADI)
# exceeds this; the data are when more than half their series are
INTERMITTENT_ADI = 1.32
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
OPTIMIZER_CHOICES = ("adam", "adamw", "sgd")
SCHEDULE_CHOICES = ("none", "plateau", "cosine", "onecycle")
ENGINE_CHOICES = ("auto", "numpy", "torch")
BLEND_CHOICES = ("auto", "none", "naive", "seasonal_naive", "drift", "theta", "croston", "sba",
                 "tsb", "adida")  # fmt: skip
SMALL_DATA = 200_000  # training windows x lookback: below it, an ensemble by default
SMALL_ENSEMBLE = 3  # members then: the median of 3 halves nottem's seed spread, 5 adds little
MIN_VALIDATION = 50  # validation windows from which the blend and intervals are estimated on them
LOOKBACK_CAP = 336  # longest default input window (a week of half-hours is 336)
SIZE_LIMIT = 100_000  # longest lookback or horizon: beyond it a window cannot fit in memory
DECIMAL_CHOICES = (".", ",")
THOUSANDS_CHOICES = (",", ".", " ", "'", "_")
SEED_LIMIT = 2**32 - 1  # numpy's generators take seeds in [0, 2**32)
# estimated bytes to train one model (weights, gradients, optimiser and average copies, the
# activations a batch keeps for the backward pass): beyond it the run would not fit even a
# large server's memory, so the sizes are refused before any data is read
MEMORY_LIMIT = 256 * 2**30
INT_LIMIT = 2**31 - 1  # the bound of a whole-number setting without a bound of its own
CONFIG_BYTES = 1_000_000  # a config file is a few kB; a larger one is not one
YAML_VALUES = 10_000  # values a config may expand to (YAML aliases can nest exponentially)


def _opt(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    shown: str | None = None,
):
    """A field with its help text and checks kept beside its default; `maximum` bounds the
    absurd (sizes that would exhaust memory), not the merely unusual; `shown` is what --help
    lists as its values where they are no closed set of `choices` (cuda:N)."""
    meta = {"help": help, "choices": choices, "minimum": minimum, "maximum": maximum}
    meta["shown"] = shown or "|".join(choices) or None
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DataConfig:
    """How to read the CSV: columns, frequency and the repair policy."""

    time_col: str | None = _opt(
        None, "time column; unset: ds/date/time/timestamp or the one date-like column"
    )
    target: tuple[str, ...] | None = _opt(
        None, "target column(s), comma-separated, each its own series; unset: y or the only numeric"
    )
    id_col: str | None = _opt(None, "series id column (long format); unset: unique_id if present")
    freq: str | None = _opt(
        None, "pandas frequency alias (MS, ME, W, D, h, 30min...); unset: inferred"
    )
    date_format: str | None = _opt(
        None, "strftime format of the time column, e.g. %d/%m/%Y; unset: ISO 8601 or detected"
    )
    dayfirst: bool | None = _opt(
        None,
        "numeric dates such as 01/02/2015 are day first (--dayfirst) or month first "
        "(--no-dayfirst); unset: decided by the column's values (a day above 12)",
    )
    decimal: str | None = _opt(
        None,
        "decimal mark of numbers: . or , (190,09); unset: ., or , where the delimiter is not "
        "a comma and the numbers use it",
        choices=DECIMAL_CHOICES,
    )
    thousands: str | None = _opt(
        None,
        "thousands separator inside numbers (1,900.90): , . ' _ or a space; unset: none",
        choices=THOUSANDS_CHOICES,
    )
    fill: str = _opt(
        "none",
        "missing timestamps or values: none (error), ffill, interpolate, zero",
        choices=FILL_CHOICES,
    )
    transform: str = _opt(
        "auto",
        "target transform before scaling, inverted exactly on forecasts: none; log1p "
        "(log(1 + y), needs y > -1); difference (y_t - y_t-1, costs each series its first point); "
        "auto: difference when the series trend from season to season, else none",
        choices=TRANSFORM_CHOICES,
    )
    season: int | None = _opt(
        None,
        "seasonal period in steps; unset: from the frequency (12 monthly, 48 half-hourly)",
        minimum=1,
    )
    past_covariates: tuple[str, ...] | None = _opt(
        None, "numeric columns known only up to now, fed as inputs over the lookback"
    )
    future_covariates: tuple[str, ...] | None = _opt(
        None,
        "numeric columns also known over the horizon (a temperature forecast, a holiday flag); "
        "predict then needs rows for the next horizon steps with them filled and y empty",
    )

    @property
    def covariates(self) -> tuple[str, ...]:
        """Past then future covariates: the order of their input channels."""
        return (self.past_covariates or ()) + (self.future_covariates or ())


@dataclass(frozen=True)
class WindowConfig:
    """How series become (lookback -> horizon) training windows."""

    lookback: int | None = _opt(
        None,
        f"input steps per window; unset: max(2 horizons, 3 seasons), at most {LOOKBACK_CAP}",
        minimum=1,
        maximum=SIZE_LIMIT,
    )
    horizon: int | None = _opt(
        None,
        "steps forecast at once; unset: from the frequency (12 monthly, 1 day sub-daily)",
        minimum=1,
        maximum=SIZE_LIMIT,
    )
    val_size: int | None = _opt(
        None,
        "last steps of each series held out for validation (its windows start at each step); "
        "unset: one horizon, plus the steps for 50 windows in all where a tenth of the series' "
        "median length has room for them",
        minimum=0,
    )
    pad: int | None = _opt(
        None,
        "steps of padding a short series' input windows may hold (its first value repeated, "
        "flagged by a mask input), so every series trains and is forecast; unset: lookback - 1 "
        "when a series is shorter than lookback + horizon + validation, else 0",
        minimum=0,
        maximum=SIZE_LIMIT,
    )
    scaler: str = _opt(
        "standard",
        "per-series scaling fitted on the training part only: the mean and the standard "
        "deviation (standard) or the mean change over a season (mase: MASE's scale, so the "
        "loss is the metric)",
        choices=SCALER_CHOICES,
    )


@dataclass(frozen=True)
class ModelConfig:
    """The network: a stack of recurrent layers and a linear head to all horizon steps."""

    cell: str = _opt("lstm", "recurrent cell", choices=CELL_CHOICES)
    activation: str = _opt("tanh", "activation of the rnn cell", choices=ACTIVATION_CHOICES)
    # one small layer: measured best on the public datasets (benchmarks/bench_accuracy.py)
    layers: int = _opt(1, "stacked recurrent layers", minimum=1, maximum=64)
    hidden_size: int = _opt(16, "units per recurrent layer", minimum=1, maximum=4096)
    dropout: float = _opt(0.0, "dropout between stacked layers, in [0, 1)", minimum=0.0)
    residual: bool = _opt(False, "add each stacked layer's input to its output")
    layer_norm: bool = _opt(
        False, "layer-normalise each recurrent layer's output (before the residual add)"
    )
    init: str = _opt(
        "orthogonal",
        "weights: orthogonal (recurrent), Xavier (input), forget bias 1; or PyTorch's default",
        choices=INIT_CHOICES,
    )
    norm: str = _opt(
        "auto",
        "window: normalise each input window by its own mean and std (RevIN); auto: window, "
        "none for intermittent demand (a window's mean and spread of a few sales are noise: "
        "bench_intermittent.py RMSSE 0.654 with window, 0.647 without)",
        choices=NORM_CHOICES,
    )
    calendar: bool = _opt(
        False,
        "also feed each input step's place in the day, week and year (sine/cosine pairs, "
        "chosen by the frequency)",
    )
    ensemble: int | None = _opt(
        None,
        "members trained with seeds seed, seed+1...; the forecast is their median; unset: "
        f"{SMALL_ENSEMBLE} on small data (training windows x lookback under {SMALL_DATA:,}: "
        "members take seconds there, and seeds disagree most), else 1",
        minimum=1,
        maximum=100,
    )
    ensemble_cells: tuple[str, ...] | None = _opt(
        None,
        "the members' cells in turn, e.g. lstm,gru,rnn (member k gets the k-th, cycling); "
        "unset: every member is --cell",
        shown=f"{'|'.join(CELL_CHOICES)},...",
    )
    skip: str = _opt(
        "linear",
        "linear: add a linear map of the input window to the output, starting as the simple "
        "forecast that fits the training windows best: naive, seasonal naive, or the mean "
        "profile of the last k seasons at the last season's level",
        choices=SKIP_CHOICES,
    )

    blend: str = _opt(
        "auto",
        "a simple forecast averaged with the network's: auto (the one and the share that do "
        "best on validation; the network alone if it wins), none (the network alone), or naive, "
        "seasonal_naive, drift, theta, and for a mean point forecast croston, sba, tsb, adida",
        choices=BLEND_CHOICES,
    )
    allow_negative: bool = _opt(
        False,
        "let forecasts and interval bounds go below 0 when every training value is 0 or more "
        "(false: they stop at 0 there; a model trained on data with negative values saves true)",
    )
    blend_share: float | None = _opt(
        None,
        "the simple forecast's share of the forecast, in [0, 1] (1: it alone); unset: the share "
        "that does best on validation",
        minimum=0.0,
        maximum=1.0,
    )

    @property
    def window_norm(self) -> bool:
        """Whether each input window is normalised (auto, unresolved, as window)."""
        return self.norm != "none"

    def member(self, k: int) -> ModelConfig:
        """Ensemble member k's network: one model, its cell from `ensemble_cells` in turn."""
        cells = self.ensemble_cells or (self.cell,)
        return dataclasses.replace(
            self, cell=cells[k % len(cells)], ensemble=1, ensemble_cells=None
        )


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation: optimiser and schedule, early stopping, clipping, seed and device."""

    epochs: int = _opt(200, "maximum epochs", minimum=1)
    batch_size: int = _opt(128, "windows per optimiser step", minimum=1, maximum=1_000_000)
    epoch_size: int | None = _opt(
        None,
        "training windows per epoch (few are repeated, many sampled); unset: all of them, but "
        "at least 8 and at most 64 batches",
        minimum=1,
        maximum=100_000_000,
    )
    optimizer: str = _opt("adam", "adam, adamw or sgd (momentum 0.9)", choices=OPTIMIZER_CHOICES)
    lr: float = _opt(3e-3, "learning rate (the peak one with onecycle)", minimum=0.0)
    weight_decay: float = _opt(0.0, "L2 penalty (decoupled with adamw)", minimum=0.0)
    lr_schedule: str = _opt(
        "none",
        "none; plateau (halve when validation stalls); cosine (to 0 over the epochs); onecycle "
        "(warm up, then anneal, per step)",
        choices=SCHEDULE_CHOICES,
    )
    patience: int = _opt(20, "epochs without a better validation loss before stopping", minimum=1)
    budget: float = _opt(
        3600.0,
        "seconds training may take at most (an ensemble's members share them): no epoch begins "
        "after it, and the best so far is kept; such a run is not reproducible to the bit, as "
        "where it stops depends on the machine's speed; 0: no limit",
        minimum=0.0,
    )
    ema: float = _opt(
        0.98,
        "validate and keep a moving average of the weights, updated each step with this decay "
        "(steadier than the last step's); 0: off",
        minimum=0.0,
    )
    clip_norm: float = _opt(1.0, "clip gradients to this global L2 norm; 0 disables", minimum=0.0)
    clip_value: float = _opt(0.0, "clip each gradient element to +-value; 0 disables", minimum=0.0)
    point: str = _opt(
        "auto",
        "what the point forecast estimates, and the loss that does: median (absolute error) or "
        "mean (squared error; what orders sum); auto: the mean for intermittent demand (most "
        f"series with a mean interval between demands over {INTERMITTENT_ADI}), else the median",
        choices=POINT_CHOICES,
    )
    loss: str = _opt(
        "auto",
        "training loss; auto: the one whose minimiser is --point (mae for the median, mse for "
        "the mean)",
        choices=LOSS_CHOICES,
    )
    seed: int = _opt(
        0,
        "random seed: the same seed on CPU gives identical weights",
        minimum=0,
        maximum=SEED_LIMIT,
    )
    device: str = _opt(
        "auto", "auto (CUDA when available), cpu, cuda or cuda:N", shown="auto|cpu|cuda|cuda:N"
    )
    precision: str = _opt(
        "auto",
        "auto (bf16 autocast on CUDA, fp32 on CPU), fp32, bf16, fp16",
        choices=PRECISION_CHOICES,
    )


@dataclass(frozen=True)
class EvaluateConfig:
    """Backtests and reports."""

    folds: int = _opt(3, "backtest cut-offs", minimum=1)
    step: int | None = _opt(None, "steps between backtest cut-offs; unset: one horizon", minimum=1)
    refit: bool = _opt(True, "train a model per backtest fold (false: once, before the first)")
    max_plots: int = _opt(6, "plot at most this many series in a report", minimum=0)


@dataclass(frozen=True)
class PredictConfig:
    """Forecasting with a trained model."""

    engine: str = _opt(
        "auto", "auto (numpy on CPU, torch on a GPU or huge batches), numpy or torch",
        choices=ENGINE_CHOICES,
    )  # fmt: skip
    chunk_size: int = _opt(
        10_000, "read and forecast a long file this many series at a time; 0: all at once",
        minimum=0,
    )  # fmt: skip
    intervals: tuple[int, ...] | None = _opt(
        None,
        "prediction intervals at these levels in percent, e.g. 80,95: columns y_hat_lo_80, "
        "y_hat_hi_80...; calibrated when the model was trained, so any levels work",
    )


@dataclass(frozen=True)
class Config:
    """Every setting of a run; saved beside the weights so a model can be rebuilt."""

    data: DataConfig = field(default_factory=DataConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {
            name: {f.name: _plain(getattr(section, f.name)) for f in dataclasses.fields(section)}
            for name, section in self._sections()
        }

    def to_yaml(self, comments: bool = False) -> str:
        """YAML of every setting; with `comments`, each key carries its help text."""
        if not comments:
            return yaml.safe_dump(self.to_dict(), sort_keys=False)
        lines = []
        for name, section in self._sections():
            lines.append(f"{name}:")
            for f in dataclasses.fields(section):
                value = yaml.safe_dump(_plain(getattr(section, f.name)), default_flow_style=True)
                value = value.strip().removesuffix("...").strip()
                lines.append(f"  {f.name}: {value}  # {f.metadata['help']}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, raw: Any, where: str = "config") -> Config:
        """Build from nested sections; unknown keys raise, naming the closest valid one."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise RnnForecastError(
                f"{where}: expected a mapping of sections, got {type(raw).__name__}"
            )
        sections = {f.name: f.type for f in dataclasses.fields(cls)}
        for key in raw:
            if key not in sections:
                raise RnnForecastError(_unknown(where, str(key), list(sections)))
        built = {}
        for name, section_cls in _section_classes().items():
            values = raw.get(name) or {}
            if not isinstance(values, dict):
                raise RnnForecastError(f"{where}: section '{name}' must be a mapping of keys")
            valid = [f.name for f in dataclasses.fields(section_cls)]
            for key in values:
                if key not in valid:
                    raise RnnForecastError(_unknown(f"{where}: {name}", str(key), valid))
            built[name] = section_cls(
                **{k: _coerce(section_cls, k, v, f"{where}: {name}.{k}") for k, v in values.items()}
            )
        try:
            return cls(**built).validated()
        except RnnForecastError as e:  # a value out of range: say which file holds it
            raise RnnForecastError(f"{where}: {e}", e.exit_code) from None

    @classmethod
    def from_yaml(cls, text: str, where: str = "config") -> Config:
        return cls.from_dict(parse_yaml(text, where), where)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        overrides: dict[str, Any] | None = None,
        base: Config | None = None,
    ) -> Config:
        """`base` (default: the defaults), then the keys of the YAML file at `path`, then
        `overrides` (flat keys, e.g. CLI flags); each layer replaces only the keys it gives."""
        cfg = base or cls()
        if path is not None:
            text = _read_config(Path(path))
            raw = parse_yaml(text, str(path))
            cls.from_dict(raw, where=str(path))  # unknown keys and bad values raise here
            sections = (raw or {}).values()
            given = {k: v for section in sections for k, v in (section or {}).items()}
            cfg = cfg.with_overrides(given, where=str(path))
        return cfg.with_overrides(overrides or {})

    def with_overrides(self, overrides: dict[str, Any], where: str | None = None) -> Config:
        """A copy with flat keys replaced in whichever section owns them; None means unset.

        The keys come from the file `where`, whose errors name it and the key, or by default
        from the command line, whose errors name the flag a user typed (--cell, not
        model.cell)."""
        owners = key_sections()
        changes: dict[str, dict[str, Any]] = {}
        for key, value in overrides.items():
            if key not in owners:
                raise RnnForecastError(_unknown(where or "option", key, list(owners)))
            section = owners[key]
            cls = _section_classes()[section]
            name = f"{where}: {section}.{key}" if where else f"--{_flag(key)}"
            changes.setdefault(section, {})[key] = _coerce(cls, key, value, name)
        replaced = {
            name: dataclasses.replace(getattr(self, name), **values)
            for name, values in changes.items()
        }
        cfg = dataclasses.replace(self, **replaced)
        if where is None:
            return cfg.validated(flags=overrides)
        try:
            return cfg.validated()
        except RnnForecastError as e:
            raise RnnForecastError(f"{where}: {e}", e.exit_code) from None

    def validated(self, flags: Collection[str] = ()) -> Config:
        """Return self, or raise naming the first setting out of its choices or range: by its
        flag if `flags` (the keys given on the command line) holds it, else as section.key."""
        owners = key_sections()

        def name(key: str) -> str:
            return f"--{_flag(key)}" if key in flags else f"{owners[key]}.{key}"

        for _, section in self._sections():
            for f in dataclasses.fields(section):
                value = getattr(section, f.name)
                choices, minimum = f.metadata["choices"], f.metadata["minimum"]
                maximum = f.metadata["maximum"]
                if isinstance(value, int) and not isinstance(value, bool) and maximum is None:
                    maximum = INT_LIMIT
                if value is None:
                    continue
                if isinstance(value, float) and not math.isfinite(value):
                    raise RnnForecastError(
                        f"{name(f.name)}: {value} is not a finite number; give a real value"
                    )
                if choices and value not in choices:
                    hint = difflib.get_close_matches(str(value)[:100].lower(), choices, n=1)
                    guess = f"; did you mean '{hint[0]}'?" if hint else ""
                    raise RnnForecastError(
                        f"{name(f.name)}: '{quoted(value)}' is not one of "
                        f"{_choices(choices)}{guess}"
                    )
                if minimum is not None and value < minimum:
                    raise RnnForecastError(
                        f"{name(f.name)}: {quoted(value)} is too small; use a value >= {minimum}"
                    )
                if maximum is not None and value > maximum:
                    raise RnnForecastError(
                        f"{name(f.name)}: {quoted(value)} is absurdly large; use <= {maximum}"
                    )
        if not 0.0 <= self.model.dropout < 1.0:
            raise RnnForecastError(f"{name('dropout')}: {self.model.dropout} must be in [0, 1)")
        if not 0.0 <= self.train.ema < 1.0:
            raise RnnForecastError(f"{name('ema')}: {self.train.ema} must be in [0, 1)")
        for cell in self.model.ensemble_cells or ():
            if cell not in CELL_CHOICES:
                raise RnnForecastError(
                    f"{name('ensemble_cells')}: '{quoted(cell)}' is not one of "
                    f"{', '.join(CELL_CHOICES)}"
                )
        targets = self.data.target or ()
        again = sorted({c for c in targets if targets.count(c) > 1})
        if again:
            raise RnnForecastError(
                f"{name('target')}: column '{quoted(again[0])}' is listed twice; name each target "
                "column once"
            )
        names = self.data.covariates
        twice = sorted({c for c in names if names.count(c) > 1})
        if twice:
            raise RnnForecastError(
                f"covariate '{quoted(twice[0])}' is listed twice; name each column once, in "
                f"{name('past_covariates')} or in {name('future_covariates')}"
            )
        for level in self.predict.intervals or ():
            if not 0 < level < 100:
                raise RnnForecastError(
                    f"{name('intervals')}: {level} is not a level in (0, 100); give percentages "
                    "such as 80,95"
                )
        if not re.fullmatch(r"auto|cpu|cuda(:\d{1,4})?", self.train.device):
            raise RnnForecastError(
                f"{name('device')}: '{quoted(self.train.device)}' is not a device; use auto, cpu, "
                "cuda or cuda:N"
            )
        members = self.model.ensemble or 1
        if self.train.seed + members - 1 > SEED_LIMIT:
            raise RnnForecastError(
                f"{name('seed')}: {self.train.seed} and the {members - 1} seeds after it (one per "
                f"ensemble member) pass {SEED_LIMIT}, the largest seed the generators take; use "
                "a smaller --seed"
            )
        self._check_numbers(name)
        self._check_memory()
        return self

    def _check_numbers(self, name: Callable[[str], str]) -> None:
        """How numbers and dates are written must be tellable apart."""
        d = self.data
        if d.decimal is not None and d.decimal == d.thousands:
            raise RnnForecastError(
                f"{name('decimal')} and {name('thousands')} are both '{d.decimal}'; numbers "
                "need two different marks"
            )
        if d.date_format not in (None, "ISO8601") and "%" not in d.date_format:
            raise RnnForecastError(
                f"{name('date_format')}: '{quoted(d.date_format)}' has no strftime directive; give "
                "a format such as %d/%m/%Y or %Y-%m-%d %H:%M"
            )

    def _check_memory(self) -> None:
        """Sizes each within its limit can still be absurd together (hidden 4096 x 64 layers
        x lookback 100000): refuse by the estimate rather than fail deep inside training."""
        weights, need = training_bytes(self)
        if need > MEMORY_LIMIT:
            m, w = self.model, self.window
            raise RnnForecastError(
                f"model: training would need about {need / 1e9:,.0f} GB of memory ({weights:,} "
                f"weights; batch {self.train.batch_size} x lookback {w.lookback or 1} x "
                f"{m.layers} layer(s) of {m.hidden_size} units), more than {MEMORY_LIMIT >> 30} "
                "GiB; use a smaller --hidden-size, --layers, --lookback, --horizon or --batch-size"
            )

    def _sections(self) -> list[tuple[str, Any]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]


def check_seconds(flag: str, value: float) -> float:
    """A plain option's number of seconds (not a setting, so `validated` never sees it):
    finite and not negative."""
    if not math.isfinite(value) or value < 0:
        raise RnnForecastError(f"{flag}: {value} is not a number of seconds; give 0 or more")
    return value


def training_bytes(cfg: Config) -> tuple[int, int]:
    """(weights of one model, estimated bytes to train it): the weights four times over
    (themselves, gradients, Adam's two moments) plus their moving average, and the float32
    activations each layer keeps per window step (gates, hidden and cell state) for the
    backward pass. Unset sizes count as 1, so the estimate is a floor until they are settled."""
    m, w = cfg.model, cfg.window
    lookback, horizon = w.lookback or 1, w.horizon or 1
    gates = max(GATES[c] for c in (m.ensemble_cells or (m.cell,)))
    n_future = len(cfg.data.future_covariates or ())
    inputs = 1 + bool(w.pad) + len(cfg.data.covariates) + (8 if m.calendar else 0)
    h = m.hidden_size
    weights = sum(gates * h * ((inputs if i == 0 else h) + h + 2) for i in range(m.layers))
    weights += (h + 1) * horizon  # the head
    weights += (lookback + 1) * horizon if m.skip == "linear" else 0
    weights += horizon * n_future * horizon
    activations = cfg.train.batch_size * lookback * m.layers * h * (gates + 2)
    return weights, 4 * (5 * weights + activations)


def _choices(choices: tuple[str, ...]) -> str:
    """Choices as a message lists them; marks (. , and a space) in quotes, to be seen."""
    if all(c.isalnum() for c in choices):
        return ", ".join(choices)
    return ", ".join(f"'{c}'" for c in choices)


def _flag(key: str) -> str:
    return key.replace("_", "-")


def parse_yaml(text: str, where: str) -> Any:
    """yaml.safe_load, with a syntax error reported by line; a document that nests too deep
    or expands (through aliases) to more values than any config has is refused."""
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        problem = getattr(e, "problem", None) or "not valid YAML"
        hint = ""
        if "'%'" in problem:
            hint = " (quote a value that begins with %, e.g. date_format: '%d/%m/%Y')"
        raise RnnForecastError(f"{where}:{line} {problem}{hint}; fix the YAML syntax") from None
    except RecursionError:
        raise RnnForecastError(f"{where}: nested too deeply to be a config") from None
    except (ValueError, OverflowError):  # an integer of thousands of digits
        raise RnnForecastError(f"{where}: holds a number too long to read; fix it") from None
    if _count_values(raw, YAML_VALUES) > YAML_VALUES:
        raise RnnForecastError(
            f"{where}: expands to more than {YAML_VALUES:,} values (nested aliases?), far more "
            "than a config holds; write the settings out plainly"
        )
    return raw


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load's loader (no tags that build objects), refusing a key given twice in one
    mapping (PyYAML keeps the last silently, ignoring the other setting without a word), and
    reading numbers as their flags do: YAML 1.1 reads `010` as 8, `1:30` as 90 and `0x10` as
    16, which `--horizon 010` reads as 10 and the others not at all."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`, overridden at will
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{quoted(key)}' is given twice", key_node.start_mark
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _flag_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | str:
    """A YAML int as int() reads it, as the flag would; text where int() cannot (0x10, 1:30),
    for the setting's type check to name."""
    text = loader.construct_scalar(node)
    try:
        return int(text)
    except ValueError:
        return text


def _flag_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float | str:
    """A YAML float; text where YAML 1.1 reads base 60 (1:30.5), which no flag reads."""
    text = loader.construct_scalar(node)
    return text if ":" in text else loader.construct_yaml_float(node)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _flag_int)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:float", _flag_float)


def _count_values(node: Any, limit: int) -> int:
    """Values in a YAML document, each alias counted again where it is used, stopping soon
    after `limit`: the walk is bounded even when aliases make the document exponential."""
    count, stack = 0, [node]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item[: limit + 1])
    return count


def _read_config(path: Path) -> str:
    """A config file's text: a regular file of at most CONFIG_BYTES, in UTF-8."""
    try:
        if not path.is_file():
            what = "a directory" if path.is_dir() else "no such file, or not a regular file"
            raise RnnForecastError(f"{path}: config file is {what}; give the path of a YAML file")
        if path.stat().st_size > CONFIG_BYTES:
            raise RnnForecastError(
                f"{path}: {path.stat().st_size:,} bytes is too large for a config file (at most "
                f"{CONFIG_BYTES:,}); give the YAML settings file"
            )
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise RnnForecastError(f"{path}: cannot read config file ({e.strerror})") from None
    except UnicodeDecodeError:
        raise RnnForecastError(f"{path}: config file is not UTF-8 text; save it as UTF-8") from None


def _section_classes() -> dict[str, type]:
    return {
        "data": DataConfig,
        "window": WindowConfig,
        "model": ModelConfig,
        "train": TrainConfig,
        "evaluate": EvaluateConfig,
        "predict": PredictConfig,
    }


def key_sections() -> dict[str, str]:
    """Every setting's flat key -> the section that owns it."""
    return {
        f.name: section
        for section, cls in _section_classes().items()
        for f in dataclasses.fields(cls)
    }


def flat_fields() -> list[tuple[str, str, type]]:
    """(section, key, value type) of every setting, in declaration order; tuples become str
    (comma-separated on the command line)."""
    out = []
    for section, cls in _section_classes().items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            args = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]
            base = args[0] if args else hints[f.name]
            out.append((section, f.name, str if typing.get_origin(base) is tuple else base))
    return out


def option_help(key: str) -> tuple[str, str, str | None]:
    """A flat key's help line, its default as its flag shows it, and its values as --help
    lists them (rnn|lstm|gru; None if any value of its type), for CLI options."""
    cls = _section_classes()[key_sections()[key]]
    f = next(f for f in dataclasses.fields(cls) if f.name == key)
    flag = key.replace("_", "-")
    if f.default is None:
        default = "unset"
    elif isinstance(f.default, bool):
        default = f"--{flag}" if f.default else f"--no-{flag}"
    else:
        default = str(_plain(f.default))
    return f.metadata["help"], default, f.metadata["shown"]


def _unknown(where: str, key: str, valid: list[str]) -> str:
    hint = difflib.get_close_matches(key[:100], valid, n=1)
    guess = f"did you mean '{hint[0]}'? " if hint else ""
    return f"{where}: unknown key '{quoted(key)}'; {guess}valid keys: {', '.join(valid)}"


def _plain(value: Any) -> Any:
    """Tuples become lists so YAML stays plain and `yaml.safe_load` reads it back."""
    return list(value) if isinstance(value, tuple) else value


def _coerce(cls: type, key: str, value: Any, name: str) -> Any:
    """Check a raw value against the field's type hint, converting only losslessly; a choice
    in another case is the choice (LSTM is lstm) where only one matches. `name` is the
    setting as errors call it: its flag, or its file and key."""
    hint = typing.get_type_hints(cls)[key]
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint
    if value is None:
        if optional:
            return None
        raise RnnForecastError(f"{name} must be set (it has no 'unset' value)")
    if typing.get_origin(base) is tuple and typing.get_args(base)[0] is int:
        return _levels(value, name)
    if typing.get_origin(base) is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            raise RnnForecastError(f"{name} must be a list of column names")
        items = tuple(v.strip() for v in items if v.strip())
        if not items:
            raise RnnForecastError(f"{name} names no column")
        return items
    if isinstance(value, str) and base in (int, float):
        value = _number(value, base)  # YAML 1.1 reads 1e-3 as text; the flag reads a number
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif base is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an integer beyond any float: as the flag reads 1e400
                return math.inf
    elif base is str:
        if isinstance(value, str):
            field = next(f for f in dataclasses.fields(cls) if f.name == key)
            return _case(value, field.metadata["choices"])
    raise RnnForecastError(f"{name} must be of type {base.__name__}, got {_shown(value)}")


def _case(value: str, choices: tuple[str, ...]) -> str:
    """A value of a set as the set writes it, whatever its case (LSTM is lstm); any other
    value as given, for `validated` to name."""
    if value not in choices:
        same = [c for c in choices if c.lower() == value.lower()]
        return same[0] if len(same) == 1 else value
    return value


def _shown(value: Any) -> str:
    """A value as a message shows it: text in quotes, all of it short."""
    return f"'{quoted(value)}'" if isinstance(value, str) else quoted(value)


def _number(text: str, kind: type) -> Any:
    """`text` read as the command line reads a number flag (int(), float()), or unchanged."""
    try:
        return kind(text.strip())
    except ValueError:
        return text


def _levels(value: Any, name: str) -> tuple[int, ...]:
    """Whole percentages from '80,95', [80, 95] or 80: sorted, each once."""
    items = value.split(",") if isinstance(value, str) else value
    items = items if isinstance(items, list | tuple) else [items]
    levels = set()
    for item in items:
        text = item.strip() if isinstance(item, str) else item
        if isinstance(text, str) and text.isdigit():
            levels.add(int(text))
        elif isinstance(text, int) and not isinstance(text, bool):
            levels.add(text)
        elif text != "":
            raise RnnForecastError(
                f"{name}: {_shown(item)} is not a whole percentage; give levels such as 80,95"
            )
    if not levels:
        raise RnnForecastError(f"{name} gives no level; give levels such as 80,95")
    return tuple(sorted(levels))
