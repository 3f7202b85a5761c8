"""Simple forecasts: naive, seasonal naive, drift, the window mean, and the seasonal profile.

Each maps input windows x [B, L] to forecasts [B, H]. They are the baselines every score is
set beside, and the linear maps the network's skip starts from (`profile_map`, `skip_start`),
so they sit before the model in the flow. Numpy only.
"""

from __future__ import annotations

import numpy as np

from rnnforecast.windows import gather


def naive(x: np.ndarray, horizon: int, m: int = 1) -> np.ndarray:
    """The last value, repeated."""
    return np.repeat(x[:, -1:], horizon, axis=1)


def seasonal_naive(x: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """The last full season, repeated; the naive forecast if the window is shorter than m."""
    if m > x.shape[1] or m < 1:
        return naive(x, horizon)
    return x[:, x.shape[1] - m + np.arange(horizon) % m]


def drift(x: np.ndarray, horizon: int, m: int = 1) -> np.ndarray:
    """The line through the window's first and last values, extended."""
    slope = (x[:, -1] - x[:, 0]) / max(x.shape[1] - 1, 1)
    return x[:, -1:] + slope[:, None] * np.arange(1, horizon + 1)


def window_mean(x: np.ndarray, horizon: int, m: int = 1) -> np.ndarray:
    """The mean of the input window, repeated."""
    return np.repeat(x.mean(axis=1, keepdims=True), horizon, axis=1)


def profile_map(lookback: int, horizon: int, m: int, seasons: int = 1) -> np.ndarray:
    """[H, L] linear map from an input window to a forecast: the mean of the window's last
    `seasons` seasons of period m, shifted to the last season's mean. Averaging seasons halves
    the noise of one season's values; the shift keeps the current level when it moves. One
    season is seasonal naive, m = 1 naive (m > L too), m = 0 a zero map."""
    weights = np.zeros((horizon, lookback))
    if m == 0:
        return weights
    m = m if m <= lookback else 1
    seasons = max(1, min(seasons, lookback // m))
    steps = np.arange(horizon)
    for j in range(1, seasons + 1):  # step h repeats position h % m of season j back
        weights[steps, lookback - j * m + steps % m] += 1.0 / seasons
    weights[:, lookback - seasons * m :] -= 1.0 / (seasons * m)  # the profile's own mean...
    weights[:, lookback - m :] += 1.0 / m  # ...replaced by the last season's
    return weights


def skip_start(
    values: np.ndarray,
    starts: np.ndarray,
    lookback: int,
    horizon: int,
    season: int,
    transform: str = "none",
    norm: str = "window",
) -> tuple[int, int]:
    """Where the linear skip starts, as (lag, seasons) for `model.init_seasonal`: naive (1, 1),
    or the mean profile of the last k seasons at the last season's level (season, k; k = 1 is
    seasonal naive), whichever forecasts the training windows best. A trending or cycling
    series (sunspots) starts from naive, a stable seasonal one from a profile of several seasons
    (less noisy than one), a changing one from seasonal naive; training takes it on from there.

    On differences, lag 1 would repeat the last step's change H times, a poor start; the
    choice is then the season (seasonal naive plus the last season's change, once cumulated)
    or 0, a zero map (the window's mean change, or the training mean change without window
    normalisation: a drift forecast), scored on the levels the cumulated forecasts give."""
    differences = transform == "difference"
    if not len(starts) or (season <= 1 and not differences):
        return (0, 1) if differences else (1, 1)
    sample = starts[:: max(1, len(starts) // 20_000)]  # enough to tell, bounded work
    windows = gather(values, sample, lookback + horizon)  # [W, L+H], scaled units
    x, y = windows[:, :lookback], windows[:, lookback:]
    if differences:
        drift = x.mean(axis=1, keepdims=True) if norm == "window" else np.zeros((len(x), 1))
        seasons, other = ([1] if season > 1 else []), {(0, 1): np.broadcast_to(drift, y.shape)}
    else:
        seasons = range(1, lookback // season + 1) if season <= lookback else []
        other = {(1, 1): naive(x, horizon)}
    candidates = {  # [W, H] each, seasonal ones first: a tie keeps the season. einsum's own
        # loop, not BLAS (x @ map): BLAS's threads would keep ~10 MB of buffers to the end
        (season, k): np.einsum("wl,hl->wh", x, profile_map(lookback, horizon, season, k))
        for k in seasons
    } | other
    errors = {start: f - y for start, f in candidates.items()}  # [W, H] each
    if differences:  # the level errors the cumulated forecasts make
        errors = {start: np.cumsum(e, axis=1) for start, e in errors.items()}
    return min(errors, key=lambda start: np.abs(errors[start]).mean())  # ties: fewer seasons


def start_name(lag: int, seasons: int, transform: str) -> str:
    """The simple forecast a (lag, seasons) skip start is, in words."""
    if lag == 0:
        return "drift (the mean change)"
    if lag == 1:
        return "naive (the last value)"
    if seasons == 1:
        return "seasonal naive" + (" on the changes" if transform == "difference" else "")
    return f"the mean profile of the last {seasons} seasons, at the last season's level"
