"""Bad input gets one clear line and exit 2; nothing is lost; nothing runs from a model file."""

from __future__ import annotations

import hashlib
import io
import json
import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, long_frame
from typer.testing import CliRunner

from rnnforecast.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_error(result, *fragments: str, code: int = 2):
    """Exit code, one line on stderr naming the problem, no traceback, nothing on stdout."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr


BAD_FILES = {
    "empty": (b"", "the file is empty"),
    "header_only": (b"ds,y\n", "has a header but no data rows"),
    "binary": (bytes(range(256)) * 4, "looks like a binary file"),
    "ragged": (b"ds,y\n2020-01-01,1,5\n2020-01-02,2\n", "rows have more fields than the header"),
    "no_time": (b"a,b\nx,1\ny,2\n", "no time column found"),
    "two_times": (b"date,time,y\n2020-01-01,2020-01-01,1\n", "several time columns (date, time)"),
    "bad_date": (b"ds,y\n2020-01-01,1\n2020-13-45,2\n", "'2020-13-45' at line 3 is not a date"),
    "mixed_tz": (
        b"ds,y\n2020-01-01T00:00+01:00,1\n2020-01-02T00:00+02:00,2\n2020-01-03T00:00+01:00,3\n",
        "mixes time zones",
    ),
    "zones_in_detection": (  # dateutil reads ';2000' as an offset: the sample mixes zones
        b"y\n2000-01-01\n2000-01-01;2000-01-01\n", "cannot tell the target column"
    ),
    "duplicate": (b"ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-02,3\n", "duplicate time"),
    "gap": (b"ds,y\n" + b"".join(b"2020-01-%02d,%d\n" % (d, d) for d in range(1, 13) if d != 8),
            "has a gap after 2020-01-07"),
    "nan": (b"ds,y\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n2020-01-04,3\n",
            "empty value at line 3"),
    "text_target": (b"ds,y\n2020-01-01,1\n2020-01-02,n/a?\n", "'n/a?' at line 3 is not a number"),
    "inf": (b"ds,y\n2020-01-01,1\n2020-01-02,-inf\n", "-inf at line 3"),
    "several_numeric": (b"ds,a,b\n2020-01-01,1,2\n", "cannot tell the target column"),
    "short": (b"ds,y\n" + b"".join(b"2020-01-%02d,%d\n" % (d, d) for d in range(1, 11)),
              "every series is shorter than lookback - padding + horizon + validation"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_fail_cleanly(tmp_path, name):
    content, message = BAD_FILES[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    result = invoke("train", path, "--out", tmp_path / "model", *FAST)
    assert_clean_error(result, message, str(path))
    assert not (tmp_path / "model").exists()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no debris either


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(b"")
    result = invoke("train", path, "--debug")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "RnnForecastError" in result.stderr


def test_unexpected_error_exits_1(tmp_path, long_csv, monkeypatch):
    from rnnforecast import pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(pipeline, "train", broken)
    result = invoke("train", long_csv, "--out", tmp_path / "m")
    assert_clean_error(result, "unexpected ZeroDivisionError: boom", "--debug", code=1)


def test_sizes_and_choices(tmp_path, long_csv):
    for args, message in [
        (["--horizon", "0"], "--horizon: 0 is too small"),
        (["--lookback", "-5"], "--lookback: -5 is too small"),
        (["--horizon", "1000000"], "absurdly large"),
        (["--batch-size", "10000000000"], "--batch-size: 10000000000 is absurdly large"),
        (["--cell", "transformer"], "--cell: 'transformer' is not one of rnn, lstm, gru"),
        (["--val-size", "2", "--horizon", "6"], "--val-size 2 is shorter than the horizon 6"),
        (["--device", "tpu"], "--device: 'tpu' is not a device"),
        (["--freq", "fortnightly"], "unknown frequency 'fortnightly'"),
    ]:
        result = invoke("train", long_csv, "--out", tmp_path / "m", *args, *FAST)
        assert_clean_error(result, message)
    assert not (tmp_path / "m").exists()


def test_bad_config_file(tmp_path, long_csv):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  cell: gru\n   layers: 2\n")
    assert_clean_error(invoke("train", long_csv, "-c", cfg), f"{cfg}: line 3")
    cfg.write_text("train:\n  learning_rate: 0.1\n")
    assert_clean_error(invoke("train", long_csv, "-c", cfg), "unknown key 'learning_rate'", "lr")


def test_constant_series_trains_and_forecasts_the_constant(tmp_path):
    path = tmp_path / "flat.csv"
    ds = pd.date_range("2020-01-01", periods=80, freq="D")
    pd.DataFrame({"ds": ds, "y": 5.0}).to_csv(path, index=False)
    result = invoke("train", path, "-o", tmp_path / "m", *FAST)
    assert result.exit_code == 0, result.output
    out = invoke("predict", "-m", tmp_path / "m", "-q")
    y_hat = pd.read_csv(pd.io.common.StringIO(out.stdout))["y_hat"]
    assert np.isfinite(y_hat).all()


def test_every_series_is_forecast_however_short(tmp_path):
    """A catalogue's short series are trained on (their windows padded with their first value
    and flagged by a mask input) and forecast; one point alone is forecast by naive, and said."""
    frame = long_frame(n_series=4, n=60)
    frame = frame[~((frame["unique_id"] == "s1") & (frame["ds"] > "2001-06-01"))]  # 18 points
    frame = frame[~((frame["unique_id"] == "s2") & (frame["ds"] > "2000-01-01"))]  # 1 point
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    model = tmp_path / "m"
    result = invoke("train", path, "-o", model, "--horizon", "6", "--lookback", "12",
                    "--epochs", "2", "--hidden-size", "4", "--transform", "none")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 series have fewer than 2 points, too few for the network" in result.stderr
    assert "skipped" not in result.stderr
    for args in ([], [path]):  # from the stored tail, and from the data
        out = invoke("predict", *args, "-m", model)
        assert out.exit_code == 0, out.output
        forecast = pd.read_csv(io.StringIO(out.stdout))
        assert forecast.groupby("unique_id").size().to_dict() == {f"s{i}": 6 for i in range(4)}
        one = forecast[forecast["unique_id"] == "s2"]["y_hat"]
        last = np.float32(frame[frame["unique_id"] == "s2"]["y"].iloc[-1])  # written at float32
        assert (one.astype(np.float32) == last).all()  # naive


def test_diverged_training_exits_3_and_writes_nothing(tmp_path):
    path = tmp_path / "huge.csv"
    ds = pd.date_range("2020-01-01", periods=80, freq="D")
    pd.DataFrame({"ds": ds, "y": np.linspace(1e20, 3e20, 80)}).to_csv(path, index=False)
    result = invoke("train", path, "-o", tmp_path / "m", "--scaler", "none", "--norm", "none",
                    "--loss", "mse", *FAST)  # fmt: skip
    assert_clean_error(
        result, "training diverged at epoch 1", "--lr", "no model was written", code=3
    )
    assert not (tmp_path / "m").exists()


@pytest.fixture
def model_dir(tmp_path, long_csv):
    model = tmp_path / "model"
    assert invoke("train", long_csv, "-o", model, "--horizon", "6", *FAST).exit_code == 0
    return model


def test_failed_training_keeps_the_old_model(tmp_path, model_dir):
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    bad = tmp_path / "bad.csv"
    bad.write_text("ds,y\n2020-01-01,oops\n")
    assert invoke("train", bad, "-o", model_dir).exit_code == 2
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "long.csv", "model"]


def test_retraining_replaces_the_model_completely(tmp_path, model_dir, long_csv):
    old = (model_dir / "manifest.json").read_text()
    result = invoke("train", long_csv, "-o", model_dir, "--horizon", "6", "--seed", "3", *FAST)
    assert result.exit_code == 0, result.output
    assert (model_dir / "manifest.json").read_text() != old
    assert invoke("predict", "-m", model_dir, "-q").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.csv", "model"]


def test_edited_or_truncated_model_is_refused(model_dir):
    weights = model_dir / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    assert_clean_error(invoke("predict", "-m", model_dir), "do not match the manifest")


def test_foreign_and_incomplete_directories(tmp_path, model_dir):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("hello")
    assert_clean_error(invoke("predict", "-m", foreign), "not an rnnforecast model directory")
    (model_dir / "series.json").unlink()
    assert_clean_error(invoke("predict", "-m", model_dir), "series.json is missing")


def test_newer_format_is_refused(model_dir):
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["format_version"] = 99
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    assert_clean_error(invoke("predict", "-m", model_dir), "model format 99 is newer", "upgrade")


class _Exploit:
    """Unpickling this would run code that writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_weights_never_run(tmp_path, model_dir):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"head.weight": _Exploit(marker)})
    (model_dir / "weights.safetensors").write_bytes(payload)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["files"]["weights.safetensors"] = hashlib.sha256(payload).hexdigest()
    (model_dir / "manifest.json").write_text(
        json.dumps(manifest)
    )  # so only the format check is left
    for engine in ("numpy", "torch"):
        result = invoke("predict", "-m", model_dir, "--engine", engine)
        assert_clean_error(result, "not a safetensors file", "never loaded")
    assert not marker.exists()


