"""Config: defaults, YAML round trip, precedence, and errors that name the fix."""

from __future__ import annotations

import dataclasses

import pytest

from rnnforecast.config import Config, key_sections, option_help
from rnnforecast.errors import RnnForecastError


def test_yaml_round_trip_is_lossless():
    cfg = Config().with_overrides(
        {"cell": "gru", "hidden_size": 32, "target": "a,b", "lr": 0.01, "residual": True}
    )
    assert Config.from_yaml(cfg.to_yaml()) == cfg
    assert Config.from_yaml(cfg.to_yaml(comments=True)) == cfg
    assert Config.from_yaml(Config().to_yaml()) == Config()


def test_commented_yaml_explains_every_key():
    text = Config().to_yaml(comments=True)
    for key in key_sections():
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{key}:"))
        assert "#" in line


def test_keys_are_unique_across_sections():
    sections = [getattr(Config(), f.name) for f in dataclasses.fields(Config)]
    names = [f.name for s in sections for f in dataclasses.fields(s)]
    assert len(names) == len(set(names))


def test_precedence_flag_over_file_over_default(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("model:\n  cell: gru\n  hidden_size: 16\ntrain:\n  lr: 0.5\n")
    cfg = Config.load(path, {"hidden_size": 8})
    assert cfg.model.cell == "gru"  # from the file
    assert cfg.model.hidden_size == 8  # the flag wins
    assert cfg.train.lr == 0.5
    assert cfg.train.epochs == Config().train.epochs  # the default


def test_unknown_key_names_the_closest():
    with pytest.raises(RnnForecastError) as err:
        Config.from_yaml("model:\n  hiden_size: 3\n", where="cfg.yaml")
    assert "unknown key 'hiden_size'; did you mean 'hidden_size'?" in str(err.value)
    assert str(err.value).startswith("cfg.yaml: model:")


def test_unknown_section():
    with pytest.raises(RnnForecastError, match="unknown key 'modle'; did you mean 'model'"):
        Config.from_yaml("modle:\n  cell: gru\n")


def test_bad_yaml_names_the_line():
    with pytest.raises(RnnForecastError) as err:
        Config.from_yaml("model:\n  cell: gru\n   layers: 3\n", where="cfg.yaml")
    assert str(err.value) == (
        "cfg.yaml: line 3: mapping values are not allowed here; fix the YAML syntax"
    )


def test_choice_error_suggests():
    with pytest.raises(RnnForecastError) as err:
        Config().with_overrides({"cell": "lsmt"})
    assert str(err.value) == "--cell: 'lsmt' is not one of rnn, lstm, gru; did you mean 'lstm'?"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("horizon", 0, "--horizon: 0 is too small; use a value >= 1"),
        ("lookback", -3, "--lookback: -3 is too small; use a value >= 1"),
        ("horizon", 10**9, "--horizon: 1000000000 is absurdly large; use <= 100000"),
        ("hidden_size", 10**8, "--hidden-size: 100000000 is absurdly large; use <= 4096"),
        ("layers", 1000, "--layers: 1000 is absurdly large; use <= 64"),
        ("dropout", 1.0, "--dropout: 1.0 must be in [0, 1)"),
        ("layers", "two", "--layers must be of type int, got 'two'"),
    ],
)
def test_bad_values(key, value, message):
    with pytest.raises(RnnForecastError) as err:
        Config().with_overrides({key: value})
    assert str(err.value) == message


def test_option_help_gives_the_default_as_the_flag_shows_it_and_the_choices():
    assert option_help("lr")[1:] == ("0.003", None)
    assert option_help("residual")[1] == "--no-residual"
    assert option_help("horizon")[1] == "unset"
    assert option_help("cell")[1:] == ("lstm", "rnn|lstm|gru")
    assert option_help("device")[2] == "auto|cpu|cuda|cuda:N"  # no closed set: shown all the same
