"""Command line: parse options, call one pipeline function, render, map errors to exit codes.

pipeline and report are imported inside each command, so `--help` and `--version` never load
torch, numpy or pandas.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnforecast import __version__
from rnnforecast.config import help_text, key_sections

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

DATA, WINDOW, MODEL, TRAIN = "Data", "Windows", "Model", "Training"


def _cfg(key: str, *flags: str, panel: str) -> Any:
    """An option whose default lives in config.py; None means 'not given on the command line'."""
    return typer.Option(*flags, help=help_text(key), rich_help_panel=panel, show_default=False)


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Print more detail.")]
Json = Annotated[
    bool, typer.Option("--json", help="Print one JSON summary on stdout and nothing else there.")
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]


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
def train(
    data: Annotated[Path, typer.Argument(help="CSV file: long (unique_id,ds,y), single or wide.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write.")] = Path(
        "model"
    ),
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config; flags override it.")
    ] = None,
    time_col: Annotated[str | None, _cfg("time_col", "--time-col", panel=DATA)] = None,
    target: Annotated[str | None, _cfg("target", "--target", panel=DATA)] = None,
    id_col: Annotated[str | None, _cfg("id_col", "--id-col", panel=DATA)] = None,
    freq: Annotated[str | None, _cfg("freq", "--freq", panel=DATA)] = None,
    fill: Annotated[str | None, _cfg("fill", "--fill", panel=DATA)] = None,
    season: Annotated[int | None, _cfg("season", "--season", panel=DATA)] = None,
    lookback: Annotated[int | None, _cfg("lookback", "--lookback", "-L", panel=WINDOW)] = None,
    horizon: Annotated[int | None, _cfg("horizon", "--horizon", "-H", panel=WINDOW)] = None,
    val_size: Annotated[int | None, _cfg("val_size", "--val-size", panel=WINDOW)] = None,
    scaler: Annotated[str | None, _cfg("scaler", "--scaler", panel=WINDOW)] = None,
    cell: Annotated[str | None, _cfg("cell", "--cell", panel=MODEL)] = None,
    activation: Annotated[str | None, _cfg("activation", "--activation", panel=MODEL)] = None,
    layers: Annotated[int | None, _cfg("layers", "--layers", panel=MODEL)] = None,
    hidden_size: Annotated[int | None, _cfg("hidden_size", "--hidden-size", panel=MODEL)] = None,
    dropout: Annotated[float | None, _cfg("dropout", "--dropout", panel=MODEL)] = None,
    residual: Annotated[
        bool | None, _cfg("residual", "--residual/--no-residual", panel=MODEL)
    ] = None,
    init: Annotated[str | None, _cfg("init", "--init", panel=MODEL)] = None,
    norm: Annotated[str | None, _cfg("norm", "--norm", panel=MODEL)] = None,
    epochs: Annotated[int | None, _cfg("epochs", "--epochs", panel=TRAIN)] = None,
    batch_size: Annotated[int | None, _cfg("batch_size", "--batch-size", panel=TRAIN)] = None,
    lr: Annotated[float | None, _cfg("lr", "--lr", panel=TRAIN)] = None,
    patience: Annotated[int | None, _cfg("patience", "--patience", panel=TRAIN)] = None,
    clip_norm: Annotated[float | None, _cfg("clip_norm", "--clip-norm", panel=TRAIN)] = None,
    clip_value: Annotated[float | None, _cfg("clip_value", "--clip-value", panel=TRAIN)] = None,
    loss: Annotated[str | None, _cfg("loss", "--loss", panel=TRAIN)] = None,
    seed: Annotated[int | None, _cfg("seed", "--seed", panel=TRAIN)] = None,
    device: Annotated[str | None, _cfg("device", "--device", panel=TRAIN)] = None,
    precision: Annotated[str | None, _cfg("precision", "--precision", panel=TRAIN)] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_out: Json = False,
    debug: Debug = False,
) -> None:
    """Train a model on DATA and write a self-contained model directory."""
    overrides = {k: v for k, v in locals().items() if k in key_sections() and v is not None}

    def job(reporter) -> None:
        from rnnforecast import pipeline
        from rnnforecast.config import Config

        cfg = Config.load(config, overrides)
        with reporter.epochs(cfg.train.epochs) as on_epoch:
            result = pipeline.train(data, out, cfg, on_note=reporter.note, on_epoch=on_epoch)
        if json_out:
            from rnnforecast.report import print_json

            print_json(
                {
                    "command": "train",
                    "model_dir": str(result.model.path),
                    "series": result.n_series,
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

    _run(job, quiet or json_out, verbose, debug)


@app.command()
def predict(
    data: Annotated[
        Path | None,
        typer.Argument(help="CSV with fresher data; default: the data stored with the model."),
    ] = None,
    model: Annotated[Path, typer.Option("--model", "-m", help="Model directory.")] = Path("model"),
    out: Annotated[
        str, typer.Option("--out", "-o", help="Forecast CSV to write, or - for stdout.")
    ] = "-",
    engine: Annotated[
        str, typer.Option(help="auto (numpy on CPU, torch on GPU), numpy or torch.")
    ] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N (torch engine).")] = "auto",
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_out: Json = False,
    debug: Debug = False,
) -> None:
    """Forecast the next horizon steps of every series with a trained model."""

    def job(reporter) -> None:
        import sys

        from rnnforecast import pipeline

        target = None if out == "-" else Path(out)
        if json_out and target is None:
            from rnnforecast.errors import RnnForecastError

            raise RnnForecastError(
                "--json prints a summary on stdout; give the forecasts --out FILE"
            )
        result = pipeline.predict(model, data, target, engine=engine, device=device)
        for message in result.notes:
            reporter.note(message)
        if target is None:
            sys.stdout.write(result.csv)
            sys.stdout.flush()
        if json_out:
            from rnnforecast.report import print_json

            print_json(
                {
                    "command": "predict",
                    "model_dir": str(model),
                    "out": str(result.out),
                    "series": int(result.forecasts["unique_id"].nunique()),
                    "rows": len(result.forecasts),
                    "engine": result.engine,
                    "seconds": round(result.seconds, 3),
                    "notes": result.notes,
                }
            )
        reporter.predict_summary(result)

    _run(job, quiet or json_out, verbose, debug)


def _run(job: Callable[[Any], None], quiet: bool, verbose: bool, debug: bool) -> None:
    """Run a command body; map our error to its exit code, Ctrl-C to 130, anything else to 1."""
    from rnnforecast.errors import ExitCode, RnnForecastError
    from rnnforecast.report import Reporter

    reporter = Reporter(quiet=quiet, verbose=verbose)
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


def main() -> None:
    app(prog_name="rnnforecast")
