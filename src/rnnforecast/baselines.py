"""Simple forecasts: naive, seasonal naive, drift, Theta, the window mean, and the seasonal
profile.

Each maps windows x [B, T] to forecasts [B, H]. A window may begin with padding (copies of
its first value) where its series is shorter: `n` [B] says how many of its points are real.
They are the baselines every score is set beside, the partners the network's forecast is
blended with (`SIMPLE`), and the linear maps the network's skip starts from (`profile_map`,
`skip_start`), so they sit before the model in the flow. Numpy only.
"""

from __future__ import annotations

import numpy as np

from rnnforecast.windows import gather

THETA_ALPHAS = np.linspace(0.05, 1.0, 20)  # the SES smoothing weights Theta chooses among
THETA_MIN = 3  # real points Theta needs: a level, a trend and one error to fit them on


def naive(x: np.ndarray, horizon: int, m: int = 1, n: np.ndarray | None = None) -> np.ndarray:
    """The last value, repeated."""
    return np.repeat(x[:, -1:], horizon, axis=1)


def seasonal_naive(x: np.ndarray, horizon: int, m: int, n: np.ndarray | None = None) -> np.ndarray:
    """The last full season, repeated; the naive forecast where fewer than m points are real
    (or the window is shorter than m)."""
    if m > x.shape[1] or m < 1:
        return naive(x, horizon)
    f = x[:, x.shape[1] - m + np.arange(horizon) % m]
    if n is None:
        return f
    return np.where((n >= m)[:, None], f, naive(x, horizon))


def drift(x: np.ndarray, horizon: int, m: int = 1, n: np.ndarray | None = None) -> np.ndarray:
    """The line through the window's first and last real values, extended."""
    n = np.full(len(x), x.shape[1]) if n is None else n
    slope = (x[:, -1] - x[:, 0]) / np.maximum(n - 1, 1)  # a pad equals the first real value
    return x[:, -1:] + slope[:, None] * np.arange(1, horizon + 1)


def theta(x: np.ndarray, horizon: int, m: int, n: np.ndarray | None = None) -> np.ndarray:
    """The Theta method (Assimakopoulos and Nikolopoulos, 2000, as Hyndman and Billah, 2003,
    write it): simple exponential smoothing, its weight chosen per window by the in-sample
    one-step errors, plus half the slope of the least-squares line, on the series seasonally
    adjusted (multiplicatively where every value is positive, else additively) when the
    autocorrelation at lag m is significant at 90 %. The winner of the M3 competition, and
    cheap: every window at once. Windows with fewer than THETA_MIN real points get naive."""
    x = np.asarray(x, np.float64)
    rows, width = x.shape
    n = np.full(rows, width) if n is None else np.asarray(n)
    real = np.arange(width)[None, :] >= (width - n)[:, None]  # [B, T], padding first
    ahead = (width + np.arange(horizon)) % max(m, 1)  # [H] the phase of each step ahead
    adjusted, season_ahead, ratio = x, np.zeros((rows, horizon)), np.zeros(rows, bool)
    if m > 1:
        index, ratio = _seasonal_index(x, real, n, m)  # [B, m]: 1 or 0 where not seasonal
        phases = np.arange(width) % m
        with np.errstate(divide="ignore", invalid="ignore"):  # a ratio only where positive
            adjusted = np.where(ratio[:, None], x / index[:, phases], x - index[:, phases])
        season_ahead = index[:, ahead]
    t = np.arange(width, dtype=np.float64)[None, :]
    centred_t = np.where(real, t - _mean(np.broadcast_to(t, x.shape), real, n)[:, None], 0.0)
    centred = np.where(real, adjusted - _mean(adjusted, real, n)[:, None], 0.0)
    slope = (centred_t * centred).sum(axis=1) / np.maximum((centred_t**2).sum(axis=1), 1e-12)
    level, alpha = _ses(adjusted, real, width - n)
    h = np.arange(1, horizon + 1)[None, :]
    a = alpha[:, None]
    f = level[:, None] + 0.5 * slope[:, None] * (h - 1 + 1 / a - (1 - a) ** n[:, None] / a)
    f = np.where(ratio[:, None], f * season_ahead, f + season_ahead)
    return np.where((n >= THETA_MIN)[:, None], f, naive(x, horizon))


def _mean(x: np.ndarray, real: np.ndarray, n: np.ndarray) -> np.ndarray:
    """[B] the mean of each window's real points."""
    return np.where(real, x, 0.0).sum(axis=1) / np.maximum(n, 1)


