"""Ctrl-C and SIGTERM: a clean stop with a checkpoint, and --resume reaching the same model."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

# many small batches per epoch, so a signal lands mid-epoch
ARGS = ["-H", "6", "--hidden-size", "8", "--layers", "1", "--batch-size", "4", "--epochs", "10",
        "--patience", "100", "--seed", "11", "--lr-schedule", "onecycle"]  # fmt: skip


def run(*args, **kwargs):
    cmd = [sys.executable, "-m", "rnnforecast", "train", *map(str, args), *ARGS]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, **kwargs)


def stop_after(proc, epoch: int, sig: int) -> str:
    """Send `sig` once the run has logged `epoch`; return everything it printed."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(f"epoch {epoch}/"):
            proc.send_signal(sig)
            break
    seen.extend(proc.stderr)
    proc.wait(timeout=60)
    return "".join(seen)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_resume_matches_an_uninterrupted_run(tmp_path, long_csv, sig):
    stopped = tmp_path / "stopped"
    proc = run(long_csv, "-o", stopped)
    printed = stop_after(proc, 3, sig)
    assert proc.returncode == 130, printed
    assert "training interrupted in epoch" in printed and "--resume" in printed
    assert "Traceback" not in printed
    checkpoint = tmp_path / "stopped.ckpt"
    assert checkpoint.exists() and not stopped.exists()
    if sig == signal.SIGINT:
        return  # the resume below is the same for both signals

    resumed = run(long_csv, "-o", stopped, "--resume")
    resumed.wait(timeout=120)
    assert resumed.returncode == 0, resumed.stderr.read()
    assert not checkpoint.exists()

    straight = run(long_csv, "-o", tmp_path / "straight")
    straight.wait(timeout=120)
    assert straight.returncode == 0
    for name in ("weights.safetensors", "metrics.json", "series.json", "config.yaml"):
        assert (stopped / name).read_bytes() == (tmp_path / "straight" / name).read_bytes(), name


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path, long_csv):
    proc = run(long_csv, "-o", tmp_path / "m")
    assert stop_after(proc, 2, signal.SIGTERM) and proc.returncode == 130
    other = subprocess.run(
        [sys.executable, "-m", "rnnforecast", "train", str(long_csv), "-o", str(tmp_path / "m"),
         "--resume", *ARGS, "--lr", "0.01"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert other.returncode == 2
    assert "the checkpoint comes from other data or settings" in other.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "rnnforecast", "train", str(long_csv), "-o", str(tmp_path / "x"),
         "--resume", *ARGS],
        capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 2 and "no checkpoint to resume from" in missing.stderr


def test_an_ensemble_resumes_in_its_second_member(tmp_path, long_csv):
    """Stopped while its second member trains, an ensemble keeps the finished first member in
    the checkpoint, --resume continues the second and trains the third from its start, and
    ends with the same weights as an uninterrupted run."""
    stopped = tmp_path / "stopped"
    proc = run(long_csv, "-o", stopped, "--ensemble", "3")
    seen, second = [], False
    for line in proc.stderr:
        seen.append(line)
        second = second or line.startswith("ensemble member 2/3")
        if second and line.startswith("epoch 2/"):
            proc.send_signal(signal.SIGTERM)
            break
    seen.extend(proc.stderr)
    proc.wait(timeout=60)
    assert proc.returncode == 130, "".join(seen)

    resumed = run(long_csv, "-o", stopped, "--ensemble", "3", "--resume")
    printed = resumed.stderr.read()
    resumed.wait(timeout=120)
    assert resumed.returncode == 0, printed
    assert "ensemble member 1/3" not in printed  # the first member is not trained again
    third = printed[printed.index("ensemble member 3/3") :]
    assert third.splitlines()[1].startswith("epoch 1/")  # not the checkpoint's epoch
    straight = run(long_csv, "-o", tmp_path / "straight", "--ensemble", "3")
    straight.wait(timeout=120)
    assert straight.returncode == 0
    for name in ("weights.safetensors", "metrics.json"):
        assert (stopped / name).read_bytes() == (tmp_path / "straight" / name).read_bytes(), name
