"""What people see: notes, progress and tables on stderr via one rich Console.

Data (forecast CSV, --json documents) goes to stdout from the CLI, never from here, so stdout
stays machine-readable. No colour or progress bars when stderr is not a terminal or NO_COLOR is
set: one plain line per epoch instead, for cron logs. Text from data, models and paths is shown
as it is: never read as rich markup or emoji codes, nor as mathtext in a plot.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rnnforecast import __version__
from rnnforecast.baselines import INTERMITTENT  # baselines of a mean point forecast

MAX_LINE = 1000  # characters in one error line; a longer message loses its middle


class _Unfailing:
    """stderr as the Reporter writes to it: a message that cannot be shown (stderr closed,
    a full disk under a log file, a reader gone) is dropped, so that what the command did and
    its exit code never depend on whether its notes could be printed."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            if self._stream is not None:
                self._stream.write(text)
        except (OSError, ValueError):  # ValueError: a closed file
            pass
        return len(text)

    def flush(self) -> None:
        try:
            if self._stream is not None:
                self._stream.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        try:
            return self._stream is not None and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError("stderr is closed")
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", None) or "utf-8"


class Reporter:
    """Human-facing output of one command, honouring --quiet and --verbose."""

    def __init__(self, quiet: bool = False, verbose: bool = False) -> None:
        no_color = bool(os.environ.get("NO_COLOR"))
        self.console = Console(file=_Unfailing(sys.stderr), no_color=no_color, highlight=False,
                               soft_wrap=True, markup=False, emoji=False,
                               color_system=_colours(no_color))  # fmt: skip
        self.quiet = quiet
        self.verbose = verbose and not quiet

    @property
    def fancy(self) -> bool:
        """Progress bars and colour only for a person at a terminal."""
        return self.console.is_terminal and not self.quiet and not self.console.no_color

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(
                printable(message), markup=False, style="dim" if self.fancy else None
            )

    def detail(self, message: str) -> None:
        if self.verbose:
            self.note(message)

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.console.print(f"warning: {printable(message)}", markup=False, style="yellow")

    def error(self, message: str) -> None:
        self.console.print(f"error: {one_line(message)}", markup=False, style="bold red")

    @contextlib.contextmanager
    def epochs(self, total: int) -> Iterator[Callable[[dict[str, float]], None]]:
        """Yield a per-epoch callback: a live progress bar, or one plain line per epoch."""
        if self.quiet:
            yield lambda row: None
            return
        if not self.fancy:
            yield lambda row: self.console.print(_epoch_line(row, total), markup=False)
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("{task.fields[member]}epoch {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        task = progress.add_task("train", total=total, status="", member="")
        with progress:
            yield lambda row: progress.update(
                task, completed=row["epoch"], status=_epoch_line(row, total, with_epoch=False),
                member=f"member {row['member']:.0f}/{row['members']:.0f}  " if "member" in row
                else "",
            )  # fmt: skip

    def train_summary(self, result: Any) -> None:
        if self.quiet:
            return
        cfg, h = result.model.config, result.history
        m = cfg.model
        cells = ", ".join(dict.fromkeys(m.member(k).cell for k in range(m.ensemble)))
        shape = f"{cells} {m.layers}x{m.hidden_size}" + _extras(m.layer_norm, cfg.data.transform)
        if m.ensemble > 1:
            shape += f", median of {m.ensemble} members"
        histories = result.histories or [h]
        self.note(
            f"trained {shape} on {result.n_series} series ({result.n_train_windows} training, "
            f"{result.n_val_windows} validation windows) in {result.seconds:.1f} s on {h.device}; "
            f"{_epochs(histories)}"
        )
        if any(x.best_epoch == 0 and x.rows for x in histories):
            self.note(
                "where no epoch beat the starting weights on validation, the model keeps them "
                "(with --skip linear: a naive, seasonal-naive or seasonal-profile forecast)"
            )
        scores = result.model.metrics
        shown = ("model", "naive", "seasonal_naive")
        if scores.get("point") == "mean":
            shown += tuple(INTERMITTENT)
        names = [k for k in shown if k in scores]
        if names:
            table = Table(title="validation (original units)", title_justify="left")
            table.add_column("metric")
            for name in names:
                table.add_column(name.replace("_", " "), justify="right")
            for metric in ("mae", "rmse", "smape", "mase", "rmsse", "bias"):
                if all(metric in scores[n] for n in names):
                    table.add_row(metric.upper(), *(_num(scores[n][metric]) for n in names))
            self.console.print(table)
        if "members" in scores and "model" in scores:
            alone = ", ".join(
                f"{_num(s['mase'])} ({s['cell']})" for s in scores["members"] if "mase" in s
            )
            self.note(f"validation MASE of each member alone: {alone}; their median "
                      f"{_num(scores['model']['mase'])}")  # fmt: skip
        for message in result.warnings:
            self.warn(message)
        self.note(f"model written to {result.model.path}")

    def evaluation_summary(self, result: Any) -> None:
        if self.quiet:
            return
        self.console.print(_evaluation_table(result.document))
        if "intervals" in result.document:
            self.console.print(_interval_table(result.document))
        self.note(_verdict(result.document))
        self.note(f"report written to {result.out} in {result.seconds:.1f} s")

    def info_table(self, facts: dict[str, Any]) -> None:
        """`rnnforecast info`: what a model is, as a two-column table on stdout."""
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        cells = ", ".join(dict.fromkeys(facts.get("member_cells") or [facts["cell"]]))
        shape = f"{cells}, {facts['layers']} x {facts['hidden_size']} units"
        shape += _extras(facts["layer_norm"], facts["transform"])
        if facts["ensemble"] > 1:
            shape += f", median of {facts['ensemble']} members"
        rows = {
            "model": f"{shape} ({facts['parameters']:,} parameters)",
            "data": f"{facts['series']} series, {facts['observations']:,} points, "
            f"{facts['data_from']} .. {facts['data_to']}",
            "frequency": f"{facts['frequency']} (season {facts['season']})",
            "windows": f"lookback {facts['lookback']} -> horizon {facts['horizon']}",
            "forecast": f"the {facts['point_forecast']}; "
            + (
                "never below 0 (every training value was 0 or more)"
                if facts["floor"] is not None
                else "no floor (negative values allowed)"
            ),
            **_covariate_rows(facts),
            "training": f"best epoch {facts['best_epoch']} of {facts['epochs_run']}",
            "created": f"{facts['created']} by rnnforecast {facts['rnnforecast_version']}",
        }
        intervals = facts.get("intervals")
        rows["intervals"] = (
            f"any level ({intervals['in_sample_errors']:,} in-sample errors; "
            f"{intervals['out_of_sample_errors']:,} out-of-sample ones widen them "
            f"x{intervals['inflation']:.2f})"
            if intervals
            else "none (trained before intervals existed; retrain for --intervals)"
        )
        for name, block in facts["validation"].items():
            rows[f"val {name.replace('_', ' ')}"] = "  ".join(
                f"{m.upper()} {_num(block[m])}" for m in ("mase", "smape", "mae", "rmse")
            )
        for key, value in rows.items():
            table.add_row(key, value)
        no_color = self.console.no_color
        Console(no_color=no_color, color_system=_colours(no_color), highlight=False,
                markup=False, emoji=False).print(table)  # fmt: skip

    def predict_summary(self, result: Any) -> None:
        where = result.out if result.out is not None else "stdout"
        self.note(
            f"forecast {result.series} series x {result.rows // max(result.series, 1)} steps "
            f"with the {result.engine} engine in {result.seconds:.2f} s -> {where}"
        )


def printable(text: str) -> str:
    """`text` with control characters (terminal escapes...) shown as escapes; lines kept."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """`text` as one bounded line: lines joined, control characters escaped, and past `limit`
    characters the middle left out (the start names the file, the end says what to do)."""
    text = printable(" ".join(part.strip() for part in text.splitlines() if part.strip()))
    text = text.replace("\t", " ")
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[-(limit // 3) :]
    return f"{head} ...({len(text) - len(head) - len(tail):,} characters left out)... {tail}"


def _covariate_rows(facts: dict[str, Any]) -> dict[str, str]:
    """The info table's covariates line, when the model has any."""
    kinds = [
        f"{kind} {', '.join(facts.get(f'{kind}_covariates') or [])}"
        for kind in ("past", "future")
        if facts.get(f"{kind}_covariates")
    ]
    return {"covariates": "; ".join(kinds)} if kinds else {}


def _epoch_line(row: dict[str, float], total: int, with_epoch: bool = True) -> str:
    losses = f"train {_loss(row['train_loss'])}  val {_loss(row['val_loss'])}"
    text = f"{losses}  grad {row['grad_norm']:.3g}"
    return f"epoch {int(row['epoch'])}/{total}  {text}" if with_epoch else text


def _loss(value: float) -> str:
    """A loss as each epoch line shows it, training and validation alike."""
    return f"{value:.4f}" if math.isfinite(value) else "-"


STOPS = {"early_stopping": "early stopping", "budget": "the time budget (--budget)"}


def _epochs(histories: list[Any]) -> str:
    """Which epoch training kept, of how many it ran (each member's, for an ensemble), and
    what ended it."""
    ended = dict.fromkeys(STOPS.get(h.stop_reason, "the epoch limit") for h in histories)
    if len(histories) == 1:
        h = histories[0]
        kept = (
            f"best epoch {h.best_epoch} of {len(h.rows)}"
            if h.best_epoch
            else f"no epoch of {len(h.rows)} beat the starting weights"
        )
    else:
        each = ", ".join(f"{h.best_epoch or 'none'} of {len(h.rows)}" for h in histories)
        kept = f"best epochs {each} (one per member)"
    return f"{kept}; ended by {' or '.join(ended)}"


def _colours(no_color: bool) -> str | None:
    """rich's colour system: none at all under NO_COLOR, where rich would still print bold."""
    return None if no_color else "auto"


def _extras(layer_norm: bool, transform: str) -> str:
    """The options that change what a model computes, beyond its cell and sizes."""
    norm = ", layer norm" if layer_norm else ""
    return norm + (f", target transform {transform}" if transform != "none" else "")


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4g}"


