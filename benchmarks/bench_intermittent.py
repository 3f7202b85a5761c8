"""Intermittent demand: a catalogue of series whose expected demand is known, forecast with the
default settings, beside zero, Croston, SBA, TSB, ADIDA and the expected demand itself.

    python benchmarks/bench_intermittent.py [--seed 0] [--series 200] [--smooth 20]
                                            [--days 300] [--horizon 14] [--rate 0.05,0.5]
                                            [--size 0,2.5] [--set key=value ...]
                                            [--json benchmarks/out/intermittent.json]

The catalogue (drawn with --seed): `--series` daily SKUs, each with a demand on a day with
probability p ~ U(rate) (Bernoulli occurrence) and, on such a day, 1 + Poisson(lam) units,
lam ~ U(size) (a shifted Poisson size), drawn once per series, so the expected demand of a day
is p (1 + lam), constant; plus `--smooth` series with a demand every day (p = 1, lam ~ U(3, 10))
for contrast. Each series has `--days` training days and `--horizon` days held out.

rnnforecast trains on the training days with its defaults and `--horizon` only (and any `--set`
overrides), then forecasts with 80 % and 95 % intervals. Printed per forecaster, over the
intermittent series (the smooth ones on a line of their own): RMSSE (M5's metric: the RMSE
over the held-out days over the in-sample naive RMSE, mean over series), MAE, bias (the sum of
the forecasts against the sum of the expected demand, in percent), the share of negative
forecasts and, for the model, interval coverage and the share of negative lower bounds.
"Expected" forecasts the true expected demand: the best a forecaster can do on average.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
LEVELS = (80, 95)


def catalogue(args: argparse.Namespace) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(long frame of every day, [S] expected daily demand, [S] whether intermittent)."""
    rng = np.random.default_rng(args.seed)
    total = args.days + args.horizon
    lo_p, hi_p = args.rate
    lo_s, hi_s = args.size
    p = np.concatenate([rng.uniform(lo_p, hi_p, args.series), np.ones(args.smooth)])
    lam = np.concatenate([rng.uniform(lo_s, hi_s, args.series), rng.uniform(3, 10, args.smooth)])
    occurs = rng.random((len(p), total)) < p[:, None]
    sizes = 1 + rng.poisson(np.repeat(lam[:, None], total, axis=1))
    y = np.where(occurs, sizes, 0).astype(float)
    ids = [f"sku{i:04d}" for i in range(len(p))]
    ds = pd.date_range("2024-01-01", periods=total, freq="D")
    frame = pd.DataFrame(
        {"unique_id": np.repeat(ids, total), "ds": np.tile(ds, len(p)), "y": y.reshape(-1)}
    )
    intermittent = np.arange(len(p)) < args.series
    return frame, p * (1 + lam), intermittent


