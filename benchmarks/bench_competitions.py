"""M3 and Tourism: rnnforecast against the competition anchors, with the reference scorer.

    python benchmarks/bench_competitions.py --splits DIR [--sets m3_yearly,m3_quarterly]
        [--dev] [--autoets] [--seeds 0] [--threads 1] [--out DIR] [--set key=value ...]
        [--json benchmarks/out/competitions.json]

DIR holds the competitions' splits as DIR/<set>/{train.csv,test.csv,spec.json} (long
unique_id,ds,y; spec.json gives H, m and freq) for the sets m3_yearly, m3_quarterly, m3_monthly,
tourism_monthly and tourism_quarterly. It does not ship with the repository, so it is required.

For each set and seed, as subprocesses with OMP_NUM_THREADS=1 (or --threads N):

    rnnforecast train <train.csv> --horizon H --seed S --out <model> --quiet [--key value ...]
    rnnforecast predict --model <model> --intervals 20,40,60,80,95 --out <forecast.csv> --quiet

`--set key=value` is passed to train as `--key value` (underscores become dashes; true/false
become `--key` / `--no-key`). Seconds are the wall time of each process, process start and
imports included (train imports torch: about 1.6 s of it on a 2-core machine, see "Start-up" in
benchmarks/README.md).

Scores, all over the test points of every series of the set:

- MASE and sMAPE from the reference scorer (tests/reference/score.py, imported), the set's
  figure being the mean over its series;
- a series without a complete forecast (a test point without a finite y_hat or interval bound)
  is counted as missing, and scored
  with the seasonal-naive forecast (period m, the last m training values repeated) standing in
  for ours: its MASE, its sMAPE and, as every quantile, its WQL terms. The table's "forecast /
  total" says how many series are ours; the second table scores ours, seasonal naive and
  AutoETS on the series we forecast only;
- coverage of the 80 % and 95 % intervals: the share of test points inside [lo, hi], over the
  series we forecast only (a stand-in has no interval);
- WQL as the competitions README defines it (fev's): for q = 0.1, 0.2, ..., 0.9 (interval level L
  gives q = 0.5 - L/200 and 0.5 + L/200, y_hat stands for q = 0.5), the sum over every test
  point of 2 x pinball loss over the sum of |y|, averaged over the nine levels;
- "SNaive here": the seasonal-naive forecast of every series scored the same way. On the test
  split it must equal the README's SeasonalNaive anchor: a check of the split and the scoring.

--autoets also fits statsforecast's AutoETS(season_length=m) on the same training data in this
process (n_jobs=1; fit + predict timed, numba compilation excluded by a warm-up fit on one series
first) and scores it the same way; on the test split its MASE must equal the README's AutoETS
anchor. Needs the optional `bench` extra (pip install -e ".[bench]").

--dev never reads test.csv: it holds out the last H points of each series of train.csv as the
test and trains on the rest. A series with fewer than H + max(H, 2m) points keeps all of them for
training and is left out of the dev score (the count is printed). Use it for all design work; the
test split is for the final report. The anchors are test-split figures, so --dev shows none;
its verdicts compare with AutoETS of the same run (--autoets).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SCORER = REPO / "tests" / "reference"  # score.py, the protocol's scorer, copied verbatim
OUT = REPO / "benchmarks" / "out"

SETS = ("m3_yearly", "m3_quarterly", "m3_monthly", "tourism_monthly", "tourism_quarterly")
LEVELS = (20, 40, 60, 80, 95)  # predict --intervals
WQL_LEVELS = (20, 40, 60, 80)  # quantiles 0.1..0.9 with the point forecast as 0.5

# Copied from the competitions README that ships with the splits (--splits DIR/README.md): its
# "Anchors (MASE)" and "Probabilistic anchors (WQL)" tables, test split. AutoETS and AutoTheta
# were measured with statsforecast 2.1.1 on one CPU thread (AutoETS fit + predict seconds
# below); TiRex is fev's published zero-shot result. Hard-coded so that nothing is parsed.
ANCHORS = {
    "m3_yearly": {
        "SeasonalNaive": 3.172, "AutoETS": 2.695, "AutoTheta": 2.598, "TiRex": 2.710,
        "AutoETS_s": 2, "wql_AutoETS": 0.129, "wql_TiRex": 0.126,
    },
    "m3_quarterly": {
        "SeasonalNaive": 1.425, "AutoETS": 1.143, "AutoTheta": 1.103, "TiRex": 1.154,
        "AutoETS_s": 30, "wql_AutoETS": 0.070, "wql_TiRex": 0.070,
    },
    "m3_monthly": {
        "SeasonalNaive": 1.146, "AutoETS": 0.863, "AutoTheta": 0.861, "TiRex": 0.831,
        "AutoETS_s": 136, "wql_AutoETS": 0.093, "wql_TiRex": 0.090,
    },
    "tourism_monthly": {
        "SeasonalNaive": 1.631, "AutoETS": 1.531, "AutoTheta": 1.656, "TiRex": 1.449,
        "AutoETS_s": 67, "wql_AutoETS": 0.100, "wql_TiRex": 0.075,
    },
    "tourism_quarterly": {
        "SeasonalNaive": 1.699, "AutoETS": 1.599, "AutoTheta": 1.642, "TiRex": 1.606,
        "AutoETS_s": 28, "wql_AutoETS": 0.071, "wql_TiRex": 0.059,
    },
}  # fmt: skip
TIREX_GEOMEAN = 1.433  # the README's geometric mean of TiRex's MASE over the five sets
ANCHOR_COLS = ("SeasonalNaive", "AutoETS", "AutoTheta", "TiRex")
NOTE = (
    "* MASE and WQL over every series of a set: a series we did not forecast is scored as its "
    "seasonal-naive forecast (the 'forecast / total' column counts ours). Coverage: share of "
    "test points inside the interval, over the series we forecast. Seconds: wall time of the "
    "train and predict processes, process start and imports included; AutoETS: fit + predict "
    "in this process, numba compilation excluded."
)


def fail(msg: str) -> None:
    """One line on stderr, exit 2: bad arguments or an incomplete --splits."""
    print(f"bench_competitions: {msg}", file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------------- data


def read_long(path: Path | str) -> pd.DataFrame:
    """unique_id as str, ds as datetime, sorted; as the scorer reads them."""
    df = pd.read_csv(path, dtype={"unique_id": str})
    df["ds"] = pd.to_datetime(df["ds"])
    return df.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def dev_split(train: pd.DataFrame, h: int, m: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The last h points of each long-enough series as the test, the rest as training; a series
    with fewer than h + max(h, 2m) points stays whole in training and out of the test. Returns
    (train, test, number of series left out)."""
    n = train.groupby("unique_id", sort=False)["y"].transform("size")
    pos = train.groupby("unique_id", sort=False).cumcount()
    scored = n >= h + max(h, 2 * m)
    held = scored & (pos >= n - h)
    left_out = int(train.loc[~scored, "unique_id"].nunique())
    return (
        train[~held].reset_index(drop=True),
        train[held].reset_index(drop=True),
        left_out,
    )