def test_prediction_data_must_match_the_model(tmp_path, model_dir):
    other = tmp_path / "other.csv"
    long_frame().rename(columns={"ds": "when"}).to_csv(other, index=False)
    assert_clean_error(invoke("predict", other, "-m", model_dir), "no column 'ds'", "trained on")
    daily = tmp_path / "daily.csv"
    long_frame(freq="D").to_csv(daily, index=False)
    assert_clean_error(invoke("predict", daily, "-m", model_dir), "frequency 'MS'")


def test_unwritable_output(tmp_path, model_dir):
    result = invoke("predict", "-m", model_dir, "-o", tmp_path / "no" / "such" / "f.csv")
    assert_clean_error(result, "does not exist")
    result = invoke("predict", "-m", model_dir, "-o", tmp_path)
    assert_clean_error(result, "is a directory")


def test_format_1_model_still_forecasts(tmp_path, long_csv):
    """A model written before the linear skip existed (format 1: no `skip` key, no skip
    weights) is read as skip none and forecasts exactly as before."""
    model = tmp_path / "m"
    assert invoke("train", long_csv, "--out", model, "--skip", "none", *FAST).exit_code == 0
    before = {e: invoke("predict", "-m", model, "--engine", e).stdout for e in ("numpy", "torch")}
    config = (model / "config.yaml").read_text()
    (model / "config.yaml").write_text(config.replace("  skip: none\n", ""))
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["format_version"] = 1
    manifest["files"]["config.yaml"] = hashlib.sha256(
        (model / "config.yaml").read_bytes()
    ).hexdigest()
    (model / "manifest.json").write_text(json.dumps(manifest))
    assert "skip" not in (model / "config.yaml").read_text()
    for engine, forecast in before.items():
        result = invoke("predict", "-m", model, "--engine", engine)
        assert result.exit_code == 0, result.output
        assert result.stdout == forecast
