"""Orientation bins: wrapped-Gaussian targets and circular soft-argmax (method.md §4).

Headings are radians in [-pi, pi). Bin b has centre ``-pi + (b + offset) * 2pi / B``. The default offset 0
puts centres at -pi, ..., 0, ... (0 is a centre); 0.5 puts bin edges there. Both are [G] choices.
Torch functions (used by the model's orientation head and loss); they accept any leading batch shape.
"""

from __future__ import annotations

import math

import torch

__all__ = ["bin_centers", "wrap_angle_t", "wrapped_gaussian_targets", "circular_soft_argmax"]


def bin_centers(num_bins: int = 36, offset: float = 0.0, dtype=torch.float32, device=None) -> torch.Tensor:
    """Bin centres [B] in [-pi, pi)."""
    if num_bins < 2:
        raise ValueError("num_bins must be >= 2")
    step = 2 * math.pi / num_bins
    return -math.pi + (torch.arange(num_bins, dtype=dtype, device=device) + offset) * step


def wrap_angle_t(a: torch.Tensor) -> torch.Tensor:
    """Wrap to [-pi, pi) (torch)."""
    return torch.remainder(a + math.pi, 2 * math.pi) - math.pi


def wrapped_gaussian_targets(heading: torch.Tensor, centers: torch.Tensor, sigma_rad: float) -> torch.Tensor:
    """Soft bin targets ``y_b ∝ exp(-½ (wrap(θ - θ_b) / σ)²)``, normalised over bins.

    Args:
        heading: [...] radians.
        centers: [B] bin centres (radians).
        sigma_rad: σ_ori in radians (> 0).

    Returns:
        [..., B] probabilities summing to 1.
    """
    if sigma_rad <= 0:
        raise ValueError("sigma_rad must be positive")
    d = wrap_angle_t(heading.unsqueeze(-1) - centers)
    logw = -0.5 * (d / sigma_rad) ** 2
    return torch.softmax(logw, dim=-1)


def circular_soft_argmax(probs: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Heading ``atan2(Σ p_b sin θ_b, Σ p_b cos θ_b)`` from bin probabilities [..., B] -> [...] radians."""
    s = (probs * torch.sin(centers)).sum(-1)
    c = (probs * torch.cos(centers)).sum(-1)
    return torch.atan2(s, c)
