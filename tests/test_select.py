"""The blend of the network's forecast with a simple one, weighed on validation windows."""

from __future__ import annotations

import numpy as np
import pytest

from rnnforecast import select
from rnnforecast.config import MIN_VALIDATION

W, H = 100, 4


def _case(network_noise: float, simple_noise: float, seed: int = 0):
    """Validation windows of W series (one each, scale 1) where the network's errors and a
    simple forecast's (theta) are independent noise of the given sizes; the other simple
    forecasts are far worse."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(W, H))
    forecasts = {
        "network": y + network_noise * rng.normal(size=(W, H)),
        "theta": y + simple_noise * rng.normal(size=(W, H)),
        **dict.fromkeys(("naive", "seasonal_naive", "drift"), y + 10.0),
    }
    return forecasts, y, np.arange(W), np.ones(W)


def test_shares_follow_the_inverse_squared_errors():
    """Equal errors: half each; a simple forecast with twice the network's errors gets a
    fifth (1 / (1 + 4)); the blend of independent errors beats both on validation."""
    name, share, scores = select.blend(*_case(1.0, 1.0))
    assert name == "theta" and share == pytest.approx(0.5, abs=0.1)
    assert scores["blend"] < min(scores["network"], scores["theta"])
    name, share, _ = select.blend(*_case(1.0, 2.0))
    assert name == "theta" and share == pytest.approx(0.2, abs=0.05)
    name, share, scores = select.blend(*_case(3.0, 1.0))  # the network lost: theta takes 90 %
    assert share == pytest.approx(0.9, abs=0.05)
    assert "the network lost to theta" in select.described(name, share, scores)


def test_what_the_user_asks_for_is_kept():
    case = _case(1.0, 1.0)
    assert select.blend(*case, asked="none")[:2] == ("none", 0.0)
    assert select.blend(*case, asked="drift", share=1.0)[:2] == ("drift", 1.0)
    name, share, _ = select.blend(*case, asked="auto", share=0.25)
    assert (name, share) == ("theta", 0.25)


def test_too_few_validation_windows_leave_the_network_alone():
    forecasts, y, series, scales = _case(3.0, 1.0)
    few = MIN_VALIDATION - 1
    name, share, scores = select.blend(
        {k: f[:few] for k, f in forecasts.items()}, y[:few], series[:few], scales[:few]
    )
    assert (name, share) == ("none", 0.0)
    assert "too few" in select.described(name, share, scores)
