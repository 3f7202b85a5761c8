"""Start-up cost of the commands cron runs, against the imports they avoid.

Reports, in one run, the median wall time of:
  rnnforecast --help            vs  python -c pass
  rnnforecast predict (numpy)   vs  python -c "import torch, pandas"  and  python -c "import torch"

    python benchmarks/bench_startup.py [--repeat 9] [--json out.json]

Targets: `--help` close to bare Python; `predict` / `import torch` <= 0.5.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "data" / "airpassengers.csv"


def median_seconds(cmd: list[str], repeat: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()

    exe = shutil.which("rnnforecast", path=str(Path(sys.executable).parent)) or "rnnforecast"
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        subprocess.run(
            [exe, "train", str(EXAMPLE), "-H", "12", "-o", str(model), "--epochs", "5", "-q"],
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": "2"},
        )
        rows = {
            "rnnforecast --help": median_seconds([exe, "--help"], args.repeat),
            "python -c pass": median_seconds([py, "-c", "pass"], args.repeat),
            "rnnforecast predict": median_seconds(
                [exe, "predict", "-m", str(model), "-o", str(Path(tmp) / "f.csv"), "-q"],
                args.repeat,
            ),
            "python -c 'import torch, pandas'": median_seconds(
                [py, "-c", "import torch, pandas"], args.repeat
            ),
            "python -c 'import torch'": median_seconds([py, "-c", "import torch"], args.repeat),
        }
    ratios = {
        "help / bare python": rows["rnnforecast --help"] / rows["python -c pass"],
        "predict / import torch, pandas": rows["rnnforecast predict"]
        / rows["python -c 'import torch, pandas'"],
        "predict / import torch (target <= 0.5)": rows["rnnforecast predict"]
        / rows["python -c 'import torch'"],
    }
    print(f"median of {args.repeat} runs, {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    for name, seconds in rows.items():
        print(f"  {name:<36} {seconds:8.3f} s")
    for name, ratio in ratios.items():
        print(f"  {name:<44} {ratio:6.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"seconds": rows, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
