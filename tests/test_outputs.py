"""Outputs and the world around the process: --out never destroys what rnnforecast did not
write, any path the OS refuses is exit 2, nothing is written through a link, and signals, a
closed pipe or a full disk end with a clear exit code and no debris."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import FAST, REPO, long_frame
from test_robustness import assert_clean_error
from typer.testing import CliRunner

from rnnforecast import fsutil, pipeline
from rnnforecast.cli import app

runner = CliRunner()
HORIZON = ["-H", "6"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` (links as their target text), for before/after checks."""
    out: dict[str, bytes | None] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = os.readlink(p).encode()
        else:
            out[rel] = p.read_bytes() if p.is_file() else None
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model, its data, and a forecast of it (made once for the module)."""
    root = tmp_path_factory.mktemp("trained")
    data = root / "long.csv"
    long_frame().to_csv(data, index=False)
    model = root / "model"
    result = invoke("train", data, "-o", model, *HORIZON, *FAST)
    assert result.exit_code == 0, result.output
    return data, model


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if anything trains: a refused --out must be refused before that."""

    def refuse(*args, **kwargs):
        raise AssertionError("trained although --out was unusable")

    monkeypatch.setattr(pipeline, "fit", refuse)


# --- item 1: --out replaces only what rnnforecast wrote ------------------------------------


def user_dir(path: Path) -> dict[str, bytes | None]:
    (path / "sub").mkdir(parents=True)
    (path / "report.xlsx").write_bytes(b"PK\x03\x04 the user's workbook")
    (path / "sub" / "keep.txt").write_text("keep me")
    return tree(path)


def test_train_refuses_a_directory_of_user_files_before_training(tmp_path, trained, no_training):
    data, _ = trained
    out = tmp_path / "e2"
    before = user_dir(out)
    result = invoke("train", data, "--out", out, *FAST)
    assert_clean_error(result, str(out), "'report.xlsx', 'sub/'", "--force")
    assert tree(out) == before


def test_evaluate_and_backtest_refuse_a_user_report_directory(tmp_path, trained, no_training):
    data, model = trained
    out = tmp_path / "report"
    out.mkdir()
    (out / "board_deck.txt").write_text("Q3")
    for args in (["evaluate", data, "-m", model], ["backtest", data, *FAST]):
        result = invoke(*args, "--out", out)
        assert_clean_error(result, f"{out}: is not a report directory", "'board_deck.txt'")
        assert tree(out) == {"board_deck.txt": b"Q3"}


def test_force_replaces_a_user_directory(tmp_path, trained):
    data, _ = trained
    out = tmp_path / "e2"
    user_dir(out)
    result = invoke("train", data, "--out", out, *HORIZON, *FAST, "--force")
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").is_file() and not (out / "report.xlsx").exists()


def test_own_and_empty_directories_are_replaced_others_named(tmp_path, trained):
    data, model = trained
    report = tmp_path / "report"
    report.mkdir()  # empty: replaced
    for _ in range(2):  # then its own report: replaced again
        result = invoke("evaluate", data, "-m", model, "--out", report, "--max-plots", "1", "-q")
        assert result.exit_code == 0, result.output
    marker = json.loads((report / "rnnforecast-report.json").read_text())
    assert marker["format"] == "rnnforecast-report"
    assert set(marker["files"]) == {
        "metrics.json", "forecasts.csv", "report.md", "plots/s0.png", "plots/training.png",
    }  # fmt: skip
    (report / "plots" / "mine.txt").write_text("notes")  # a user's file inside a report
    result = invoke("evaluate", data, "-m", model, "--out", report)
    assert_clean_error(result, "holds files rnnforecast did not write ('plots/mine.txt')")
    # a model directory is not a report directory, nor a report a model directory
    result = invoke("evaluate", data, "-m", model, "--out", model)
    assert_clean_error(result, "is an rnnforecast model directory, not a report directory")
    (report / "plots" / "mine.txt").unlink()
    result = invoke("train", data, "--out", report, *FAST)
    assert_clean_error(result, "is an rnnforecast report directory, not a model directory")


