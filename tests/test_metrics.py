"""Metrics and baselines against hand-worked values and numpy one-liners."""

from __future__ import annotations

import numpy as np
import pytest

from rnnforecast import metrics

Y = np.array([1.0, 2.0, 4.0])
F = np.array([1.0, 2.5, 3.0])  # errors y - f: [0.0, -0.5, 1.0]


def test_hand_worked_values():
    assert metrics.mae(Y, F) == pytest.approx(0.5)  # (0 + 0.5 + 1) / 3
    assert metrics.rmse(Y, F) == pytest.approx(np.sqrt(1.25 / 3))  # (0 + 0.25 + 1) / 3
    assert metrics.bias(Y, F) == pytest.approx(-0.5 / 3)  # (0 + 0.5 - 1) / 3
    assert metrics.mape(Y, F) == pytest.approx(100 * (0 + 0.25 + 0.25) / 3)
    # sMAPE terms 200|y-f|/(|y|+|f|): 0, 200*0.5/4.5, 200*1/7
    assert metrics.smape(Y, F) == pytest.approx((0 + 100 / 4.5 + 200 / 7) / 3)
    assert metrics.mase(Y, F, 0.25) == pytest.approx(2.0)


def test_mape_leaves_out_zero_actuals():
    assert metrics.mape(np.array([0.0, 2.0]), np.array([5.0, 1.0])) == pytest.approx(50.0)


def test_smape_zero_over_zero_counts_zero():
    assert metrics.smape(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0


@pytest.mark.parametrize(
    ("fn", "oneliner"),
    [
        (metrics.mae, lambda y, f: np.abs(y - f).mean(axis=-1)),
        (metrics.rmse, lambda y, f: np.sqrt(((y - f) ** 2).mean(axis=-1))),
        (metrics.bias, lambda y, f: (f - y).mean(axis=-1)),
        (metrics.smape, lambda y, f: (200 * np.abs(y - f) / (np.abs(y) + np.abs(f))).mean(axis=-1)),
    ],
)
def test_batched_metrics_match_numpy(fn, oneliner):
    rng = np.random.default_rng(0)
    y, f = rng.uniform(1, 5, (7, 4)), rng.uniform(1, 5, (7, 4))
    np.testing.assert_allclose(fn(y, f), oneliner(y, f))


def test_mase_scale_seasonal_and_short():
    x = np.array([1.0, 2.0, 3.0, 5.0, 4.0])
    assert metrics.mase_scale(x, 2) == pytest.approx((2 + 3 + 1) / 3)  # |3-1|, |5-2|, |4-3|
    assert metrics.mase_scale(x, 12) == pytest.approx((1 + 1 + 2 + 1) / 4)  # falls back to lag 1


def test_summarize_is_mean_over_series_of_mean_over_windows():
    y = np.array([[1.0], [3.0], [10.0]])
    f = np.array([[2.0], [3.0], [14.0]])  # abs errors 1, 0 (series 0), 4 (series 1)
    out = metrics.summarize(y, f, np.array([0, 0, 1]), np.array([1.0, 2.0]))
    assert out["mae"] == pytest.approx((0.5 + 4) / 2)
    assert out["mase"] == pytest.approx((0.5 / 1 + 4 / 2) / 2)


def test_coverage_and_width_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    lo = np.array([0.0, 2.0, 3.5, 5.0])  # inside, on the lower end, above, above
    hi = np.array([2.0, 2.5, 4.0, 6.0])
    assert metrics.coverage(y, lo, hi) == pytest.approx(0.5)  # the ends count as inside
    assert metrics.interval_width(lo, hi) == pytest.approx((2.0 + 0.5 + 0.5 + 1.0) / 4)
    batch = np.stack([y, y + 10])  # [2, 4]: one share per row
    np.testing.assert_allclose(metrics.coverage(batch, np.stack([lo, lo]), np.stack([hi, hi])),
                               [0.5, 0.0])  # fmt: skip
    # the interval score at 80 %: the width, plus 2 / 0.2 = 10 times each miss's distance
    np.testing.assert_allclose(
        metrics.interval_score(y, lo, hi, 80), [2.0, 0.5, 0.5 + 10 * 0.5, 1.0 + 10 * 1.0]
    )