def _ses(x: np.ndarray, real: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[B] the final level of simple exponential smoothing from each window's first real
    point, and its weight: of THETA_ALPHAS, the one with the least in-sample squared
    one-step error (every weight run side by side, [B, G])."""
    rows = np.arange(len(x))
    alphas = THETA_ALPHAS[None, :]
    level = np.repeat(x[rows, first][:, None], len(THETA_ALPHAS), axis=1)  # [B, G]
    sse = np.zeros_like(level)
    for t in range(x.shape[1]):
        on = (real[:, t] & (t > first))[:, None]
        error = x[:, t][:, None] - level
        sse += np.where(on, error * error, 0.0)
        level = np.where(on, level + alphas * error, level)
    best = sse.argmin(axis=1)
    return level[rows, best], THETA_ALPHAS[best]


def _seasonal_index(
    x: np.ndarray, real: np.ndarray, n: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """[B, m] classical decomposition's seasonal index by phase (position t has phase t % m),
    and [B] whether it is a ratio (every value positive) rather than a difference. Windows
    without significant seasonality (or without 3 seasons) get the neutral index."""
    rows, width = x.shape
    ratio = np.where(real, x, 1.0).min(axis=1) > 0
    # centred moving average over one season (2 x m for an even m), where all of it is real
    weights = np.full(m + 1 - m % 2, 1.0 / m)
    if m % 2 == 0:
        weights[[0, -1]] = 0.5 / m
    half = len(weights) // 2
    trend = np.full(x.shape, np.nan)
    if width > 2 * half:
        inner = np.stack([x[:, k : width - 2 * half + k] for k in range(len(weights))], axis=-1)
        whole = np.stack([real[:, k : width - 2 * half + k] for k in range(len(weights))], -1)
        trend[:, half : width - half] = np.where(whole.all(axis=-1), inner @ weights, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        detrended = np.where(ratio[:, None], x / trend, x - trend)
    phases = np.arange(width) % m
    index = np.stack([_nanmean(detrended[:, phases == p]) for p in range(m)], axis=1)  # [B, m]
    neutral = np.where(ratio, 1.0, 0.0)[:, None]
    with np.errstate(invalid="ignore"):
        index = np.where(ratio[:, None], index / index.mean(axis=1, keepdims=True),
                         index - index.mean(axis=1, keepdims=True))  # fmt: skip
    seasonal = _seasonal(x, real, n, m) & np.isfinite(index).all(axis=1)
    return np.where(seasonal[:, None], index, neutral), ratio


def _nanmean(x: np.ndarray) -> np.ndarray:
    """[B] the mean of each row's finite values (NaN where it has none), without a warning."""
    finite = np.isfinite(x)
    count = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(finite, x, 0.0).sum(axis=1) / count, np.nan)


def _seasonal(x: np.ndarray, real: np.ndarray, n: np.ndarray, m: int) -> np.ndarray:
    """[B] Theta's seasonality test: |r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n), r the
    autocorrelations of the window's real points, on at least 3 seasons of them."""
    centred = np.where(real, x - _mean(x, real, n)[:, None], 0.0)
    total = (centred**2).sum(axis=1)
    total = np.where(total > 0, total, 1.0)
    r = np.stack(
        [(centred[:, k:] * centred[:, :-k]).sum(axis=1) / total for k in range(1, m + 1)], axis=1
    )  # [B, m]: lags 1..m
    limit = 1.645 * np.sqrt((1 + 2 * (r[:, :-1] ** 2).sum(axis=1)) / np.maximum(n, 1))
    return (np.abs(r[:, -1]) > limit) & (n >= 3 * m)


def window_mean(x: np.ndarray, horizon: int, m: int = 1, n: np.ndarray | None = None) -> np.ndarray:
    """The mean of the input window, repeated."""
    return np.repeat(x.mean(axis=1, keepdims=True), horizon, axis=1)


# --- intermittent demand: forecasts of the mean rate, not of the next value ---------------

CROSTON_ALPHA = 0.1  # smoothing weight of Croston, SBA and TSB (the usual 0.1-0.2 range's low end)


def _real(x: np.ndarray, n: np.ndarray | None) -> np.ndarray:
    """[B, T] which points of each window are real (padding comes first)."""
    width = x.shape[1]
    n = np.full(len(x), width) if n is None else np.asarray(n)
    return np.arange(width)[None, :] >= (width - n)[:, None]


def _croston_levels(x: np.ndarray, real: np.ndarray, alpha: float) -> tuple[np.ndarray, ...]:
    """[B] Croston's smoothed demand size and smoothed interval between demands: each starts
    at the first demand (its size; its position counted from the first real point, 1-based)
    and is smoothed with `alpha` at every later demand; and whether any demand was seen."""
    rows = len(x)
    size, interval, since = np.zeros(rows), np.ones(rows), np.zeros(rows)
    seen = np.zeros(rows, bool)
    for t in range(x.shape[1]):
        since = since + real[:, t]
        hit = real[:, t] & (x[:, t] != 0)
        first, later = hit & ~seen, hit & seen
        size = np.where(first, x[:, t], np.where(later, size + alpha * (x[:, t] - size), size))
        interval = np.where(
            first, since, np.where(later, interval + alpha * (since - interval), interval)
        )
        since = np.where(hit, 0.0, since)
        seen |= hit
    return size, interval, seen


def croston(
    x: np.ndarray, horizon: int, m: int = 1, n: np.ndarray | None = None, correction: float = 1.0
) -> np.ndarray:
    """Croston (1972): the smoothed demand size over the smoothed interval between demands,
    a flat rate; 0 for a window without demand."""
    size, interval, seen = _croston_levels(np.asarray(x, np.float64), _real(x, n), CROSTON_ALPHA)
    rate = np.where(seen, correction * size / np.maximum(interval, 1e-12), 0.0)
    return np.repeat(rate[:, None], horizon, axis=1)


