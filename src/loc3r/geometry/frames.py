"""The dataset frames and the exact transforms between them.

Four frames appear in this project (all right-handed, metres, +Z up):

``raw``
    Raw ScanNet world: the frame of the ``.sens`` camera poses and of the ``_vh_clean_2.ply`` mesh.
``aligned``
    Axis-aligned ScanNet world: ``p_aligned = A @ [p_raw, 1]`` with ``A`` = ``axisAlignment`` of
    ``<scene>.txt`` (a rotation about +Z plus a translation). Camera poses: ``c2w_aligned = A @ c2w_raw``.
``sqa3d``
    SQA3D's annotation frame: raw axes, origin at the axis-aligned bounding-box centre of the raw
    ``_vh_clean_2.ply`` vertices (``c_raw = (min + max) / 2``). The agent's pose is a position (x, y, z=0) and
    a quaternion ``q`` (xyzw, pure yaw); the agent **faces** ``R(q) @ (-1, 0, 0)``, i.e. its facing heading is
    ``yaw(q) + pi``. Left of the agent is the facing direction rotated +90 deg about +Z.
``bev``
    The paper's bird's-eye-view frame, anchored at the first selected video frame: origin = the first camera
    centre's (x, y) (z is kept as the world z), x axis = the first camera's horizontal forward direction
    (its optical axis projected on the ground plane), y axis = +90 deg from it, z up. BEV headings are
    facing directions measured from the BEV x axis.

Headings vs SQA3D yaw: throughout the project a *heading* is the yaw of the direction the agent faces
(``atan2(f_y, f_x)``). SQA3D's stored *yaw* (``2 atan2(q_z, q_w)``, the quantity its official metric compares)
differs from the facing heading by pi. Use ``sqa3d_yaw_to_heading`` / ``heading_to_sqa3d_yaw``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rotations import wrap_angle, yaw_to_matrix
from .transforms import apply_rigid, check_rigid, invert_rigid, make_rigid

__all__ = [
    "check_axis_alignment",
    "raw_to_aligned_points",
    "aligned_to_raw_points",
    "raw_to_aligned_pose",
    "alignment_yaw",
    "bbox_center",
    "sqa3d_yaw_to_heading",
    "heading_to_sqa3d_yaw",
    "sqa3d_forward",
    "sqa3d_to_raw",
    "raw_to_sqa3d",
    "camera_heading",
    "BevFrame",
]


# ------------------------------------------------------------------------------------------ raw <-> aligned
def check_axis_alignment(A: np.ndarray, name: str = "axisAlignment") -> np.ndarray:
    """Validate an ``axisAlignment`` matrix (4x4 rigid, rotation about +Z only) and return it as float64."""
    A = check_rigid(np.asarray(A, dtype=np.float64).reshape(4, 4), name=name)
    if not np.allclose(A[2, :3], [0, 0, 1], atol=1e-4) or not np.allclose(A[:2, 2], 0, atol=1e-4):
        raise ValueError(f"{name}: rotation is not about +Z only (third row/column {A[2, :3]}, {A[:2, 2]})")
    return A


def raw_to_aligned_points(points_raw: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``p_aligned = A @ [p, 1]`` for points [..., 3] (votenet/SQA3D ``pts_h @ A.T``)."""
    return apply_rigid(A, points_raw)


def aligned_to_raw_points(points_aligned: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Inverse of ``raw_to_aligned_points``."""
    return apply_rigid(invert_rigid(A), points_aligned)


def raw_to_aligned_pose(c2w_raw: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Camera pose into the aligned frame: ``c2w_aligned = A @ c2w_raw`` ([..., 4, 4])."""
    return np.asarray(A, dtype=np.float64) @ np.asarray(c2w_raw, dtype=np.float64)


def alignment_yaw(A: np.ndarray) -> float:
    """Yaw of the alignment rotation, ``atan2(A[1,0], A[0,0])`` (scene0000_00: -19.0 deg)."""
    A = np.asarray(A, dtype=np.float64)
    return float(np.arctan2(A[1, 0], A[0, 0]))


def bbox_center(vertices: np.ndarray) -> np.ndarray:
    """Axis-aligned bounding-box centre ``(min + max) / 2`` of vertices [N, 3] (SQA3D ``bs_center``)."""
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] < 3 or len(v) == 0:
        raise ValueError(f"vertices must be a non-empty [N, 3] array, got shape {v.shape}")
    return (v[:, :3].max(axis=0) + v[:, :3].min(axis=0)) / 2.0


# --------------------------------------------------------------------------------------------- SQA3D
def sqa3d_yaw_to_heading(yaw_rad):
    """SQA3D quaternion yaw -> facing heading (``yaw + pi``, wrapped)."""
    return wrap_angle(np.asarray(yaw_rad, dtype=np.float64) + np.pi)


def heading_to_sqa3d_yaw(heading_rad):
    """Facing heading -> SQA3D quaternion yaw (``heading - pi``, wrapped)."""
    return wrap_angle(np.asarray(heading_rad, dtype=np.float64) - np.pi)


