"""A model directory is input, not trust: whatever its files hold, predict, info and evaluate
end in exit 2 naming the file, never exit 1, a hang or a blank forecast; numbers at the edges
of float64 forecast correctly or are refused with a reason."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, long_frame
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save
from test_robustness import assert_clean_error, invoke

HORIZON = 6


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """One tiny model for the whole module: two members, a past covariate, intervals."""
    root = tmp_path_factory.mktemp("trained")
    frame = long_frame(n_series=2, n=60)
    frame["temp"] = np.cos(np.arange(len(frame)) / 5.0)
    data = root / "data.csv"
    frame.to_csv(data, index=False)
    model = root / "model"
    result = invoke("train", data, "-o", model, "--horizon", HORIZON, "--ensemble", 2,
                    "--past-covariates", "temp", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    return model, data


def rehash(model: Path) -> None:
    """Give every listed file its current digest: only the content checks are left."""
    manifest = json.loads((model / "manifest.json").read_text())
    for name in manifest["files"]:
        path = model / name
        if path.is_file() and not path.is_symlink():
            manifest["files"][name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (model / "manifest.json").write_text(json.dumps(manifest, indent=2))


def tampered(trained, tmp_path: Path, edit: Callable[[Path], None]) -> Path:
    """A copy of the trained model directory, edited, with its manifest re-hashed."""
    copy = tmp_path / "copy"
    shutil.copytree(trained[0], copy)
    if getattr(edit, "of_manifest", False):
        rehash(copy)
        edit(copy)
    else:
        edit(copy)
        rehash(copy)
    return copy


def text(name: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        (model / name).write_text(change((model / name).read_text()))

    return edit


def config(old: str, new: str) -> Callable[[Path], None]:
    return text("config.yaml", lambda t: t.replace(old, new))


def raw(name: str, data: bytes) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        (model / name).write_bytes(data)

    return edit


def doc(name: str, change: Callable[[dict], object]) -> Callable[[Path], None]:
    """Edit a JSON file in place (whatever `change` returns is ignored)."""

    def edit(model: Path) -> None:
        value = json.loads((model / name).read_text())
        change(value)
        (model / name).write_text(json.dumps(value))

    return edit


def tensors(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        weights = dict(st_load((model / "weights.safetensors").read_bytes()))
        change(weights)
        (model / "weights.safetensors").write_bytes(st_save(weights))

    return edit


def tail(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def edit(model: Path) -> None:
        frame = pd.read_csv(model / "tail.csv", dtype=str, keep_default_na=False)
        change(frame).to_csv(model / "tail.csv", index=False)

    return edit


def manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    """Edit the manifest (after re-hashing, so that the edit itself stays)."""

    def edit(model: Path) -> None:
        m = json.loads((model / "manifest.json").read_text())
        change(m)
        (model / "manifest.json").write_text(json.dumps(m))

    return of_manifest(edit)


def of_manifest(edit: Callable[[Path], None]) -> Callable[[Path], None]:
    edit.of_manifest = True
    return edit


def _set(d: dict, path: str, value) -> None:
    *parents, key = path.split(".")
    for p in parents:
        d = d[p]
    d[key] = value


def _dup_weights_header(model: Path) -> None:
    blob = (model / "weights.safetensors").read_bytes()
    size = int.from_bytes(blob[:8], "little")
    header = blob[8 : 8 + size].decode()
    first = header.index('"members.0.head.bias"')
    entry_end = header.index("}", first) + 1
    twice = header.rstrip()[:-1] + "," + header[first:entry_end] + "}"
    body = twice.encode().ljust(len(twice.encode()) + (-len(twice.encode())) % 8)
    (model / "weights.safetensors").write_bytes(
        len(body).to_bytes(8, "little") + body + blob[8 + size :]
    )


def _bf16_weights(model: Path) -> None:
    """One tensor declared bfloat16 (which numpy has no type for), its bytes unchanged."""
    blob = (model / "weights.safetensors").read_bytes()
    size = int.from_bytes(blob[:8], "little")
    old = b'"members.0.head.bias":{"dtype":"F32","shape":[6]'
    new = b'"members.0.head.bias":{"dtype":"BF16","shape":[12]'
    header = blob[8 : 8 + size].replace(old, new).rstrip()
    header = header.ljust(len(header) + (-len(header)) % 8)
    (model / "weights.safetensors").write_bytes(
        len(header).to_bytes(8, "little") + header + blob[8 + size :]
    )


def _padded_weights(model: Path) -> None:
    weights = dict(st_load((model / "weights.safetensors").read_bytes()))
    data = st_save(weights, metadata={"padding": "x" * 300_000})
    (model / "weights.safetensors").write_bytes(data)


def _more_series(series: dict) -> None:
    for k in ("unique_id", "first_ds", "last_ds"):
        series[k] += [f"x{i}" if k == "unique_id" else series[k][0] for i in range(1000)]
    for k in ("loc", "scale", "length"):
        series[k] += [series[k][0]] * 1000
    for block in series["covariates"].values():
        for k in ("loc", "scale"):
            block[k] += [block[k][0]] * 1000


def _interleave(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[np.r_[0, 36, 1:36, 37:72]]


CASES = {
    # weights.safetensors: missing, extra, mis-shaped, wrong-dtype, non-finite, duplicated,
    # foreign bytes, a header larger than the config's tensors can need
    "tensor_missing": (tensors(lambda w: w.pop("members.0.head.bias")),
                       "weights.safetensors", "lacks members.0.head.bias"),
    "tensor_extra": (tensors(lambda w: w.update({"members.0.evil": np.zeros(3, np.float32)})),
                     "weights.safetensors", "holds members.0.evil"),
    "tensor_dotdot": (tensors(lambda w: w.update({"../../x": np.zeros(1, np.float32)})),
                      "weights.safetensors", "holds ../../x"),
    "tensor_shape": (tensors(lambda w: w.update(
                         {"members.1.head.weight": w["members.1.head.weight"].T.copy()})),
                     "weights.safetensors", "has shape [8, 6]", "needs [6, 8]"),
    "tensor_dtype": (tensors(lambda w: w.update(
                         {"members.0.head.bias": w["members.0.head.bias"].astype(np.float64)})),
                     "weights.safetensors", "is F64, not the F32"),
    "tensor_nan": (tensors(lambda w: w["members.0.rnns.0.weight_hh_l0"].__setitem__(0, np.nan)),
                   "weights.safetensors", "holds NaN or infinite values"),
    "tensor_inf": (tensors(lambda w: w["members.1.skip.bias"].__setitem__(0, np.inf)),
                   "weights.safetensors", "holds NaN or infinite values"),
    "tensor_twice": (_dup_weights_header, "weights.safetensors", "names the tensor",
                     "twice"),
    "tensor_bf16": (_bf16_weights, "weights.safetensors", "is BF16, not the F32"),
    "weights_padded": (_padded_weights, "weights.safetensors", "bytes, more than the"),
    # config.yaml edited so that it no longer matches the weights (or is not a model's)
    "hidden_size": (config("hidden_size: 8", "hidden_size: 16"),
                    "weights.safetensors", "config.yaml", "shape"),
    "layers": (config("layers: 1", "layers: 2"),
               "weights.safetensors", "lacks members.0.rnns.1."),
    "cell": (config("cell: lstm", "cell: gru"),
             "weights.safetensors", "cell gru", "needs [24,"),
    "lookback": (config("lookback: 36", "lookback: 30"),
                 "weights.safetensors", "lookback 30", "skip.weight"),
    "horizon": (config("horizon: 6", "horizon: 4"),
                "weights.safetensors", "horizon 4", "head.weight"),
    "more_members": (config("ensemble: 2", "ensemble: 3"),
                     "weights.safetensors", "lacks members.2."),
    "one_member": (config("ensemble: 2", "ensemble: 1"),
                   "weights.safetensors", "lacks rnns.0."),
    "no_covariates": (config("past_covariates:\n  - temp", "past_covariates: null"),
                      "weights.safetensors", "needs [32, 1]"),
    "calendar": (config("calendar: false", "calendar: true"),
                 "weights.safetensors", "rnns.0.weight_ih_l0"),
    "transform": (config("transform: none", "transform: difference"),
                  "tail.csv", "has 36 rows", "needs 37"),
    "freq": (config("freq: MS", "freq: D"),
             "tail.csv", "steps of D before its last time"),
    "freq_zero": (config("freq: MS", "freq: 0D"),
                  "config.yaml", "not a frequency that steps forward"),
    "lookback_unset": (config("lookback: 36", "lookback: null"),
                       "config.yaml", "window.lookback is unset"),
    "config_nested": (raw("config.yaml", b"[" * 1200), "config.yaml", "nested too deeply"),
    "config_huge": (text("config.yaml", lambda t: t + "#" * (2 << 20) + "\n"),
                    "config.yaml", "bytes, more than the"),
    # series.json: not JSON, the wrong shape, lists that disagree, bad numbers and times
    "series_not_json": (raw("series.json", b"{'unique_id': ["), "series.json", "not valid JSON"),
    "series_list": (raw("series.json", b"[1, 2]"), "series.json", "holds list"),
    "series_dup_key": (raw("series.json", b'{"loc": [1], "loc": [2]}'), "series.json",
                       "gives the key 'loc' twice"),
    "series_nested": (raw("series.json", b"[" * 100_000 + b"]" * 100_000), "series.json",
                      "not JSON"),
    "series_long_number": (raw("series.json", b'{"loc": [' + b"9" * 5000 + b"]}"),
                           "series.json", "not JSON"),
    "loc_text": (doc("series.json", lambda s: _set(s, "loc", ["a", 1.0])), "series.json",
                 "loc of series 's0' is a, not a finite number"),
    "scale_negative": (doc("series.json", lambda s: s["scale"].__setitem__(1, -2.0)),
                       "series.json", "scale of series 's1' is -2.0, not a finite number above 0"),
    "scale_nan": (doc("series.json", lambda s: s["scale"].__setitem__(0, float("nan"))),
                  "series.json", "not a finite number above 0"),
    "scale_zero": (doc("series.json", lambda s: s["scale"].__setitem__(0, 0)),
                   "series.json", "not a finite number above 0"),
    "loc_short": (doc("series.json", lambda s: s["loc"].pop()), "series.json",
                  "loc holds 1 entries, not a number for each of the 2 series"),
    "loc_nested": (doc("series.json", lambda s: _set(s, "loc", [[1.0], [2.0]])), "series.json",
                   "not a finite number"),
    "id_twice": (doc("series.json", lambda s: s["unique_id"].__setitem__(1, "s0")),
                 "series.json", "series 's0' is listed twice"),
    "id_number": (doc("series.json", lambda s: s["unique_id"].__setitem__(1, 7)),
                  "series.json", "unique_id entry 1 is 7, not a text id"),
    "id_renamed": (doc("series.json", lambda s: s["unique_id"].__setitem__(1, "other")),
                   "tail.csv", "has no rows of other, which series.json lists"),
    "more_series": (doc("series.json", _more_series), "tail.csv", "has no rows of x0, x1",
                    "and 995 more"),
    "last_ds_text": (doc("series.json", lambda s: s["last_ds"].__setitem__(0, "soon")),
                     "series.json", "last_ds of series 's0' is soon, not a time"),
    "last_ds_moved": (doc("series.json", lambda s: s["last_ds"].__setitem__(0, "2004-11-01")),
                      "tail.csv", "before its last time in series.json (2004-11-01"),
    "length_small": (doc("series.json", lambda s: s["length"].__setitem__(0, 10)),
                     "series.json", "length of series 's0' is 10"),
    "no_covariate_stats": (doc("series.json", lambda s: s.pop("covariates")),
                           "series.json", "statistics of the covariates none"),
    # metrics.json and intervals.json
    "metrics_not_json": (raw("metrics.json", b"{"), "metrics.json", "not valid JSON"),
    "metrics_text": (doc("metrics.json", lambda m: _set(m, "model.mase", "0.5")),
                     "metrics.json", "model scores are not numbers"),
    "best_epoch": (doc("metrics.json", lambda m: _set(m, "best_epoch", -1)),
                   "metrics.json", "best_epoch -1 is not an epoch"),
    "widths_short": (doc("intervals.json", lambda c: [r.pop() for r in c["half_widths"]]),
                     "intervals.json", f"99 levels x {HORIZON} steps"),
    "widths_nan": (doc("intervals.json", lambda c: c["half_widths"][3].__setitem__(0, None)),
                   "intervals.json", "not numbers"),
    "widths_negative": (doc("intervals.json", lambda c: c["half_widths"][3].__setitem__(0, -1)),
                        "intervals.json", "negative, NaN or infinite"),
    "levels": (doc("intervals.json", lambda c: c["levels"].pop()), "intervals.json",
               "not a table of 98 levels"),
    "spread_lag": (doc("intervals.json", lambda c: _set(c, "spread_lag", 0)),
                   "intervals.json", "spread_lag 0 is not a lag"),
    "inflation": (doc("intervals.json", lambda c: _set(c, "inflation", "x")),
                  "intervals.json", "inflation x is not a finite factor"),
    "counts": (doc("intervals.json", lambda c: c.pop("in_sample_errors")),
               "intervals.json", "in_sample_errors None is not a count"),
    # tail.csv: bad dates, values, columns, order
    "tail_date": (tail(lambda f: f.assign(ds=f["ds"].where(f.index != 3, "2002-13-45"))),
                  "tail.csv", "ds 2002-13-45 at line 5 is not a time"),
    "tail_value": (tail(lambda f: f.assign(y=f["y"].where(f.index != 4, "abc"))),
                   "tail.csv", "column 'y': abc at line 6 is not a number"),
    "tail_empty_value": (tail(lambda f: f.assign(temp=f["temp"].where(f.index != 5, ""))),
                         "tail.csv", "column 'temp' at line 7 is empty or not finite"),
    "tail_inf": (tail(lambda f: f.assign(y=f["y"].where(f.index != 0, "inf"))),
                 "tail.csv", "column 'y' at line 2 is empty or not finite"),
    "tail_no_column": (tail(lambda f: f.drop(columns="temp")), "tail.csv",
                       "has the columns unique_id, ds, y, not unique_id, ds, y, temp"),
    "tail_extra_column": (tail(lambda f: f.assign(extra=1)), "tail.csv", "has the columns"),
    "tail_empty": (raw("tail.csv", b""), "tail.csv", "not a table rnnforecast wrote"),
    "tail_binary": (raw("tail.csv", bytes(range(256)) * 8), "tail.csv"),
    "tail_interleaved": (tail(_interleave), "tail.csv",
                         "does not hold the rows of each series together"),
    "tail_row_dropped": (tail(lambda f: f.drop(index=10)), "tail.csv",
                         "series 's0' has 35 rows"),
    "tail_gap": (tail(lambda f: f.assign(ds=f["ds"].where(f.index != 7, "2002-09-15"))),
                 "tail.csv", "ds at line 9"),
    "tail_no_id": (tail(lambda f: f.assign(unique_id=f["unique_id"].where(f.index != 2, ""))),
                   "tail.csv", "line 4 has no unique_id"),
    # history.csv
    "history_text": (text("history.csv", lambda t: t.replace("\n2,", "\nsecond,")),
                     "history.csv", "column 'epoch' holds values that are not numbers"),
    "history_column": (text("history.csv", lambda t: t.replace("val_loss", "other", 1)),
                       "history.csv", "lacks the column(s) val_loss"),
    "history_binary": (raw("history.csv", b"\xff\xfe" * 100), "history.csv", "not UTF-8"),
    # manifest.json: names out of the directory, foreign names, bad fields, duplicate keys
    "name_parent": (manifest(lambda m: m["files"].update({"../x": "0" * 64})),
                    "manifest.json", "lists '../x', which is not a file of a model directory"),
    "name_absolute": (manifest(lambda m: m["files"].update({"/etc/passwd": "0" * 64})),
                      "manifest.json", "lists '/etc/passwd'"),
    "name_nested": (manifest(lambda m: m["files"].update({"sub/dir": "0" * 64})),
                    "manifest.json", "lists 'sub/dir'"),
    "name_foreign": (manifest(lambda m: m["files"].update({"notes.txt": "0" * 64})),
                     "manifest.json", "lists 'notes.txt'"),
    "digest": (manifest(lambda m: m["files"].update({"tail.csv": "abc"})),
               "manifest.json", "the digest of tail.csv is abc, not a SHA-256"),
    "format_text": (manifest(lambda m: m.update({"format_version": "3"})),
                    "manifest.json", "format_version 3 is not a model format"),
    "format_bool": (manifest(lambda m: m.update({"format_version": True})),
                    "manifest.json", "is not a model format"),
    "created_markup": (manifest(lambda m: m.update({"created": "[bold red]now[/]"})),
                       "manifest.json", "is not an ISO time"),
    "created_missing": (manifest(lambda m: m.pop("created")), "manifest.json",
                        "created None is not an ISO time"),
    "version_markup": (manifest(lambda m: m.update({"rnnforecast_version": "[link=x]1[/link]"})),
                       "manifest.json", "is not a version"),
    "manifest_huge": (manifest(lambda m: m.update({"pad": " " * (2 << 20)})),
                      "manifest.json", "bytes, more than the"),
}  # fmt: skip


@of_manifest
def _dup_manifest_key(model: Path) -> None:
    text_ = (model / "manifest.json").read_text()
    (model / "manifest.json").write_text(text_.replace('"files"', '"created": "x", "files"', 1))


def _linked_tail(model: Path) -> None:
    """tail.csv as a link to an identical file outside the directory: the digest matches."""
    outside = model.parent / "outside.csv"
    shutil.copyfile(model / "tail.csv", outside)
    (model / "tail.csv").unlink()
    (model / "tail.csv").symlink_to(outside)


@of_manifest
def _linked_manifest(model: Path) -> None:
    outside = model.parent / "outside.json"
    shutil.copyfile(model / "manifest.json", outside)
    (model / "manifest.json").unlink()
    (model / "manifest.json").symlink_to(outside)


def _directory_metrics(model: Path) -> None:
    (model / "metrics.json").unlink()
    (model / "metrics.json").mkdir()


@of_manifest
def _huge_history(model: Path) -> None:
    """A sparse file over history.csv's size limit: refused by its size, never read."""
    with open(model / "history.csv", "wb") as f:
        f.truncate((1 << 28) + 1)