def seasonal_naive(train: pd.DataFrame, test: pd.DataFrame, m: int) -> pd.DataFrame:
    """The seasonal-naive forecast of every test point: the value m steps (or a multiple of m)
    before it among the last m training values; m = 1 for a series shorter than m."""
    last = {uid: g["y"].to_numpy(float) for uid, g in train.groupby("unique_id", sort=False)}
    rows = []
    for uid, g in test.groupby("unique_id", sort=False):
        y = last[uid]
        p = m if len(y) >= m else 1
        steps = np.arange(len(g))
        rows.append(
            pd.DataFrame(
                {"unique_id": uid, "ds": g["ds"].to_numpy(), "y_hat": y[len(y) - p + steps % p]}
            )
        )
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------------------- scoring


def band(level: int) -> tuple[str, str]:
    return f"y_hat_lo_{level}", f"y_hat_hi_{level}"


def quantile_cols() -> dict[float, str]:
    """q -> forecast column: level L gives q = 0.5 -+ L/200; y_hat is q = 0.5."""
    cols = {0.5: "y_hat"}
    for level in WQL_LEVELS:
        lo, hi = band(level)
        cols[round(0.5 - level / 200, 3)] = lo
        cols[round(0.5 + level / 200, 3)] = hi
    return dict(sorted(cols.items()))