def test_a_report_from_before_the_marker_is_known_by_its_metrics(tmp_path, trained):
    data, model = trained
    for name, extra in (("old", None), ("mixed", "notes.txt")):
        report = tmp_path / name
        (report / "plots").mkdir(parents=True)
        doc = {"command": "backtest", "rnnforecast_version": "0.1.0"}
        (report / "metrics.json").write_text(json.dumps(doc))
        for file in ("forecasts.csv", "report.md", "plots/s0.png"):
            (report / file).write_text("old")
        if extra:
            (report / extra).write_text("the user's")
        result = invoke("evaluate", data, "-m", model, "-o", report, "--max-plots", "0", "-q")
        if extra:
            assert_clean_error(result, "holds files rnnforecast did not write ('notes.txt')")
            assert (report / extra).read_text() == "the user's"
        else:
            assert result.exit_code == 0, result.output
            assert (report / "rnnforecast-report.json").is_file()


def test_model_directory_with_a_user_file_is_kept(tmp_path, trained):
    data, model = trained
    copy = tmp_path / "model"
    pipeline.artifact.save(pipeline.artifact.load(model), copy)
    (copy / "NOTES.md").write_text("why this model")
    before = tree(copy)
    result = invoke("train", data, "--out", copy, *FAST)
    assert_clean_error(result, "holds files rnnforecast did not write ('NOTES.md')", "--force")
    assert tree(copy) == before


