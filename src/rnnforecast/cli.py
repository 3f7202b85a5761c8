"""Command line: parse options, call one pipeline function, render, map errors to exit codes.

pipeline and report are imported inside each command, so `--help`, `--version`, `config` and
`info` never load torch. Every setting of config.py becomes a flag by itself
(`config_options`), so the dataclasses stay the one source of options and defaults.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from rnnforecast import __version__
from rnnforecast.config import flat_fields, option_help
from rnnforecast.errors import STOP_SIGNALS

EXIT_CODES = (
    "Exit codes: 0 success; 1 unexpected error (a bug: rerun with --debug and report it); "
    "2 bad input, options, config, model directory or output path; 3 training diverged; "
    "4 model directory locked by another run; 130 interrupted (Ctrl-C, SIGTERM, SIGHUP); "
    "141 stdout closed early (e.g. piped into head)."
)


class _Group(TyperGroup):
    """The command group, whose usage errors (an unknown option, a bad value) are one
    `error:` line and exit 2, like every other error, even where stderr is no terminal (a
    cron log), and whose commands' --help shows every default (`_explain`)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        _help_colours()
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as e:  # click's usage errors
            if not standalone_mode:
                raise
            _usage_error(e)
        except typer.Abort:
            if not standalone_mode:
                raise
            sys.stderr.write("error: aborted\n")
            sys.exit(1)
        except OSError as e:  # --help or --version into a closed pipe or a full disk
            if not standalone_mode:
                raise
            sys.exit(_stdout_failed(e))
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)

    # --help and --version print while the arguments are parsed (the group's in make_context,
    # a command's in invoke): there a reader gone is 141, as for a command's output, not the
    # exit 1 click and rich give it, and a full disk is one line
    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _printing_help():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _printing_help():  # a command's own errors are mapped in _run: these are click's
            return super().invoke(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _explain(command, ctx)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _explain(self, ctx)
        super().format_help(ctx, formatter)


def _explain(command: Any, ctx: Any) -> None:
    """Once per command, its --help as a user reads it: every option's help ends with its
    default (a setting's as config.py gives it, passed as `show_default` text), a flag shows
    no value placeholder, an argument is named as the command's help names it (DATA); help
    text is shown as written, never read as rich markup ("[default: 16]" is no style tag)."""
    if getattr(command, "_explained", False):
        return
    command._explained = True
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            param.metavar = param.metavar or param.name.upper()
            continue
        if param.is_flag:
            param.metavar = ""  # rich would show <bool>
        text = param.help or ""
        if param.expose_value and not param.is_eager:  # --help, --version...: actions
            text = f"{text} [default: {_default_text(param)}]".strip()
        param.help, param.show_default = escape(text), False


def _default_text(param: Any) -> str:
    """An option's default as its help shows it: text given as `show_default`, the flag that
    is in force for a --x/--no-x pair, off for a lone flag, none for no value."""
    if isinstance(param.show_default, str):
        return param.show_default
    if param.is_flag and param.secondary_opts:
        return param.opts[-1] if param.default else param.secondary_opts[-1]
    if param.is_flag:
        return "on" if param.default else "off"
    return "none" if param.default is None else str(param.default)


def _help_colours() -> None:
    """NO_COLOR: --help without styles, as every other output (typer's own switch for it)."""
    import os

    no_color = bool(os.environ.get("NO_COLOR"))
    rich_utils = sys.modules.get("typer.rich_utils")
    if no_color and rich_utils is None:
        from typer import rich_utils
    if rich_utils is not None:
        rich_utils.COLOR_SYSTEM = None if no_color else "auto"


@contextlib.contextmanager
def _printing_help() -> Iterator[None]:
    try:
        yield
    except OSError as e:
        sys.exit(_stdout_failed(e))
    except KeyboardInterrupt:  # before a command's own handling (_run): typer says nothing
        sys.exit(_interrupted())
    except SystemExit as e:  # rich's own answer to a closed pipe: exit 1
        if e.code == 1 and isinstance(e.__context__, BrokenPipeError):
            sys.exit(_stdout_failed(e.__context__))
        raise


def _usage_error(e: Exception) -> None:
    from rnnforecast.report import one_line

    ctx = getattr(e, "ctx", None)
    text = e.format_message() if hasattr(e, "format_message") else str(e)
    see = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    sys.stderr.write(f"error: {one_line(text + see)}\n")
    sys.exit(getattr(e, "exit_code", 2))


app = typer.Typer(
    cls=_Group,
    name="rnnforecast",
    help="Train recurrent forecasters (RNN, LSTM, GRU) on CSV time series and forecast.\n\n"
    + EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(cls=_Group, help="Write or show YAML configs.", no_args_is_help=True)
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
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace --out even if rnnforecast did not write it (a user's directory or file).",
    ),
]


def config_options(
    *names: str, panel: str | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command one flag per setting of the named config sections (or single keys).

    The flags reach the command as `overrides`, a dict of those actually given: a flag left
    out is None, so the config file or the default applies. A `panel` groups them all in
    one help panel, for a command that takes a few settings of several sections.
    """

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        params = []
        for section, key, kind in flat_fields():
            if section not in names and key not in names:
                continue
            flag = "--" + key.replace("_", "-")
            decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
            decls += [SHORT_FLAGS[key]] if key in SHORT_FLAGS else []
            text, default, shown = option_help(key)
            option = typer.Option(  # the default is None (not given): show the setting's
                *decls, help=text, metavar=f"<{shown}>" if shown else None,
                rich_help_panel=panel or PANELS[section], show_default=default,
            )  # fmt: skip
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
        typer.Option(
            help="Train with this many processes on this machine (DDP, as torchrun runs it).", min=1
        ),
    ] = 1,
    force: Force = False,
    overrides: dict[str, Any] | None = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_out: Json = False,
    debug: Debug = False,
) -> None:
    """Train a model on DATA and write a self-contained model directory."""
    if nproc > 1 and not _in_torchrun():

        def launch(reporter) -> int:
            from rnnforecast import launch, pipeline

            pipeline.check_train_out(out, force)  # before starting any process
            return launch.workers(nproc, sys.argv[1:])

        raise typer.Exit(_run(launch, True, False, debug))

    def job(reporter) -> None:
        from rnnforecast import pipeline
        from rnnforecast.config import check_seconds

        check_seconds("--wait", wait)
        cfg, start = pipeline.load_config(config, overrides, warm_start)
        reporter.detail("effective config:\n" + cfg.to_yaml().rstrip())
        with reporter.epochs(cfg.train.epochs) as on_epoch:
            result = pipeline.train(
                data, out, cfg, reporter.note, on_epoch, start, wait, resume, force
            )
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
    """Whether torchrun or `--nproc` started this process (as a rank other than 0, with
    `worker`)."""
    import os

    if worker:
        return os.environ.get("RANK", "0") != "0"
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1


@app.command()
@config_options("engine", "device", "chunk_size", "intervals", "fill", panel="Predict")
def predict(
    data: Annotated[
        Path | None,
        typer.Argument(help="CSV with fresher data; default: the data stored with the model."),
    ] = None,
    model: ModelDir = Path("model"),
    out: Annotated[
        str,
        typer.Option("--out", "-o", help="Forecast CSV (or .parquet) to write, or - for stdout."),
    ] = "-",
    config: ConfigFile = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace --out even if it is not a forecast rnnforecast wrote (or is a link).",
        ),
    ] = False,
    overrides: dict[str, Any] | None = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_out: Json = False,
    debug: Debug = False,
) -> None:
    """Forecast the next horizon steps of every series with a trained model."""

    def job(reporter) -> None:
        from rnnforecast import pipeline
        from rnnforecast.config import Config

        target = None if out == "-" else out  # a str: a trailing slash is seen
        if json_out and target is None:
            from rnnforecast.errors import RnnForecastError

            raise RnnForecastError(
                "--json prints a summary on stdout; give the forecasts --out FILE"
            )
        run = Config.load(config, overrides)
        result = pipeline.predict(
            model, data, target, run.predict.engine, run.train.device, run.predict.chunk_size,
            stream=sys.stdout, levels=run.predict.intervals or (), force=force,
            fill=run.data.fill,
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
@config_options("season", "engine", "max_plots", "intervals", "fill", panel="Evaluate")
def evaluate(
    data: Annotated[Path, typer.Argument(help="CSV with the series to score the model on.")],
    model: ModelDir = Path("model"),
    out: ReportDir = Path("report"),
    config: ConfigFile = None,
    force: Force = False,
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
            data, model, out, run.data.season, run.predict.engine, run.predict.intervals or (),
            force, fill=run.data.fill,
        )  # fmt: skip
        _report_evaluation(reporter, result, json_out, run.evaluate.max_plots, force)

    _run(job, quiet or json_out, verbose, debug)


@app.command()
@config_options(*TRAINING, "evaluate", "intervals")
def backtest(
    data: DataFile,
    out: ReportDir = Path("report"),
    config: ConfigFile = None,
    force: Force = False,
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
            result = pipeline.backtest(data, cfg, out, reporter.note, on_epoch, force)
        _report_evaluation(reporter, result, json_out, cfg.evaluate.max_plots, force)

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

        if (path.is_symlink() or path.exists()) and not force:  # a dangling link too
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
        from rnnforecast.config import Config

        sys.stdout.write(Config.load(config, overrides).to_yaml(comments=True))

    _run(job, False, False, debug)


def _report_evaluation(reporter, result, json_out: bool, max_plots: int, force: bool) -> None:
    """Write the report directory (its plots' notes join the run's), then say what it holds."""
    from rnnforecast.report import write_report

    result.notes.extend(
        write_report(result.out, result.document, result.backtest, result.frame, max_plots, force)
    )
    for message in result.notes:
        reporter.note(message)
    if json_out:
        _print_json(result.document)
    reporter.evaluation_summary(result)


def _print_json(document: dict[str, Any]) -> None:
    from rnnforecast.report import print_json

    print_json(document)


def _run(job: Callable[[Any], Any], quiet: bool, verbose: bool, debug: bool) -> Any:
    """Run a command body and return what it returns; map our error to its exit code, an
    error of the OS (a path it refuses, a full disk) to 2 with the path and its reason, Ctrl-C,
    SIGTERM and SIGHUP to 130, a closed stdout to 141, anything else to 1."""
    from rnnforecast.errors import ExitCode, RnnForecastError
    from rnnforecast.report import Reporter

    reporter = Reporter(quiet=quiet, verbose=verbose)
    previous = {s: signal.signal(s, _interrupt) for s in STOP_SIGNALS}
    stdout, sys.stdout = sys.stdout, _Stdout(sys.stdout)
    try:
        return job(reporter)
    except RnnForecastError as e:
        if debug:
            reporter.console.print(traceback.format_exc(), markup=False)
        reporter.error(str(e))
        raise typer.Exit(int(e.exit_code)) from None
    except KeyboardInterrupt:
        reporter.error("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except BrokenPipeError:
        _stdout_to_devnull()  # what is still buffered must not fail again at exit
        raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
    except OSError as e:
        if debug:
            reporter.console.print(traceback.format_exc(), markup=False)
        where = f"{e.filename}: " if e.filename else ""
        reporter.error(f"{where}{e.strerror or e}; check the path, its permissions and free space")
        raise typer.Exit(int(ExitCode.BAD_INPUT)) from None
    except Exception as e:
        if debug:
            raise
        reporter.error(
            f"unexpected {type(e).__name__}: {e}; rerun with --debug for the traceback and "
            "report it"
        )
        raise typer.Exit(int(ExitCode.BUG)) from None
    finally:
        sys.stdout = stdout
        for s, handler in previous.items():
            signal.signal(s, handler)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _Stdout:
    """stdout as a command writes its data there: a closed stdout, or one the OS refuses (a
    full disk, /dev/full), is our error naming it (exit 2), where Python would fail on None
    or say only "No space left on device"; a reader gone (`| head`) stays BrokenPipeError."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._call("write", text)

    def flush(self) -> None:
        if self._stream is not None:  # nothing written, nothing to flush
            self._call("flush")

    def _call(self, name: str, *args: Any) -> Any:
        from rnnforecast.errors import RnnForecastError

        if self._stream is None:
            raise RnnForecastError(
                "standard output is closed, so there is nowhere to print to; run with stdout "
                "open (e.g. > FILE), or give predict --out FILE"
            )
        try:
            return getattr(self._stream, name)(*args)
        except BrokenPipeError:
            raise
        except OSError as e:
            _stdout_to_devnull()  # what is still buffered must not fail again at exit
            raise RnnForecastError(
                f"standard output: could not be written ({e.strerror or e}); free some space, "
                "redirect it elsewhere, or give predict --out FILE"
            ) from None

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding...
        return getattr(self._stream, name)


def _stdout_failed(e: OSError) -> int:
    """The exit code, after saying why, of a failed write to stdout outside a command."""
    from rnnforecast.errors import ExitCode

    _stdout_to_devnull()
    if isinstance(e, BrokenPipeError):
        return int(ExitCode.BROKEN_PIPE)
    try:
        sys.stderr.write(f"error: standard output: could not be written ({e.strerror or e})\n")
    except (OSError, ValueError, AttributeError):
        pass
    return int(ExitCode.BAD_INPUT)


def _stdout_to_devnull() -> None:
    import os

    try:
        sys.stdout.flush()
    except OSError:
        pass
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real descriptor (a test's capture)
        pass


def main() -> None:
    """The console script: `rnnforecast ARGS`. Ctrl-C, SIGTERM and SIGHUP before or after a
    command's own handling (while starting, once its work is written) still end in exit 130
    with one line, never a traceback, and once the command has finished they are ignored
    while Python exits (it restores their default, a kill, for that); a closed stdin, stdout
    or stderr is held open on /dev/null, so no file opened later takes its number and
    receives what is printed there."""
    import os

    from rnnforecast.errors import ExitCode

    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
    for s in STOP_SIGNALS:
        signal.signal(s, _interrupt)
    code: Any = 0
    try:
        app(prog_name="rnnforecast")
    except KeyboardInterrupt:
        code = _interrupted()
    except SystemExit as e:
        code = e.code
    finally:  # finished, its exit code decided: Python's own exit must not turn it into a kill
        for s in (signal.SIGINT, *STOP_SIGNALS):
            signal.signal(s, signal.SIG_IGN)
    if code == ExitCode.INTERRUPTED:
        # interrupted, everything is already cleaned up; exit now, as Python would exit by
        # SIGINT instead (not 130) after a Ctrl-C that landed in code an extension module ran
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(int(code))
    sys.exit(code)


def _interrupted() -> int:
    """Say a command was interrupted outside its own handling; the exit code for it."""
    from rnnforecast.errors import ExitCode

    try:
        sys.stderr.write("error: interrupted\n")
    except (OSError, ValueError, AttributeError):
        pass
    return int(ExitCode.INTERRUPTED)