SPECIAL = {
    "manifest_dup_key": (_dup_manifest_key, "manifest.json", "gives the key 'created' twice"),
    "link_tail": (_linked_tail, "tail.csv", "is a symbolic link", "never followed"),
    "link_manifest": (_linked_manifest, "manifest.json", "is a symbolic link"),
    "directory": (_directory_metrics, "metrics.json", "is a directory, not a regular file"),
    "huge_history": (_huge_history, "history.csv", "268,435,457 bytes, more than the"),
}


def _commands(model: Path, data: Path, tmp_path: Path, torch: bool = True) -> list[list]:
    """Every command that reads a model (predict with the torch engine too, for the files it
    reads: the weights and the calibration)."""
    return [
        ["predict", "-m", model],
        *([["predict", "-m", model, "--engine", "torch", "--intervals", "80"]] if torch else []),
        ["info", model],
        ["evaluate", data, "-m", model, "-o", tmp_path / "report"],
    ]


@pytest.mark.parametrize("case", [*CASES, *SPECIAL])
def test_tampered_model_directory_is_refused(trained, tmp_path, case):
    """Each tampered copy (its manifest re-hashed, so the integrity check passes) is exit 2
    with one line naming the file, from every command that reads a model."""
    edit, *fragments = {**CASES, **SPECIAL}[case]
    model = tampered(trained, tmp_path, edit)
    torch = fragments[0] in ("weights.safetensors", "intervals.json")
    for args in _commands(model, trained[1], tmp_path, torch):
        result = invoke(*args)
        assert_clean_error(result, str(model), *fragments)
    assert not (tmp_path / "report").exists()


