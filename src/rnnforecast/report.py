"""What people see: notes, progress and tables on stderr via one rich Console.

Data (forecast CSV, --json documents) goes to stdout from the CLI, never from here, so stdout
stays machine-readable. No colour or progress bars when stderr is not a terminal or NO_COLOR is
set: one plain line per epoch instead, for cron logs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.table import Table


class Reporter:
    """Human-facing output of one command, honouring --quiet and --verbose."""

    def __init__(self, quiet: bool = False, verbose: bool = False) -> None:
        no_color = bool(os.environ.get("NO_COLOR"))
        self.console = Console(stderr=True, no_color=no_color, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.verbose = verbose and not quiet

    @property
    def fancy(self) -> bool:
        """Progress bars and colour only for a person at a terminal."""
        return self.console.is_terminal and not self.quiet and not self.console.no_color

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, markup=False, style="dim" if self.fancy else None)

    def detail(self, message: str) -> None:
        if self.verbose:
            self.note(message)

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.console.print(f"warning: {message}", markup=False, style="yellow")

    def error(self, message: str) -> None:
        self.console.print(f"error: {message}", markup=False, style="bold red")

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
            TextColumn("epoch {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        task = progress.add_task("train", total=total, status="")
        with progress:
            yield lambda row: progress.update(
                task, completed=row["epoch"], status=_epoch_line(row, total, with_epoch=False)
            )

    def train_summary(self, result: Any) -> None:
        if self.quiet:
            return
        cfg, h = result.model.config, result.history
        m = cfg.model
        shape = f"{m.cell} {m.layers}x{m.hidden_size}"
        ended = "early stopping" if h.stop_reason == "early_stopping" else "epoch limit"
        self.note(
            f"trained {shape} on {result.n_series} series ({result.n_train_windows} training, "
            f"{result.n_val_windows} validation windows) in {result.seconds:.1f} s on {h.device}; "
            f"best epoch {h.best_epoch} of {len(h.rows)} ({ended})"
        )
        scores = result.model.metrics
        names = [k for k in ("model", "naive", "seasonal_naive") if k in scores]
        if names:
            table = Table(title="validation (original units)", title_justify="left")
            table.add_column("metric")
            for name in names:
                table.add_column(name.replace("_", " "), justify="right")
            for metric in ("mae", "rmse", "smape", "mase"):
                table.add_row(metric.upper(), *(_num(scores[n][metric]) for n in names))
            self.console.print(table)
        self.note(f"model written to {result.model.path}")

    def predict_summary(self, result: Any) -> None:
        n = result.forecasts["unique_id"].nunique()
        where = result.out if result.out is not None else "stdout"
        self.note(
            f"forecast {n} series x {len(result.forecasts) // max(n, 1)} steps with the "
            f"{result.engine} engine in {result.seconds:.2f} s -> {where}"
        )


def _epoch_line(row: dict[str, float], total: int, with_epoch: bool = True) -> str:
    text = (
        f"train {row['train_loss']:.4f}  val {_num(row['val_loss'])}  grad {row['grad_norm']:.3g}"
    )
    return f"epoch {int(row['epoch'])}/{total}  {text}" if with_epoch else text


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4g}"


def print_json(document: dict[str, Any]) -> None:
    """One JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()
