"""Rigid transforms as 4x4 homogeneous matrices, with validation that names the problem.

Naming: ``T_a_from_b`` maps coordinates in frame b to frame a (``p_a = T_a_from_b @ p_b``).
A camera pose ``c2w`` is ``T_world_from_cam``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "make_rigid",
    "invert_rigid",
    "apply_rigid",
    "check_rigid",
    "is_valid_rigid",
    "RigidTransformError",
]


class RigidTransformError(ValueError):
    """Raised for a matrix that is not a finite, proper rigid transform."""


def make_rigid(rot: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Build [..., 4, 4] from rotation [..., 3, 3] and translation [..., 3]."""
    rot = np.asarray(rot, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    batch = np.broadcast_shapes(rot.shape[:-2], trans.shape[:-1])
    out = np.zeros(batch + (4, 4))
    out[..., :3, :3] = rot
    out[..., :3, 3] = trans
    out[..., 3, 3] = 1.0
    return out


def invert_rigid(T: np.ndarray) -> np.ndarray:
    """Exact inverse of a rigid transform [..., 4, 4]: (R, t)^-1 = (R^T, -R^T t)."""
    T = np.asarray(T, dtype=np.float64)
    rt = np.swapaxes(T[..., :3, :3], -1, -2)
    return make_rigid(rt, -np.einsum("...ij,...j->...i", rt, T[..., :3, 3]))


def apply_rigid(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply T [4, 4] to points [..., 3] (returns [..., 3])."""
    T = np.asarray(T, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    return p @ T[:3, :3].T + T[:3, 3]


def is_valid_rigid(T: np.ndarray, tol: float = 1e-3) -> bool:
    """True when T is a finite 4x4 with an orthonormal, det=+1 rotation block and last row (0, 0, 0, 1)."""
    try:
        check_rigid(T, tol=tol)
    except RigidTransformError:
        return False
    return True


def check_rigid(T: np.ndarray, name: str = "transform", tol: float = 1e-3) -> np.ndarray:
    """Validate a rigid transform and return it as float64 [4, 4].

    Args:
        T: candidate matrix.
        name: what to call it in the error (e.g. ``"pose of frame 12 in scene0000_00.sens"``).
        tol: tolerance on orthonormality (ScanNet stores poses as float32 text with 6 decimals).

    Raises:
        RigidTransformError: naming ``name`` and the problem (shape, non-finite, not a rotation, last row).
    """
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4):
        raise RigidTransformError(f"{name}: expected a 4x4 matrix, got shape {T.shape}")
    if not np.all(np.isfinite(T)):
        raise RigidTransformError(f"{name}: contains NaN or inf (ScanNet marks lost tracking with -inf)")
    if not np.allclose(T[3], [0, 0, 0, 1], atol=tol):
        raise RigidTransformError(f"{name}: last row is {T[3].tolist()}, expected [0, 0, 0, 1]")
    R = T[:3, :3]
    err = np.abs(R @ R.T - np.eye(3)).max()
    if err > tol:
        raise RigidTransformError(f"{name}: rotation block is not orthonormal (max |R R^T - I| = {err:.3g})")
    det = np.linalg.det(R)
    if det < 0:
        raise RigidTransformError(f"{name}: rotation block is a reflection (det = {det:.3f})")
    return T
