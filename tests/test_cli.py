"""What a user sees: the commands end to end, exit codes, stdout vs stderr."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLES, FAST, heavy_imports, long_frame
from typer.testing import CliRunner

from rnnforecast import __version__
from rnnforecast.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_version_and_help():
    result = invoke("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"rnnforecast {__version__}\n"
    result = invoke("--help")
    assert result.exit_code == 0
    assert "train" in result.stdout and "predict" in result.stdout
    assert "Exit codes" in result.stdout
    result = invoke("train", "--help")
    assert result.exit_code == 0
    assert "--hidden-size" in result.stdout and "--clip-norm" in result.stdout


def test_help_and_version_do_not_import_torch():
    assert heavy_imports(["--help"]) == set()
    assert heavy_imports(["--version"]) == set()
    assert "torch" not in heavy_imports(["train", "--help"])


def test_python_dash_m():
    done = subprocess.run(
        [sys.executable, "-m", "rnnforecast", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"rnnforecast {__version__}"


@pytest.mark.parametrize(
    ("cell", "activation"), [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
)
def test_train_then_predict_every_cell(tmp_path, long_csv, cell, activation):
    model = tmp_path / "model"
    result = invoke(
        "train",
        long_csv,
        "--out",
        model,
        "--cell",
        cell,
        "--activation",
        activation,
        "--horizon",
        6,
        *FAST,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # --quiet, and data never goes to stdout from train
    assert {p.name for p in model.iterdir()} == {
        "config.yaml", "weights.safetensors", "series.json", "tail.csv", "history.csv",
        "metrics.json", "intervals.json", "manifest.json",
    }  # fmt: skip
    result = invoke("predict", "--model", model, "--quiet")
    assert result.exit_code == 0, result.output
    out = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert out.columns.tolist() == ["unique_id", "ds", "y_hat"]
    assert out.groupby("unique_id").size().to_dict() == {"s0": 6, "s1": 6, "s2": 6}
    assert out["ds"].iloc[0] == "2005-01-01"  # the month after the last of 60 from 2000-01
    assert np.isfinite(out["y_hat"]).all()


def test_airpassengers_end_to_end(tmp_path, monkeypatch):
    """The README's job: 12 monthly forecasts for 1961, finite, in passengers."""
    monkeypatch.chdir(tmp_path)
    data = EXAMPLES / "airpassengers.csv"
    result = invoke("train", data, "--horizon", 12, "--out", "model", *FAST)
    assert result.exit_code == 0, result.output
    result = invoke("predict", "--model", "model", "--out", "forecast.csv", "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forecast.csv", "model"]  # no clutter
    out = pd.read_csv("forecast.csv")
    assert out["ds"].tolist() == [f"1961-{m:02d}-01" for m in range(1, 13)]
    assert set(out["unique_id"]) == {"passengers"}
    assert np.isfinite(out["y_hat"]).all()
    assert 150 < out["y_hat"].mean() < 1000  # original units (thousands of passengers)


def test_multi_series_example(tmp_path):
    result = invoke("train", EXAMPLES / "visnights.csv", "--out", tmp_path / "m", *FAST)
    assert result.exit_code == 0, result.output
    result = invoke("predict", "-m", tmp_path / "m", "-q")
    out = pd.read_csv(pd.io.common.StringIO(result.stdout))
    sizes = out.groupby("unique_id").size()
    assert len(sizes) == 20 and (sizes == 8).all()  # quarterly default horizon
    assert out["ds"].iloc[0] == "2017-01-01"


def test_seed_gives_identical_weights_and_forecasts(tmp_path, long_csv):
    outputs = []
    for run in ("a", "b"):
        model = tmp_path / run
        result = invoke("train", long_csv, "--out", model, "--seed", 7, "--horizon", 6, *FAST)
        assert result.exit_code == 0, result.output
        forecast = tmp_path / f"{run}.csv"
        assert invoke("predict", "-m", model, "-o", forecast, "-q").exit_code == 0
        outputs.append(((model / "weights.safetensors").read_bytes(), forecast.read_bytes()))
    assert outputs[0] == outputs[1]
    other = invoke("train", long_csv, "--out", tmp_path / "c", "--seed", 8, "--horizon", 6, *FAST)
    assert other.exit_code == 0
    assert (tmp_path / "c" / "weights.safetensors").read_bytes() != outputs[0][0]