def sba(x: np.ndarray, horizon: int, m: int = 1, n: np.ndarray | None = None) -> np.ndarray:
    """Syntetos-Boylan approximation: Croston times 1 - alpha / 2, which removes most of
    Croston's upward bias."""
    return croston(x, horizon, m, n, correction=1.0 - CROSTON_ALPHA / 2)


def tsb(x: np.ndarray, horizon: int, m: int = 1, n: np.ndarray | None = None) -> np.ndarray:
    """Teunter-Syntetos-Babai (2011): the smoothed probability of a demand in a period (updated
    every period, so a run of zeros lowers it) times the smoothed size (updated at demands).
    The probability starts at the share of real points with a demand, the size at the first."""
    x = np.asarray(x, np.float64)
    real = _real(x, n)
    occurs = (x != 0) & real
    counts = np.maximum(real.sum(axis=1), 1)
    prob = occurs.sum(axis=1) / counts
    size, _, seen = _croston_levels(x, real, CROSTON_ALPHA)  # the same smoothed size
    for t in range(x.shape[1]):
        prob = np.where(real[:, t], prob + CROSTON_ALPHA * (occurs[:, t] - prob), prob)
    rate = np.where(seen, prob * size, 0.0)
    return np.repeat(rate[:, None], horizon, axis=1)


def adida(x: np.ndarray, horizon: int, m: int = 1, n: np.ndarray | None = None) -> np.ndarray:
    """ADIDA (Nikolopoulos et al., 2011): the window summed over buckets as long as its mean
    interval between demands (rounded; buckets end at the window's end, only whole real ones
    kept), simple exponential smoothing of the bucket sums (weight chosen as Theta's is), and
    the smoothed sum spread evenly over a bucket's periods. Without intermittence (a demand
    every period) it is plain SES."""
    x = np.asarray(x, np.float64)
    real = _real(x, n)
    demands = ((x != 0) & real).sum(axis=1)
    k = np.clip(np.rint(real.sum(axis=1) / np.maximum(demands, 1)), 1, x.shape[1]).astype(int)
    rate = np.zeros(len(x))
    for size in np.unique(k):
        rows = np.flatnonzero(k == size)
        buckets = x.shape[1] // size
        tail = x[rows, x.shape[1] - buckets * size :].reshape(len(rows), buckets, size)
        whole = real[rows, x.shape[1] - buckets * size :].reshape(len(rows), buckets, size)
        sums, full = tail.sum(axis=2), whole.all(axis=2)  # [R, K]
        first = buckets - full.sum(axis=1)
        level, _ = _ses(sums, full, np.minimum(first, buckets - 1))
        rate[rows] = np.where(full.any(axis=1), level / size, x[rows, -1])
    return np.where((demands > 0)[:, None], np.repeat(rate[:, None], horizon, axis=1), 0.0)


# the simple forecasts a network's forecast may be blended with, by name
SIMPLE = {"naive": naive, "seasonal_naive": seasonal_naive, "drift": drift, "theta": theta}
# forecasts of the mean rate of intermittent demand: baselines and, when the point forecast
# is the mean, blend partners beside SIMPLE
INTERMITTENT = {"croston": croston, "sba": sba, "tsb": tsb, "adida": adida}
EVERY = SIMPLE | INTERMITTENT


def partners(point: str) -> dict:
    """The simple forecasts a blend may choose among for a point forecast of `point`: the
    mean-rate ones join when the point is the mean (a median forecast of intermittent demand
    is 0, which they are not)."""
    return EVERY if point == "mean" else SIMPLE


# points of history the simple forecasts read: the lookback, at least 4 horizons and 10
# seasons (Theta's trend and seasonal index; on M3 monthly, 36 points gave Theta's MASE 1.02,
# 108 points 0.88)
HISTORY_HORIZONS, HISTORY_SEASONS = 4, 10
# up to a year of daily points when the point forecast is the mean: a rate of one demand in
# ten periods is estimated from a few dozen demands, not the handful 70 points hold
MEAN_HISTORY = 365


def history_points(lookback: int, horizon: int, season: int, point: str = "median") -> int:
    """How many of a series' last points the simple forecasts read."""
    most = max(lookback, HISTORY_HORIZONS * horizon, HISTORY_SEASONS * season)
    return max(most, MEAN_HISTORY) if point == "mean" else most


def blended(network: np.ndarray, simple: np.ndarray | None, share: float) -> np.ndarray:
    """[B, H] the forecast: the network's, with `share` of it given to a simple forecast."""
    if simple is None or share == 0:
        return network
    return (1.0 - share) * network + share * simple


def floored(f: np.ndarray, allow_negative: bool) -> np.ndarray:
    """Forecasts (or bounds) at or above 0, unless negative ones are allowed: a model trained
    on data that are never negative (demand, counts) never forecasts below them."""
    return f if allow_negative else np.maximum(f, 0.0)


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
        drift = x.mean(axis=1, keepdims=True) if norm != "none" else np.zeros((len(x), 1))
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
