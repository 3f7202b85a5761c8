"""Command line: parse options, call one pipeline function, render, map errors to exit codes.

pipeline and report are imported inside each command, so `--help`, `--version`, `config` and
`info` never load torch. Every setting of config.py becomes a flag by itself
(`config_options`), so the dataclasses stay the one source of options and defaults.
"""

from __future__ import annotations

import functools
import inspect
import signal
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnforecast import __version__
from rnnforecast.config import flat_fields, help_text

EXIT_CODES = (
    "Exit codes: 0 success; 1 unexpected error (a bug: rerun with --debug and report it); "
    "2 bad input, options, config or model directory; 3 training diverged; "
    "4 model directory locked by another run; 130 interrupted."
)

app = typer.Typer(
    name="rnnforecast",
    help="Train recurrent forecasters (RNN, LSTM, GRU) on CSV time series and forecast.\n\n"
    + EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(help="Write or show YAML configs.", no_args_is_help=True)
app.add_typer(config_app, name="config")

TRAINING = ("data", "window", "model", "train")
PANELS = {
    "data": "Data",
    "window": "Windows",
    "model": "Model",
    "train": "Training",
    "evaluate": "Backtest",
    "predict": "Predict",
}
SHORT_FLAGS = {"lookback": "-L", "horizon": "-H"}

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Print more detail.")]
Json = Annotated[
    bool, typer.Option("--json", help="Print one JSON summary on stdout and nothing else there.")
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
ConfigFile = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config; flags override it.")
]
ModelDir = Annotated[Path, typer.Option("--model", "-m", help="Model directory.")]
DataFile = Annotated[Path, typer.Argument(help="CSV file: long (unique_id,ds,y), single or wide.")]
ReportDir = Annotated[Path, typer.Option("--out", "-o", help="Report directory to write.")]


def config_options(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command one flag per setting of the named config sections (or single keys).

    The flags reach the command as `overrides`, a dict of those actually given: a flag left
    out is None, so the config file or the default applies.
    """

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        params = []
        for section, key, kind in flat_fields():
            if section not in names and key not in names:
                continue
            flag = "--" + key.replace("_", "-")
            decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
            decls += [SHORT_FLAGS[key]] if key in SHORT_FLAGS else []
            option = typer.Option(
                *decls, help=help_text(key), rich_help_panel=PANELS[section], show_default=False
            )
            params.append(
                inspect.Parameter(
                    key,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=None,
                    annotation=Annotated[kind | None, option],
                )
            )
        keys = {p.name for p in params}

        @functools.wraps(func)
        def command(**kwargs: Any) -> None:
            given = {k: kwargs.pop(k) for k in keys}
            func(**kwargs, overrides={k: v for k, v in given.items() if v is not None})

        own = inspect.signature(func, eval_str=True)
        mine = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own.parameters.values()]
        at = [p.name for p in mine].index("overrides")  # the flags go where `overrides` stands
        command.__signature__ = own.replace(parameters=mine[:at] + params + mine[at + 1 :])
        return command

    return decorate


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rnnforecast {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Train recurrent forecasters on CSV time series and forecast."""


@app.command()
@config_options(*TRAINING)
def train(
    data: DataFile,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write.")] = Path(
        "model"
    ),
    config: ConfigFile = None,
    warm_start: Annotated[
        Path | None,
        typer.Option(help="Start from this model's weights and settings (e.g. nightly)."),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(help="Seconds to wait for another run's lock on --out (0: fail at once)."),
    ] = 0.0,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run from its checkpoint (--out.ckpt).")
    ] = False,
    nproc: Annotated[
        int,
        typer.Option(help="Train with this many processes on this machine (torchrun, DDP).", min=1),
    ] = 1,
    overrides: dict[str, Any] | None = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_out: Json = False,
    debug: Debug = False,
) -> None:
    """Train a model on DATA and write a self-contained model directory."""
    if nproc > 1 and not _in_torchrun():
        _relaunch_with_torchrun(nproc)

    def job(reporter) -> None:
        from rnnforecast import pipeline

        cfg, start = pipeline.load_config(config, overrides, warm_start)
        reporter.detail("effective config:\n" + cfg.to_yaml().rstrip())
        with reporter.epochs(cfg.train.epochs) as on_epoch:
            result = pipeline.train(data, out, cfg, reporter.note, on_epoch, start, wait, resume)
        if json_out and not _in_torchrun(worker=True):
            _print_json(
                {
                    "command": "train",
                    "model_dir": str(result.model.path),
                    "series": result.n_series,
                    "train_windows": result.n_train_windows,
                    "val_windows": result.n_val_windows,
                    "best_epoch": result.history.best_epoch,
                    "epochs_run": len(result.history.rows),
                    "stop_reason": result.history.stop_reason,
                    "seconds": round(result.seconds, 3),
                    "metrics": result.model.metrics,
                    "config": result.model.config.to_dict(),
                    "notes": result.notes,
                }
            )
        reporter.train_summary(result)

    _run(job, quiet or json_out or _in_torchrun(worker=True), verbose, debug)