def test_predict_from_newer_data_and_new_series(tmp_path, long_csv):
    model = tmp_path / "model"
    assert invoke("train", long_csv, "--out", model, "--horizon", 6, *FAST).exit_code == 0
    newer = long_frame(n_series=3, n=72)  # a year more of the same series
    extra = long_frame(n_series=1, n=50).assign(unique_id="brand_new")
    path = tmp_path / "newer.csv"
    pd.concat([newer, extra]).to_csv(path, index=False)
    result = invoke("predict", path, "-m", model)
    assert result.exit_code == 0, result.output
    out = pd.read_csv(pd.io.common.StringIO(result.stdout))
    first = out.groupby("unique_id")["ds"].first().to_dict()
    assert first == {
        "brand_new": "2004-03-01",
        "s0": "2006-01-01",
        "s1": "2006-01-01",
        "s2": "2006-01-01",
    }
    assert "1 series not seen in training" in result.stderr
    for command in ("predict", "evaluate"):  # the model where the data goes
        result = invoke(command, model, "-m", tmp_path / "other")
        assert result.exit_code == 2
        assert result.stderr == (
            f"error: {model}: is a model directory, not data; give it as --model {model} "
            "(the argument is a CSV of data)\n"
        )


def test_json_summary_is_the_only_stdout(tmp_path, long_csv):
    result = invoke("train", long_csv, "--out", tmp_path / "m", "--json", "--horizon", 6, *FAST)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["command"] == "train" and doc["series"] == 3
    assert set(doc["metrics"]["model"]) == {"mae", "rmse", "smape", "mase", "rmsse", "bias"}
    result = invoke("predict", "-m", tmp_path / "m", "-o", tmp_path / "f.csv", "--json")
    assert json.loads(result.stdout)["rows"] == 18


def test_progress_lines_go_to_stderr(tmp_path, long_csv):
    result = invoke("train", long_csv, "--out", tmp_path / "m", "--epochs", 2, "--hidden-size", 4,
                    "--transform", "none")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "epoch 1/2" in result.stderr and "epoch 2/2" in result.stderr
    assert "\x1b[" not in result.stderr  # no ANSI codes without a terminal
    assert "lookback 36, horizon 12, validation 12" in result.stderr