def test_a_fifo_in_place_of_a_file_never_blocks(trained, tmp_path):
    """A FIFO with no writer would block a plain open() for ever; it is refused at once."""
    model = tampered(trained, tmp_path, lambda m: None)
    (model / "tail.csv").unlink()
    os.mkfifo(model / "tail.csv")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "rnnforecast", "predict", "-m", str(model)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr == (
        f"error: {model / 'tail.csv'}: is a named pipe (FIFO), not a regular file; a model "
        "directory holds only the files rnnforecast writes: retrain the model or restore its "
        "directory\n"
    )


CHECK_IMPORTS = """
import json, sys
from rnnforecast.cli import main
sys.argv = ['rnnforecast', *sys.argv[1:]]
try:
    main()
except SystemExit as e:
    code = e.code
sys.stderr.write(json.dumps([code, 'torch' in sys.modules]))
"""


def test_checks_pass_a_sound_model_and_refuse_an_edited_one_without_torch(trained, tmp_path):
    """A copy of the model as training wrote it passes every check, with every command;
    edited, predict and info refuse it having checked its weights without importing torch."""
    sound = tampered(trained, tmp_path, lambda m: None)
    for args in _commands(sound, trained[1], tmp_path):
        result = invoke(*args, *(["-q"] if args[0] != "info" else []))
        assert result.exit_code == 0, (args, result.output)
    shutil.rmtree(tmp_path / "copy")
    model = tampered(trained, tmp_path, config("layers: 1", "layers: 2"))
    for args in (["predict", "-m", str(model)], ["info", str(model)]):
        done = subprocess.run(
            [sys.executable, "-c", CHECK_IMPORTS, *args], capture_output=True, text=True
        )
        code, torch_loaded = json.loads(done.stderr.strip().splitlines()[-1])
        assert (code, torch_loaded) == (2, False), done.stderr


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"cell": "gru", "layers": 3, "layer_norm": True, "residual": True},
        {"cell": "rnn", "skip": "none", "calendar": True},
        {"ensemble": 3, "ensemble_cells": ("lstm", "gru", "rnn"), "layers": 2},
    ],
)
def test_weight_shapes_are_those_the_network_has(options):
    """artifact.weight_shapes, which load checks the weights against, is exactly the torch
    model's state_dict (the shape contract both engines rely on)."""
    import dataclasses

    from rnnforecast import artifact
    from rnnforecast.artifact import weight_shapes
    from rnnforecast.config import Config
    from rnnforecast.features import calendar_names
    from rnnforecast.model import Forecaster

    base = Config()
    cfg = dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, freq="h", past_covariates=("a",),
                                 future_covariates=("b", "c")),
        window=dataclasses.replace(base.window, lookback=10, horizon=4),
        model=dataclasses.replace(base.model, **{"ensemble": 1, **options}),
    )  # fmt: skip
    n_inputs = 1 + 3 + (len(calendar_names("h")) if cfg.model.calendar else 0)
    parts = [
        {
            k: tuple(v.shape)
            for k, v in Forecaster(cfg.model.member(k), 10, 4, n_inputs, n_future=2)
            .state_dict()
            .items()
        }
        for k in range(cfg.model.ensemble)
    ]
    assert weight_shapes(cfg) == artifact.join_members(parts)