def scores(
    y: np.ndarray, f: np.ndarray, train: np.ndarray, expected: np.ndarray
) -> dict[str, float]:
    """RMSSE, MAE and bias of forecasts f [S, H] of actuals y [S, H] (training part [S, T],
    expected demand [S])."""
    from rnnforecast import metrics

    scale = np.sqrt(np.mean(np.diff(train, axis=1) ** 2, axis=1))
    return {
        "rmsse": float(np.nanmean(metrics.rmsse(y, f, scale))),
        "mae": float(np.mean(metrics.mae(y, f))),
        "bias_pct": float(100 * (f.sum() / (expected.sum() * f.shape[1]) - 1)),
        "negative_pct": float(100 * np.mean(f < 0)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="draws the catalogue (and trains)")
    ap.add_argument("--series", type=int, default=200, help="intermittent series")
    ap.add_argument("--smooth", type=int, default=20, help="smooth series, for contrast")
    ap.add_argument("--days", type=int, default=300, help="training days per series")
    ap.add_argument("--horizon", type=int, default=14, help="days held out and forecast")
    ap.add_argument("--rate", default="0.05,0.5", help="range of the chance of a demand a day")
    ap.add_argument("--size", default="0,2.5", help="range of lam: a demand is 1 + Poisson(lam)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting passed to training, e.g. --set loss=mae")  # fmt: skip
    ap.add_argument("--json", type=Path, default=OUT / "intermittent.json", metavar="PATH")
    args = ap.parse_args()
    try:
        args.rate = tuple(float(v) for v in args.rate.split(","))
        args.size = tuple(float(v) for v in args.size.split(","))
    except ValueError:
        ap.error("--rate and --size: give two numbers, low,high")
    if len(args.rate) != 2 or len(args.size) != 2:
        ap.error("--rate and --size: give two numbers, low,high")

    import yaml

    from rnnforecast import baselines, pipeline
    from rnnforecast.config import Config

    overrides: dict = {"horizon": args.horizon, "seed": args.seed}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    frame, expected, intermittent = catalogue(args)
    total = args.days + args.horizon
    y_all = frame["y"].to_numpy().reshape(-1, total)
    train, test = y_all[:, : args.days], y_all[:, args.days :]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.csv"
        cut = frame["ds"] < frame["ds"].min() + pd.Timedelta(days=args.days)
        frame[cut].assign(ds=frame["ds"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
        cfg = Config.load(None, overrides)
        started = time.perf_counter()
        trained = pipeline.train(path, Path(tmp) / "model", cfg, on_note=lambda m: print(m))
        predicted = pipeline.predict(Path(tmp) / "model", levels=LEVELS)
        seconds = time.perf_counter() - started
    fc = predicted.forecasts.sort_values(["unique_id", "ds"])
    ours = fc["y_hat"].to_numpy().reshape(-1, args.horizon)
    history = train[:, -baselines.MEAN_HISTORY :]
    forecasts = {
        "rnnforecast": ours,
        "zero": np.zeros_like(ours),
        **{
            name: baselines.INTERMITTENT[name](history, args.horizon)
            for name in ("croston", "sba", "tsb", "adida")
        },
        "expected": np.repeat(expected[:, None], args.horizon, axis=1),
    }
    rows = {}
    for name, f in forecasts.items():
        rows[name] = scores(test[intermittent], f[intermittent], train[intermittent],
                            expected[intermittent])  # fmt: skip
        if (~intermittent).any():
            smooth = scores(test[~intermittent], f[~intermittent], train[~intermittent],
                            expected[~intermittent])  # fmt: skip
            rows[name]["smooth_rmsse"] = smooth["rmsse"]
    inside = {}
    for level in LEVELS:
        lo = fc[f"y_hat_lo_{level}"].to_numpy().reshape(-1, args.horizon)
        hi = fc[f"y_hat_hi_{level}"].to_numpy().reshape(-1, args.horizon)
        inside[level] = {
            "coverage_pct": float(100 * np.mean((lo <= test) & (test <= hi))),
            "negative_lower_pct": float(100 * np.mean(lo < 0)),
        }

    print(
        f"\ncatalogue: seed {args.seed}, {args.series} intermittent series (p ~ U{args.rate}, "
        f"1 + Poisson(lam ~ U{args.size})), {args.smooth} smooth; {args.days} days, horizon "
        f"{args.horizon}; train + predict {seconds:.1f} s\n"
    )
    print("| forecaster | RMSSE | MAE | bias % | negative % | smooth RMSSE |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        smooth = f"{r['smooth_rmsse']:.3f}" if "smooth_rmsse" in r else ""
        print(f"| {name} | {r['rmsse']:.3f} | {r['mae']:.3f} | {r['bias_pct']:+.1f} "
              f"| {r['negative_pct']:.1f} | {smooth} |")  # fmt: skip
    print()
    for level, c in inside.items():
        print(f"{level} % intervals: coverage {c['coverage_pct']:.1f} %, lower bounds below 0: "
              f"{c['negative_lower_pct']:.1f} %")  # fmt: skip
    notes = [n for n in trained.notes if "intermittent" in n]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "seed": args.seed, "series": args.series, "smooth": args.smooth, "days": args.days,
        "horizon": args.horizon, "rate": args.rate, "size": args.size, "set": args.set,
        "seconds": seconds, "scores": rows, "intervals": inside, "notes": notes,
    }, indent=1))  # fmt: skip
    print(f"\nwritten: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