def test_bad_input_exits_2_without_traceback(tmp_path):
    result = invoke("train", tmp_path / "missing.csv", "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'missing.csv'}: no such file; check the path\n"
    assert not (tmp_path / "m").exists()


def test_unknown_cell_exits_2(tmp_path, long_csv):
    result = invoke("train", long_csv, "--cell", "lsmt", "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert "did you mean 'lstm'?" in result.stderr
    assert "Traceback" not in result.output


def test_missing_model_directory(tmp_path):
    result = invoke("predict", "-m", tmp_path / "nope")
    assert result.exit_code == 2
    assert "model directory does not exist" in result.stderr


def test_calendar_inputs_train_and_forecast(tmp_path):
    """--calendar feeds each step's place in the day, week and year: the network reads 1 + 6
    inputs on hourly data, and predict builds the same inputs from the stored tail, from the CSV and
    with either engine."""
    from safetensors.numpy import load_file

    from rnnforecast.features import calendar_names

    path = tmp_path / "hourly.csv"
    long_frame(n_series=2, n=300, freq="h").to_csv(path, index=False)
    model = tmp_path / "m"
    result = invoke("train", path, "--out", model, "--calendar", "--horizon", "6", *FAST)
    assert result.exit_code == 0, result.output
    weights = load_file(model / "weights.safetensors")
    assert len(calendar_names("h")) == 6  # hour of day, day of week, day of year
    assert weights["rnns.0.weight_ih_l0"].shape[1] == 1 + 6
    outputs = [
        invoke("predict", "-m", model, *args).stdout for args in ([], [path], ["--engine", "torch"])
    ]
    frames = [pd.read_csv(io.StringIO(text)) for text in outputs]
    assert len(frames[0]) == 2 * 6 and np.isfinite(frames[0]["y_hat"]).all()
    assert outputs[0] == outputs[1]  # the stored tail and the CSV's last rows agree
    np.testing.assert_allclose(frames[2]["y_hat"], frames[0]["y_hat"], rtol=1e-5)


def test_ensemble_forecasts_the_median_of_its_members(tmp_path, long_csv, default_ensemble):
    """Small data gets 3 members by default; the forecast is their median, in both engines."""
    from rnnforecast import artifact, engine_numpy
    from rnnforecast.panel import Panel
    from rnnforecast.windows import apply_scaler, gather, last_starts

    model = tmp_path / "m"
    result = invoke("train", long_csv, "--out", model, *FAST)
    assert result.exit_code == 0, result.output
    art = artifact.load(model)
    assert art.config.model.ensemble == 3  # written as the effective setting
    parts = artifact.members(art.weights)
    assert len(parts) == 3 and set(parts[0]) == set(parts[1]) == set(parts[2])
    assert not np.allclose(parts[0]["head.weight"], parts[1]["head.weight"])  # other seeds

    panel = Panel.from_frame(art.tail)
    loc, scale = np.asarray(art.series["loc"]), np.asarray(art.series["scale"])
    lookback = art.config.window.lookback
    x = gather(apply_scaler(panel, loc, scale), last_starts(panel, lookback), lookback)[..., None]
    each = np.stack([engine_numpy.make(art.config.model, w)(x) for w in parts])  # [3, S, H]
    expected = np.median(each, axis=0) * scale[:, None] + loc[:, None]
    got = pd.read_csv(io.StringIO(invoke("predict", "-m", model).stdout))
    np.testing.assert_allclose(got["y_hat"].to_numpy(), expected.reshape(-1), rtol=1e-6)
    torch_engine = pd.read_csv(
        io.StringIO(invoke("predict", "-m", model, "--engine", "torch").stdout)
    )
    np.testing.assert_allclose(torch_engine["y_hat"], got["y_hat"], rtol=1e-5)
    info = invoke("info", model)
    assert info.exit_code == 0 and "median of 3 members" in info.stdout
    assert json.loads(invoke("info", model, "--json").stdout)["ensemble"] == 3


def test_ensemble_of_different_cells_reports_each_member(tmp_path, long_csv):
    from rnnforecast import artifact

    model = tmp_path / "m"
    result = invoke("train", long_csv, "--out", model, "--ensemble", "3",
                    "--ensemble-cells", "lstm,gru", *FAST[:-1])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ensemble member 2/3: gru, seed 1" in result.stderr
    assert "validation MASE of each member alone" in result.stderr
    art = artifact.load(model)
    gates = [p["rnns.0.weight_ih_l0"].shape[0] // 8 for p in artifact.members(art.weights)]
    assert gates == [4, 3, 4]  # lstm, gru, lstm: the cells cycle
    members = art.metrics["members"]
    assert [m["cell"] for m in members] == ["lstm", "gru", "lstm"]
    assert all(m["mase"] > 0 for m in members)
    forecasts = {
        e: pd.read_csv(io.StringIO(invoke("predict", "-m", model, "--engine", e).stdout))
        for e in ("numpy", "torch")
    }
    np.testing.assert_allclose(forecasts["numpy"]["y_hat"], forecasts["torch"]["y_hat"], rtol=1e-5)
    assert "lstm, gru, 1 x 8 units" in invoke("info", model).stdout
    bad = invoke("train", long_csv, "--out", tmp_path / "n", "--ensemble-cells", "lstm,grux")
    assert bad.exit_code == 2 and "--ensemble-cells: 'grux'" in bad.stderr
    assert not (tmp_path / "n").exists()


def test_train_says_where_the_skip_starts(tmp_path):
    """A clean, stable season starts from a profile of several seasons: the summary says so in
    words and metrics.json records it."""
    path = tmp_path / "stable.csv"
    ds = pd.date_range("2000-01-01", periods=120, freq="MS")
    noise = np.random.default_rng(0).normal(0, 0.5, 120)
    y = 10 + 3 * np.sin(2 * np.pi * np.arange(120) / 12) + noise
    pd.DataFrame({"ds": ds, "y": y}).to_csv(path, index=False)
    result = invoke("train", path, "--out", tmp_path / "m", *FAST[:-1])
    assert result.exit_code == 0, result.output
    start = json.loads((tmp_path / "m" / "metrics.json").read_text())["skip_start"]
    assert start["lag"] == 12 and start["seasons"] > 1
    assert f"the linear skip starts as the mean profile of the last {start['seasons']} seasons" in (
        result.stderr
    )


@pytest.mark.parametrize(("command", "panel"), [("predict", "Predict"), ("evaluate", "Evaluate")])
def test_a_commands_few_settings_share_one_panel(command, panel):
    """predict's --device stood alone in a "Training" panel, evaluate's --fill in "Data"."""
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    panels = [line for line in result.output.splitlines() if line.startswith("╭─ ")]
    assert [p.split()[1] for p in panels] == ["Arguments", "Options", panel]
