"""Windows and scaling against hand-made arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnforecast.panel import Panel
from rnnforecast.windows import (
    apply_covariate_scaler,
    apply_scaler,
    fit_covariate_scaler,
    fit_scaler,
    gather,
    invert_scaler,
    last_starts,
    split_windows,
)


def make_panel(*series: list[float]) -> Panel:
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": f"s{i}", "ds": np.arange(len(v)), "y": np.asarray(v, float)})
            for i, v in enumerate(series)
        ],
        ignore_index=True,
    )
    return Panel.from_frame(frame)


def test_panel_offsets_and_lengths():
    panel = make_panel([1, 2, 3], [10, 20, 30, 40])
    assert panel.ids.tolist() == ["s0", "s1"]
    assert panel.offsets.tolist() == [0, 3]
    assert panel.lengths.tolist() == [3, 4]
    assert panel.values.tolist() == [1, 2, 3, 10, 20, 30, 40]


def test_split_windows_by_hand():
    # one series 0..9, lookback 3, horizon 2, validation 2:
    # training windows end (exclusive) at 5..8, i.e. start at 0..3; validation window starts at 5
    panel = make_panel(list(range(10)))
    split = split_windows(panel, lookback=3, horizon=2, val_size=2)
    assert np.asarray(split.train_starts).tolist() == [0, 1, 2, 3]
    assert split.val_starts.tolist() == [5]
    windows = gather(panel.values, np.asarray(split.train_starts), 5)
    assert windows.tolist() == [[0, 1, 2, 3, 4], [1, 2, 3, 4, 5], [2, 3, 4, 5, 6], [3, 4, 5, 6, 7]]
    val = gather(panel.values, split.val_starts, 5)
    assert val.tolist() == [[5, 6, 7, 8, 9]]  # its horizon (8, 9) is exactly the held-out part


def test_split_windows_across_series_never_mix():
    panel = make_panel(list(range(6)), list(range(100, 108)))
    split = split_windows(panel, lookback=2, horizon=1, val_size=1)
    starts = np.asarray(split.train_starts)
    windows = gather(panel.values, starts, 3)
    series = np.searchsorted(panel.offsets, starts, side="right") - 1
    for w, s in zip(windows, series, strict=True):
        assert (w >= 100).all() == (s == 1)
        assert np.all(np.diff(w) == 1)  # consecutive points of one series
    assert series.tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    assert gather(panel.values, split.val_starts, 3).tolist() == [[3, 4, 5], [105, 106, 107]]


def test_validation_longer_than_horizon_gives_several_windows():
    panel = make_panel(list(range(20)))
    split = split_windows(panel, lookback=4, horizon=2, val_size=6)
    assert len(split.val_starts) == 6 - 2 + 1
    assert all(gather(panel.values, split.val_starts, 6)[:, 4:].min(axis=1) >= 14)


def test_no_validation():
    panel = make_panel(list(range(10)))
    split = split_windows(panel, lookback=3, horizon=2, val_size=0)
    assert len(split.val_starts) == 0
    assert np.asarray(split.train_starts).tolist() == [0, 1, 2, 3, 4, 5]


def test_scaler_round_trip_is_exact():
    panel = make_panel([1.0, 5.0, 9.0, 2.0], [100.0, 300.0, 200.0])
    loc, scale = fit_scaler(panel, panel.lengths, "standard")
    scaled = apply_scaler(panel, loc, scale).astype(np.float64)
    np.testing.assert_allclose(loc, [4.25, 200.0])
    np.testing.assert_allclose(scale, [np.std([1, 5, 9, 2]), np.std([100, 300, 200])])
    back = invert_scaler(scaled[panel.offsets[0] : 4][None, :], loc[:1], scale[:1])
    np.testing.assert_allclose(back[0], [1.0, 5.0, 9.0, 2.0], rtol=1e-6)


def test_constant_series_does_not_divide_by_zero():
    panel = make_panel([7.0] * 5)
    loc, scale = fit_scaler(panel, panel.lengths, "standard")
    assert scale.tolist() == [1.0]
    assert np.all(np.isfinite(apply_scaler(panel, loc, scale)))


def test_scaler_ignores_validation_values():
    """No look-ahead: changing the held-out values changes nothing in the fitted scaler."""
    a = make_panel([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    b = make_panel([1.0, 2.0, 3.0, 4.0, 500.0, -60.0])
    split = split_windows(a, lookback=2, horizon=2, val_size=2)
    assert split.n_fit.tolist() == [4]
    fa, fb = fit_scaler(a, split.n_fit, "standard"), fit_scaler(b, split.n_fit, "standard")
    np.testing.assert_array_equal(fa[0], fb[0])
    np.testing.assert_array_equal(fa[1], fb[1])


def test_scaler_none_is_identity():
    panel = make_panel([3.0, 4.0])
    loc, scale = fit_scaler(panel, panel.lengths, "none")
    assert apply_scaler(panel, loc, scale).tolist() == [3.0, 4.0]


def test_last_starts_point_at_the_latest_window():
    panel = make_panel(list(range(5)), list(range(10, 17)))
    assert gather(panel.values, last_starts(panel, 3), 3).tolist() == [[2, 3, 4], [14, 15, 16]]


def test_select_keeps_series_contiguous():
    panel = make_panel([1, 2], [3, 4, 5], [6])
    kept = panel.select(np.array([True, False, True]))
    assert kept.ids.tolist() == ["s0", "s2"]
    assert kept.values.tolist() == [1, 2, 6]
    assert kept.offsets.tolist() == [0, 2]


def test_scaler_matches_numpy_per_series_for_any_fit_length():
    """Each series' first n_fit[i] values only, including none (0) and all of the last series
    (whose part runs to the end of the array)."""
    rng = np.random.default_rng(0)
    series = [rng.normal(10 * i, 1 + i, size) for i, size in enumerate([5, 1, 8, 6])]
    panel = make_panel(*series)
    n_fit = np.array([3, 0, 8, 6])
    loc, scale = fit_scaler(panel, n_fit, "standard")
    want_loc = [s[:n].mean() if n else 0.0 for s, n in zip(series, n_fit, strict=True)]
    want_scale = [s[:n].std() if n > 1 else 1.0 for s, n in zip(series, n_fit, strict=True)]
    np.testing.assert_allclose(loc, want_loc, rtol=1e-12)
    np.testing.assert_allclose(scale, want_scale, rtol=1e-12)
    scaled = apply_scaler(panel, loc, scale)
    assert scaled.dtype == np.float32
    want = np.concatenate([(s - m) / d for s, m, d in zip(series, loc, scale, strict=True)])
    np.testing.assert_allclose(scaled, want, rtol=1e-6)


def test_windows_and_scaling_need_few_copies_of_the_data():
    """Peak memory per value (numpy reports its allocations to tracemalloc): splitting,
    fitting and applying the scaler make at most one [N] temporary (the float32 scaled
    values); the scaler's float64 ones are taken a block of series at a time."""
    import tracemalloc

    n, size = 200, 5_000  # 1M values, 8 MB of float64
    panel = make_panel(*[np.arange(size, dtype=float) + i for i in range(n)])
    tracemalloc.start()
    try:
        for step, most in [
            (lambda: split_windows(panel, 48, 24, 24), 1.2),  # [S] runs of starts: next to none
            (lambda: fit_scaler(panel, panel.lengths - 24, "standard"), 0.8),  # was 5.1, 1.5
            (lambda: apply_scaler(panel, np.zeros(n), np.ones(n)), 1.5),  # [N] float32 + blocks
        ]:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            step()
            peak = tracemalloc.get_traced_memory()[1] - base
            assert peak <= most * panel.values.nbytes, (step, peak / panel.values.nbytes)
    finally:
        tracemalloc.stop()


