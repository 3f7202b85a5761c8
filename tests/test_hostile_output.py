"""The world around the process: files beside --out, checkpoints and old model directories as
input, stdout and stderr that cannot be written, signals outside a command's own handling."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading

import pytest
import torch
from conftest import FAST
from test_robustness import assert_clean_error, invoke

from rnnforecast import train as train_module

PREDICT_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*args, **kwargs) -> subprocess.CompletedProcess:
    """`rnnforecast ARGS` in a fresh process, as a shell runs it."""
    cmd = [sys.executable, "-m", "rnnforecast", *map(str, args)]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run(cmd, env=PREDICT_ENV, timeout=120, **pipes)


@pytest.fixture
def model(tmp_path, long_csv):
    out = tmp_path / "model"
    assert invoke("train", long_csv, "--out", out, *FAST).exit_code == 0
    return out


def rehash(model_dir, name: str) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
    (model_dir / "manifest.json").write_text(json.dumps(manifest))


# --- the checkpoint beside --out -------------------------------------------------------------


def test_a_users_file_where_the_checkpoint_goes_is_kept(tmp_path, long_csv):
    """`model.ckpt` beside the default --out is a common name for a user's own checkpoint: a
    run never removes it on success, nor overwrites it when interrupted."""
    mine = tmp_path / "model.ckpt"
    mine.write_bytes(b"my lightning checkpoint")
    result = invoke("train", long_csv, "--out", tmp_path / "model", *FAST)
    assert_clean_error(result, f"{mine}: exists and is not a checkpoint rnnforecast wrote")
    assert mine.read_bytes() == b"my lightning checkpoint"
    assert not (tmp_path / "model").exists()


@contextlib.contextmanager
def _stop_at_once():
    stop = threading.Event()
    stop.set()
    yield stop


@pytest.mark.parametrize("tamper", ["shape", "nan", "no_run"])
def test_a_tampered_checkpoint_is_refused_by_name(tmp_path, long_csv, monkeypatch, tamper):
    out = tmp_path / "m"
    with monkeypatch.context() as patch:  # as if Ctrl-C came in the first batch
        patch.setattr(train_module, "_stop_requests", _stop_at_once)
        stopped = invoke("train", long_csv, "--out", out, *FAST)
    assert stopped.exit_code == 130, stopped.output
    checkpoint = tmp_path / "m.ckpt"
    state = torch.load(checkpoint, weights_only=True)
    name = next(iter(state["model"]))
    if tamper == "shape":
        state["model"][name] = torch.zeros(3, 3)
    elif tamper == "nan":
        state["model"][name] = state["model"][name] * float("nan")
    else:
        del state["run"]
    torch.save(state, checkpoint)
    result = invoke("train", long_csv, "--out", out, *FAST, "--resume")
    assert_clean_error(result, "delete it and train without --resume")
    assert not out.exists()


# --- model directories of older versions -----------------------------------------------------


def test_a_model_from_before_ensembles_still_forecasts(tmp_path, long_csv, model):
    """Model directories written before `model.ensemble` existed hold one network under its
    plain tensor names, and no ensemble key: they forecast exactly as they did."""
    before = invoke("predict", "--model", model)
    assert before.exit_code == 0, before.output
    config = model / "config.yaml"
    lines = config.read_text().splitlines(keepends=True)
    config.write_text("".join(ln for ln in lines if not ln.lstrip().startswith("ensemble")))
    rehash(model, "config.yaml")
    after = invoke("predict", "--model", model)
    assert after.exit_code == 0, after.output
    assert after.stdout == before.stdout
    assert invoke("info", model).exit_code == 0


# --- output paths ------------------------------------------------------------------------------


def test_output_paths_the_shell_would_have_read_otherwise(tmp_path, model, monkeypatch):
    """A file --out ending in '/' names a directory, not the file without it; a '~' the shell
    did not expand (as after --out=) is not a folder named '~'."""
    monkeypatch.chdir(tmp_path)
    slash = invoke("predict", "--model", model, "--out", "p.csv/")
    assert_clean_error(slash, "p.csv/: ends with '/'")
    assert not (tmp_path / "p.csv").exists()
    tilde = invoke("predict", "--model", model, "--out", "~/p.csv")
    assert_clean_error(tilde, "which the shell did not expand")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.csv", "model"]


def test_config_init_never_replaces_a_link_unasked(tmp_path):
    link = tmp_path / "c.yaml"
    link.symlink_to(tmp_path / "nowhere.yaml")
    assert_clean_error(invoke("config", "init", link), "already exists")
    assert link.is_symlink() and not (tmp_path / "nowhere.yaml").exists()


def test_a_full_disk_under_the_lock_is_named(tmp_path, long_csv, monkeypatch):
    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    result = invoke("train", long_csv, "--out", tmp_path / "m", *FAST)
    assert_clean_error(result, f"{tmp_path / '.m.lock'}: could not be written (No space left")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.csv"]


# --- stdout and stderr -------------------------------------------------------------------------


def test_stdout_that_cannot_be_written_is_one_line_naming_it(model):
    with open("/dev/full", "w") as sink:
        full = cli("predict", "--model", model, stdout=sink)
    assert full.returncode == 2
    assert full.stderr.decode() == (
        "error: standard output: could not be written (No space left on device); free some "
        "space, redirect it elsewhere, or give predict --out FILE\n"
    )
    closed = cli("info", model, "--json", preexec_fn=lambda: os.close(1))
    assert closed.returncode == 2, closed.stderr
    assert closed.stderr.decode().startswith("error: standard output is closed")
    assert closed.stderr.decode().count("\n") == 1
    with open("/dev/full", "w") as sink:
        helped = cli("--help", stdout=sink)
    assert helped.returncode == 2
    assert helped.stderr.decode() == (
        "error: standard output: could not be written (No space left on device)\n"
    )


def test_help_into_a_closed_pipe_is_141():
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        done = cli("train", "--help", stdout=write)
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert done.stderr == b""


def test_a_stderr_that_cannot_be_written_does_not_change_the_outcome(model):
    with open("/dev/full", "w") as full:
        done = cli("predict", "--model", model, stderr=full)
    assert done.returncode == 0
    assert done.stdout.decode().startswith("unique_id,ds,y_hat\n")
    assert done.stdout.decode().count("\n") == 1 + 3 * 12


# --- signals outside a command's own handling ------------------------------------------------

MAIN = (
    "import atexit, os, signal, sys\n"
    "from rnnforecast import cli\n"
    "{setup}\n"
    "sys.argv = ['rnnforecast', '--version']\n"
    "cli.main()\n"
)


def test_a_signal_while_python_exits_does_not_kill_a_finished_command():
    setup = "atexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM))"
    done = subprocess.run([sys.executable, "-c", MAIN.format(setup=setup)], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("rnnforecast ")


def test_ctrl_c_before_a_command_starts_is_one_line_and_130():
    setup = (
        "def stop(value):\n"
        "    if value:\n"
        "        raise KeyboardInterrupt\n"
        "cli._version.__code__ = stop.__code__"
    )
    done = subprocess.run([sys.executable, "-c", MAIN.format(setup=setup)], capture_output=True)
    assert done.returncode == 130
    assert done.stderr.decode() == "error: interrupted\n"
    assert done.stdout == b""
