"""Orientation bins: wrapped-Gaussian targets and circular soft-argmax (hand-computed cases, ±pi wrap)."""

from __future__ import annotations

import math

import pytest
import torch

from loc3r.geometry.bins import bin_centers, circular_soft_argmax, wrapped_gaussian_targets


def test_bin_centers():
    c = bin_centers(36)
    assert c.shape == (36,)
    assert c[0].item() == pytest.approx(-math.pi)
    assert c[18].item() == pytest.approx(0.0, abs=1e-6)
    assert (c[1] - c[0]).item() == pytest.approx(math.radians(10))
    c2 = bin_centers(36, offset=0.5)
    assert c2[0].item() == pytest.approx(-math.pi + math.radians(5))


def test_wrapped_gaussian_targets_hand_case():
    c = bin_centers(4)  # -pi, -pi/2, 0, pi/2
    t = wrapped_gaussian_targets(torch.tensor(0.0), c, sigma_rad=math.pi / 2)
    w = torch.tensor([math.exp(-0.5 * 4), math.exp(-0.5), 1.0, math.exp(-0.5)])
    torch.testing.assert_close(t, w / w.sum())
    # wraps: heading just below +pi is closest to the -pi bin, and symmetric around it
    t2 = wrapped_gaussian_targets(torch.tensor(math.pi - 1e-6), c, sigma_rad=0.3)
    assert t2.argmax().item() == 0
    assert t2[1].item() == pytest.approx(t2[3].item(), rel=1e-4)


def test_circular_soft_argmax_wraps_at_pi():
    c = bin_centers(36)
    for heading in [math.pi - 0.01, -math.pi + 0.01, 0.3, -2.0]:
        p = wrapped_gaussian_targets(torch.tensor(heading, dtype=torch.float64), c.double(), math.radians(20))
        est = circular_soft_argmax(p, c.double()).item()
        d = abs((est - heading + math.pi) % (2 * math.pi) - math.pi)
        assert d < 1e-3, (heading, est)
    # two equal peaks at +170 and -170 deg average to 180 deg, not to 0 (the naive mean)
    p = torch.zeros(36)
    p[1] = p[35] = 0.5  # centres -170 and +170 deg
    est = circular_soft_argmax(p, c).item()
    assert abs(abs(est) - math.pi) < 1e-5
    # batched
    probs = torch.softmax(torch.randn(3, 5, 36), -1)
    assert circular_soft_argmax(probs, c).shape == (3, 5)
