"""Pinhole camera model (OpenCV convention: x right, y down, z forward) and depth unprojection.

ScanNet convention (Video-3D LLM ``unproject``, EmbodiedScan ``from_depth_to_point``): pixel (u, v) is the
integer column/row index (no +0.5), ``x = (u - cx) * z / fx``, ``y = (v - cy) * z / fy``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["intrinsics_3x3", "scale_intrinsics", "unproject_depth", "project_points"]


def intrinsics_3x3(K: np.ndarray) -> np.ndarray:
    """Accept a 3x3 or 4x4 intrinsics matrix (ScanNet stores 4x4) and return the 3x3 block."""
    K = np.asarray(K, dtype=np.float64)
    if K.shape not in ((3, 3), (4, 4)):
        raise ValueError(f"intrinsics must be 3x3 or 4x4, got {K.shape}")
    return K[:3, :3].copy()


def scale_intrinsics(K: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Intrinsics after resizing an image by (sx, sy) (new_width / old_width, new_height / old_height).

    Uses the integer-pixel convention of ScanNet: fx' = fx sx, cx' = cx sx (and likewise for y).
    """
    K3 = intrinsics_3x3(K)
    K3[0, 0] *= sx
    K3[0, 2] *= sx
    K3[1, 1] *= sy
    K3[1, 2] *= sy
    return K3


def unproject_depth(depth_m: np.ndarray, K: np.ndarray, T_world_from_cam: np.ndarray | None = None):
    """Back-project a depth map to 3-D points.

    Args:
        depth_m: [H, W] depth in metres; values <= 0 or non-finite are invalid.
        K: 3x3 or 4x4 intrinsics of the depth image's pixel grid.
        T_world_from_cam: optional [4, 4] camera-to-world pose. Without it points stay in the camera frame.

    Returns:
        points: [H, W, 3] float64 (world frame if a pose is given, else camera frame); invalid pixels hold 0.
        valid: [H, W] bool.
    """
    d = np.asarray(depth_m, dtype=np.float64)
    if d.ndim != 2:
        raise ValueError(f"depth must be [H, W], got shape {d.shape}")
    K3 = intrinsics_3x3(K)
    h, w = d.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    valid = np.isfinite(d) & (d > 0)
    z = np.where(valid, d, 0.0)
    x = (u - K3[0, 2]) * z / K3[0, 0]
    y = (v - K3[1, 2]) * z / K3[1, 1]
    pts = np.stack([x, y, z], axis=-1)
    if T_world_from_cam is not None:
        T = np.asarray(T_world_from_cam, dtype=np.float64)
        pts = pts @ T[:3, :3].T + T[:3, 3]
        pts[~valid] = 0.0
    return pts, valid


def project_points(points_world: np.ndarray, K: np.ndarray, T_world_from_cam: np.ndarray):
    """Project world points [..., 3] into a camera.

    Returns:
        (uv [..., 2], depth [...]); depth <= 0: behind the camera.
    """
    K3 = intrinsics_3x3(K)
    T = np.asarray(T_world_from_cam, dtype=np.float64)
    R, t = T[:3, :3], T[:3, 3]
    pc = (np.asarray(points_world, dtype=np.float64) - t) @ R  # = R^T (p - t)
    z = pc[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = K3[0, 0] * pc[..., 0] / z + K3[0, 2]
        v = K3[1, 1] * pc[..., 1] / z + K3[1, 2]
    return np.stack([u, v], axis=-1), z
