"""The ``pose`` backend: encodes known (or estimated) camera poses instead of running a 3D model.

A cheap, honest baseline (what does the model gain from *perfect* ego-motion?) and the prior used on
synthetic data, where no CUT3R/VGGT features exist. Deterministic, no weights.

Features per frame t (all from camera-to-world poses ``T_t`` in any world frame, OpenCV camera axes):

``mode="relative"`` (D = 13, the default), relative to the first frame, ``T_rel = T_0^-1 @ T_t``:
    ====  =================================  ======================================================
    0-2   ``tx_m, ty_m, tz_m``               translation of ``T_rel`` (metres, first camera's axes)
    3-8   ``r00, r10, r20, r01, r11, r21``   6-D rotation: first two columns of ``R_rel``
    9-12  ``fx/W, fy/H, cx/W, cy/H``         intrinsics normalised by the image size
    ====  =================================  ======================================================

``mode="gravity"`` (D = 10), in the gravity-aligned first-frame BEV frame (``geometry.frames.BevFrame``;
needs a +Z-up world, e.g. ScanNet raw or axis-aligned):
    ====  =================================  ======================================================
    0-1   ``x_bev_m, y_bev_m``               camera centre in the BEV frame (metres)
    2     ``dz_m``                           camera height relative to the first camera (metres)
    3-4   ``sin, cos`` of the BEV heading    optical axis projected on the floor, from BEV +x
    5     ``pitch_rad``                      ``asin`` of the optical axis' z component (up > 0)
    6-9   ``fx/W, fy/H, cx/W, cy/H``         intrinsics normalised by the image size
    ====  =================================  ======================================================

Frame 0 is therefore always ``(0, 0, 0, 1, 0, 0, 0, 1, 0, ...)`` (relative) or ``(0, 0, 0, 0, 1, pitch0,
...)`` (gravity). Estimated poses (e.g. from SLAM) work the same; up-to-scale ones give unit-less
translations, which the model cannot tell apart from metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from loc3r.geometry.camera import intrinsics_3x3
from loc3r.geometry.frames import BevFrame, camera_heading
from loc3r.geometry.transforms import check_rigid, invert_rigid

from .base import PriorBackend, check_tokens, num_frames_of

__all__ = ["PosePrior", "pose_features", "RELATIVE_FEATURES", "GRAVITY_FEATURES"]

RELATIVE_FEATURES: tuple[str, ...] = (
    "tx_m",
    "ty_m",
    "tz_m",
    "r00",
    "r10",
    "r20",
    "r01",
    "r11",
    "r21",
    "fx_norm",
    "fy_norm",
    "cx_norm",
    "cy_norm",
)
GRAVITY_FEATURES: tuple[str, ...] = (
    "x_bev_m",
    "y_bev_m",
    "dz_m",
    "sin_heading",
    "cos_heading",
    "pitch_rad",
    "fx_norm",
    "fy_norm",
    "cx_norm",
    "cy_norm",
)
_FEATURES = {"relative": RELATIVE_FEATURES, "gravity": GRAVITY_FEATURES}
_VERSION = "v1"


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _normalised_intrinsics(intrinsics, num_frames: int, sizes_wh: Sequence[tuple[int, int]]) -> np.ndarray:
    """``[T, 4] = (fx/W, fy/H, cx/W, cy/H)`` from shared or per-frame 3x3/4x4 intrinsics."""
    K = _as_numpy(intrinsics)
    if K.shape in ((3, 3), (4, 4)):
        K = np.broadcast_to(intrinsics_3x3(K), (num_frames, 3, 3))
    elif K.ndim == 3 and K.shape[0] == num_frames and K.shape[1:] in ((3, 3), (4, 4)):
        K = K[:, :3, :3]
    else:
        raise ValueError(
            f"intrinsics must be [3, 3], [4, 4] or [{num_frames}, 3|4, 3|4], got shape {K.shape}"
        )
    if not np.all(np.isfinite(K)):
        raise ValueError("intrinsics contain NaN or inf")
    bad = np.flatnonzero((K[:, 0, 0] <= 0) | (K[:, 1, 1] <= 0))
    if bad.size:
        raise ValueError(
            f"intrinsics of frame {int(bad[0])}: focal lengths must be positive, "
            f"got {K[bad[0], :2, :2].tolist()}"
        )
    wh = np.asarray(sizes_wh, dtype=np.float64).reshape(-1, 2)
    if np.any(wh <= 0):
        raise ValueError(f"image sizes must be positive, got {wh.tolist()}")
    w, h = wh[:, 0], wh[:, 1]
    return np.stack([K[:, 0, 0] / w, K[:, 1, 1] / h, K[:, 0, 2] / w, K[:, 1, 2] / h], axis=-1)


def pose_features(
    poses_c2w,
    intrinsics,
    image_size_wh: tuple[int, int] | Sequence[tuple[int, int]],
    mode: str = "relative",
) -> np.ndarray:
    """Per-frame pose features (see module docstring for the layout).

    Args:
        poses_c2w: ``[T, 4, 4]`` camera-to-world poses, OpenCV camera axes, metres. For ``"gravity"`` the
            world must be +Z up.
        intrinsics: ``[3, 3]``/``[4, 4]`` shared or ``[T, 3|4, 3|4]`` per-frame pinhole intrinsics (pixels).
        image_size_wh: (W, H) the intrinsics refer to, or one (W, H) per frame.
        mode: ``"relative"`` (13-d) or ``"gravity"`` (10-d).

    Returns:
        float64 ``[T, D]``.

    Raises:
        RigidTransformError: a pose is not a finite rigid transform (the message names the frame).
        ValueError: bad shapes, intrinsics or mode.
    """
    if mode not in _FEATURES:
        raise ValueError(f"pose prior mode must be one of {list(_FEATURES)}, got {mode!r}")
    P = _as_numpy(poses_c2w)
    if P.ndim != 3 or P.shape[1:] != (4, 4) or P.shape[0] < 1:
        raise ValueError(f"poses_c2w must be [T, 4, 4] with T >= 1, got shape {P.shape}")
    T = P.shape[0]
    for t in range(T):
        check_rigid(P[t], name=f"camera pose of frame {t}")
    sizes = np.asarray(image_size_wh, dtype=np.float64)
    sizes = np.broadcast_to(sizes.reshape(-1, 2), (T, 2)) if sizes.size == 2 else sizes
    if sizes.shape != (T, 2):
        raise ValueError(f"image_size_wh must be (W, H) or {T} such pairs, got shape {sizes.shape}")
    intr = _normalised_intrinsics(intrinsics, T, sizes)

    if mode == "relative":
        rel = invert_rigid(P[0]) @ P  # T_cam0_from_camt
        rot6 = np.concatenate([rel[:, :3, 0], rel[:, :3, 1]], axis=-1)
        return np.concatenate([rel[:, :3, 3], rot6, intr], axis=-1)

    bev = BevFrame.from_first_pose(P[0])
    centres = P[:, :3, 3]
    xy = bev.world_to_bev_xy(centres)
    dz = centres[:, 2:3] - centres[0, 2]
    heading = bev.world_to_bev_heading(camera_heading(P))
    pitch = np.arcsin(np.clip(P[:, 2, 2], -1.0, 1.0))  # z component of the optical axis (column 2)
    return np.concatenate(
        [xy, dz, np.sin(heading)[:, None], np.cos(heading)[:, None], pitch[:, None], intr], axis=-1
    )


class PosePrior(PriorBackend):
    """Encodes camera poses (relative to the first frame) and normalised intrinsics as the prior token.

    Args:
        mode: ``"relative"`` (13-d, default) or ``"gravity"`` (10-d, BEV-frame yaw/pitch/height; needs a
            +Z-up world).
    """

    name: ClassVar[str] = "pose"
    needs_pixels: ClassVar[bool] = False
    needs_poses: ClassVar[bool] = True

    def __init__(self, mode: str = "relative") -> None:
        if mode not in _FEATURES:
            raise ValueError(f"pose prior mode must be one of {list(_FEATURES)}, got {mode!r}")
        self.mode = mode

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the D features, in order."""
        return _FEATURES[self.mode]

    @property
    def token_dim(self) -> int:
        """13 (relative) or 10 (gravity)."""
        return len(self.feature_names)

    @property
    def checkpoint_hash(self) -> str:
        """Fixed version string (no weights): ``pose-<mode>-v1``."""
        return f"pose-{self.mode}-{_VERSION}"

    @property
    def preprocessing_params(self) -> dict[str, Any]:
        """The feature mode."""
        return {"mode": self.mode}

    def encode(self, frames=None, *, poses_c2w=None, intrinsics=None, image_size_wh=None):
        """Pose tokens ``[T, D]`` float32; pixels are not read, ``frames`` only gives T and the image size.

        Raises:
            ValueError: missing poses/intrinsics/image size, or inconsistent frame counts.
            RigidTransformError: an invalid pose (names the frame).
        """
        import torch

        if poses_c2w is None or intrinsics is None:
            raise ValueError("the 'pose' prior backend needs poses_c2w [T, 4, 4] and intrinsics")
        T = num_frames_of(frames, poses_c2w)
        if image_size_wh is None:
            if frames is None:
                raise ValueError(
                    "the 'pose' prior backend needs image_size_wh=(W, H) when frames are not given"
                )
            image_size_wh = [(int(f.shape[1]), int(f.shape[0])) for f in frames]
        feats = pose_features(poses_c2w, intrinsics, image_size_wh, mode=self.mode)
        return check_tokens(torch.from_numpy(feats), T, self.token_dim, "pose prior")