def print_json(document: dict[str, Any]) -> None:
    """One JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


# --- evaluation reports ---------------------------------------------------------------------

SHOWN = ("mase", "rmsse", "smape", "mae", "rmse", "mape", "bias")


def _verdict(doc: dict[str, Any]) -> str:
    ratio = doc["mase_ratio_vs_seasonal_naive"]
    won, n = doc["series_beating_seasonal_naive"], doc["n_series"]
    if ratio is None:
        return f"MASE is undefined (constant history); the model beat seasonal naive on {won}/{n}."
    verb = "beats" if doc["beats_seasonal_naive"] else "does NOT beat"
    said = (
        f"The model {verb} seasonal naive overall (MASE ratio {ratio:.3f}) and on {won} of {n} "
        "series."
    )
    return said + _mean_verdict(doc)


def _mean_verdict(doc: dict[str, Any]) -> str:
    """For a model forecasting the mean (intermittent demand): how its RMSSE, the mean's
    metric, compares with the best of Croston, SBA, TSB and ADIDA; else nothing."""
    point = doc.get("config", {}).get("train", {}).get("point")
    overall = doc["overall"]
    rival = [n for n in INTERMITTENT if (overall.get(n) or {}).get("rmsse") is not None]
    ours = overall["model"].get("rmsse")
    if point != "mean" or not rival or ours is None:
        return ""
    best = min(rival, key=lambda n: overall[n]["rmsse"])
    verb = "beats" if ours < overall[best]["rmsse"] else "does NOT beat"
    return (
        f" On RMSSE (the mean's metric) it {verb} the best intermittent-demand baseline, "
        f"{best}: {ours:.3f} against {overall[best]['rmsse']:.3f}."
    )


def _evaluation_table(doc: dict[str, Any]) -> Table:
    table = Table(
        title=f"{doc['command']}: mean over {doc['n_series']} series", title_justify="left"
    )
    table.add_column("model")
    for m in SHOWN:
        table.add_column(m.upper(), justify="right")
    for name, block in doc["overall"].items():
        table.add_row(name.replace("_", " "), *(_num(block[m]) for m in SHOWN))
    return table


def _interval_rows(doc: dict[str, Any]) -> list[list[str]]:
    """Per level: nominal and empirical coverage (percent), mean width, scaled width, MSIS."""
    return [
        [f"{level}%", _pct(block["coverage"]), _num(block["mean_width"]),
         _num(block["mean_scaled_width"]), _num(block["msis"])]
        for level, block in doc["intervals"].items()
    ]  # fmt: skip


INTERVAL_HEADER = ["level", "coverage", "mean width", "width / MASE scale", "MSIS"]


def _interval_table(doc: dict[str, Any]) -> Table:
    table = Table(title="prediction intervals (actuals inside)", title_justify="left")
    for i, name in enumerate(INTERVAL_HEADER):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in _interval_rows(doc):
        table.add_row(*row)
    return table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def markdown(doc: dict[str, Any]) -> str:
    """report.md: the tables, readable in a terminal or on a Git host."""

    def table(header: list[str], rows: list[list[str]]) -> list[str]:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return lines + ["| " + " | ".join(r) + " |" for r in rows]

    names = list(doc["overall"])
    lines = [
        f"# rnnforecast {doc['command']}",
        "",
        f"Data {_code(doc['data'])}, horizon {doc['horizon']}, season {doc['season']}, "
        f"{doc['folds']} fold(s){', refit per fold' if doc.get('refit') else ''}; "
        f"{doc['points_scored']} points scored. rnnforecast {doc['rnnforecast_version']}.",
        "",
        f"**{_verdict(doc)}**",
        "",
        "## Overall (mean over series)",
        "",
        *table(["model", *(m.upper() for m in SHOWN)],
               [[n, *(_num(doc["overall"][n][m]) for m in SHOWN)] for n in names]),
        "",
        "## Per series (MASE)",
        "",
        *table(
            ["series", *names, "ratio vs seasonal naive", "beats seasonal naive"],
            [
                [_code(r["unique_id"]), *(_num(r[n]["mase"]) for n in names),
                 _num(r["mase_ratio_vs_seasonal_naive"]),
                 "yes" if r["beats_seasonal_naive"] else "no"]
                for r in doc["per_series"]
            ],
        ),
        "",
        "## Per fold (MASE)",
        "",
        *table(
            ["fold", "cut-off", *names],
            [[str(r["fold"]), r["cutoff"], *(_num(r[n]["mase"]) for n in names)]
             for r in doc["per_fold"]],
        ),
        "",
        "## Per horizon step (MASE)",
        "",
        *table(
            ["step", *names],
            [[str(r["step"]), *(_num(r[n]["mase"]) for n in names)] for r in doc["per_step"]],
        ),
        "",
    ]  # fmt: skip
    if "intervals" in doc:
        levels = list(doc["intervals"])
        per_step = zip(*(doc["intervals"][level]["per_step"] for level in levels), strict=True)
        lines += [
            "## Prediction intervals",
            "",
            "Coverage: the share of actuals inside the interval, to compare with its level.",
            "",
            *table(INTERVAL_HEADER, _interval_rows(doc)),
            "",
            "Per horizon step (coverage, mean width):",
            "",
            *table(
                ["step", *(f"{level}%" for level in levels)],
                [[str(steps[0]["step"]), *(f"{_pct(b['coverage'])}, {_num(b['mean_width'])}"
                                           for b in steps)]
                 for steps in per_step],
            ),
            "",
        ]  # fmt: skip
    if doc["zero_actuals_left_out_of_mape"]:
        lines.append(f"MAPE leaves out {doc['zero_actuals_left_out_of_mape']} zero actual(s).\n")
    return "\n".join(lines)


def _code(value: Any) -> str:
    """`value` as a Markdown code span, so no id or path is read as markup; a pipe is escaped
    as table cells need, and newlines become spaces."""
    import re

    text = " ".join(str(value).splitlines()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def write_report(
    out: Any, doc: dict[str, Any], result: Any, frame: Any, max_plots: int, force: bool = False
) -> list[str]:
    """metrics.json, forecasts.csv, report.md, PNG plots and the marker that lists them
    (fsutil.REPORT_DIR), written atomically into `out`; returns notes for the user.

    A plot that cannot be drawn costs the plots, not the scores behind them (a backtest may
    have trained for hours); with `max_plots` 0 none is drawn and matplotlib is never loaded.
    """
    import shutil

    from rnnforecast.fsutil import REPORT_DIR, staged_dir, write_new

    notes: list[str] = []
    with staged_dir(out, REPORT_DIR, force) as tmp:
        forecasts = result.forecasts.drop(columns="step")
        write_new(tmp, "metrics.json", (json.dumps(doc, indent=2, default=str) + "\n").encode())
        write_new(tmp, "forecasts.csv", forecasts.to_csv(index=False, lineterminator="\n").encode())
        write_new(tmp, "report.md", markdown(doc).encode())
        if max_plots > 0:
            try:
                plot_series(result.forecasts, frame, tmp / "plots", max_plots)
                histories = [h for h in result.histories if len(h)]
                if histories:
                    plot_training(histories, tmp / "plots" / "training.png")
            except OSError:
                raise  # a full disk or the like: the report cannot be written either
            except Exception as e:
                shutil.rmtree(tmp / "plots", ignore_errors=True)
                notes.append(_no_plots(e))
        write_new(tmp, REPORT_DIR.marker, _marker(tmp))
    return notes


def _no_plots(e: Exception) -> str:
    from rnnforecast.errors import quoted

    if isinstance(e, ImportError):
        why = "matplotlib is not installed (pip install matplotlib, or --max-plots 0)"
    else:
        why = f"drawing failed ({type(e).__name__}: {quoted(str(e))})"
    return f"no plots: {why}; the rest of the report is written"


def _marker(folder: Path) -> bytes:
    """The report directory's marker: its format and the SHA-256 of every file in it, so a
    later run knows the directory as one it wrote, holding nothing else."""
    files = {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    from rnnforecast.fsutil import REPORT_DIR

    doc = {
        "format": REPORT_DIR.format,
        "rnnforecast_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": files,
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def plot_series(forecasts: Any, frame: Any, folder: Any, max_plots: int) -> None:
    """One PNG per series: the history tail, the actuals, and the model's and seasonal
    naive's forecasts from every cut-off."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnforecast.errors import quoted
    from rnnforecast.fsutil import open_new

    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for i, (uid, fc) in enumerate(forecasts.groupby("unique_id", sort=True)):
        if i >= max_plots:
            break
        span = fc["ds"].max() - fc["ds"].min()
        series = frame[frame["unique_id"] == uid]
        shown = series[series["ds"] >= fc["cutoff"].min() - 2 * span]
        fig, ax = plt.subplots(figsize=(10, 4), layout="constrained")
        ax.plot(shown["ds"], shown["y"], color="0.3", lw=1.2, label="actual")
        bands = sorted(c for c in fc.columns if c.startswith("y_hat_hi_"))
        for k, (_, part) in enumerate(fc.groupby("fold", sort=True)):
            for j, hi in enumerate(reversed(bands)):  # widest first, lighter
                level = hi.removeprefix("y_hat_hi_")
                ax.fill_between(part["ds"], part[f"y_hat_lo_{level}"], part[hi], color="C0",
                                alpha=0.12 + 0.1 * j, lw=0,
                                label=f"{level}% interval" if k == 0 else None)  # fmt: skip
            ax.plot(
                part["ds"], part["y_hat"], color="C0", lw=1.8, label="model" if k == 0 else None
            )
            ax.plot(part["ds"], part["seasonal_naive"], color="C1", lw=1.2, ls="--",
                    label="seasonal naive" if k == 0 else None)  # fmt: skip
            ax.axvline(part["cutoff"].iloc[0], color="0.7", lw=0.8, ls=":")
        ax.set_title(f"{quoted(str(uid))}: forecasts from each cut-off (dotted lines)",
                     parse_math=False)  # fmt: skip
        ax.legend(loc="upper left")
        name, k = _safe_name(uid), 1
        while name in used:  # ids that differ only in characters a file name cannot hold
            k += 1
            name = f"{_safe_name(uid)}-{k}"
        used.add(name)
        with open_new(folder / f"{name}.png") as f:
            fig.savefig(f, format="png", dpi=100)
        plt.close(fig)


