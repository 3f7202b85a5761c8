# Verbatim copy of the benchmark protocol's reference scorer (score.py, protocol v1), kept
# here so the agreement test runs wherever the tests run. Do not edit; re-copy it.
"""Score H-step forecasts exactly as the benchmark scores the peers (numpy + pandas only).

    python score.py --train splits/AirPassengers/train.csv --test splits/AirPassengers/test.csv \
        --forecast my_forecasts.csv --col yhat --m 12 [--per-series] [--json]

train/test: columns unique_id, ds, y (as written by split.py). forecast: unique_id, ds and the
forecast column named by --col, one row for every (unique_id, ds) of the test file.

Per series: MASE (MAE over the in-sample MAE of the seasonal naive with period m on the training
data; m = 1 when the training series has m or fewer points), sMAPE (M4: mean of
200 * |y - f| / (|y| + |f|), a term counted 0 when both are 0), MAE and RMSE.
Per dataset: the mean over series of each of the four.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd


def mase_scale(y_train: np.ndarray, m: int) -> float:
    """In-sample MAE of the seasonal naive forecast with period m (m=1 if the series is short)."""
    if len(y_train) <= m:
        m = 1
    if len(y_train) <= m:
        return float("nan")
    return float(np.mean(np.abs(y_train[m:] - y_train[:-m])))


def smape(y: np.ndarray, f: np.ndarray) -> float:
    num = np.abs(y - f)
    den = np.abs(y) + np.abs(f)
    terms = np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)
    return float(200.0 * np.mean(terms))


def series_metrics(y_train: np.ndarray, y: np.ndarray, f: np.ndarray, m: int) -> dict:
    err = y - f
    mae = float(np.mean(np.abs(err)))
    scale = mase_scale(y_train, m)
    mase = mae / scale if scale > 0 else float("nan")
    return {
        "mase": mase,
        "smape": smape(y, f),
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(err**2))),
    }


def _read(path_or_df, what: str) -> pd.DataFrame:
    df = pd.read_csv(path_or_df, dtype={"unique_id": str}) if isinstance(path_or_df, str) else path_or_df
    missing = {"unique_id", "ds"} - set(df.columns)
    if missing:
        raise ValueError(f"{what}: missing column(s) {sorted(missing)}")
    df = df.copy()
    df["unique_id"] = df["unique_id"].astype(str)
    df["ds"] = pd.to_datetime(df["ds"])
    return df


def score_frames(train, test, forecast, col: str, m: int) -> tuple[pd.DataFrame, dict]:
    """Return (per-series metrics, dataset summary). Inputs are paths or DataFrames."""
    train = _read(train, "train")
    test = _read(test, "test")
    fc = _read(forecast, "forecast")
    if col not in fc.columns:
        raise ValueError(f"forecast: no column {col!r} (have {list(fc.columns)})")
    if fc.duplicated(["unique_id", "ds"]).any():
        raise ValueError("forecast: duplicated (unique_id, ds) rows")
    fc = fc[["unique_id", "ds", col]].rename(columns={col: "_forecast"})  # col may be "y"
    col = "_forecast"
    fc[col] = pd.to_numeric(fc[col], errors="coerce").where(lambda v: np.isfinite(v))
    merged = test.merge(fc, on=["unique_id", "ds"], how="left")
    if merged[col].isna().any():
        bad = merged[merged[col].isna()].iloc[0]
        n = int(merged[col].isna().sum())
        raise ValueError(
            f"forecast: {n} test point(s) without a finite forecast, "
            f"first {bad['unique_id']} at {bad['ds']}"
        )
    train = train.sort_values(["unique_id", "ds"], kind="stable")
    tr = {k: g["y"].to_numpy(float) for k, g in train.groupby("unique_id", sort=False)}
    rows = []
    for uid, g in merged.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True):
        if uid not in tr:
            raise ValueError(f"train: no rows for series {uid!r}")
        met = series_metrics(tr[uid], g["y"].to_numpy(float), g[col].to_numpy(float), m)
        rows.append({"unique_id": uid, "h": len(g), **met})
    per = pd.DataFrame(rows)
    summary = {
        "n_series": int(len(per)),
        "mase": float(per["mase"].mean()),  # NaN-skipping mean; NaN only for a constant train
        "smape": float(per["smape"].mean()),
        "mae": float(per["mae"].mean()),
        "rmse": float(per["rmse"].mean()),
        "n_series_mase_undefined": int(per["mase"].isna().sum()),
    }
    return per, summary


def main() -> int:
    ap = argparse.ArgumentParser(description="Score forecasts as the benchmark does.")
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--forecast", required=True)
    ap.add_argument("--col", required=True, help="forecast column name")
    ap.add_argument("--m", type=int, required=True, help="seasonal period for MASE's scale")
    ap.add_argument("--per-series", action="store_true", help="also print each series")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    try:
        per, summary = score_frames(args.train, args.test, args.forecast, args.col, args.m)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.per_series:
        print(per.to_string(index=False))
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"series={summary['n_series']} MASE={summary['mase']:.4f} "
            f"sMAPE={summary['smape']:.4f} MAE={summary['mae']:.6g} RMSE={summary['rmse']:.6g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