def test_covariates_are_scaled_per_series_on_the_training_part_only():
    """Each covariate column gets its own per-series loc and scale from the first n_fit rows:
    values after them (validation, the future) change nothing."""
    frame = pd.DataFrame(
        {
            "unique_id": ["a"] * 5 + ["b"] * 4,
            "ds": np.r_[np.arange(5), np.arange(4)],
            "y": np.arange(9.0),
            "temp": [1.0, 3.0, 5.0, 900.0, -50.0, 10.0, 10.0, 10.0, 7.0],
            "flag": [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        }
    )
    panel = Panel.from_frame(frame, ("temp", "flag"))
    assert panel.covariates.shape == (9, 2)
    n_fit = np.array([3, 3])
    loc, scale = fit_covariate_scaler(panel, n_fit, "standard")
    np.testing.assert_allclose(loc, [[3.0, 2 / 3], [10.0, 2 / 3]])
    # series b's temp is constant over its training part: scale 1, never a division by zero
    np.testing.assert_allclose(
        scale, [[np.std([1, 3, 5]), np.std([0, 1, 1])], [1.0, np.std([1, 0, 1])]]
    )
    changed = frame.assign(temp=frame["temp"].where(frame.index.isin([0, 1, 2, 5, 6, 7]), 0.0))
    again = fit_covariate_scaler(Panel.from_frame(changed, ("temp", "flag")), n_fit, "standard")
    np.testing.assert_array_equal(again[0], loc)
    np.testing.assert_array_equal(again[1], scale)
    scaled = apply_covariate_scaler(panel.covariates, panel.series_of_rows(), loc, scale)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled[:3, 0], (np.array([1, 3, 5]) - 3) / np.std([1, 3, 5]))
    kept = panel.select(np.array([False, True]))
    np.testing.assert_array_equal(kept.covariates, panel.covariates[5:])


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_scaler_by_blocks_of_series_is_the_scaler_per_series(monkeypatch, block):
    """Taking the scaler's temporaries a few series at a time changes no number: each
    series' loc and scale are its own training part's mean and std, its values scaled by them."""
    from rnnforecast import windows

    rng = np.random.default_rng(0)
    series = [rng.normal(10 * i, i + 1, size=n) for i, n in enumerate([5, 9, 4, 12, 6])]
    panel = make_panel(*series)
    n_fit = panel.lengths - 2
    monkeypatch.setattr(windows, "BLOCK_ROWS", block)
    loc, scale = fit_scaler(panel, n_fit, "standard")
    scaled = apply_scaler(panel, loc, scale)
    for i, y in enumerate(series):
        assert loc[i] == pytest.approx(y[: n_fit[i]].mean(), rel=1e-12)
        assert scale[i] == pytest.approx(y[: n_fit[i]].std(), rel=1e-12)
        part = scaled[panel.offsets[i] : panel.offsets[i] + len(y)]
        np.testing.assert_allclose(part, (y - loc[i]) / scale[i], rtol=1e-6)


def test_training_starts_are_computed_not_stored():
    """The training windows' starts are two [S] arrays however many windows there are, and
    give, position by position, the starts of every window of every series in order."""
    panel = make_panel(list(range(6)), list(range(100, 102)), list(range(200, 210)))
    split = split_windows(panel, lookback=2, horizon=1, val_size=1)
    expected = [0, 1, 2] + [] + [8, 9, 10, 11, 12, 13, 14]  # the 2-point series has none
    starts = split.train_starts
    assert len(starts) == len(expected) and np.asarray(starts).tolist() == expected
    assert starts[np.array([6, 0, 3])].tolist() == [expected[6], expected[0], expected[3]]
    assert starts[::4].tolist() == expected[::4]
    assert starts.shift.shape == starts.ends.shape == (3,)
