"""Covariates on elecdemand: MASE without them, with Temperature and WorkDay as future
covariates, and with them as past covariates only, over several seeds.

    python benchmarks/bench_covariates.py --data-dir DATA --protocol-dir PROTOCOL
                                          [--seeds 0,1,2] [--days 1] [--skip 0]
                                          [--set key=value ...] [--json FILE] [--table JSON...]

DATA holds DATA/elecdemand.csv, PROTOCOL the protocol's split.py (see bench_accuracy.py). The
split is the protocol's: the test is the last 48 points, the training data the 4,032 before
them. split.py drops the covariates, so the split is made here from the full elecdemand.csv,
keeping Temperature and WorkDay, and checked to hold exactly split.py's rows. With future
covariates, predict reads a file whose last 48 rows have y empty and the test day's Temperature
and WorkDay filled: the recorded temperatures stand in for a forecast of them, so that variant
is the best a perfect temperature forecast could do. Scores are the reference scorer's
(tests/reference/score.py). `--days K` repeats the whole comparison for the K days that end
with the protocol's (each trained on the 4,032 points before its test day; `--skip D` starts D
days earlier): one test day (New Year's Eve) says little on its own. Run it with
OMP_NUM_THREADS=1 on a shared machine: far faster under contention, and a rerun repeats its
figures exactly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from bench_accuracy import add_protocol_args, parse_sets, use_protocol

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
COVARIATES = ("Temperature", "WorkDay")
VARIANTS = {
    "none": {},
    "future": {"future_covariates": COVARIATES},
    "past": {"past_covariates": COVARIATES},
    "future WorkDay": {"future_covariates": ("WorkDay",)},  # known from the calendar alone
}


def day_split(full: pd.DataFrame, back: int, h: int, tail: int):
    """(train, test) of each series for the test day `back` days before the protocol's: the
    `h` points ending `back * h` before the end, and the `tail` points before them."""
    pos = full.groupby("unique_id").cumcount(ascending=False) - back * h  # 0: last test point
    test = full[(pos >= 0) & (pos < h)]
    train = full[(pos >= h) & (pos < h + tail)]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def run(name: str, seed: int, train: pd.DataFrame, test: pd.DataFrame, overrides: dict,
        folder: Path) -> dict:  # fmt: skip
    """Train one variant on `train`, forecast the test day, score it."""
    import score

    from rnnforecast import pipeline
    from rnnforecast.config import Config

    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    cfg = Config.load(None, {"horizon": len(test), **overrides, **VARIANTS[name], "seed": seed})
    started = time.perf_counter()
    trained = pipeline.train(folder / "train.csv", folder / "model", cfg)
    data = None
    if name.startswith("future"):  # the history, then the test day's rows with y empty
        data = folder / "predict.csv"
        pd.concat([train, test.assign(y=None)]).to_csv(data, index=False)
    pipeline.predict(folder / "model", data, out=folder / "forecast.csv")
    seconds = time.perf_counter() - started
    plain = ["unique_id", "ds", "y"]
    _, summary = score.score_frames(
        train[plain], test[plain], str(folder / "forecast.csv"), "y_hat", 48
    )
    return {
        "variant": name,
        "seed": seed,
        "mase": summary["mase"],
        "smape": summary["smape"],
        "seconds": seconds,
        "best_epoch": trained.history.best_epoch,
    }


def table(runs: list[dict]) -> str:
    """Markdown: per variant the mean MASE over seeds on the protocol's day (and its range),
    and with several days the mean over days and seeds."""
    days = sorted({r["day"] for r in runs})
    protocol = 0 in days
    head, rule = "| covariates |", "|---|"
    if protocol:
        head += " MASE, protocol day (range over seeds) | sMAPE |"
        rule += "---:|---:|"
    if len(days) > 1:
        head += f" MASE, mean of {len(days)} days |"
        rule += "---:|"
    lines = [head + " seconds |", rule + "---:|"]
    for name in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == name]
        row = f"| {name} |"
        if protocol:
            last = [r for r in mine if r["day"] == 0]
            mase = [r["mase"] for r in last]
            row += (
                f" {statistics.mean(mase):.3f} ({min(mase):.3f}-{max(mase):.3f}) "
                f"| {statistics.mean(r['smape'] for r in last):.2f} |"
            )
        if len(days) > 1:
            row += f" {statistics.mean(r['mase'] for r in mine):.3f} |"
        lines.append(row + f" {statistics.mean(r['seconds'] for r in mine):.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_protocol_args(ap)
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--days", type=int, default=1, help="test days ending with the protocol's")
    ap.add_argument("--skip", type=int, default=0, help="start this many days before it")
    ap.add_argument("--variants", default="none,future,past", help=", ".join(VARIANTS))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override for every variant, e.g. --set cell=gru")  # fmt: skip
    ap.add_argument("--json", type=Path, default=OUT / "covariates.json")
    ap.add_argument("--table", nargs="+", type=Path, metavar="JSON",
                    help="only print the table of earlier runs' --json files, merged")  # fmt: skip
    args = ap.parse_args()
    if args.table:
        print(table([r for path in args.table for r in json.loads(path.read_text())["runs"]]))
        return
    use_protocol(ap, args, "split.py")
    overrides = parse_sets(args.set)
    import split
    import torch  # noqa: F401  imports are not timed

    spec = split.DATASETS["elecdemand"]
    full = split.read_dataset(str(args.data_dir / "elecdemand.csv"))
    train, test = day_split(full, 0, spec.h, spec.train_tail)
    ref_train, ref_test = split.split_frame(full, spec)  # the protocol's rows, without covariates
    pd.testing.assert_frame_equal(train[ref_train.columns], ref_train)
    pd.testing.assert_frame_equal(test[ref_test.columns], ref_test)

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for day in range(args.skip, args.skip + args.days):
            train, test = day_split(full, day, spec.h, spec.train_tail)
            for name in args.variants.split(","):
                for seed in [int(s) for s in args.seeds.split(",")]:
                    folder = Path(tmp) / f"{day}-{name}-{seed}"
                    result = {**run(name, seed, train, test, overrides, folder), "day": day}
                    runs.append(result)
                    print(
                        f"day -{day} ({test['ds'].iloc[0]:%Y-%m-%d}) {name} seed {seed}: MASE "
                        f"{result['mase']:.3f}, {result['seconds']:.1f} s, best epoch "
                        f"{result['best_epoch']}",
                        file=sys.stderr,
                        flush=True,
                    )
    print(f"elecdemand, seeds {args.seeds}; overrides {overrides or 'none'}")
    print(table(runs))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"overrides": overrides, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