def test_out_is_checked_again_at_the_swap(tmp_path, trained, monkeypatch):
    """A user file that appears in --out while training runs is not swapped away."""
    data, _ = trained
    out = tmp_path / "m"
    real_fit = pipeline.fit

    def fit_then_user_writes(*args, **kwargs):
        result = real_fit(*args, **kwargs)
        out.mkdir()
        (out / "theirs.txt").write_text("arrived meanwhile")
        return result

    monkeypatch.setattr(pipeline, "fit", fit_then_user_writes)
    result = invoke("train", data, "--out", out, *HORIZON, *FAST)
    assert_clean_error(result, "'theirs.txt'")
    assert tree(out) == {"theirs.txt": b"arrived meanwhile"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary left


def test_predict_replaces_its_own_forecast_only(tmp_path, trained):
    _, model = trained
    out = tmp_path / "forecast.csv"
    for _ in range(2):  # the nightly overwrite of its own forecast
        assert invoke("predict", "-m", model, "-o", out, "-q").exit_code == 0
    forecast = out.read_bytes()
    assert forecast.startswith(b"unique_id,ds,y_hat\n")
    users = tmp_path / "sales.csv"
    users.write_text("ds,y\n2020-01-01,5\n")
    result = invoke("predict", "-m", model, "-o", users)
    assert_clean_error(result, f"{users}: exists and is not a file rnnforecast wrote", "--force")
    assert users.read_text() == "ds,y\n2020-01-01,5\n"
    empty = tmp_path / "empty.csv"
    empty.touch()  # an empty file (mktemp, touch) holds nothing to lose
    assert invoke("predict", "-m", model, "-o", empty, "-q").exit_code == 0
    assert invoke("predict", "-m", model, "-o", users, "-q", "--force").exit_code == 0
    assert users.read_bytes() == forecast == empty.read_bytes()


def test_predict_refuses_what_it_would_not_write(tmp_path, trained):
    _, model = trained
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert_clean_error(invoke("predict", "-m", model, "-o", fifo), "is a FIFO", "--out -")
    assert_clean_error(invoke("predict", "-m", model, "-o", tmp_path), "is a directory")
    assert_clean_error(
        invoke("predict", "-m", model, "-o", "/dev/null", "--force"), "is a character device"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


# --- item 2: any path the OS refuses is exit 2 with the reason ------------------------------

OS_REFUSES = {
    ".": "names the current directory",
    "..": "names a parent directory",
    "/": "names the root directory",
    "/proc/rnnforecast-out": "cannot write in /proc",
    "missing/out": "its directory {tmp}/missing does not exist",
    "afile/out": "{tmp}/afile is not a directory",
    "x" * 300: "choose a shorter name",
}


@pytest.mark.parametrize("where", sorted(OS_REFUSES), ids=lambda w: w[:12])
def test_paths_the_os_refuses_are_exit_2(tmp_path, trained, monkeypatch, no_training, where):
    data, model = trained
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("a file")
    tmp = str(tmp_path) if where.startswith(("missing", "afile")) else ""
    out = os.path.join(tmp, where) if tmp else where
    message = OS_REFUSES[where].format(tmp=tmp_path)
    before = tree(tmp_path)
    for args in (
        ["train", data],
        ["evaluate", data, "-m", model],
        ["backtest", data, *FAST],
        ["predict", "-m", model],
    ):
        result = invoke(*args, "--out", out)
        assert_clean_error(result, message)
    assert tree(tmp_path) == before


def test_os_errors_that_escape_are_exit_2_with_the_path(tmp_path, trained, monkeypatch):
    data, model = trained

    def broken(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(data))

    monkeypatch.setattr(pipeline.data, "load", broken)
    result = invoke("evaluate", data, "-m", model, "-o", tmp_path / "r")
    assert_clean_error(result, f"{data}: Permission denied")


# --- item 3: matplotlib is a dependency; reports survive without it -------------------------


def test_matplotlib_is_a_core_dependency():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("matplotlib") for d in project["dependencies"])
    ci = (REPO / ".ci" / "run").read_text()
    assert "pip install --quiet ." in ci and "rnnforecast backtest" in ci


@pytest.fixture
def no_matplotlib(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails


def test_max_plots_0_needs_no_matplotlib(tmp_path, trained, no_matplotlib):
    data, model = trained
    for args in (["evaluate", data, "-m", model], ["backtest", data, *HORIZON, *FAST]):
        out = tmp_path / args[0]
        result = invoke(*args, "--out", out, "--max-plots", "0")
        assert result.exit_code == 0, result.output
        assert not (out / "plots").exists() and (out / "metrics.json").is_file()


def test_backtest_keeps_its_folds_when_plots_fail(tmp_path, trained, no_matplotlib):
    data, _ = trained
    out = tmp_path / "report"
    result = invoke("backtest", data, "--out", out, "--folds", "2", *HORIZON, *FAST[:-1])
    assert result.exit_code == 0, result.output
    assert "no plots: matplotlib is not installed" in result.stderr
    assert pd.read_csv(out / "forecasts.csv")["fold"].nunique() == 2
    assert not (out / "plots").exists()


# --- item 4: never through a link -----------------------------------------------------------


def test_lock_file_that_is_a_link_is_never_written_through(tmp_path, trained):
    data, _ = trained
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's file")
    (tmp_path / ".m.lock").symlink_to(precious)
    (tmp_path / ".d.lock").symlink_to(tmp_path / "nowhere")  # dangling
    for name in ("m", "d"):
        result = invoke("train", data, "--out", tmp_path / name, *HORIZON, *FAST)
        assert_clean_error(result, f".{name}.lock: is a symbolic link")
    assert precious.read_text() == "the user's file"
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "m").exists()


def test_out_that_is_a_link_is_refused_or_replaced_itself(tmp_path, trained):
    data, model = trained
    other = tmp_path / "other"
    pipeline.artifact.save(pipeline.artifact.load(model), other)
    before = tree(other)
    link = tmp_path / "live"
    link.symlink_to(other)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "elsewhere")
    for out in (link, dangling):
        result = invoke("train", data, "--out", out, *HORIZON, *FAST)
        assert_clean_error(result, f"{out}: is a symbolic link", "--force")
    result = invoke("train", data, "--out", link, *HORIZON, *FAST, "--force")
    assert result.exit_code == 0, result.output
    assert not link.is_symlink() and (link / "manifest.json").is_file()  # the link replaced
    assert tree(other) == before  # not what it pointed to
    assert not (tmp_path / "elsewhere").exists()


