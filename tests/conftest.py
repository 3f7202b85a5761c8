"""Shared fixtures: small synthetic series written as CSV files in every layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnnforecast import config

# The tests train tiny models, which one thread runs fastest; on a 2-core CI machine two torch
# threads per process (subprocesses inherit this) only contend. Results do not depend on it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

SMALL_ENSEMBLE = config.SMALL_ENSEMBLE  # the real default, before the fixture below sets 1
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "data"
# Tiny, fast training settings for tests that check behaviour, not accuracy.
# --transform none: the gently trending test series would otherwise be differenced (auto),
# whose starting model is already near perfect: tests of training itself want some to do.
# --blend none: three epochs teach a network little, and validation would often give the
# forecast to a simple one, which tests of the network's own path must not see.
# First, so that a test's own --transform or --blend after it wins
FAST = ["--transform", "none", "--blend", "none", "--hidden-size", "8", "--layers", "1",
        "--epochs", "3", "--quiet"]  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def _single_models():
    """Tests train one model where the default would train an ensemble on their small data:
    they check behaviour, which one member shows at a third of the time. A test that asks for
    `default_ensemble` sees the real default."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config, "SMALL_ENSEMBLE", 1)
        yield


@pytest.fixture
def default_ensemble(monkeypatch):
    monkeypatch.setattr(config, "SMALL_ENSEMBLE", SMALL_ENSEMBLE)


def seasonal(n: int, period: int = 12, trend: float = 0.05, noise: float = 0.1, seed: int = 0):
    """A clean seasonal series with a gentle trend: easy to beat seasonal naive on."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10 + 3 * np.sin(2 * np.pi * t / period) + trend * t + noise * rng.standard_normal(n)


def long_frame(n_series: int = 3, n: int = 60, freq: str = "MS", start: str = "2000-01-01"):
    ds = pd.date_range(start, periods=n, freq=freq)
    return pd.concat(
        [
            pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": seasonal(n, seed=i) + 5 * i})
            for i in range(n_series)
        ],
        ignore_index=True,
    )


@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    path = tmp_path / "long.csv"
    long_frame().to_csv(path, index=False)
    return path


@pytest.fixture
def single_csv(tmp_path: Path) -> Path:
    path = tmp_path / "single.csv"
    ds = pd.date_range("2000-01-01", periods=60, freq="MS")
    pd.DataFrame({"date": ds.strftime("%Y-%m-%d"), "sales": seasonal(60)}).to_csv(path, index=False)
    return path


@pytest.fixture
def wide_csv(tmp_path: Path) -> Path:
    path = tmp_path / "wide.csv"
    ds = pd.date_range("2000-01-01", periods=60, freq="MS")
    frame = pd.DataFrame({"month": ds, "a": seasonal(60, seed=1), "b": seasonal(60, seed=2) * 3})
    frame.to_csv(path, index=False)
    return path


def heavy_imports(args: list[str]) -> set[str]:
    """Which of torch, torch._dynamo, pandas and numpy `rnnforecast ARGS` imports, run in a
    fresh process."""
    code = (
        "import json, sys\nfrom rnnforecast.cli import main\n"
        f"sys.argv = ['rnnforecast', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = ('torch', 'torch._dynamo', 'pandas', 'numpy')\n"
        "sys.stderr.write(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))
