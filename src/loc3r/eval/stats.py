"""Confidence intervals for benchmark figures: mean ± half-width over seeds (Student t) and bootstrap.

* ``mean_ci(values)``: the mean of a few independent runs (seeds) with a t-based two-sided interval
  ``mean ± t_{(1+c)/2, n-1} · s / sqrt(n)`` (``s`` the sample standard deviation, ``ddof=1``). With one value
  the half-width is undefined (``nan``).
* ``bootstrap_ci(values)``: percentile bootstrap interval of the mean of per-sample values (e.g. the 0/1
  hits of one model over the test situations), from a seeded generator.
* ``format_ci``: ``"41.2 ± 3.1"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["MeanCI", "mean_ci", "bootstrap_ci", "format_ci"]


@dataclass(frozen=True)
class MeanCI:
    """A mean with its two-sided confidence interval.

    Attributes:
        mean: the sample mean.
        low, high: interval bounds (``nan`` when undefined).
        n: number of values.
        confidence: e.g. 0.95.
        method: ``"t"`` or ``"bootstrap"``.
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


def format_ci(ci: MeanCI, digits: int = 1) -> str:
    """``"mean ± half-width"`` (just the mean when the interval is undefined)."""
    if math.isnan(ci.half_width):
        return f"{ci.mean:.{digits}f}"
    return f"{ci.mean:.{digits}f} ± {ci.half_width:.{digits}f}"