def wql(y: np.ndarray, frame: pd.DataFrame) -> float:
    """Mean over q = 0.1..0.9 of sum(2 x pinball_q) / sum(|y|), over every test point."""
    denom = float(np.abs(y).sum())
    losses = []
    for q, col in quantile_cols().items():
        err = y - frame[col].to_numpy(float)
        losses.append(2.0 * float(np.maximum(q * err, (q - 1) * err).sum()) / denom)
    return float(np.mean(losses))


def score_forecast(
    train: pd.DataFrame, test: pd.DataFrame, fc: pd.DataFrame | None, m: int, snaive: pd.DataFrame
) -> dict:
    """Score one forecast (columns y_hat, y_hat_lo_L, y_hat_hi_L for LEVELS) on every series of
    test: missing series get the seasonal-naive forecast as every column (see the docstring)."""
    import score

    needed = ["y_hat", *(c for level in LEVELS for c in band(level))]
    if fc is None:  # no forecast at all: every series missing
        fc = test[["unique_id", "ds"]].iloc[:0].assign(**dict.fromkeys(needed, np.nan))
    fc = fc[["unique_id", "ds", *needed]].drop_duplicates(["unique_id", "ds"])
    merged = test.merge(fc, on=["unique_id", "ds"], how="left")
    finite = np.isfinite(merged[needed].apply(pd.to_numeric, errors="coerce").to_numpy(float))
    complete = pd.Series(finite.all(axis=1)).groupby(merged["unique_id"]).all()
    ours = set(complete.index[complete])
    missing = sorted(set(test["unique_id"]) - ours)

    is_ours = merged["unique_id"].isin(ours).to_numpy()
    filled = merged.copy()
    sn = merged[["unique_id", "ds"]].merge(snaive, on=["unique_id", "ds"], how="left")["y_hat"]
    for col in needed:
        filled[col] = np.where(is_ours, pd.to_numeric(filled[col], errors="coerce"), sn)
    per, _ = score.score_frames(train, test, filled[["unique_id", "ds", "y_hat"]], "y_hat", m)
    per["ours"] = per["unique_id"].isin(ours)

    y = merged["y"].to_numpy(float)
    coverage = {}
    for level in (80, 95):
        lo, hi = band(level)
        inside = (merged[lo] <= merged["y"]) & (merged["y"] <= merged[hi])
        coverage[level] = float(inside[is_ours].mean() * 100) if is_ours.any() else math.nan
    return {
        "n_series": int(len(per)),
        "n_forecast": len(ours),
        "missing": missing,
        "mase": float(per["mase"].mean()),
        "smape": float(per["smape"].mean()),
        "mase_ours_only": float(per.loc[per["ours"], "mase"].mean()) if ours else math.nan,
        "coverage_80": coverage[80],
        "coverage_95": coverage[95],
        "wql": wql(y, filled),
        "per_series": per,
    }


# ----------------------------------------------------------------------------- rnnforecast


def rnnforecast_exe() -> list[str]:
    """The rnnforecast of this interpreter's environment, else the one on PATH."""
    here = Path(sys.executable).parent / "rnnforecast"
    if here.is_file():
        return [str(here)]
    found = shutil.which("rnnforecast")
    if found is None:
        fail("no rnnforecast command: install the project first (pip install -e .)")
    return [found]