def _log_if_positive(ax: Any) -> str:
    """A log scale for norms that span decades; linear where one is 0 (a weight with no
    gradient), which a log axis cannot show."""
    values = [v for line in ax.get_lines() for v in line.get_ydata()]
    return "log" if values and min(values) > 0 else "linear"


def plot_training(histories: list[Any], path: Any) -> None:
    """Training curves: train and validation loss; the global gradient norm before clipping
    (mean and max per epoch) with the share of steps clipped; and the gradient norms of each
    layer's recurrent weights against the head's (vanishing shows as a widening gap)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnforecast.fsutil import open_new

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (loss_ax, grad_ax, layer_ax) = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    clip_ax = grad_ax.twinx()
    for k, h in enumerate(histories):
        tag = f" (fold {k + 1})" if len(histories) > 1 else ""
        loss_ax.plot(h["epoch"], h["train_loss"], color=f"C{k}", label=f"train{tag}")
        loss_ax.plot(h["epoch"], h["val_loss"], color=f"C{k}", ls="--", label=f"validation{tag}")
        grad_ax.plot(h["epoch"], h["grad_norm"], color=f"C{k}", label=f"mean{tag}")
        if "grad_norm_max" in h:
            grad_ax.plot(h["epoch"], h["grad_norm_max"], color=f"C{k}", ls=":", label=f"max{tag}")
            clip_ax.fill_between(h["epoch"], h["clipped"], color=f"C{k}", alpha=0.12, step="mid")
        layers = [c for c in h.columns if c.startswith("grad_recurrent_l")]
        for j, column in enumerate([*layers, "grad_head"] if layers else []):
            label = column.removeprefix("grad_").replace("_", " ") + tag
            layer_ax.plot(h["epoch"], h[column], color=f"C{j}", ls="-" if k == 0 else "--",
                          label=label)  # fmt: skip
    loss_ax.set(title="loss per epoch", xlabel="epoch", ylabel="loss (scaled units)")
    grad_ax.set(title="gradient norm before clipping (shaded: share clipped)", xlabel="epoch",
                yscale=_log_if_positive(grad_ax))  # fmt: skip
    clip_ax.set(ylim=(0, 1), ylabel="share of steps clipped")
    layer_ax.set(title="gradient norm per weight group", xlabel="epoch",
                 yscale=_log_if_positive(layer_ax))  # fmt: skip
    for ax in (loss_ax, grad_ax, layer_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    with open_new(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def _safe_name(name: Any) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))[:80] or "series"
