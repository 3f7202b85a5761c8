"""Distributed training: 2 CPU processes (torchrun, gloo) match one process with the same
global batch size and seed, and the model directory is written once."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

from rnnforecast import artifact
from rnnforecast.cli import app

ARGS = [
    "--epochs",
    "4",
    "--hidden-size",
    "16",
    "--batch-size",
    "64",
    "--seed",
    "3",
    "--ensemble",
    "1",
    "-q",
]


def test_two_processes_match_one(tmp_path):
    data = EXAMPLES / "visnights.csv"
    single = CliRunner().invoke(app, ["train", str(data), "-o", str(tmp_path / "one"), *ARGS])
    assert single.exit_code == 0, single.output

    done = subprocess.run(
        [sys.executable, "-m", "rnnforecast", "train", str(data), "-o", str(tmp_path / "two"),
         "--nproc", "2", *ARGS],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # written once, no debris
    model = artifact.load(tmp_path / "two")
    assert model.config == artifact.load(tmp_path / "one").config

    one = pd.read_csv(tmp_path / "one" / "history.csv")
    two = pd.read_csv(tmp_path / "two" / "history.csv")
    assert len(one) == len(two) == 4
    for column in ("train_loss", "val_loss"):
        assert two[column].to_numpy() == pytest.approx(one[column].to_numpy(), rel=1e-4)
    first = model.weights["head.bias"]
    assert first == pytest.approx(artifact.load(tmp_path / "one").weights["head.bias"], abs=1e-4)
