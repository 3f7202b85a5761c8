"""Simple forecasts and the skip start, against hand-worked windows."""

from __future__ import annotations

import numpy as np
import pytest

from rnnforecast import baselines


def test_baselines_by_hand():
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    assert baselines.naive(x, 3).tolist() == [[6, 6, 6]]
    assert baselines.seasonal_naive(x, 5, 2).tolist() == [[5, 6, 5, 6, 5]]
    assert baselines.seasonal_naive(x, 2, 10).tolist() == [[6, 6]]  # window shorter than m
    assert baselines.drift(x, 2).tolist() == [[7, 8]]
    assert baselines.window_mean(x, 2).tolist() == [[3.5, 3.5]]


def test_profile_map_by_hand():
    """Seasons [1, 2] and [5, 6] average to the profile [3, 4] (mean 3.5), moved to the last
    season's mean 5.5: the level jump is followed. Two opposed noisy seasons average out, where
    seasonal naive would repeat the last one ([3, 1])."""
    x = np.array([[0.0, 0.0, 1.0, 2.0, 5.0, 6.0]])
    two = x @ baselines.profile_map(6, 3, 2, 2).T
    np.testing.assert_allclose(two, [[5.0, 6.0, 5.0]])
    noisy = np.array([[0.0, 0.0, 1.0, 3.0, 3.0, 1.0]])  # season means 2 and 2, profiles opposed
    np.testing.assert_allclose(noisy @ baselines.profile_map(6, 2, 2, 2).T, [[2.0, 2.0]])


@pytest.mark.parametrize("lookback,horizon,m", [(6, 3, 2), (36, 18, 12), (10, 4, 12), (8, 5, 1)])
def test_profile_map_special_cases(lookback, horizon, m):
    """One season is seasonal naive (naive when m = 1 or m > L), m = 0 a zero map; every map
    sums to 1 per step, so it commutes with scaling and shifting the window."""
    x = np.random.default_rng(0).normal(size=(4, lookback))
    one = x @ baselines.profile_map(lookback, horizon, m, 1).T
    np.testing.assert_allclose(one, baselines.seasonal_naive(x, horizon, m))
    assert not baselines.profile_map(lookback, horizon, 0).any()
    for k in range(1, lookback // max(m, 1) + 2):
        np.testing.assert_allclose(baselines.profile_map(lookback, horizon, m, k).sum(1), 1.0)


def test_skip_starts_from_the_best_simple_forecast():
    """A noisy stable season starts from the profile of all three seasons in the window, a
    season whose shape drifts from seasonal naive (one season), a random walk from naive."""
    rng = np.random.default_rng(0)
    t = np.arange(400)
    stable = (np.sin(2 * np.pi * t / 12) + 0.3 * rng.standard_normal(400)).astype(np.float32)
    drifting = (np.sin(2 * np.pi * t / 12 + t / 10) + 0.01 * rng.standard_normal(400)).astype(
        np.float32
    )  # the peak moves a month every 1.6 seasons
    walk = np.cumsum(rng.standard_normal(400)).astype(np.float32)
    starts = np.arange(0, 400 - 36 - 12)
    assert baselines.skip_start(stable, starts, 36, 12, 12) == (12, 3)
    assert baselines.skip_start(drifting, starts, 36, 12, 12) == (12, 1)
    assert baselines.skip_start(walk, starts, 36, 12, 12) == (1, 1)
    assert baselines.skip_start(walk, starts, 36, 12, 1) == (1, 1)


def test_skip_start_on_differences():
    """On differences the skip starts from the season or from the zero map (drift), never
    from repeating the last change, whichever gives better levels on the training windows."""
    t = np.arange(400)
    seasonal = np.diff(10 * np.sin(2 * np.pi * t / 12) + 0.1 * t)  # the season dominates
    starts = np.arange(0, 400 - 1 - 30)
    start = baselines.skip_start(seasonal, starts, 24, 6, 12, "difference", "window")
    assert start == (12, 1)
    noise = np.random.default_rng(0).normal(0, 1, 399)  # a random walk's steps: no season
    assert baselines.skip_start(noise, starts, 24, 6, 12, "difference", "window") == (0, 1)
    assert baselines.skip_start(noise, starts, 24, 6, 1, "difference", "window") == (0, 1)
    assert baselines.skip_start(noise, starts, 24, 6, 1, "none", "window") == (1, 1)
