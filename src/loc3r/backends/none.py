"""The ``none`` backend: no camera-pose prior (``token_dim = 0``, tokens ``[T, 0]``).

Used for the "w/o camera token" ablation: the model then prepends nothing to each frame.
"""

from __future__ import annotations

from typing import ClassVar

from .base import PriorBackend, num_frames_of

__all__ = ["NoPrior"]


class NoPrior(PriorBackend):
    """Returns an empty ``[T, 0]`` float32 tensor; reads neither pixels nor poses."""

    name: ClassVar[str] = "none"
    needs_pixels: ClassVar[bool] = False
    needs_poses: ClassVar[bool] = False

    @property
    def token_dim(self) -> int:
        """Always 0."""
        return 0

    @property
    def checkpoint_hash(self) -> str:
        """Fixed version string (no weights)."""
        return "none-v1"

    def encode(self, frames=None, *, poses_c2w=None, intrinsics=None, image_size_wh=None):
        """``[T, 0]`` float32, T taken from ``frames`` or ``poses_c2w``."""
        import torch

        return torch.zeros(num_frames_of(frames, poses_c2w), 0, dtype=torch.float32)