def _in_torchrun(worker: bool = False) -> bool:
    """Whether torchrun started this process (as a rank other than 0, with `worker`)."""
    import os

    if worker:
        return os.environ.get("RANK", "0") != "0"
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1


def _relaunch_with_torchrun(nproc: int) -> None:
    """`train --nproc N` is `torchrun --standalone --nproc-per-node N -m rnnforecast train`."""
    import subprocess
    import sys

    args, skip = [], False
    for arg in sys.argv[1:]:  # the same command without --nproc (torchrun would take it)
        if not skip and not arg.startswith("--nproc"):
            args.append(arg)
        skip = arg == "--nproc"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", "-m", "rnnforecast", *args]  # fmt: skip
    raise typer.Exit(subprocess.call(cmd))


@app.command()
@config_options("engine", "device", "chunk_size", "intervals")
def predict(
    data: Annotated[
        Path | None,
        typer.Argument(help="CSV with fresher data; default: the data stored with the model."),
    ] = None,
    model: ModelDir = Path("model"),
    out: Annotated[
        str, typer.Option("--out", "-o", help="Forecast CSV to write, or - for stdout.")
    ] = "-",
    config: ConfigFile = None,
    overrides: dict[str, Any] | None = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_out: Json = False,
    debug: Debug = False,
) -> None:
    """Forecast the next horizon steps of every series with a trained model."""

    def job(reporter) -> None:
        import sys

        from rnnforecast import pipeline
        from rnnforecast.config import Config

        target = None if out == "-" else Path(out)
        if json_out and target is None:
            from rnnforecast.errors import RnnForecastError

            raise RnnForecastError(
                "--json prints a summary on stdout; give the forecasts --out FILE"
            )
        run = Config.load(config, overrides)
        result = pipeline.predict(
            model, data, target, run.predict.engine, run.train.device, run.predict.chunk_size,
            stream=sys.stdout, levels=run.predict.intervals or (),
        )  # fmt: skip
        sys.stdout.flush()
        for message in result.notes:
            reporter.note(message)
        if json_out:
            _print_json(
                {
                    "command": "predict",
                    "model_dir": str(model),
                    "out": str(result.out),
                    "series": result.series,
                    "rows": result.rows,
                    "engine": result.engine,
                    "seconds": round(result.seconds, 3),
                    "notes": result.notes,
                }
            )
        reporter.predict_summary(result)

    _run(job, quiet or json_out, verbose, debug)


@app.command()
@config_options("season", "engine", "max_plots", "intervals")
def evaluate(
    data: Annotated[Path, typer.Argument(help="CSV with the series to score the model on.")],
    model: ModelDir = Path("model"),
    out: ReportDir = Path("report"),
    config: ConfigFile = None,
    overrides: dict[str, Any] | None = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_out: Json = False,
    debug: Debug = False,
) -> None:
    """Score a model on the last horizon of each series of DATA, beside the baselines."""

    def job(reporter) -> None:
        from rnnforecast import pipeline
        from rnnforecast.config import Config

        run = Config.load(config, overrides)
        result = pipeline.evaluate_model(
            data, model, out, run.data.season, run.predict.engine, run.evaluate.max_plots,
            run.predict.intervals or (),
        )  # fmt: skip
        _report_evaluation(reporter, result, json_out)

    _run(job, quiet or json_out, verbose, debug)


