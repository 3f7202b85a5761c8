"""Cron and scripts: configs, quiet and JSON output, idempotence, locks, warm starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import FAST, heavy_imports
from typer.testing import CliRunner

from rnnforecast import artifact, fsutil
from rnnforecast.cli import app
from rnnforecast.config import Config

runner = CliRunner()


def invoke(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


@pytest.fixture
def model_dir(tmp_path, long_csv):
    model = tmp_path / "model"
    result = invoke("train", long_csv, "-o", model, "-H", "6", *FAST)
    assert result.exit_code == 0, result.output
    return model


def test_config_init_writes_a_commented_default(tmp_path):
    path = tmp_path / "cfg.yaml"
    result = invoke("config", "init", path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert "hidden_size: 16  # units per recurrent layer" in text
    assert Config.from_yaml(text) == Config()
    again = invoke("config", "init", path)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert invoke("config", "init", path, "--force").exit_code == 0


def test_config_show_merges_file_and_flags(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("model:\n  cell: gru\n  layers: 3\ntrain:\n  lr: 0.01\n")
    result = invoke("config", "show", "-c", path, "--layers", "1")
    assert result.exit_code == 0, result.output
    shown = Config.from_yaml(result.stdout)
    assert (shown.model.cell, shown.model.layers, shown.train.lr) == ("gru", 1, 0.01)
    bad = invoke("config", "show", "--cell", "lsmt")
    assert bad.exit_code == 2 and "did you mean 'lstm'" in bad.stderr


def test_config_file_drives_train(tmp_path, long_csv):
    path = tmp_path / "cfg.yaml"
    path.write_text("window:\n  horizon: 4\nmodel:\n  cell: gru\n  hidden_size: 5\n")
    model = tmp_path / "m"
    result = invoke(
        "train", long_csv, "-c", path, "-o", model, "--hidden-size", "6", "--epochs", "2"
    )
    assert result.exit_code == 0, result.output
    saved = artifact.load(model).config
    assert (saved.model.cell, saved.model.hidden_size, saved.window.horizon) == ("gru", 6, 4)


def test_info_human_and_json(model_dir):
    result = invoke("info", model_dir)
    assert result.exit_code == 0, result.output
    assert "lstm, 1 x 8 units" in result.stdout and "2000-01-01 .. 2004-12-01" in result.stdout
    facts = json.loads(invoke("info", model_dir, "--json").stdout)
    assert facts["series"] == 3 and facts["horizon"] == 6 and facts["frequency"] == "MS"
    assert facts["data_from"] == "2000-01-01" and facts["data_to"] == "2004-12-01"
    assert set(facts["validation"]) == {"model", "naive", "seasonal_naive"}


def test_config_info_and_predict_never_import_torch(tmp_path, model_dir):
    assert "torch" not in heavy_imports(["config", "show"])
    assert "torch" not in heavy_imports(["info", str(model_dir)])
    assert "torch" not in heavy_imports(
        ["predict", "-m", str(model_dir), "-o", str(tmp_path / "f")]
    )


def test_predict_is_idempotent(tmp_path, model_dir):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert invoke("predict", "-m", model_dir, "-o", first, "-q").exit_code == 0
    assert invoke("predict", "-m", model_dir, "-o", second, "-q").exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    assert invoke("predict", "-m", model_dir, "-q").stdout.encode() == first.read_bytes()


def test_quiet_and_json_keep_stdout_clean(tmp_path, long_csv, model_dir):
    result = invoke("predict", "-m", model_dir, "-o", tmp_path / "f.csv", "--quiet")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    result = invoke("predict", "-m", model_dir, "-o", tmp_path / "f.csv", "--json")
    assert json.loads(result.stdout)["command"] == "predict" and result.stderr == ""
    result = invoke("train", long_csv, "-o", tmp_path / "m2", "--epochs", "2", "--json", "-q")
    assert json.loads(result.stdout)["epochs_run"] == 2 and result.stderr == ""


def test_verbose_shows_the_effective_config(tmp_path, long_csv):
    result = invoke("train", long_csv, "-o", tmp_path / "m", "--epochs", "1", "-v")
    assert result.exit_code == 0, result.output
    assert "effective config:" in result.stderr and "hidden_size: 16" in result.stderr


def test_no_color_env_and_no_tty_mean_plain_text(tmp_path, long_csv):
    result = invoke("train", long_csv, "-o", tmp_path / "m", "--epochs", "2", "--hidden-size", "4",
                    env={"NO_COLOR": "1", "FORCE_COLOR": None})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "epoch 2/2" in result.stderr


HOLD = """
import sys, time
from rnnforecast.fsutil import locked
with locked(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_lock(target, seconds):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(target), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_on_the_same_out_exits_4(tmp_path, long_csv):
    out = tmp_path / "model"
    holder = _hold_lock(out, 30)
    try:
        result = invoke("train", long_csv, "-o", out, *FAST)
        assert result.exit_code == 4, result.output
        assert f"PID {holder.pid}" in result.stderr and "--wait" in result.stderr
        started = time.monotonic()
        result = invoke("train", long_csv, "-o", out, "--wait", "0.5", *FAST)
        assert result.exit_code == 4 and time.monotonic() - started >= 0.5
    finally:
        holder.kill()
        holder.wait()
    result = invoke("train", long_csv, "-o", out, "-H", "6", *FAST)  # the kernel freed the lock
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.csv", "model"]  # lock removed


def test_wait_gets_the_lock_when_the_holder_finishes(tmp_path, long_csv):
    holder = _hold_lock(tmp_path / "model", 1.0)
    result = invoke("train", long_csv, "-o", tmp_path / "model", "--wait", "30", "-H", "6", *FAST)
    holder.wait()
    assert result.exit_code == 0, result.output


def test_lock_left_by_a_killed_run_is_taken_over(tmp_path, long_csv):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / ".model.lock"
    stale.write_text(json.dumps({"pid": dead.pid, "started": "2026-01-01T03:00:00"}))
    result = invoke("train", long_csv, "-o", tmp_path / "model", "-H", "6", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert f"took over the lock of a run that did not finish (PID {dead.pid}" in result.stderr
    assert not stale.exists()


SWAP = """
import sys, time
from rnnforecast import artifact
a, b = artifact.load(sys.argv[1]), artifact.load(sys.argv[2])
print("ready", flush=True)
stop = time.monotonic() + float(sys.argv[4])
while time.monotonic() < stop:
    for model in (a, b):
        artifact.save(model, sys.argv[3])
"""


def test_predict_while_the_model_is_replaced(tmp_path, long_csv, model_dir):
    """Readers always find a complete model, old or new, while a writer swaps them in."""
    other = tmp_path / "other"
    assert invoke("train", long_csv, "-o", other, "-H", "6", "--seed", "5", *FAST).exit_code == 0
    target = tmp_path / "live"
    artifact.save(artifact.load(model_dir), target)
    writer = subprocess.Popen(
        [sys.executable, "-c", SWAP, str(model_dir), str(other), str(target), "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == "ready"
    try:
        seen = set()
        for _ in range(60):
            result = invoke("predict", "-m", target, "-q")
            assert result.exit_code == 0, result.output
            seen.add(result.stdout)
        assert len(seen) == 2  # both models were read, each one whole
    finally:
        writer.kill()
        writer.wait()


def test_warm_start_continues_and_checks_the_shape(tmp_path, long_csv, model_dir):
    before = artifact.load(model_dir)
    result = invoke("train", long_csv, "--warm-start", model_dir, "-o", model_dir, "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert f"warm start from {model_dir}" in result.stderr
    after = artifact.load(model_dir)
    assert after.config.model == before.config.model  # shape inherited without any flag
    assert after.weights["head.bias"].tolist() != before.weights["head.bias"].tolist()
    bad = invoke("train", long_csv, "--warm-start", model_dir, "-o", model_dir, "--cell", "gru")
    assert bad.exit_code == 2 and "changes cell lstm -> gru" in bad.stderr
    assert artifact.load(model_dir).manifest == after.manifest  # untouched by the failed run


def test_lock_is_reentrant_across_directories(tmp_path):
    with fsutil.locked(tmp_path / "a"), fsutil.locked(tmp_path / "b"):
        assert sorted(p.name for p in tmp_path.iterdir()) == [".a.lock", ".b.lock"]
        holder = json.loads((tmp_path / ".a.lock").read_text())
        assert holder["pid"] == os.getpid()
    assert list(tmp_path.iterdir()) == []