def set_flags(items: list[str]) -> list[str]:
    """`--set key=value` as train flags: --key value; true/false as --key / --no-key."""
    flags = []
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            fail(f"--set {item!r}: give key=value")
        flag = "--" + key.strip().replace("_", "-")
        if value.lower() in ("true", "yes", "on"):
            flags.append(flag)
        elif value.lower() in ("false", "no", "off"):
            flags.append("--no-" + flag[2:])
        else:
            flags += [flag, value]
    return flags


def timed(cmd: list[str], env: dict) -> tuple[float, int, str]:
    """(wall seconds of the process, exit status, the tail of its stderr)."""
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, done.returncode, "\n".join(done.stderr.strip().splitlines()[-5:])


def run_ours(
    train_csv: Path, h: int, seed: int, flags: list[str], folder: Path, env: dict
) -> tuple[pd.DataFrame | None, float, float, str | None]:
    """Train and predict; returns (forecast or None, train s, predict s, error or None)."""
    exe = rnnforecast_exe()
    folder.mkdir(parents=True, exist_ok=True)
    model, forecast = folder / "model", folder / "forecast.csv"
    cmd = [
        *exe,
        "train",
        str(train_csv),
        "--horizon",
        str(h),
        "--seed",
        str(seed),
        "--out",
        str(model),
        "--quiet",
        *flags,
    ]
    train_s, rc, err = timed(cmd, env)
    if rc != 0:
        return None, train_s, 0.0, f"train exited {rc}: {err}"
    cmd = [
        *exe,
        "predict",
        "--model",
        str(model),
        "--intervals",
        ",".join(map(str, LEVELS)),
        "--out",
        str(forecast),
        "--quiet",
    ]
    predict_s, rc, err = timed(cmd, env)
    if rc != 0:
        return None, train_s, predict_s, f"predict exited {rc}: {err}"
    return read_long(forecast), train_s, predict_s, None


# -------------------------------------------------------------------------------- AutoETS


def have_statsforecast() -> bool:
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        return False
    return True


def run_autoets(train: pd.DataFrame, h: int, m: int, freq: str) -> tuple[pd.DataFrame, float]:
    """AutoETS(season_length=m) on every series, one job; (forecast as ours, fit+predict s)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    def forecast(df: pd.DataFrame) -> pd.DataFrame:
        sf = StatsForecast(models=[AutoETS(season_length=m)], freq=freq, n_jobs=1)
        return sf.forecast(df=df, h=h, level=list(LEVELS))

    data = train[["unique_id", "ds", "y"]]
    forecast(data[data["unique_id"] == data["unique_id"].iloc[0]])  # numba compiles here
    started = time.perf_counter()
    fc = forecast(data)
    seconds = time.perf_counter() - started
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    rename = {"AutoETS": "y_hat"}
    for level in LEVELS:
        lo, hi = band(level)
        rename |= {f"AutoETS-lo-{level}": lo, f"AutoETS-hi-{level}": hi}
    fc = fc.rename(columns=rename)
    fc["unique_id"] = fc["unique_id"].astype(str)
    fc["ds"] = pd.to_datetime(fc["ds"])
    return fc, seconds


# ---------------------------------------------------------------------------------- report


def geomean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values)))) if values else math.nan


def fmt(value: float | None, digits: int = 3) -> str:
    """A table cell: blank for none or NaN."""
    if value is None or math.isnan(value):
        return ""
    return f"{value:.{digits}f}"


def no_nan(obj):
    """NaN as null, so that the JSON file is strict JSON."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [no_nan(v) for v in obj]
    return obj


