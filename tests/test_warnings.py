"""Say what a user cannot see: too few windows to learn from, a score on the very data the
model was trained and validated on, and gradient advice that fits the model trained."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import EXAMPLES, FAST, long_frame
from test_robustness import invoke

from rnnforecast import train
from rnnforecast.config import ModelConfig

LOUD = [a for a in FAST if a != "--quiet"]  # FAST, with the notes and warnings shown


def test_too_few_windows_to_learn_from_are_said(tmp_path, single_csv):
    """60 monthly points with the defaults leave lookback 36 + horizon 12 + validation 12:
    one training and one validation window, said on stderr and in the JSON notes."""
    result = invoke("train", single_csv, "-o", tmp_path / "m", *LOUD)
    assert result.exit_code == 0, result.output
    note = (
        "too few windows: only 1 training window and 1 validation window of lookback 36 + "
        "horizon 12 points from 1 series, too few for the network to learn from or to "
        "validate on; use a shorter --lookback or a smaller --horizon"
    )
    assert note in result.stderr
    result = invoke("train", single_csv, "-o", tmp_path / "m", *FAST, "--json")
    assert result.exit_code == 0, result.output
    assert any(n.startswith(note) for n in json.loads(result.stdout)["notes"])


def test_a_long_horizon_on_airpassengers_is_said(tmp_path):
    result = invoke("train", EXAMPLES / "airpassengers.csv", "-o", tmp_path / "m",
                    "--horizon", 48, *LOUD)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "only 1 training window and 1 validation window of lookback 48 + horizon 48" in (
        result.stderr
    )


def test_enough_windows_say_nothing(tmp_path, long_csv):
    result = invoke("train", long_csv, "-o", tmp_path / "m", "--horizon", 6, *LOUD)
    assert result.exit_code == 0, result.output
    assert "too few windows" not in result.stderr  # 13 windows from each of 3 series
    result = invoke("train", long_csv, "-o", tmp_path / "m", "--horizon", 6, "--lookback", 52,
                    "--val-size", 0, *LOUD)  # fmt: skip
    assert "too few windows: only 9 training windows and no validation" in result.stderr


@pytest.mark.parametrize(("cell", "advice"), [("lstm", "a shorter --lookback"),
                                               ("gru", "a shorter --lookback"),
                                               ("rnn", "an lstm or gru cell")])  # fmt: skip
def test_exploding_gradient_advice_fits_the_cell(tmp_path, long_csv, cell, advice):
    """Every step clipped reads as exploding gradients; an LSTM is not told to try an LSTM."""
    result = invoke("train", long_csv, "-o", tmp_path / "m", "--horizon", 6, "--cell", cell,
                    "--clip-norm", "1e-6", *LOUD)  # fmt: skip
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.stderr.splitlines() if "gradients exploded" in line)
    assert advice in warning and "--lr" in warning
    assert "fewer --layers" not in warning  # there is one layer
    if cell != "rnn":
        assert "lstm" not in warning and "gru" not in warning


def test_diagnose_advice_fits_the_model():
    calm = {"grad_norm_max": 1.0, "clipped": 0.0, "grad_recurrent_l0": 0.5, "grad_head": 1.0}
    vanishing = [{**calm, "grad_recurrent_l0": 1e-6}]
    lstm = train.diagnose(vanishing, 1.0, ModelConfig(cell="lstm"))[0]
    assert lstm.endswith("head's gradient; try a shorter --lookback")
    deep_rnn = train.diagnose(vanishing, 1.0, ModelConfig(cell="rnn", layers=3))[0]
    assert deep_rnn.endswith(
        "try --cell lstm or gru, --residual, fewer --layers or a shorter --lookback"
    )
    residual = train.diagnose(vanishing, 1.0, ModelConfig(layers=2, residual=True))[0]
    assert "--residual" not in residual and "fewer --layers" in residual
    relu = train.diagnose(
        [{**calm, "clipped": 1.0}], 1.0, ModelConfig(cell="rnn", activation="relu")
    )
    assert relu[0].endswith("try a lower --lr, --activation tanh or an lstm or gru cell (--cell)")
    growing = [calm, {**calm, "grad_norm_max": 500.0}]
    assert train.diagnose(growing, 0.0)[0].endswith("or turn clipping on (--clip-norm 1)")
    assert train.diagnose(growing, 1.0)[0].endswith("or keep --clip-norm on")


@pytest.fixture
def trained_to_54(tmp_path):
    """A model of each series' first 54 of 60 monthly points (the last 6 its validation)."""
    frame = long_frame(n_series=3, n=60)
    rows = frame.groupby("unique_id").cumcount()
    paths = {}
    for name, n in (("first54", 54), ("all60", 60), ("first50", 50)):
        paths[name] = tmp_path / f"{name}.csv"
        frame[rows < n].to_csv(paths[name], index=False)
    model = tmp_path / "model"
    result = invoke("train", paths["first54"], "-o", model, "--horizon", 6, *FAST)
    assert result.exit_code == 0, result.output
    return model, paths


def test_evaluating_on_the_training_data_says_so(tmp_path, trained_to_54):
    model, paths = trained_to_54
    out = tmp_path / "report"
    result = invoke("evaluate", paths["first54"], "-m", model, "-o", out, "--max-plots", 0)
    assert result.exit_code == 0, result.output
    said = (
        "3 of 3 series are scored on data the model has seen: their last 6 points are the "
        "model's validation window (early stopping chose its weights on them), so these scores "
        "are optimistic; for an honest score run `rnnforecast backtest` on the data, or evaluate "
        "on data after 2004-06-01"
    )
    assert said in result.stderr
    assert said in json.loads((out / "metrics.json").read_text())["notes"]
    result = invoke("evaluate", paths["first50"], "-m", model, "-o", out, "--max-plots", 0)
    assert result.exit_code == 0, result.output
    assert (
        "3 of 3 series are scored on data the model has seen: the points they are scored on lie "
        "inside the data the model was trained on (up to 2004-06-01)"
    ) in result.stderr


def test_evaluating_on_later_data_says_nothing_of_it(tmp_path, trained_to_54):
    model, paths = trained_to_54
    out = tmp_path / "report"
    result = invoke("evaluate", paths["all60"], "-m", model, "-o", out, "--max-plots", 0)
    assert result.exit_code == 0, result.output
    assert "has seen" not in result.stderr
    assert json.loads((out / "metrics.json").read_text())["notes"] == []
    frame = pd.read_csv(paths["all60"])  # a new series alongside: only the known ones count
    frame = pd.concat([frame, frame[frame["unique_id"] == "s0"].assign(unique_id="new")])
    frame.to_csv(paths["all60"], index=False)
    result = invoke("evaluate", paths["all60"], "-m", model, "-o", out, "--max-plots", 0)
    assert result.exit_code == 0, result.output
    assert "has seen" not in result.stderr