@app.command()
@config_options(*TRAINING, "evaluate", "intervals")
def backtest(
    data: DataFile,
    out: ReportDir = Path("report"),
    config: ConfigFile = None,
    overrides: dict[str, Any] | None = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_out: Json = False,
    debug: Debug = False,
) -> None:
    """Rolling-origin backtest: train before each cut-off, forecast, score against baselines."""

    def job(reporter) -> None:
        from rnnforecast import pipeline
        from rnnforecast.config import Config

        cfg = Config.load(config, overrides)
        with reporter.epochs(cfg.train.epochs) as on_epoch:
            result = pipeline.backtest(data, cfg, out, reporter.note, on_epoch)
        _report_evaluation(reporter, result, json_out)

    _run(job, quiet or json_out, verbose, debug)


@app.command()
def info(
    model: Annotated[Path, typer.Argument(help="Model directory.")] = Path("model"),
    json_out: Json = False,
    debug: Debug = False,
) -> None:
    """Show what a model is: cell, sizes, frequency, series, data span, metrics, version."""

    def job(reporter) -> None:
        from rnnforecast import pipeline

        facts = pipeline.info(model)
        if json_out:
            _print_json(facts)
        else:
            reporter.info_table(facts)

    _run(job, False, False, debug)


@config_app.command("init")
def config_init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("rnnforecast.yaml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    debug: Debug = False,
) -> None:
    """Write a commented config with every setting at its default."""

    def job(reporter) -> None:
        from rnnforecast.config import Config
        from rnnforecast.errors import RnnForecastError
        from rnnforecast.fsutil import atomic_write

        if path.exists() and not force:
            raise RnnForecastError(f"{path}: already exists; pass --force to overwrite it")
        atomic_write(path, Config().to_yaml(comments=True))
        reporter.note(f"wrote {path}; edit it and pass it with --config")

    _run(job, False, False, debug)


@config_app.command("show")
@config_options(*TRAINING, "evaluate", "predict")
def config_show(
    config: ConfigFile = None,
    overrides: dict[str, Any] | None = None,
    debug: Debug = False,
) -> None:
    """Print the effective config (defaults < --config file < flags) as YAML."""

    def job(reporter) -> None:
        import sys

        from rnnforecast.config import Config

        sys.stdout.write(Config.load(config, overrides).to_yaml(comments=True))

    _run(job, False, False, debug)


def _report_evaluation(reporter, result, json_out: bool) -> None:
    for message in result.notes:
        reporter.note(message)
    if json_out:
        _print_json(result.document)
    reporter.evaluation_summary(result)


def _print_json(document: dict[str, Any]) -> None:
    from rnnforecast.report import print_json

    print_json(document)


def _run(job: Callable[[Any], None], quiet: bool, verbose: bool, debug: bool) -> None:
    """Run a command body; map our error to its exit code, Ctrl-C to 130, anything else to 1."""
    from rnnforecast.errors import ExitCode, RnnForecastError
    from rnnforecast.report import Reporter

    reporter = Reporter(quiet=quiet, verbose=verbose)
    signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: partial outputs get cleaned up
    try:
        job(reporter)
    except RnnForecastError as e:
        if debug:
            reporter.console.print(traceback.format_exc(), markup=False)
        reporter.error(str(e))
        raise typer.Exit(int(e.exit_code)) from None
    except KeyboardInterrupt:
        reporter.error("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except Exception as e:
        if debug:
            raise
        reporter.error(
            f"unexpected {type(e).__name__}: {e}; rerun with --debug for the traceback and "
            "report it"
        )
        raise typer.Exit(int(ExitCode.BUG)) from None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    app(prog_name="rnnforecast")