# --- numbers at the edges ----------------------------------------------------------------------


def _series(tmp_path: Path, name: str, y: np.ndarray) -> Path:
    path = tmp_path / f"{name}.csv"
    ds = pd.date_range("2000-01-01", periods=len(y), freq="D")
    pd.DataFrame({"ds": ds, "y": y}).to_csv(path, index=False)
    return path


def _forecast(tmp_path: Path, data: Path) -> tuple[int, pd.DataFrame | None, str]:
    model = tmp_path / f"m_{data.stem}"
    result = invoke("train", data, "-o", model, "--horizon", 4, *FAST)
    if result.exit_code != 0:
        return result.exit_code, None, result.stderr
    out = invoke("predict", "-m", model, "-q")
    assert out.exit_code == 0, out.output
    return 0, pd.read_csv(io.StringIO(out.stdout)), ""


def test_forecasts_scale_with_the_data_down_to_tiny_magnitudes(tmp_path):
    """The same series at 1e-140, 1 and 1e140 gives the same forecast at each scale: tiny
    values are scaled like any others, not taken for a constant series."""
    shape = 1 + 0.3 * np.sin(np.arange(80) / 3)
    got = {}
    for size in (1e-140, 1.0, 1e140):
        code, out, stderr = _forecast(tmp_path, _series(tmp_path, f"s{size:g}", size * shape))
        assert code == 0, stderr
        got[size] = out["y_hat"].to_numpy() / size
    np.testing.assert_allclose(got[1e-140], got[1.0], rtol=1e-5)
    np.testing.assert_allclose(got[1e140], got[1.0], rtol=1e-5)
    assert np.ptp(got[1e-140]) > 0.01  # a forecast that moves like the series, not its mean
    # a spread within rounding of the level is one value once scaled: its level is forecast
    code, out, stderr = _forecast(tmp_path, _series(tmp_path, "flat", 7.0 + 1e-14 * shape))
    assert code == 0, stderr
    np.testing.assert_allclose(out["y_hat"], 7.0, rtol=1e-12)


