"""Confidence intervals for benchmark figures: mean ± half-width over seeds (Student t) and bootstrap.

* ``mean_ci(values)``: the mean of a few independent runs (seeds) with a t-based two-sided interval
  ``mean ± t_{(1+c)/2, n-1} · s / sqrt(n)`` (``s`` the sample standard deviation, ``ddof=1``). With one value
  the half-width is undefined (``nan``).
* ``bootstrap_ci(values)``: percentile bootstrap interval of the mean of per-sample values (e.g. the 0/1
  hits of one model over the test situations), from a seeded generator.
* ``cluster_bootstrap_ci(values, clusters)``: a two-stage percentile bootstrap of the mean of per-sample
  values of several runs (seeds) whose samples come in clusters (rooms): each resample draws the clusters and
  the runs with replacement, so the interval sees which rooms were drawn as well as the seeds; with ``minus``
  it is the interval of a paired difference (the same rooms drawn for both).
* ``format_ci``: ``"41.2 ± 3.1"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["MeanCI", "mean_ci", "bootstrap_ci", "cluster_bootstrap_ci", "format_ci"]


@dataclass(frozen=True)
class MeanCI:
    """A mean with its two-sided confidence interval.

    Attributes:
        mean: the sample mean.
        low, high: interval bounds (``nan`` when undefined).
        n: number of values.
        confidence: e.g. 0.95.
        method: ``"t"``, ``"bootstrap"`` or ``"cluster-bootstrap"``.
    """

    mean: float
    low: float
    high: float
    n: int
    confidence: float
    method: str

    @property
    def half_width(self) -> float:
        """Half the interval's width (``nan`` when undefined)."""
        return (self.high - self.low) / 2.0


def _values(values: Sequence[float], confidence: float) -> np.ndarray:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not len(v):
        raise ValueError("no values")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    return v


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """Mean and Student-t confidence interval (independent values, e.g. one per seed).

    Args:
        values: [n] finite values.
        confidence: two-sided level.

    Returns:
        ``MeanCI`` with ``method="t"``; ``low = high = nan`` for n = 1.

    Raises:
        ValueError: no values, non-finite values, or a bad level.
    """
    from scipy.stats import t as student_t

    v = _values(values, confidence)
    m = float(v.mean())
    if len(v) < 2:
        return MeanCI(m, math.nan, math.nan, 1, confidence, "t")
    half = float(student_t.ppf((1 + confidence) / 2, len(v) - 1)) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return MeanCI(m, m - half, m + half, len(v), confidence, "t")


def bootstrap_ci(values: Sequence[float], confidence: float = 0.95, n_resamples: int = 2000,
                 seed: int = 0) -> MeanCI:
    """Mean and percentile-bootstrap confidence interval of the mean.

    Resample ``n`` values with replacement ``n_resamples`` times (``np.random.default_rng(seed)``), take each
    resample's mean, and report the ``(1 - c)/2`` and ``(1 + c)/2`` quantiles (linear interpolation).

    Args:
        values: [n] finite per-sample values.
        confidence: two-sided level.
        n_resamples: bootstrap resamples.
        seed: generator seed.

    Raises:
        ValueError: no values, non-finite values, a bad level or ``n_resamples < 1``.
    """
    v = _values(values, confidence)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(n_resamples, len(v)))
    means = v[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return MeanCI(float(v.mean()), float(lo), float(hi), len(v), confidence, "bootstrap")


def _runs(values: Sequence[Sequence[float]], n: int | None, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[None]
    if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 1:
        raise ValueError(f"{what} must be [runs, samples], got shape {v.shape}")
    if n is not None and v.shape[1] != n:
        raise ValueError(f"{what} has {v.shape[1]} samples per run, expected {n}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{what} must be finite")
    return v


def cluster_bootstrap_ci(values: Sequence[Sequence[float]], clusters: Sequence[object],
                         minus: Sequence[Sequence[float]] | None = None, confidence: float = 0.95,
                         n_resamples: int = 2000, seed: int = 0) -> MeanCI:
    """Mean over runs and samples, with a two-stage (clusters, then runs) percentile-bootstrap interval.

    The samples (e.g. test situations) come in clusters (rooms) that were themselves drawn, and several runs
    (seeds) score the same samples. Each resample draws as many clusters as there are, with replacement, and
    as many runs, with replacement (``np.random.default_rng(seed)``); its statistic is the mean over the drawn
    runs of each run's mean over the samples of the drawn clusters (a cluster drawn twice counts twice). With
    ``minus`` (another method's runs on the same samples) the statistic is the difference of the two, the same
    clusters drawn for both and the runs of each drawn independently: a paired comparison.

    Args:
        values: [runs, n] (or [n] for one run) finite per-sample values, e.g. 0/100 hits.
        clusters: [n] the cluster of each sample (any hashable, e.g. the scene id).
        minus: [runs_b, n] the other method's values on the same samples, or None.
        confidence: two-sided level.
        n_resamples: bootstrap resamples.
        seed: generator seed.

    Returns:
        ``MeanCI`` (``method="cluster-bootstrap"``, ``n`` the number of clusters); ``mean`` is the plain
        statistic (the mean of ``values`` minus the mean of ``minus``).

    Raises:
        ValueError: empty or non-finite values, mismatched lengths, a bad level or ``n_resamples < 1``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    a = _runs(values, None, "values")
    n = a.shape[1]
    if len(clusters) != n:
        raise ValueError(f"{len(clusters)} cluster labels for {n} samples")
    b = None if minus is None else _runs(minus, n, "minus")
    _, cid = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    n_clusters = int(cid.max()) + 1
    counts = np.bincount(cid, minlength=n_clusters).astype(np.float64)  # [C]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(n_resamples, n_clusters))
    mult = np.stack([np.bincount(d, minlength=n_clusters) for d in draws]).astype(np.float64)  # [B, C]
    denom = mult @ counts  # [B] samples in each resample

    def stat(v: np.ndarray) -> np.ndarray:
        sums = np.stack([np.bincount(cid, weights=row, minlength=n_clusters) for row in v])  # [R, C]
        per_run = (sums @ mult.T) / denom  # [R, B]
        pick = rng.integers(0, v.shape[0], size=(n_resamples, v.shape[0]))  # [B, R] runs drawn
        return per_run[pick, np.arange(n_resamples)[:, None]].mean(axis=1)  # [B]

    boot = stat(a) if b is None else stat(a) - stat(b)
    mean = float(a.mean()) if b is None else float(a.mean() - b.mean())
    lo, hi = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    return MeanCI(mean, float(lo), float(hi), n_clusters, confidence, "cluster-bootstrap")


def format_ci(ci: MeanCI, digits: int = 1) -> str:
    """``"mean ± half-width"`` (just the mean when the interval is undefined)."""
    if math.isnan(ci.half_width):
        return f"{ci.mean:.{digits}f}"
    return f"{ci.mean:.{digits}f} ± {ci.half_width:.{digits}f}"