def tables(rows: list[dict], dev: bool, autoets: bool) -> str:
    """The main table, the table of the series we forecast, and the verdicts."""
    head = ["set", "forecast / total", "MASE*", "SNaive here"]
    if not dev:
        head += [f"{a} (README)" for a in ANCHOR_COLS]
    if autoets:
        head += ["AutoETS here"]
    head += ["cov 80", "cov 95", "WQL*"]
    if not dev:
        head += ["AutoETS WQL (README)", "TiRex WQL (README)"]
    if autoets:
        head += ["AutoETS WQL here"]
    head += ["s train + predict"]
    if autoets:
        head += ["AutoETS s", "s ours / AutoETS"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in rows:
        a = ANCHORS[r["set"]]
        failed = " (failed)" if any(run["error"] for run in r["runs"]) else ""
        cells = [
            r["set"],
            f"{r['n_forecast']} / {r['n_series']}{failed}",
            fmt(r["mase"]),
            fmt(r["snaive_mase"]),
        ]
        if not dev:
            cells += [fmt(a[c]) for c in ANCHOR_COLS]
        if autoets:
            cells += [fmt(r.get("autoets_mase"))]
        cells += [fmt(r["coverage_80"], 1), fmt(r["coverage_95"], 1), fmt(r["wql"])]
        if not dev:
            cells += [fmt(a["wql_AutoETS"]), fmt(a["wql_TiRex"])]
        if autoets:
            cells += [fmt(r.get("autoets_wql"))]
        cells += [f"{r['train_s']:.1f} + {r['predict_s']:.1f}"]
        if autoets:
            ets_s = r.get("autoets_s")
            cells += [fmt(ets_s, 1), fmt(r["seconds"] / ets_s if ets_s else None, 2)]
        lines.append("| " + " | ".join(cells) + " |")

    def gm(key: str) -> float:
        vals = [r[key] for r in rows]
        return geomean(vals) if all(v is not None and not math.isnan(v) for v in vals) else None

    cells = ["**geometric mean**", "", fmt(gm("mase")), fmt(gm("snaive_mase"))]
    if not dev:
        cells += [fmt(geomean([ANCHORS[r["set"]][c] for r in rows])) for c in ANCHOR_COLS]
    if autoets:
        cells += [fmt(gm("autoets_mase"))]
    cells += ["", "", ""]
    if not dev:
        cells += ["", ""]
    if autoets:
        cells += [""]
    total = sum(r["seconds"] for r in rows)
    cells += [f"{total:.1f}"]
    ets_total = sum(r.get("autoets_s") or 0 for r in rows) if autoets else 0
    if autoets:
        have = all(r.get("autoets_s") for r in rows)
        cells += [fmt(ets_total, 1) if have else "", fmt(total / ets_total, 2) if have else ""]
    lines.append("| " + " | ".join(cells) + " |")

    # the series we forecast: ours against seasonal naive and AutoETS on the same series
    lines += ["", "On the series we forecast only (no stand-ins):", ""]
    sub_head = ["set", "series", "ours MASE", "SNaive MASE"]
    if autoets:
        sub_head += ["AutoETS MASE"]
    lines += ["| " + " | ".join(sub_head) + " |", "|---|" + "---:|" * (len(sub_head) - 1)]
    for r in rows:
        cells = [
            r["set"],
            str(r["n_forecast"]),
            fmt(r["mase_ours_only"]),
            fmt(r["snaive_mase_on_ours"]),
        ]
        if autoets:
            cells += [fmt(r.get("autoets_mase_on_ours"))]
        lines.append("| " + " | ".join(cells) + " |")

    # verdicts
    lines += ["", "Verdicts:"]
    for r in rows:
        if dev:
            ref, what = r.get("autoets_mase"), "AutoETS of this run"
        else:
            ref, what = ANCHORS[r["set"]]["AutoETS"], "AutoETS (README)"
        if ref is None:
            verdict = "n/a (no AutoETS in this run)"
        else:
            verdict = f"{'yes' if r['mase'] <= ref else 'no'} ({r['mase']:.3f} vs {ref:.3f})"
        lines.append(f"- {r['set']}: MASE at or below {what}: {verdict}")
    ours_gm = gm("mase")
    if dev:
        lines.append("- geometric mean against TiRex: n/a (TiRex's figures are test-split ones)")
    elif len(rows) == len(SETS):
        ok = "yes" if ours_gm <= TIREX_GEOMEAN else "no"
        lines.append(f"- geometric mean at or below TiRex's {TIREX_GEOMEAN}: {ok} ({ours_gm:.3f})")
    else:
        tirex = geomean([ANCHORS[r["set"]]["TiRex"] for r in rows])
        lines.append(
            f"- geometric mean at or below TiRex's {TIREX_GEOMEAN}: n/a, {len(rows)} of "
            f"{len(SETS)} sets ran (over these sets: ours {ours_gm:.3f}, TiRex {tirex:.3f})"
        )
    train_s = sum(r["train_s"] for r in rows)
    predict_s = sum(r["predict_s"] for r in rows)
    line = f"- total seconds: ours {total:.1f} (train {train_s:.1f} + predict {predict_s:.1f})"
    if autoets and all(r.get("autoets_s") for r in rows):
        line += f"; AutoETS {ets_total:.1f}; ours / AutoETS {total / ets_total:.2f}"
    lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ main


def run_set(name: str, args: argparse.Namespace, flags: list[str], env: dict, work: Path) -> dict:
    folder = args.splits / name
    spec = json.loads((folder / "spec.json").read_text())
    h, m, freq = int(spec["H"]), int(spec["m"]), spec["freq"]
    train = read_long(folder / "train.csv")
    row: dict = {"set": name, "split": "dev" if args.dev else "test", "H": h, "m": m}
    if args.dev:
        train, test, left_out = dev_split(train, h, m)
        (work / "split").mkdir(parents=True, exist_ok=True)
        train_csv = work / "split" / "train.csv"
        train.assign(ds=train["ds"].dt.strftime("%Y-%m-%d")).to_csv(train_csv, index=False)
        test.assign(ds=test["ds"].dt.strftime("%Y-%m-%d")).to_csv(
            work / "split" / "test.csv", index=False
        )
        row["dev_left_out"] = left_out
        print(
            f"{name} --dev: the last {h} points of each series held out; {left_out} series "
            f"shorter than {h + max(h, 2 * m)} points kept whole for training, not scored",
            file=sys.stderr,
            flush=True,
        )
    else:
        test = read_long(folder / "test.csv")
        train_csv = folder / "train.csv"
    snaive = seasonal_naive(train, test, m)
    sn = score_forecast(
        train,
        test,
        snaive.assign(**{c: snaive["y_hat"] for lv in LEVELS for c in band(lv)}),
        m,
        snaive,
    )
    row["snaive_mase"] = sn["mase"]

    runs = []
    for seed in args.seed_list:
        fc, train_s, predict_s, error = run_ours(
            train_csv, h, seed, flags, work / f"seed{seed}", env
        )
        if error:
            print(f"{name} seed {seed}: {error}", file=sys.stderr, flush=True)
        s = score_forecast(train, test, fc, m, snaive)
        per = s.pop("per_series")
        if args.out:
            per.to_csv(work / f"seed{seed}" / "scores.csv", index=False)
        sn_per = sn["per_series"].set_index("unique_id")["mase"]
        ours = per.loc[per["ours"], "unique_id"]
        s["snaive_mase_on_ours"] = float(sn_per[ours].mean()) if len(ours) else math.nan
        s |= {
            "seed": seed,
            "train_s": train_s,
            "predict_s": predict_s,
            "seconds": train_s + predict_s,
            "error": error,
        }
        runs.append(s)
        print(
            f"{name} seed {seed}: {s['n_forecast']}/{s['n_series']} series forecast, MASE "
            f"{s['mase']:.3f} (missing as seasonal naive), train {train_s:.1f} s, predict "
            f"{predict_s:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    keys = (
        "mase",
        "smape",
        "mase_ours_only",
        "snaive_mase_on_ours",
        "coverage_80",
        "coverage_95",
        "wql",
        "train_s",
        "predict_s",
        "seconds",
    )
    for key in keys:
        row[key] = float(np.mean([r[key] for r in runs]))
    row["n_series"] = runs[0]["n_series"]
    row["n_forecast"] = min(r["n_forecast"] for r in runs)
    row["missing"] = sorted({uid for r in runs for uid in r["missing"]})
    row["runs"] = [{k: v for k, v in r.items() if k != "missing"} for r in runs]

    if args.autoets and args.have_sf:
        fc, seconds = run_autoets(train, h, m, freq)
        if args.out:
            fc.to_csv(work / "autoets.csv", index=False)
        ets = score_forecast(train, test, fc, m, snaive)
        per = ets.pop("per_series")
        ours_ids = set(test["unique_id"]) - set(row["missing"])
        row |= {
            "autoets_mase": ets["mase"],
            "autoets_smape": ets["smape"],
            "autoets_wql": ets["wql"],
            "autoets_coverage_80": ets["coverage_80"],
            "autoets_coverage_95": ets["coverage_95"],
            "autoets_n_forecast": ets["n_forecast"],
            "autoets_mase_on_ours": float(per.loc[per["unique_id"].isin(ours_ids), "mase"].mean()),
            "autoets_s": seconds,
        }
        print(
            f"{name} AutoETS: MASE {ets['mase']:.3f}, WQL {ets['wql']:.3f}, {seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--splits",
        type=Path,
        metavar="DIR",
        help="the splits: DIR/<set>/{train,test}.csv, spec.json",
    )
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated, of " + ",".join(SETS))
    ap.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="keep models, forecasts and per-series scores here (default: a "
        "temporary directory, deleted)",
    )
    ap.add_argument(
        "--dev", action="store_true", help="score on train.csv's last H points; test.csv unread"
    )
    ap.add_argument(
        "--autoets",
        action="store_true",
        help="also fit statsforecast's AutoETS (the optional bench extra)",
    )
    ap.add_argument("--seeds", default="0", help="comma-separated seeds; figures are their mean")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of rnnforecast")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="passed to train as --key value, e.g. --set hidden_size=32",
    )
    ap.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="write every figure here (default: benchmarks/out/competitions.json, "
        "competitions-dev.json with --dev)",
    )
    args = ap.parse_args()

    if args.splits is None:
        fail("give --splits DIR, the competitions' splits (they do not ship with the repository)")
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    for name in names:
        if name not in SETS:
            fail(f"--sets: unknown set {name!r} (known: {', '.join(SETS)})")
        files = ["train.csv", "spec.json"] + ([] if args.dev else ["test.csv"])
        lacking = [f for f in files if not (args.splits / name / f).is_file()]
        if lacking:
            fail(f"--splits {args.splits}: no {name}/{lacking[0]} there")
    try:
        args.seed_list = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        fail(f"--seeds {args.seeds!r}: give comma-separated integers")
    if args.threads < 1:
        fail("--threads: give 1 or more")
    flags = set_flags(args.set)
    sys.path.insert(0, str(SCORER))
    args.have_sf = args.autoets and have_statsforecast()
    if args.autoets and not args.have_sf:
        print(
            '--autoets: statsforecast is not installed (pip install -e ".[bench]"); '
            "going on without AutoETS"
        )

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.out if args.out else Path(tmp)
        for name in names:
            work = base / name / ("dev" if args.dev else "test")
            rows.append(run_set(name, args, flags, env, work))

    path = args.json or OUT / ("competitions-dev.json" if args.dev else "competitions.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "split": "dev" if args.dev else "test",
        "seeds": args.seed_list,
        "train_flags": flags,
        "threads": args.threads,
        "autoets": args.have_sf,
    }
    path.write_text(json.dumps(no_nan({**meta, "rows": rows}), indent=2) + "\n")

    split = "dev split (last H points of train.csv)" if args.dev else "test split"
    print(
        f"{split}; seeds {args.seeds}; train flags {' '.join(flags) or 'none'}; "
        f"OMP_NUM_THREADS={args.threads}"
    )
    print(tables(rows, args.dev, args.have_sf))
    print()
    print(NOTE)
    if args.dev:
        left = ", ".join(f"{r['set']} {r['dev_left_out']}" for r in rows)
        print(
            f"--dev: series too short to hold out H points, kept for training and not scored: "
            f"{left}"
        )

    if any(r["error"] for row in rows for r in row["runs"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
