"""Rotations: quaternions (xyzw), yaw angles, facing vectors and angle wrapping.

Conventions:
  * Quaternions are **xyzw** (the order scipy's ``Rotation.from_quat`` and SQA3D's ``_x,_y,_z,_w`` use).
  * Yaw is the rotation about +Z (counter-clockwise seen from above), radians.
  * ``wrap_angle`` maps to [-pi, pi).
  * Functions accept numpy arrays with leading batch dimensions and broadcast.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "wrap_angle",
    "angle_diff_abs",
    "quat_xyzw_to_yaw",
    "yaw_to_quat_xyzw",
    "quat_xyzw_to_matrix",
    "matrix_to_quat_xyzw",
    "yaw_to_matrix",
    "matrix_to_yaw",
    "yaw_to_vector",
    "vector_to_yaw",
]


def wrap_angle(angle_rad: np.ndarray | float) -> np.ndarray:
    """Wrap angles to [-pi, pi).

    Args:
        angle_rad: any shape, radians.

    Returns:
        Same shape, in [-pi, pi).
    """
    a = np.asarray(angle_rad, dtype=np.float64)
    return (a + np.pi) % (2.0 * np.pi) - np.pi


def angle_diff_abs(a_rad: np.ndarray | float, b_rad: np.ndarray | float) -> np.ndarray:
    """Absolute angular difference in [0, pi], as SQA3D's metric computes it: ``min(d, 2pi - d)``."""
    a = wrap_angle(np.asarray(a_rad, dtype=np.float64))
    d = np.abs(a - wrap_angle(np.asarray(b_rad, dtype=np.float64)))
    return np.minimum(d, 2.0 * np.pi - d)


def quat_xyzw_to_yaw(q_xyzw: np.ndarray) -> np.ndarray:
    """Yaw (rotation about +Z) of a quaternion, in [-pi, pi).

    For a pure-yaw quaternion (x = y = 0) this is ``2 * atan2(z, w)`` wrapped, which equals
    ``Rotation.from_quat(q).as_rotvec()[2]`` (SQA3D's definition). For a general rotation it is the yaw of
    the rotated +X axis projected on the XY plane (the ZYX Euler yaw).

    Args:
        q_xyzw: [..., 4] quaternion, xyzw order (need not be normalised).

    Returns:
        [...] yaw in radians.
    """
    q = np.asarray(q_xyzw, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"quaternion must have 4 components (xyzw), got shape {q.shape}")
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    # ZYX Euler yaw: atan2(2(wz + xy), 1 - 2(y^2 + z^2)); reduces to 2*atan2(z, w) when x = y = 0.
    n = np.sum(q * q, axis=-1)
    yaw = np.arctan2(2.0 * (w * z + x * y), n - 2.0 * (y * y + z * z))
    return wrap_angle(yaw)


def yaw_to_quat_xyzw(yaw_rad: np.ndarray | float) -> np.ndarray:
    """Pure-yaw quaternion (xyzw) with ``w >= 0``.

    Args:
        yaw_rad: [...] radians.

    Returns:
        [..., 4] unit quaternion, xyzw.
    """
    h = wrap_angle(yaw_rad) / 2.0
    z, w = np.sin(h), np.cos(h)
    zeros = np.zeros_like(z)
    return np.stack([zeros, zeros, z, w], axis=-1)


def quat_xyzw_to_matrix(q_xyzw: np.ndarray) -> np.ndarray:
    """Rotation matrix of a quaternion (xyzw; normalised first).

    Args:
        q_xyzw: [..., 4].

    Returns:
        [..., 3, 3] rotation matrix R such that v_world = R @ v_local.
    """
    q = np.asarray(q_xyzw, dtype=np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(n < 1e-12) or not np.all(np.isfinite(q)):
        raise ValueError("quaternion must be finite and non-zero")
    x, y, z, w = np.moveaxis(q / n, -1, 0)
    r = np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )
    return r.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat_xyzw(rot: np.ndarray) -> np.ndarray:
    """Quaternion (xyzw, ``w >= 0``) of a rotation matrix [..., 3, 3] (Shepperd's method, batched)."""
    r = np.asarray(rot, dtype=np.float64)
    if r.shape[-2:] != (3, 3):
        raise ValueError(f"rotation matrix must be [...,3,3], got {r.shape}")
    batch = r.shape[:-2]
    r = r.reshape(-1, 3, 3)
    out = np.empty((r.shape[0], 4))
    tr = np.trace(r, axis1=1, axis2=2)
    for i in range(r.shape[0]):  # small batches only; clarity over speed
        m = r[i]
        if tr[i] > 0:
            s = np.sqrt(tr[i] + 1.0) * 2
            q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
        elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
            s = np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
            q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
        elif m[1, 1] > m[2, 2]:
            s = np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
            q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
        else:
            s = np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
            q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
        q = np.asarray(q)
        q = q / np.linalg.norm(q)
        out[i] = q if q[3] >= 0 else -q
    return out.reshape(batch + (4,))


def yaw_to_matrix(yaw_rad: np.ndarray | float) -> np.ndarray:
    """Rotation about +Z: [..., 3, 3]."""
    y = np.asarray(yaw_rad, dtype=np.float64)
    c, s = np.cos(y), np.sin(y)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([c, -s, z, s, c, z, z, z, o], axis=-1).reshape(y.shape + (3, 3))


def matrix_to_yaw(rot: np.ndarray) -> np.ndarray:
    """Yaw of the rotated local +X axis, ``atan2(R[1,0], R[0,0])``, in [-pi, pi). Rot: [..., 3, 3]."""
    r = np.asarray(rot, dtype=np.float64)
    return wrap_angle(np.arctan2(r[..., 1, 0], r[..., 0, 0]))


def yaw_to_vector(yaw_rad: np.ndarray | float) -> np.ndarray:
    """Unit vector (cos yaw, sin yaw): [..., 2]."""
    y = np.asarray(yaw_rad, dtype=np.float64)
    return np.stack([np.cos(y), np.sin(y)], axis=-1)


def vector_to_yaw(v_xy: np.ndarray) -> np.ndarray:
    """Yaw of a 2-D (or 3-D, z ignored) direction vector, ``atan2(v_y, v_x)``, in [-pi, pi)."""
    v = np.asarray(v_xy, dtype=np.float64)
    if np.any(np.hypot(v[..., 0], v[..., 1]) < 1e-12):
        raise ValueError("direction vector has no horizontal component; its yaw is undefined")
    return wrap_angle(np.arctan2(v[..., 1], v[..., 0]))