def test_predict_never_writes_through_a_link(tmp_path, trained):
    _, model = trained
    precious = tmp_path / "precious.csv"
    precious.write_text("unique_id,ds,y_hat\nmine,2020-01-01,1\n")  # even one like a forecast
    link = tmp_path / "forecast.csv"
    link.symlink_to(precious)
    assert_clean_error(invoke("predict", "-m", model, "-o", link), "is a symbolic link")
    assert invoke("predict", "-m", model, "-o", link, "--force", "-q").exit_code == 0
    assert not link.is_symlink() and link.read_text().startswith("unique_id,ds,y_hat\ns0,")
    assert precious.read_text() == "unique_id,ds,y_hat\nmine,2020-01-01,1\n"


# --- item 5: the world around the process ---------------------------------------------------


def rnnforecast(*args, **kwargs) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "rnnforecast", *map(str, args)]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, **kwargs)


def test_closed_pipe_exits_141_quietly(trained):
    _, model = trained
    proc = rnnforecast("predict", "-m", model, stdout=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone, as after `| head -1`
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""


def test_a_write_the_os_refuses_keeps_the_old_forecast(tmp_path, trained):
    """A file-size limit makes the kernel refuse the write itself (EFBIG), as a full disk
    does (ENOSPC): exit 2 naming the output, the old forecast kept, no temporary left."""
    _, model = trained
    out = tmp_path / "forecast.csv"
    assert invoke("predict", "-m", model, "-o", out, "-q").exit_code == 0
    before = out.read_bytes()
    limit = "import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
    limit += "resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64)); "
    code = limit + "from rnnforecast.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "predict", "-m", str(model), "-o", str(out), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error: {out}: could not be written (File too large); nothing was " \
        "replaced; choose another path\n"  # fmt: skip
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forecast.csv"]


def test_full_disk_names_the_output_and_keeps_the_old_one(tmp_path, trained, monkeypatch):
    data, model = trained
    report = tmp_path / "report"
    assert invoke("evaluate", data, "-m", model, "-o", report, "--max-plots", "0").exit_code == 0
    before = tree(report)

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", full)
    for args in (["evaluate", data, "-m", model, "-o", report],
                 ["predict", "-m", model, "-o", tmp_path / "f.csv"]):  # fmt: skip
        result = invoke(*args)
        assert_clean_error(result, str(args[-1]), "No space left on device", "free some space")
    assert tree(report) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


SIGNAL_DURING = """
import importlib, os, signal, sys
from rnnforecast.cli import main
module = importlib.import_module(sys.argv.pop(1))
name = sys.argv.pop(1)
real = getattr(module, name)
def hit(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGHUP)
    return real(*args, **kwargs)
setattr(module, name, hit)
main()
"""


@pytest.mark.parametrize(
    ("module", "name", "command"),
    [
        ("rnnforecast.writers", "to_csv", "predict"),  # while writing the forecast
        ("rnnforecast.report", "markdown", "evaluate"),  # while writing the report
        ("rnnforecast.data", "load", "evaluate"),  # while reading the data
    ],
)
def test_sighup_exits_130_and_leaves_no_temporary(tmp_path, trained, module, name, command):
    data, model = trained
    if command == "predict":
        args = ["predict", "-m", model, "-o", tmp_path / "f.csv"]
    else:
        args = ["evaluate", data, "-m", model, "-o", tmp_path / "report"]
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_DURING, module, name, *map(str, args)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert done.stderr.endswith("error: interrupted\n") and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_sighup_during_training_saves_the_checkpoint(tmp_path, trained):
    data, _ = trained
    proc = rnnforecast("train", data, "-o", tmp_path / "m", "--epochs", "1000", "--patience",
                       "1000", "--hidden-size", "4", "--transform", "none")  # fmt: skip
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("epoch 1/"):
            proc.send_signal(signal.SIGHUP)
            break
    seen.extend(proc.stderr)
    assert proc.wait(timeout=60) == 130, "".join(seen)
    assert "--resume" in "".join(seen) and (tmp_path / "m.ckpt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt"]


def workers_of(out: Path) -> list[int]:
    """PIDs of processes whose command line names `out` (the workers of a train run)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(out).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_sigterm_stops_every_nproc_worker_and_frees_the_lock(tmp_path, trained):
    data, _ = trained
    out = tmp_path / "m"
    proc = rnnforecast("train", data, "-o", out, "--nproc", "2", "--epochs", "1000",
                       "--patience", "1000", "--hidden-size", "4", "--ensemble", "1",
                       "--transform", "none")  # fmt: skip
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("epoch 1/"):
                break
        proc.send_signal(signal.SIGTERM)
        seen.extend(proc.stderr)
        assert proc.wait(timeout=60) == 130, "".join(seen)
        time.sleep(0.2)
        assert workers_of(out) == []  # no orphan keeps training
        assert (tmp_path / "m.ckpt").is_file() and "--resume" in "".join(seen)
        assert "Traceback" not in "".join(seen)
        with fsutil.locked(out):  # free at once
            pass
    finally:
        proc.kill()
        for pid in workers_of(out):
            os.kill(pid, signal.SIGKILL)


def test_bad_row_late_in_a_streamed_predict_leaves_stdout_empty(tmp_path):
    data = tmp_path / "many.csv"
    frame = long_frame(n_series=5, n=40)
    frame.to_csv(data, index=False)
    model = tmp_path / "m"
    assert invoke("train", data, "-o", model, "-H", "4", *FAST).exit_code == 0
    frame = frame.astype({"y": object})
    frame.loc[len(frame) - 3, "y"] = "oops"  # in the last series, the last chunk
    frame.to_csv(data, index=False)
    result = invoke("predict", data, "-m", model, "--chunk-size", "1")
    assert_clean_error(result, "'oops'")


# --- items 6 and 7: text is never markup; errors are one bounded line -----------------------


def test_ids_and_model_text_are_never_markup(tmp_path, trained, capsys):
    ids = ["$\\frac{a$", "[/]", "[bold red]x", ":thumbs_up:", "a|b"]
    frame = long_frame(n_series=len(ids), n=40)
    frame["unique_id"] = frame["unique_id"].map(
        dict(zip(sorted(set(frame.unique_id)), ids, strict=True))
    )
    short = long_frame(n_series=1, n=1).assign(unique_id="[red]short[/] :warning:")
    data = tmp_path / "odd.csv"
    pd.concat([frame, short]).to_csv(data, index=False)
    model, report = tmp_path / "m", tmp_path / "r"
    result = invoke("train", data, "-o", model, "-H", "4", *FAST[:-1])
    assert result.exit_code == 0, result.output
    assert "(naive): [red]short[/] :warning:" in result.stderr  # the note, as it is
    frame.to_csv(data, index=False)  # the one-point series has nothing to score
    result = invoke("evaluate", data, "-m", model, "-o", report)
    assert result.exit_code == 0, result.output
    drawn = {p.name for p in (report / "plots").glob("*.png")} - {"training.png"}
    assert len(drawn) >= len(ids)  # every title drawn: a `$` in an id is not mathtext
    md = (report / "report.md").read_text()
    table = md[md.index("| series |") :].split("\n\n")[0].splitlines()
    cells = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
    assert len(table) >= 2 + len(ids) and len(cells) == 1  # a row per id, none split
    assert "`a\\|b`" in md
    # what `info` shows of a model directory's text
    facts = pipeline.info(trained[1])
    facts["created"] = "[bold red]2026[/] :thumbs_up:"
    from rnnforecast.report import Reporter

    Reporter().info_table(facts)
    assert "[bold red]2026[/] :thumbs_up:" in capsys.readouterr().out


def test_usage_errors_are_one_bounded_line(tmp_path, trained):
    data, _ = trained
    result = invoke("train", data, "--bogus")
    assert_clean_error(result, "No such option: --bogus", "rnnforecast train --help")
    result = invoke("train", data, "--horizon", "9" * 5000 + "x")
    assert_clean_error(result, "--horizon")
    assert len(result.stderr) < 1200


def test_a_huge_directory_is_named_in_one_short_line(tmp_path, trained, no_training):
    data, _ = trained
    out = tmp_path / "full"
    out.mkdir()
    for i in range(3000):
        (out / f"user-file-{i:05d}-{'x' * 100}").touch()
    result = invoke("train", data, "--out", out)
    assert_clean_error(result, "and 2,997 more")
    assert len(result.stderr) < 600