@pytest.mark.parametrize("values", ["huge", "huge_spread", "constant"])
def test_values_at_the_edges_forecast_or_are_refused(tmp_path, values):
    """Near float64's limits the result is a correct finite forecast or exit 2 with a reason:
    never a blank or NaN forecast, never exit 1 or 3."""
    t = np.arange(80)
    y = {
        "huge": 1e300 * (1 + 0.3 * np.sin(t / 3)),
        "huge_spread": 1.5e300 * np.sin(t / 3),
        "constant": np.full(80, 1e300),
    }[values]
    code, out, stderr = _forecast(tmp_path, _series(tmp_path, values, y))
    if code:
        assert code == 2 and stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
        return
    assert np.isfinite(out["y_hat"]).all() and len(out) == 4
    assert (np.abs(out["y_hat"]) <= 2 * np.abs(y).max()).all()


def test_data_far_beyond_the_training_scale_is_refused_not_forecast_as_nan(trained, tmp_path):
    """Values of a known series 1e140 times those it was trained on overflow the float32
    network: exit 2 naming the series, not a forecast CSV of NaN."""
    frame = pd.read_csv(trained[1])
    frame.loc[frame["unique_id"] == "s1", "y"] *= 1e140
    data = tmp_path / "big.csv"
    frame.to_csv(data, index=False)
    result = invoke("predict", data, "-m", trained[0])
    assert_clean_error(result, str(trained[0]), "series 's1' is not a finite number", "rescale")
