"""Training throughput of one process vs `--nproc 2` (torchrun, DDP with gloo on CPU).

    python benchmarks/bench_ddp.py --data DATA/taylor.csv [--epochs 5]

Windows/s = training windows x epochs / the summed epoch seconds of history.csv (validation
included; process start-up and data loading excluded). One process is measured with 1 and with
2 threads; each of the 2 DDP processes gets 1 thread, so all runs use the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

RUNS = {  # name: (processes, threads per process)
    "1 process x 1 thread": (1, 1),
    "1 process x 2 threads": (1, 2),
    "2 processes x 1 thread (DDP)": (2, 1),
}


def throughput(data: Path, out: Path, epochs: int, nproc: int, threads: int) -> tuple[float, int]:
    """(windows per second, training windows) of one `rnnforecast train` run."""
    cmd = [sys.executable, "-m", "rnnforecast", "train", str(data), "-o", str(out),
           "--epochs", str(epochs), "--patience", str(epochs), "--nproc", str(nproc), "--json",
           "-q"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    windows = json.loads(done.stdout)["train_windows"]
    seconds = pd.read_csv(out / "history.csv")["seconds"].sum()
    return windows * epochs / seconds, windows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, required=True, help="the CSV to train on (published figures: taylor)"
    )
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (nproc, threads)) in enumerate(RUNS.items()):
            rates[name], windows = throughput(
                args.data, Path(tmp) / f"m{i}", args.epochs, nproc, threads
            )
    print(f"{args.data.name}: {windows} training windows, {args.epochs} epochs, "
          f"{os.cpu_count()} CPU(s)")  # fmt: skip
    for name, rate in rates.items():
        print(f"  {name:<30} {rate:9.0f} windows/s")
    best = max(rates["1 process x 1 thread"], rates["1 process x 2 threads"])
    print(f"  DDP / best single process: {rates['2 processes x 1 thread (DDP)'] / best:.2f}")


if __name__ == "__main__":
    main()
