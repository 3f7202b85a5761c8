"""Many series: load time, training throughput, peak memory, and predict (whole and by chunks).

    python benchmarks/bench_scale.py [--sizes 1000x2000,10000x1000]
                                     [--predict-sizes 10000x200,100000x200]

For each synthetic hourly file of S series x T points (cached in benchmarks/out/), each step runs
in a fresh process so its peak RSS is its own:
  load     data.load (predict, evaluate) and data.load_compact (train: by chunks, into arrays)
           vs plain pandas.read_csv of the same file (7 rounds of the three in turn: the
           median of the rounds' ratios);
  train    load and pipeline.fit, as `rnnforecast train` runs them, for one epoch of a sample of
           the windows: windows/s (the epoch with its validation pass), the epoch time projected
           to all windows, and peak RSS against the raw float32 size;
  predict  every series forecast from the file, all at once and by chunks of 10,000 series
           (`--predict-sizes ""` skips it).
The train step on a tiny file first shows torch's own working set, which no data layout saves.
Targets: load <= 1.5x read_csv; peak RSS <= 3x raw data + model.

    python benchmarks/bench_scale.py --readers [--sizes ...]

compares the readers instead, where pyarrow is installed: read_csv whole (C engine, pyarrow
engine), by blocks of data.CHUNK_ROWS rows (read_csv's chunksize, pyarrow.csv.open_csv),
data.load (the frame predict reads) alone and made compact after, and data.load_compact (what
train reads) as it is and on open_csv's blocks; for each, the median time of 5 rounds in
turn and, in a fresh process, the peak RSS above imports.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "out"
SAMPLE = 20_000  # training windows actually run per measurement
ROUNDS = 7  # load timings: the best of 2 each gave 1.29x-1.58x on one file within minutes


def make_csv(series: int, points: int) -> Path:
    """Hourly series with a daily cycle and noise, long format, sorted by series."""
    path = OUT / f"scale_{series}x{points}.csv"
    if path.exists():
        return path
    OUT.mkdir(exist_ok=True)
    ds = pd.date_range("2020-01-01", periods=points, freq="h").strftime("%Y-%m-%d %H:%M:%S")
    rng = np.random.default_rng(0)
    day = 5 * np.sin(2 * np.pi * np.arange(points) / 24)
    with open(path, "w") as f:
        f.write("unique_id,ds,y\n")
        for start in range(0, series, 1000):
            ids = [f"s{i:06d}" for i in range(start, min(start + 1000, series))]
            y = 20 + day[None, :] + rng.standard_normal((len(ids), points))
            part = pd.DataFrame(
                {"unique_id": np.repeat(ids, points), "ds": np.tile(ds, len(ids)),
                 "y": y.ravel().round(3)}
            )  # fmt: skip
            part.to_csv(f, header=False, index=False)
    return path


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """This process's peak RSS: VmHWM, as getrusage's ru_maxrss carries the parent's peak over
    fork and exec (a step started by a parent that had just written a 10M-row file read the
    parent's ~290 MB)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- steps, each run in its own process ------------------------------------------------------


def step_load(path: str) -> dict:
    from rnnforecast import data
    from rnnforecast.config import DataConfig

    readers = {
        "read": lambda: pd.read_csv(path),
        "load": lambda: data.load(path, DataConfig()),
        "compact": lambda: data.load_compact(path, DataConfig()),
    }
    times: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(ROUNDS):  # in turn, so that a slow spell of the machine hits all three
        for name, fn in readers.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    read, load, compact = (np.array(t) for t in times.values())
    return {  # seconds: medians; ratios: the median of each round's own ratio
        "read_csv_s": float(np.median(read)),
        "load_s": float(np.median(load)),
        "ratio": float(np.median(load / read)),
        "ratio_range": [float((load / read).min()), float((load / read).max())],
        "compact_s": float(np.median(compact)),
        "compact_ratio": float(np.median(compact / read)),
        "compact_ratio_range": [float((compact / read).min()), float((compact / read).max())],
    }


def trimmed(loaded):
    """`loaded`, after the C heap is trimmed, as `rnnforecast train` does before fitting."""
    from rnnforecast import data

    data.trim_heap()
    return loaded


def step_train(path: str) -> dict:
    """What `rnnforecast train` does in memory: data.load_compact and data.trim_heap, then
    pipeline.fit (windows, scaler, the training loop, validation scores, the stored tail), for
    one epoch of SAMPLE windows."""
    import torch

    from rnnforecast import data, pipeline
    from rnnforecast.config import Config

    torch.set_num_threads(2)
    base = rss_mb()
    cfg = Config().with_overrides({"epochs": 1, "epoch_size": SAMPLE})  # one pass of the sample
    started = time.perf_counter()
    result = pipeline.fit(trimmed(data.load_compact(path, cfg.data)), cfg)
    rate = SAMPLE / result.history.rows[0]["seconds"]  # the epoch, and its validation pass
    raw_mb = sum(result.model.series["length"]) * 4 / 2**20
    model_mb = sum(v.size for v in result.model.weights.values()) * 4 / 2**20
    return {
        "train_windows": result.n_train_windows,
        "val_windows": result.n_val_windows,
        "windows_per_s": rate,
        "projected_epoch_s": result.n_train_windows / rate,
        "measured_s": time.perf_counter() - started,
        "raw_float32_mb": raw_mb,
        "model_mb": model_mb,
        "rss_after_imports_mb": base,
        "peak_rss_mb": peak_mb(),
        "peak_over_imports_vs_raw_plus_model": (peak_mb() - base) / (raw_mb + model_mb),
    }


def step_predict(path: str, model: str, chunk: str) -> dict:
    from rnnforecast import pipeline

    base = rss_mb()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = pipeline.predict(model, path, Path(tmp) / "f.csv", chunk_size=int(chunk))
    return {
        "chunk_size": int(chunk),
        "series": result.series,
        "seconds": time.perf_counter() - started,
        "rss_after_imports_mb": base,
        "peak_rss_mb": peak_mb(),
    }


def arrow_blocks(path: str, rows: int):
    """pyarrow.csv.open_csv's record batches of about `rows` rows as the frames data's reader
    yields (index: the row number; ids as text): the chunk reader on pyarrow, for a plain
    comma-separated UTF-8 file like these."""
    import pyarrow as pa
    from pyarrow import csv

    reader = csv.open_csv(
        path,
        read_options=csv.ReadOptions(block_size=rows * 32),  # ~32 bytes a row here
        convert_options=csv.ConvertOptions(column_types={"unique_id": pa.string()}),
    )
    start = 0
    for batch in reader:
        frame = batch.to_pandas()
        frame["unique_id"] = frame["unique_id"].astype(object)
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield frame


def readers() -> dict:
    """name -> a function of the path that reads the file in that way."""
    from rnnforecast import data
    from rnnforecast.config import DataConfig
    from rnnforecast.data import chunks

    def on_arrow(path: str):
        own = chunks._read
        chunks._read = lambda p, options, rows=None: arrow_blocks(str(p), rows)
        try:
            return data.load_compact(path, DataConfig())
        finally:
            chunks._read = own

    return {
        "read_csv (C)": lambda path: pd.read_csv(path),
        "read_csv (pyarrow)": lambda path: pd.read_csv(path, engine="pyarrow"),
        "read_csv by blocks (C)": lambda path: [
            len(b) for b in pd.read_csv(path, chunksize=data.CHUNK_ROWS)
        ],
        "open_csv by blocks": lambda path: [len(b) for b in arrow_blocks(path, data.CHUNK_ROWS)],
        "load (frame)": lambda path: data.load(path, DataConfig()),
        "load then compact": lambda path: data.compact(data.load(path, DataConfig())),
        "load_compact": lambda path: data.load_compact(path, DataConfig()),
        "load_compact on open_csv": on_arrow,
    }


def step_readers(path: str) -> dict:
    fns = readers()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(5):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn(path)
            times[name].append(time.perf_counter() - started)
    return {name: float(np.median(t)) for name, t in times.items()}


def step_peak(path: str, name: str) -> dict:
    base = rss_mb()
    readers()[name](path)
    return {"peak_over_imports_mb": peak_mb() - base}


def compare_readers(sizes: list[tuple[int, int]]) -> None:
    for series, points in sizes:
        path = str(make_csv(series, points))
        seconds = run_step("readers", path)
        print(f"{series} series x {points} points ({series * points:,} rows):")
        for name, s in seconds.items():
            peak = run_step("peak", path, name)["peak_over_imports_mb"]
            print(f"  {name:<26} {s:6.2f} s  peak RSS above imports {peak:5.0f} MB")


STEPS = {
    "load": step_load,
    "train": step_train,
    "predict": step_predict,
    "readers": step_readers,
    "peak": step_peak,
}


def run_step(name: str, *args: str) -> dict:
    cmd = [sys.executable, __file__, "--step", name, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def small_model(tmp: Path) -> Path:
    """A quick model of the same frequency, to time predict (its accuracy is irrelevant here)."""
    path = make_csv(20, 400)
    model = tmp / "model"
    subprocess.run(
        [sys.executable, "-m", "rnnforecast", "train", str(path), "-o", str(model),
         "--epochs", "1", "-q"],
        check=True,
    )  # fmt: skip
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000x2000,10000x1000")
    ap.add_argument("--predict-sizes", default="10000x200,100000x200")
    ap.add_argument("--readers", action="store_true", help="compare readers (needs pyarrow)")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](*args.args)))
        return
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes.split(",") if s]
    if args.readers:
        compare_readers(sizes)
        return
    if sizes:  # the part of every training peak that does not grow with the data: it moves
        tiny = [run_step("train", str(make_csv(20, 400))) for _ in range(3)]  # by ~6 MB a run
        torch_mb = float(np.median([t["peak_rss_mb"] - t["rss_after_imports_mb"] for t in tiny]))
        print(f"torch's own training working set (20 series x 400 points, median of 3 runs): "
              f"{torch_mb:.0f} MB")  # fmt: skip
    for series, points in sizes:
        path = str(make_csv(series, points))
        load = run_step("load", path)
        fit = run_step("train", path)
        raw = fit["raw_float32_mb"] + fit["model_mb"]
        print(f"{series} series x {points} points ({series * points:,} rows):")
        lo, hi = load["ratio_range"]
        c_lo, c_hi = load["compact_ratio_range"]
        print(
            f"  load / read_csv {load['ratio']:.2f}x ({lo:.2f}-{hi:.2f}); by chunks, as train "
            f"reads it, {load['compact_ratio']:.2f}x ({c_lo:.2f}-{c_hi:.2f}); medians "
            f"{load['load_s']:.2f} s, {load['compact_s']:.2f} s, "
            f"read_csv {load['read_csv_s']:.2f} s"
        )
        print(
            f"  train {fit['windows_per_s']:.0f} windows/s; one epoch of "
            f"{fit['train_windows']:,} windows ~ {fit['projected_epoch_s']:.0f} s (projected "
            f"from {SAMPLE:,} and a validation pass over {fit['val_windows']:,})"
        )
        print(f"  peak RSS {fit['peak_rss_mb']:.0f} MB ({fit['rss_after_imports_mb']:.0f} after "
              f"imports); raw float32 {fit['raw_float32_mb']:.1f} MB + model "
              f"{fit['model_mb']:.2f} MB; (peak - imports) / (raw + model) = "
              f"{fit['peak_over_imports_vs_raw_plus_model']:.1f}")  # fmt: skip
        data_mb = fit["peak_rss_mb"] - fit["rss_after_imports_mb"] - torch_mb
        print(f"  without torch's own working set: {data_mb:.0f} MB, {data_mb / raw:.1f}x")
    if not args.predict_sizes:
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = str(small_model(Path(tmp)))
        for spec in filter(None, args.predict_sizes.split(",")):
            series, points = map(int, spec.split("x"))
            path = str(make_csv(series, points))
            for chunk in (0, 10_000):
                p = run_step("predict", path, model, str(chunk))
                how = "all at once" if chunk == 0 else f"by chunks of {chunk:,}"
                print(f"  predict {series:,} series x {points} points {how}: {p['seconds']:.1f} s, "
                      f"peak RSS {p['peak_rss_mb']:.0f} MB ({p['rss_after_imports_mb']:.0f} "
                      "after imports)")  # fmt: skip


if __name__ == "__main__":
    main()
