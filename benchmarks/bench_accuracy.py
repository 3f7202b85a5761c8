"""Accuracy and wall time on the public datasets, with the benchmark protocol and its scorer.

    python benchmarks/bench_accuracy.py --data-dir DATA --protocol-dir PROTOCOL
                                        [--datasets AirPassengers,taylor] [--set key=value ...]
                                        [--seeds 0,1,2] [--json benchmarks/out/accuracy.json]

DATA holds the datasets as DATA/<name>.csv; PROTOCOL the protocol's split.py and peers.json
(neither ships with the repository, so both are required). For each dataset: split.py holds out
the last H points of each series; rnnforecast trains on train.csv with its default settings
(plus `--horizon H`, the protocol's horizon, and any `--set` overrides), writes its model
directory, forecasts from the stored tail, and the reference scorer (tests/reference/score.py)
scores the forecasts. Seconds are the wall time of train + predict in this process (imports
excluded), as the peers' are. No covariates are used.

Printed beside ours: seasonal naive, the best RNN peer (NeuralForecast or darts) and
NeuralForecast LSTM's seconds, from peers.json; "beats" means MASE below seasonal naive and at
or below the best RNN peer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCORER = REPO / "tests" / "reference"  # score.py, the protocol's scorer, copied verbatim
OUT = REPO / "benchmarks" / "out"
RNN_PEERS = (
    "NF-LSTM",
    "NF-GRU",
    "NF-RNN",
    "darts-RNN-LSTM",
    "darts-RNN-GRU",
    "darts-BlockRNN-LSTM",
)


def add_protocol_args(ap: argparse.ArgumentParser) -> None:
    """The two directories every dataset benchmark reads. No defaults: neither ships with the
    repository; `use_protocol` refuses a run without them."""
    ap.add_argument("--data-dir", type=Path, metavar="DIR",
                    help="the public datasets as long CSV files, DIR/<name>.csv")  # fmt: skip
    ap.add_argument("--protocol-dir", type=Path, metavar="DIR",
                    help="the benchmark protocol's split.py and peers.json")  # fmt: skip


def use_protocol(ap: argparse.ArgumentParser, args: argparse.Namespace, *needed: str) -> None:
    """Refuse missing or incomplete directories in one line; then make split.py and score.py
    importable."""
    if args.data_dir is None or args.protocol_dir is None:
        ap.error(
            "give --data-dir DIR (the datasets) and --protocol-dir DIR (the benchmark "
            "protocol's split.py and peers.json); they do not ship with the repository"
        )
    if not args.data_dir.is_dir():
        ap.error(f"--data-dir {args.data_dir}: not a directory")
    for name in needed:
        if not (args.protocol_dir / name).is_file():
            ap.error(f"--protocol-dir {args.protocol_dir}: no {name} there")
    sys.path[:0] = [str(args.protocol_dir), str(SCORER)]


def run_dataset(name: str, overrides: dict, workdir: Path, data_dir: Path) -> dict:
    """Split, train, predict and score one dataset; returns its scores and seconds."""
    import score
    import split
    import torch  # noqa: F401  imports are not timed, as for the peers

    from rnnforecast import pipeline, train  # noqa: F401
    from rnnforecast.config import Config

    spec = split.DATASETS[name]
    split.write_split(str(data_dir / f"{name}.csv"), spec, str(workdir))
    folder = workdir / name
    cfg = Config.load(None, {"horizon": spec.h, **overrides})
    started = time.perf_counter()
    trained = pipeline.train(folder / "train.csv", folder / "model", cfg)
    predicted = pipeline.predict(folder / "model", out=folder / "forecast.csv")
    seconds = time.perf_counter() - started
    _, summary = score.score_frames(
        str(folder / "train.csv"), str(folder / "test.csv"), str(folder / "forecast.csv"),
        "y_hat", spec.m,
    )  # fmt: skip
    return {
        "dataset": name,
        "mase": summary["mase"],
        "smape": summary["smape"],
        "seconds": seconds,
        "epochs": len(trained.history.rows),
        "best_epoch": trained.history.best_epoch,
        "series": predicted.series,
    }


# relative: a model that forecasts exactly seasonal naive (its skip's start, kept) scores within
# 1e-8 of statsforecast's SeasonalNaive (float32 against float64), so "below" needs more
TIE = 1e-6


def peer_figures(name: str, protocol_dir: Path) -> dict:
    """Seasonal naive, the best RNN peer and NF-LSTM from peers.json."""
    models = json.loads((protocol_dir / "peers.json").read_text())["datasets"][name]["models"]
    ok = {k: v for k, v in models.items() if v.get("status") == "ok"}
    best = min((k for k in RNN_PEERS if k in ok), key=lambda k: ok[k]["mase"])
    return {
        "snaive": ok["SeasonalNaive"]["mase"],
        "best_rnn": best,
        "best_rnn_mase": ok[best]["mase"],
        "nf_lstm_mase": ok["NF-LSTM"]["mase"],
        "nf_lstm_seconds": ok["NF-LSTM"]["seconds"],
    }


def table(rows: list[dict]) -> str:
    """Markdown: per dataset the mean over seeds (and the range), beside the peers."""
    lines = [
        "| dataset | SNaive | best RNN peer | NF-LSTM | ours MASE (range over seeds) | ours sMAPE "
        "| beats SNaive and best RNN peer | beats NF-LSTM | ours s | NF-LSTM s |",
        "|---|---:|---|---:|---:|---:|:---:|:---:|---:|---:|",
    ]
    for r in rows:
        beats = r["mase"] < r["snaive"] * (1 - TIE) and r["mase"] <= r["best_rnn_mase"]
        lines.append(
            f"| {r['dataset']} | {r['snaive']:.3f} | {r['best_rnn_mase']:.3f} ({r['best_rnn']}) "
            f"| {r['nf_lstm_mase']:.3f} "
            f"| {r['mase']:.3f} ({r['mase_min']:.3f}-{r['mase_max']:.3f}) "
            f"| {r['smape']:.2f} | {'yes' if beats else 'no'} "
            f"| {'yes' if r['mase'] <= r['nf_lstm_mase'] else 'no'} "
            f"| {r['seconds']:.1f} | {r['nf_lstm_seconds']:.1f} |"
        )
    ours = sum(r["seconds"] for r in rows)
    nf = sum(r["nf_lstm_seconds"] for r in rows)
    lines.append(f"| **total** | | | | | | | | {ours:.1f} | {nf:.1f} |")
    lines.append("")
    lines.append(f"seconds ours / NF-LSTM: {ours / nf:.3f}")
    return "\n".join(lines)


def mean_over_seeds(runs: list[dict]) -> dict:
    """One row from the runs of several seeds: means, and the range of MASE."""
    mase = [r["mase"] for r in runs]
    return {
        **runs[0],
        "mase": sum(mase) / len(mase),
        "mase_min": min(mase),
        "mase_max": max(mase),
        "smape": sum(r["smape"] for r in runs) / len(runs),
        "seconds": sum(r["seconds"] for r in runs) / len(runs),
        "runs": runs,
    }


def parse_sets(items: list[str]) -> dict:
    """`--set key=value` options as config overrides (values read as YAML); the benchmarks
    beside this one take theirs the same way."""
    return {key: yaml.safe_load(value) for key, _, value in (s.partition("=") for s in items)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_protocol_args(ap)
    ap.add_argument(
        "--datasets", default="AirPassengers,nottem,sunspot_month,elecdemand,taylor,visnights"
    )
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override, e.g. --set cell=gru (YAML value)")  # fmt: skip
    ap.add_argument("--seeds", default="0", help="comma-separated seeds; figures are their mean")
    ap.add_argument("--json", type=Path, default=OUT / "accuracy.json")
    args = ap.parse_args()
    use_protocol(ap, args, "split.py", "peers.json")
    overrides = parse_sets(args.set)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            runs = []
            for seed in [int(s) for s in args.seeds.split(",")]:
                run = run_dataset(name, {**overrides, "seed": seed}, Path(tmp), args.data_dir)
                runs.append(run)
                print(
                    f"{name} seed {seed}: MASE {run['mase']:.3f}, {run['seconds']:.1f} s, "
                    f"epochs {run['epochs']} (best {run['best_epoch']})",
                    file=sys.stderr,
                    flush=True,
                )
            rows.append({**mean_over_seeds(runs), **peer_figures(name, args.protocol_dir)})
    print(f"mean over seeds {args.seeds}; overrides {overrides or 'none'}")
    print(table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"overrides": overrides, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