def sqa3d_forward(yaw_rad) -> np.ndarray:
    """Unit facing vector [..., 2] of an SQA3D yaw: ``R_z(yaw) @ (-1, 0) = (-cos yaw, -sin yaw)``."""
    y = np.asarray(yaw_rad, dtype=np.float64)
    return np.stack([-np.cos(y), -np.sin(y)], axis=-1)


def sqa3d_to_raw(pos_sqa3d: np.ndarray, yaw_rad, center_raw: np.ndarray):
    """SQA3D pose -> raw ScanNet world.

    Args:
        pos_sqa3d: [..., 2] or [..., 3] position in the SQA3D frame (metres).
        yaw_rad: [...] SQA3D quaternion yaw.
        center_raw: [3] bbox centre of the raw ``_vh_clean_2.ply`` vertices.

    Returns:
        (pos_raw [..., same dim], heading_raw [...]) — the facing heading in the raw frame (axes are
        unchanged).
    """
    p = np.asarray(pos_sqa3d, dtype=np.float64)
    c = np.asarray(center_raw, dtype=np.float64)[: p.shape[-1]]
    return p + c, sqa3d_yaw_to_heading(yaw_rad)


def raw_to_sqa3d(pos_raw: np.ndarray, heading_raw, center_raw: np.ndarray):
    """Raw ScanNet world (position, facing heading) -> SQA3D (position, quaternion yaw).

    Inverse of ``sqa3d_to_raw``.
    """
    p = np.asarray(pos_raw, dtype=np.float64)
    c = np.asarray(center_raw, dtype=np.float64)[: p.shape[-1]]
    return p - c, heading_to_sqa3d_yaw(heading_raw)


# --------------------------------------------------------------------------------------------- BEV
def camera_heading(T_world_from_cam: np.ndarray) -> np.ndarray:
    """Heading of a camera's optical axis (its +z column) projected on the world XY plane, [...] radians.

    Falls back to the camera's up direction (-y column) when the optical axis is (near) vertical.
    """
    T = np.asarray(T_world_from_cam, dtype=np.float64)
    fwd = T[..., :3, 2]
    up = -T[..., :3, 1]
    horiz = np.hypot(fwd[..., 0], fwd[..., 1])
    use = np.where((horiz > 1e-6)[..., None], fwd, up)
    return wrap_angle(np.arctan2(use[..., 1], use[..., 0]))


@dataclass(frozen=True)
class BevFrame:
    """The first-frame, gravity-aligned BEV frame, expressed relative to a world frame (raw or aligned).

    Attributes:
        origin_xy: [2] first camera centre (x, y) in the world frame, metres.
        heading0: heading of the first camera's horizontal forward direction in the world frame, radians.
    """

    origin_xy: np.ndarray
    heading0: float

    @classmethod
    def from_first_pose(cls, T_world_from_cam0: np.ndarray) -> "BevFrame":
        """Anchor the BEV frame at a (validated) camera-to-world pose of the first selected frame."""
        T = check_rigid(T_world_from_cam0, name="first-frame pose")
        return cls(origin_xy=T[:2, 3].copy(), heading0=float(camera_heading(T)))

    @property
    def T_world_from_bev(self) -> np.ndarray:
        """[4, 4]: rotation by heading0 about +Z, translation (origin_x, origin_y, 0)."""
        return make_rigid(yaw_to_matrix(self.heading0), np.array([self.origin_xy[0], self.origin_xy[1], 0.0]))

    @property
    def T_bev_from_world(self) -> np.ndarray:
        """[4, 4] inverse of ``T_world_from_bev``."""
        return invert_rigid(self.T_world_from_bev)

    def world_to_bev_xy(self, points_world: np.ndarray) -> np.ndarray:
        """World points [..., 2|3] -> BEV (x, y) [..., 2]: ``R_z(-heading0) (p_xy - origin_xy)``."""
        p = np.asarray(points_world, dtype=np.float64)[..., :2] - self.origin_xy
        c, s = np.cos(self.heading0), np.sin(self.heading0)
        return np.stack([c * p[..., 0] + s * p[..., 1], -s * p[..., 0] + c * p[..., 1]], axis=-1)

    def bev_to_world_xy(self, points_bev: np.ndarray) -> np.ndarray:
        """BEV (x, y) [..., 2] -> world (x, y) [..., 2]."""
        p = np.asarray(points_bev, dtype=np.float64)[..., :2]
        c, s = np.cos(self.heading0), np.sin(self.heading0)
        xy = np.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1]], axis=-1)
        return xy + self.origin_xy

    def world_to_bev_heading(self, heading_world):
        """World heading -> BEV heading (``heading - heading0``, wrapped)."""
        return wrap_angle(np.asarray(heading_world, dtype=np.float64) - self.heading0)

    def bev_to_world_heading(self, heading_bev):
        """BEV heading -> world heading (``heading + heading0``, wrapped)."""
        return wrap_angle(np.asarray(heading_bev, dtype=np.float64) + self.heading0)
