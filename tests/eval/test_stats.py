"""Confidence-interval helpers: hand-computed t intervals and a slow reference bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loc3r.eval.stats import bootstrap_ci, cluster_bootstrap_ci, format_ci, mean_ci


def test_mean_ci_hand_computed():
    # mean 2, s = 1, n = 3: half-width = t_{0.975, 2} / sqrt(3) = 4.302652729749464 / 1.7320508
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.mean == 2.0 and ci.n == 3 and ci.method == "t"
    assert ci.half_width == pytest.approx(4.302652729749464 / math.sqrt(3), rel=1e-9)
    assert (ci.low, ci.high) == pytest.approx((2 - 2.4841377, 2 + 2.4841377), abs=1e-6)
    # n = 2, values 10 and 14: s = 2*sqrt(2), t_{0.975, 1} = 12.706204736; half = 12.7062 * 2
    ci = mean_ci([10.0, 14.0])
    assert ci.half_width == pytest.approx(12.706204736174698 * 2.0, rel=1e-9)
    # 90 %: t_{0.95, 2} = 2.919985580
    assert mean_ci([1.0, 2.0, 3.0], 0.90).half_width == pytest.approx(2.919985580 / math.sqrt(3), rel=1e-8)


def test_mean_ci_degenerate_cases():
    one = mean_ci([5.0])
    assert one.mean == 5.0 and math.isnan(one.half_width)
    assert format_ci(one) == "5.0"
    same = mean_ci([3.0, 3.0, 3.0])
    assert (same.low, same.high) == (3.0, 3.0)
    for bad in ([], [1.0, float("nan")]):
        with pytest.raises(ValueError):
            mean_ci(bad)
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([1.0, 2.0], confidence=1.5)


def test_bootstrap_matches_reference_loop():
    values = np.array([0, 1, 1, 0, 1, 1, 1, 0, 0, 1], dtype=float)
    ci = bootstrap_ci(values, n_resamples=500, seed=11)
    rng = np.random.default_rng(11)
    idx = rng.integers(0, len(values), size=(500, len(values)))
    means = sorted(float(np.mean([values[j] for j in row])) for row in idx)

    def quantile(q):  # linear interpolation, as numpy's default
        pos = q * (len(means) - 1)
        lo = int(math.floor(pos))
        return means[lo] + (pos - lo) * (means[min(lo + 1, len(means) - 1)] - means[lo])

    assert ci.mean == pytest.approx(0.6)
    assert (ci.low, ci.high) == pytest.approx((quantile(0.025), quantile(0.975)), abs=1e-12)
    assert ci.low < 0.6 < ci.high


def test_bootstrap_constant_and_format():
    ci = bootstrap_ci([2.0] * 7, seed=0)
    assert (ci.mean, ci.low, ci.high) == (2.0, 2.0, 2.0)
    assert format_ci(mean_ci([1.0, 2.0, 3.0]), digits=2) == "2.00 ± 2.48"
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci([1.0], n_resamples=0)


def test_cluster_bootstrap_hand_computed_two_rooms():
    """Room A holds two misses, room B one hit. Drawing 2 rooms gives AA (0 %), AB or BA (1 hit of 3: 33.3 %)
    or BB (100 %): the interval spans 0-100 and the statistic is the plain mean, 33.3 %."""
    ci = cluster_bootstrap_ci([0.0, 0.0, 100.0], ["A", "A", "B"], n_resamples=4000)
    assert ci.mean == pytest.approx(100 / 3) and ci.n == 2 and ci.method == "cluster-bootstrap"
    assert ci.low == 0.0 and ci.high == 100.0


def test_cluster_bootstrap_singletons_match_the_sample_bootstrap():
    rng = np.random.default_rng(3)
    hits = 100.0 * (rng.random(400) < 0.3)
    plain = bootstrap_ci(hits, n_resamples=4000)
    clus = cluster_bootstrap_ci(hits, list(range(400)), n_resamples=4000)
    assert clus.mean == pytest.approx(plain.mean)
    assert clus.low == pytest.approx(plain.low, abs=1.0) and clus.high == pytest.approx(plain.high, abs=1.0)


def test_cluster_bootstrap_correlated_rooms_and_seeds_widen_the_interval():
    rng = np.random.default_rng(0)
    rooms = np.repeat(np.arange(20), 25)  # 20 rooms x 25 situations
    room_rate = rng.random(20)  # rooms differ a lot
    hits = 100.0 * (rng.random(500) < room_rate[rooms])
    independent = cluster_bootstrap_ci(hits, list(range(500)))
    clustered = cluster_bootstrap_ci(hits, rooms.tolist())
    assert clustered.half_width > 1.5 * independent.half_width
    # three seeds that disagree: the interval also covers the seed spread
    runs = np.stack([hits, np.zeros(500), np.full(500, 100.0)])
    assert cluster_bootstrap_ci(runs, rooms.tolist()).half_width > 2 * clustered.half_width
    assert cluster_bootstrap_ci(runs, rooms.tolist()).mean == pytest.approx(runs.mean())


def test_cluster_bootstrap_paired_difference():
    rooms = ["r0"] * 3 + ["r1"] * 3 + ["r2"] * 3
    a = np.array([100.0, 0, 100, 0, 0, 100, 100, 100, 0])
    same = cluster_bootstrap_ci(a, rooms, minus=a)
    assert same.mean == 0.0 and same.low == 0.0 and same.high == 0.0  # the same rooms drawn for both
    better = cluster_bootstrap_ci(np.full(9, 100.0), rooms, minus=a)
    assert better.mean == pytest.approx(100.0 - a.mean()) and better.low > 0.0


def test_cluster_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="cluster labels"):
        cluster_bootstrap_ci([1.0, 2.0], ["a"])
    with pytest.raises(ValueError, match="minus has 1 samples"):
        cluster_bootstrap_ci([1.0, 2.0], ["a", "b"], minus=[[1.0]])
    with pytest.raises(ValueError, match="finite"):
        cluster_bootstrap_ci([1.0, math.nan], ["a", "b"])
    with pytest.raises(ValueError, match="confidence"):
        cluster_bootstrap_ci([1.0], ["a"], confidence=1.0)
