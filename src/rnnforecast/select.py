"""Choices the data decides: made on the validation windows, never on data the user scores.

The network's forecast is blended with the simple forecast (naive, seasonal naive, drift or
Theta; for a mean point forecast also Croston, SBA, TSB or ADIDA) that does best on
validation, each weighted by the inverse of its squared validation MASE (RMSSE for the mean:
MASE is least at the median, which for intermittent demand is 0) (Bates and Granger's
combination): the more accurate gets the larger share, and a
network far behind a simple forecast gives way to it almost wholly. Weights from a share of
the errors are steadier than ones picked to minimise them on the few windows validation
holds: on the M3 sets' development split, picking the best share of a grid chose the network
alone for m3_quarterly, where the even blend was 5 % better on the points after.
"""

from __future__ import annotations

import numpy as np

from rnnforecast import baselines, metrics
from rnnforecast.config import MIN_VALIDATION

STEP = 0.05  # shares are rounded to this: the figures say no more


def blend(
    forecasts: dict[str, np.ndarray],
    y: np.ndarray,
    series: np.ndarray,
    mase_scales: np.ndarray,
    asked: str = "auto",
    share: float | None = None,
    point: str = "median",
    rmsse_scales: np.ndarray | None = None,
) -> tuple[str, float, dict[str, float]]:
    """(simple forecast, its share, validation MASE of the network, each simple forecast and
    the blend) for the network's validation forecasts `forecasts["network"]` and the simple
    ones beside it (`y` [W, H] the targets of windows of `series` [W]). `asked` and `share`
    pin what the user gave. For a mean `point` the partners include the mean-rate forecasts
    and the scores are RMSSE (`rmsse_scales` [S]), not MASE. With fewer than MIN_VALIDATION
    windows an automatic blend is not weighed (one horizon of one series says little: a
    half-hourly series' last day gave Theta two thirds of the forecast, which then did 36 %
    worse on the next): the network alone; without any, a simple forecast asked for gets
    `share`, or half."""
    if asked == "none":
        return "none", 0.0, {}
    names = list(baselines.partners(point)) if asked == "auto" else [asked]
    if asked == "auto" and len(series) < MIN_VALIDATION:
        return "none", 0.0, {"windows": float(len(series))}
    if not len(series):
        return asked, 0.5 if share is None else share, {}
    metric, scales = ("rmsse", rmsse_scales) if point == "mean" else ("mase", None)
    scores = {name: _score(y, forecasts[name], series, mase_scales, scales, metric)
              for name in ["network", *names]}  # fmt: skip
    partner = min(names, key=scores.__getitem__)
    if share is None:
        network, simple = scores["network"], scores[partner]
        weight = network**2 / (network**2 + simple**2) if np.isfinite(network + simple) else 0.5
        share = round(round(weight / STEP) * STEP, 2)
    if share == 0:
        return "none", 0.0, scores
    mixed = baselines.blended(forecasts["network"], forecasts[partner], share)
    scores["blend"] = _score(y, mixed, series, mase_scales, scales, metric)
    return partner, share, scores


def described(
    name: str, share: float, scores: dict[str, float], metric: str = "MASE"
) -> str | None:
    """What `blend` chose and why, in one line for the training summary (`metric`: what the
    scores are)."""
    if not scores:
        return None
    if "network" not in scores:
        return (
            f"forecast: the network alone: {int(scores['windows'])} validation windows are too "
            f"few (under {MIN_VALIDATION}) to weigh a blend with a simple forecast by"
        )
    network = scores["network"]
    alone = ", ".join(f"{k} {v:.3f}" for k, v in scores.items() if k not in ("network", "blend"))
    if name == "none":
        return f"forecast: the network alone (validation {metric} {network:.3f}; {alone})"
    lost = (
        f"the network lost to {name} on validation ({metric} {network:.3f} against "
        f"{scores[name]:.3f}), so "
        if network > scores[name]
        else ""
    )
    return (
        f"{lost}forecast: {1 - share:.2f} x the network + {share:.2f} x {name}, by their "
        f"validation errors ({metric} {scores['blend']:.3f}; the network alone {network:.3f}; "
        f"{alone}); --blend none keeps the network's alone"
    )


def _score(
    y: np.ndarray,
    f: np.ndarray,
    series: np.ndarray,
    mase_scales: np.ndarray,
    rmsse_scales: np.ndarray | None,
    metric: str,
) -> float:
    """The mean over series of each series' mean MASE (or RMSSE, given its scales) over its
    windows."""
    value = metrics.summarize(y, f, series, mase_scales, rmsse_scales)[metric]
    return np.inf if value is None else value
