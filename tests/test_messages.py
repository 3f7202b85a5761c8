"""What a user reads: --help, usage errors, error wording, progress and the forecast's numbers."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import FAST
from rich.console import Console
from typer.testing import CliRunner

from rnnforecast import config, report
from rnnforecast.cli import app
from rnnforecast.writers import float32_text

runner = CliRunner()
COMMANDS = [["train"], ["predict"], ["evaluate"], ["backtest"], ["info"], ["config", "init"],
            ["config", "show"]]  # fmt: skip
ACTIONS = ("--help", "--version", "--install-completion", "--show-completion")


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def help_lines(command: list[str]) -> dict[str, str]:
    """Each option's row of `command --help`, by its long flag (wide enough for one line)."""
    result = invoke(*command, "--help", env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.stdout.splitlines():
        cells = line.strip("│ ").split()
        if cells and cells[0].startswith("--"):
            rows[cells[0]] = line
    return rows


def rnnforecast(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The console script as cron runs it: stdout and stderr are pipes, not terminals."""
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run([sys.executable, "-m", "rnnforecast", *args], capture_output=True,
                          text=True, env={**environ, **env})  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_every_default_and_no_bool_placeholder(command):
    rows = help_lines(command)
    assert rows, "no option rows found"
    for flag, line in rows.items():
        assert "<bool>" not in line, line
        if flag not in ACTIONS:
            assert "[default: " in line, line


def test_help_shows_every_choice_set_and_the_defaults_as_typed():
    rows = help_lines(["train"])
    for section, key, _ in config.flat_fields():
        shown = config.option_help(key)[2]
        if section in ("data", "window", "model", "train") and shown:
            assert f"<{shown}>" in rows["--" + key.replace("_", "-")]
    assert "<rnn|lstm|gru>" in rows["--cell"] and "[default: lstm]" in rows["--cell"]
    assert "<auto|cpu|cuda|cuda:N>" in rows["--device"] and "[default: auto]" in rows["--device"]
    assert "<auto|mae|mse|huber>" in rows["--loss"] and "[default: auto]" in rows["--loss"]
    assert "<auto|median|mean>" in rows["--point"] and "[default: auto]" in rows["--point"]
    assert "[default: 200]" in rows["--epochs"] and "[default: 16]" in rows["--hidden-size"]
    assert "[default: --no-residual]" in rows["--residual"]
    assert "[default: --no-resume]" in rows["--resume"]
    assert "[default: off]" in rows["--force"] and "[default: none]" in rows["--config"]
    assert "[default: unset]" in rows["--lookback"]
    assert "[default: -]" in help_lines(["predict"])["--out"]


def test_a_usage_error_is_one_plain_line_where_stderr_is_no_terminal():
    done = rnnforecast("train", "data.csv", "--intervals")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "error: No such option: --intervals (see 'rnnforecast train --help')\n"
    ), done.stderr


def test_no_color_means_no_styles_in_help_and_errors():
    coloured = rnnforecast("config", "show", "--help", FORCE_COLOR="1")
    assert "\x1b[" in coloured.stdout  # the control: styles where colour is forced
    plain = rnnforecast("config", "show", "--help", FORCE_COLOR="1", NO_COLOR="1")
    assert plain.returncode == 0 and "\x1b[" not in plain.stdout
    assert plain.stdout.count("\n") == coloured.stdout.count("\n")
    error = rnnforecast("config", "show", "--cell", "x", FORCE_COLOR="1", NO_COLOR="1")
    assert error.returncode == 2 and error.stderr.startswith("error: --cell: ")
    assert "\x1b[" not in error.stderr
    assert "\x1b[" in rnnforecast("config", "show", "--cell", "x", FORCE_COLOR="1").stderr


def test_an_error_names_the_flag_typed_or_the_file_and_key(tmp_path):
    result = invoke("config", "show", "--cell", "LSTMX")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --cell: 'LSTMX' is not one of rnn, lstm, gru; did you mean 'lstm'?\n"
    )
    result = invoke("config", "show", "--hidden-size", "0")
    assert result.stderr == "error: --hidden-size: 0 is too small; use a value >= 1\n"
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  cell: LSTMX\n")
    result = invoke("config", "show", "--config", cfg)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {cfg}: model.cell: 'LSTMX' is not one of ")
    cfg.write_text("model:\n  hidden_size: 0\n")
    result = invoke("config", "show", "--config", cfg, "--layers", "2")
    assert result.stderr == f"error: {cfg}: model.hidden_size: 0 is too small; use a value >= 1\n"


def test_choices_are_read_case_insensitively_from_flags_and_files(tmp_path):
    result = invoke("config", "show", "--cell", "GRU", "--loss", "Huber")
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["model"]["cell"] == "gru" and shown["train"]["loss"] == "huber"
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  cell: Rnn\n")
    assert config.Config.load(cfg).model.cell == "rnn"


def test_a_missing_column_names_the_model_directory_readably(tmp_path, long_csv):
    model = tmp_path / "model"
    assert invoke("train", long_csv, "--out", model, *FAST).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(long_csv.read_text().replace("unique_id,ds,y", "unique_id,when,y", 1))
    result = invoke("predict", bad, "-m", model)
    assert result.exit_code == 2
    assert f"(the model in '{model}' was trained on it)" in result.stderr, result.stderr


def test_the_progress_bar_says_which_member_it_is_on():
    reporter = report.Reporter()
    out = io.StringIO()
    reporter.console = Console(file=out, force_terminal=True, color_system=None, width=120)
    assert reporter.fancy
    row = {"epoch": 4, "train_loss": 0.5, "val_loss": 0.25, "grad_norm": 1.0}
    with reporter.epochs(5) as on_epoch:
        on_epoch({**row, "member": 2, "members": 3})
    assert "member 2/3  epoch 4/5" in out.getvalue()


def test_an_ensemble_says_each_members_epochs_in_one_format(tmp_path, long_csv, monkeypatch):
    rows, line = [], report._epoch_line

    def seen(row, *args, **kwargs):
        rows.append(row)
        return line(row, *args, **kwargs)

    monkeypatch.setattr(report, "_epoch_line", seen)
    args = ["train", long_csv, "--out", tmp_path / "m", "--ensemble", "2", *FAST[:-1]]
    result = invoke(*args, "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert [(r["member"], r["members"], r["epoch"]) for r in rows] == [
        (1, 2, 1), (1, 2, 2), (2, 2, 1), (2, 2, 2)
    ]  # fmt: skip
    epochs = [x for x in result.stderr.splitlines() if x.startswith("epoch ")]
    assert len(epochs) == 4
    for x in epochs:  # both losses with four decimals: "train 0.5600  val 0.5612"
        losses = x.split("  ")[1:3]
        assert [len(v.split()[1].split(".")[1]) for v in losses] == [4, 4], x
    summary = next(x for x in result.stderr.splitlines() if x.startswith("trained "))
    assert "epochs: the first" not in summary
    assert "(one per member); ended by " in summary, summary


def test_epoch_line_and_summary_wording():
    row = {"epoch": 1, "train_loss": 0.56, "val_loss": 0.5, "grad_norm": 1.5}
    assert report._epoch_line(row, 3) == "epoch 1/3  train 0.5600  val 0.5000  grad 1.5"
    assert report._epoch_line({**row, "val_loss": float("nan")}, 3).endswith("val -  grad 1.5")

    @dataclasses.dataclass
    class H:
        best_epoch: int
        rows: list
        stop_reason: str

    assert report._epochs([H(0, [{}], "max_epochs")]) == (
        "no epoch of 1 beat the starting weights; ended by the epoch limit"
    )
    assert report._epochs([H(12, [{}] * 32, "early_stopping")]) == (
        "best epoch 12 of 32; ended by early stopping"
    )
    assert report._epochs([H(3, [{}] * 5, "early_stopping"), H(0, [{}] * 4, "budget")]) == (
        "best epochs 3 of 5, none of 4 (one per member); ended by early stopping or the time "
        "budget (--budget)"
    )


def test_forecast_numbers_are_the_shortest_text_of_their_float32():
    assert list(float32_text(np.array([443.53499877716763, 12.0, np.nan, -0.5]))) == [
        "443.535", "12.0", "", "-0.5"
    ]  # fmt: skip
    rng = np.random.default_rng(0)
    values = rng.standard_normal(3000) * 10.0 ** rng.integers(-8, 20, 3000)
    got = float32_text(values)
    want = [np.format_float_positional(np.float32(v), unique=True, trim="0") for v in values]
    assert list(got) == want  # numpy's shortest round-trip digits, written positionally
    assert (np.array(got, dtype=np.float64).astype(np.float32) == values.astype(np.float32)).all()
