"""artifact: a model directory read back is the model that was saved; one whose files disagree
with each other or with the manifest is refused, naming the file."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np
import pandas as pd
import pytest
from conftest import long_frame

from rnnforecast import artifact, data, pipeline
from rnnforecast.config import Config
from rnnforecast.errors import RnnForecastError

SETTINGS = {"epochs": 2, "hidden_size": 8, "layers": 1, "lookback": 12, "horizon": 6,
            "transform": "none", "blend": "none"}  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[artifact.Artifact, artifact.Artifact]:
    """A tiny model as training left it (in memory) and as `save` wrote it."""
    root = tmp_path_factory.mktemp("artifact")
    long_frame(n_series=3, n=60).to_csv(root / "data.csv", index=False)
    cfg = Config().with_overrides(SETTINGS)
    model = pipeline.fit(data.load(root / "data.csv", cfg.data), cfg).model
    return model, artifact.save(model, root / "model")


def test_load_gives_back_the_saved_model(trained):
    """Config, weights (float32, to the bit), series, tail, history, metrics and intervals
    read back equal to those trained, and the manifest lists every file's SHA-256."""
    model, saved = trained
    assert model.path is None and saved.path is not None
    loaded = artifact.load(saved.path)
    assert loaded.path == saved.path
    assert loaded.config == model.config
    assert loaded.weights.keys() == model.weights.keys()
    for name, weight in model.weights.items():
        assert loaded.weights[name].dtype == np.float32
        np.testing.assert_array_equal(loaded.weights[name], weight, err_msg=name)
    assert loaded.series == model.series
    pd.testing.assert_frame_equal(loaded.tail, model.tail)
    pd.testing.assert_frame_equal(loaded.history, model.history)
    assert loaded.metrics == model.metrics
    assert loaded.intervals == model.intervals and loaded.intervals is not None
    files = sorted(set(os.listdir(saved.path)) - {artifact.MANIFEST})
    assert loaded.manifest == saved.manifest
    assert loaded.manifest["files"] == {
        name: hashlib.sha256((saved.path / name).read_bytes()).hexdigest() for name in files
    }
    assert loaded.manifest["format_version"] == artifact.FORMAT_VERSION


def _weights(change):
    return lambda art: dataclasses.replace(art, weights=change(dict(art.weights)))


def _without(weights, name):
    del weights[name]
    return weights


def _nan(weights, name):
    weights[name] = weights[name].copy()
    weights[name].flat[0] = np.nan
    return weights


WEIGHTS, TAIL = "weights.safetensors", "tail.csv"
MISMATCHES = {  # an edit of the model as loaded, the file named, what is said of it
    "a weight of the wrong shape": (
        _weights(lambda w: {**w, "head.weight": w["head.weight"][:-1]}),
        WEIGHTS,
        "tensor 'head.weight' has shape [5, 8], but the network of config.yaml",
    ),
    "a weight missing": (
        _weights(lambda w: _without(w, "head.bias")),
        WEIGHTS,
        "lacks head.bias, which the network of config.yaml",
    ),
    "a weight too many": (
        _weights(lambda w: {**w, "extra": w["head.bias"]}),
        WEIGHTS,
        "holds extra, which the network of config.yaml",
    ),
    "a weight not finite": (
        _weights(lambda w: _nan(w, "head.bias")),
        WEIGHTS,
        "tensor 'head.bias' holds NaN or infinite values",
    ),
    "a weight of float64": (
        _weights(lambda w: {**w, "head.bias": w["head.bias"].astype(np.float64)}),
        WEIGHTS,
        "tensor 'head.bias' is float64, not the float32",
    ),
    "a tail of a series series.json lacks": (
        lambda art: dataclasses.replace(
            art, tail=art.tail.assign(unique_id=art.tail["unique_id"].replace("s2", "s9"))
        ),
        TAIL,
        "has no rows of s2, which series.json lists",
    ),
    "a tail shorter than lookback": (
        lambda art: dataclasses.replace(art, tail=art.tail.iloc[1:].reset_index(drop=True)),
        TAIL,
        "series 's0' has 11 rows, but the model reads its last 12 points",
    ),
}


@pytest.mark.parametrize("mismatch", MISMATCHES)
def test_validated_refuses_files_that_do_not_belong_together(trained, mismatch):
    """A model whose files disagree is refused with the file named and what disagrees; the
    model as saved passes."""
    edit, name, message = MISMATCHES[mismatch]
    loaded = artifact.load(trained[1].path)
    assert artifact.validated(loaded) is loaded
    with pytest.raises(RnnForecastError) as refused:
        artifact.validated(edit(loaded))
    assert str(refused.value).startswith(f"{loaded.path / name}: ")
    assert message in str(refused.value)


def test_load_refuses_a_file_that_does_not_match_the_manifest(trained, tmp_path):
    """One digit of tail.csv changed (same length): the manifest's digest no longer matches,
    and load says so, naming the file."""
    copy = tmp_path / "model"
    copy.mkdir()
    for name in os.listdir(trained[1].path):
        (copy / name).write_bytes((trained[1].path / name).read_bytes())
    artifact.load(copy)  # the copy itself is fine
    tail = (copy / "tail.csv").read_text()
    last = tail.index("\n", tail.index("\n") + 1) - 1  # the last digit of the first y
    edited = tail[:last] + str((int(tail[last]) + 1) % 10) + tail[last + 1 :]
    (copy / "tail.csv").write_text(edited)
    with pytest.raises(RnnForecastError) as refused:
        artifact.load(copy)
    assert str(refused.value).startswith(f"{copy / 'tail.csv'}: contents do not match the manifest")
