"""One contract for every cell: it learns, and save -> load -> predict reproduces it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal

from rnnforecast import artifact, pipeline
from rnnforecast.config import Config

N, H = 240, 12


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("contract") / "seasonal.csv"
    ds = pd.date_range("2000-01-01", periods=N, freq="MS")
    pd.DataFrame({"ds": ds, "y": 50 + 10 * seasonal(N)}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("cell", "activation"), [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
)
def test_cell_contract(tmp_path, series_csv, cell, activation):
    cfg = Config().with_overrides(
        {"cell": cell, "activation": activation, "hidden_size": 16, "epochs": 60,
         "batch_size": 64, "lr": 0.005, "horizon": H, "val_size": H, "transform": "none"}
    )  # fmt: skip
    result = pipeline.train(series_csv, tmp_path / "model", cfg)
    rows = result.history.rows

    # it learns: the loss falls, and it beats seasonal naive on the held-out horizon
    assert rows[-1]["train_loss"] < 0.5 * rows[0]["train_loss"]
    scores = result.model.metrics
    assert scores["model"]["mase"] < 0.8 * scores["seasonal_naive"]["mase"]

    # save -> load: forecasting the validation window again, from the model directory and the
    # data before it, reproduces the in-memory validation error with either engine
    frame = pd.read_csv(series_csv)
    (tmp_path / "head.csv").write_text(frame.iloc[: N - H].to_csv(index=False))
    actual = frame["y"].to_numpy()[N - H :]
    for engine in ("numpy", "torch"):
        pred = pipeline.predict(tmp_path / "model", tmp_path / "head.csv", engine=engine)
        assert pred.forecasts["ds"].iloc[0] == pd.Timestamp(frame["ds"].iloc[N - H])
        mae = float(np.mean(np.abs(pred.forecasts["y_hat"].to_numpy() - actual)))
        assert mae == pytest.approx(scores["model"]["mae"], rel=1e-5)

    loaded = artifact.load(tmp_path / "model")
    assert loaded.config == result.model.config
    assert loaded.config.model.cell == cell
