"""Prediction-interval coverage on the public datasets: nominal against empirical.

    python benchmarks/bench_intervals.py --data-dir DATA --protocol-dir PROTOCOL
                                         [--datasets AirPassengers,taylor] [--levels 80,95]
                                         [--seeds 0] [--set key=value ...]
                                         [--json benchmarks/out/intervals.json]

DATA holds the datasets as DATA/<name>.csv, PROTOCOL the protocol's split.py (see
bench_accuracy.py). For each dataset: split.py holds out the protocol's test (the last H points
of each series, never looked at here); on the rest (train.csv) a rolling-origin
backtest (FOLDS below: 6-10 cut-offs, each forecasting the protocol's H) trains the default
model before every cut-off and forecasts H steps with intervals at the levels given. A fold's
errors move together (one bad forecast puts a whole horizon outside), so a few folds measure
coverage poorly: 3 folds gave single-fold coverages from 17 % to 100 %. Printed per dataset and
level: the share of actuals inside (coverage), the mean width over the MASE scale (comparable
across datasets), the mean scaled interval score (MSIS, M4's: width plus 2 / alpha times each
miss, over the MASE scale; lower is better, and it ranks calibrations that coverage alone cannot),
and the mean over datasets, and which levels are more than 5 points from nominal.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench_accuracy import add_protocol_args, parse_sets, use_protocol

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
DATASETS = "AirPassengers,nottem,sunspot_month,elecdemand,taylor,visnights"
# (folds, step between cut-offs) per dataset: as many as the training part holds before the
# first cut-off leaves too little to train on (AirPassengers: 126 points)
FOLDS = {
    "AirPassengers": (6, 6),
    "nottem": (8, 9),
    "sunspot_month": (10, 18),
    "elecdemand": (10, 48),
    "taylor": (10, 48),
    "visnights": (6, 4),
}


def run_dataset(
    name: str, levels: tuple[int, ...], overrides: dict, workdir: Path, data_dir: Path
) -> dict:
    """Split one dataset, backtest on its training part; coverage and width per level."""
    import split

    from rnnforecast import pipeline
    from rnnforecast.config import Config

    spec = split.DATASETS[name]
    split.write_split(str(data_dir / f"{name}.csv"), spec, str(workdir))
    folder = workdir / name
    folds, step = FOLDS.get(name, (3, spec.h))
    settings = {
        "horizon": spec.h, "folds": folds, "step": step, "max_plots": 0, "intervals": list(levels),
    }  # fmt: skip
    cfg = Config.load(None, {**settings, **overrides})
    started = time.perf_counter()
    result = pipeline.backtest(folder / "train.csv", cfg, folder / "report")
    doc = result.document
    return {
        "dataset": name,
        "points": doc["points_scored"],
        "mase": doc["overall"]["model"]["mase"],
        "seconds": time.perf_counter() - started,
        "levels": {
            level: {k: v for k, v in block.items() if k not in ("per_fold", "per_step")}
            | {"per_fold_coverage": [f["coverage"] for f in block["per_fold"]]}
            for level, block in doc["intervals"].items()
        },
    }


def mean_over_seeds(runs: list[dict]) -> dict:
    """One row from the runs of several seeds: the mean of every figure."""

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    levels = runs[0]["levels"]
    return {
        "dataset": runs[0]["dataset"],
        "points": runs[0]["points"],
        "mase": mean([r["mase"] for r in runs]),
        "seconds": mean([r["seconds"] for r in runs]),
        "levels": {
            level: {
                key: mean([r["levels"][level][key] for r in runs])
                for key in ("coverage", "mean_width", "mean_scaled_width", "msis")
            }
            for level in levels
        },
        "runs": runs,
    }


def table(rows: list[dict], levels: tuple[int, ...]) -> str:
    """Markdown: per dataset and level, coverage (nominal beside it) and widths."""
    head = ["dataset", "points", "MASE"]
    for level in levels:
        head += [f"{level}% coverage", f"{level}% width / scale", f"{level}% MSIS"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in rows:
        cells = [r["dataset"], str(r["points"]), f"{r['mase']:.3f}"]
        for level in levels:
            b = r["levels"][str(level)]
            cells += [
                f"{100 * b['coverage']:.1f}",
                f"{b['mean_scaled_width']:.2f}",
                f"{b['msis']:.2f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["**mean over datasets**", "", ""]
    for level in levels:
        cov = [r["levels"][str(level)]["coverage"] for r in rows]
        scaled = [r["levels"][str(level)]["mean_scaled_width"] for r in rows]
        msis = [r["levels"][str(level)]["msis"] for r in rows]
        cells += [
            f"**{100 * sum(cov) / len(cov):.1f}**",
            f"{sum(scaled) / len(scaled):.2f}",
            f"{sum(msis) / len(msis):.2f}",
        ]
    lines.append("| " + " | ".join(cells) + " |")
    misses = [
        f"{r['dataset']} {level}%: {100 * r['levels'][str(level)]['coverage']:.1f}"
        for r in rows
        for level in levels
        if abs(100 * r["levels"][str(level)]["coverage"] - level) > 5
    ]
    lines.append("")
    lines.append("more than 5 points from nominal: " + (", ".join(misses) if misses else "none"))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_protocol_args(ap)
    ap.add_argument("--datasets", default=DATASETS)
    ap.add_argument("--levels", default="80,95", help="interval levels in percent")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override, e.g. --set cell=gru (YAML value)")  # fmt: skip
    ap.add_argument("--seeds", default="0", help="comma-separated seeds; figures are their mean")
    ap.add_argument("--json", type=Path, default=OUT / "intervals.json")
    args = ap.parse_args()
    use_protocol(ap, args, "split.py")
    levels = tuple(sorted({int(v) for v in args.levels.split(",")}))
    overrides = parse_sets(args.set)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            runs = []
            for seed in [int(s) for s in args.seeds.split(",")]:
                run = run_dataset(
                    name, levels, {**overrides, "seed": seed}, Path(tmp), args.data_dir
                )
                runs.append(run)
                covered = ", ".join(
                    f"{level}%: {100 * b['coverage']:.1f}" for level, b in run["levels"].items()
                )
                print(f"{name} seed {seed}: coverage {covered}, {run['seconds']:.1f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
            rows.append(mean_over_seeds(runs))
    print(f"backtest of FOLDS on train.csv; mean over seeds {args.seeds}; "
          f"overrides {overrides or 'none'}")  # fmt: skip
    print(table(rows, levels))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"levels": list(levels), "overrides": overrides, "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
