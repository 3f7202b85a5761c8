"""Choices the data decides: made on the validation windows, never on data the user scores.

The network's forecast is blended with a simple forecast (naive, seasonal naive, drift or
Theta) where that does better on validation: each simple forecast at each share of SHARES is
scored by MASE (mean over series, each series' errors over its own scale), and the best is
kept; a share of 1 is the simple forecast alone, where the network loses to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnforecast import baselines, metrics

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the simple forecast's shares tried: a coarse grid
# resists fitting the noise of few validation windows


def blend(
    forecasts: dict[str, np.ndarray],
    y: np.ndarray,
    series: np.ndarray,
    mase_scales: np.ndarray,
    asked: str = "auto",
    share: float | None = None,
) -> tuple[str, float, dict[str, Any]]:
    """(simple forecast, its share, the validation MASE of every pair tried) for the network's
    validation forecasts `forecasts["network"]` and the simple ones beside it (`y` [W, H] the
    targets of windows of `series` [W]). `asked` and `share` pin what the user gave; without
    validation windows, the network alone (or the simple forecast asked for, at `share`)."""
    if asked == "none":
        return "none", 0.0, {}
    names = list(baselines.SIMPLE) if asked == "auto" else [asked]
    shares = SHARES if share is None else (share,)
    if not len(series):
        return ("none", 0.0, {}) if asked == "auto" else (asked, share or 0.5, {})
    network = forecasts["network"]
    scores: dict[str, Any] = {"network": _mase(y, network, series, mase_scales)}
    best = ("none", 0.0, scores["network"] if 0.0 in shares else np.inf)
    for name in names:
        scores[name] = {}
        for s in shares:
            mase = _mase(y, baselines.blended(network, forecasts[name], s), series, mase_scales)
            scores[name][str(s)] = mase
            if s > 0 and mase < best[2]:
                best = (name, s, mase)
    return best[0], best[1], scores


def _mase(y: np.ndarray, f: np.ndarray, series: np.ndarray, scales: np.ndarray) -> float:
    """The mean over series of each series' mean MASE over its windows."""
    value = metrics.summarize(y, f, series, scales)["mase"]
    return np.inf if value is None else value


def described(name: str, share: float, scores: dict[str, Any]) -> str | None:
    """What `blend` chose and why, in one line for the training summary."""
    if not scores:
        return None
    network = scores["network"]
    simple = {k: v for k, v in scores.items() if k != "network"}
    alone = ", ".join(f"{k} {v['1.0']:.3f}" for k, v in simple.items() if "1.0" in v)
    if name == "none":
        return f"forecast: the network alone (validation MASE {network:.3f}; {alone})"
    mase = scores[name][str(share)]
    if share == 1.0:
        return (
            f"the network lost to {name} on validation (MASE {network:.3f} against "
            f"{mase:.3f}; {alone}): forecasting with {name} alone; --blend none keeps the "
            "network's forecast"
        )
    return (
        f"forecast: {1 - share:.2f} x the network + {share:.2f} x {name}, which did best on "
        f"validation (MASE {mase:.3f}; the network alone {network:.3f}; {alone})"
    )
