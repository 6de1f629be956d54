"""Small synthetic ScanNet-like inputs for the ScanNet reader tests (hand-made, deterministic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loc3r.data.scannet.meta import write_scene_meta
from loc3r.data.scannet.sens import write_sens

# Small image sizes keep the tests fast; the colour and depth grids differ, as in ScanNet.
CW, CH, DW, DH = 64, 48, 32, 24
K_COLOR = np.array([[60.0, 0, 31.5, 0], [0, 61.0, 23.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
K_DEPTH = np.array([[30.0, 0, 15.5, 0], [0, 30.5, 11.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
# scene0000_00's axisAlignment (data_formats.md §1.2).
A_SCENE0000 = np.array(
    [
        [0.945519, 0.325568, 0.0, -5.384390],
        [-0.325568, 0.945519, 0.0, -2.871780],
        [0.0, 0.0, 1.0, -0.064350],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


def rigid_pose(yaw: float, t: tuple[float, float, float]) -> np.ndarray:
    """Camera-to-world pose: a yaw about +Z composed with a camera looking horizontally (OpenCV axes)."""
    c, s = np.cos(yaw), np.sin(yaw)
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    # camera x right -> world -y, camera y down -> world -z, camera z forward -> world +x (before the yaw)
    R_look = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=np.float64)
    T = np.eye(4)
    T[:3, :3] = Rz @ R_look
    T[:3, 3] = t
    return T


def make_rgbd(n: int, seed: int = 0):
    """n frames: smooth colour images (JPEG-friendly), uint16 mm depths with holes, and rigid poses."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:CH, 0:CW]
    colors, depths, poses = [], [], []
    for i in range(n):
        j = i % 6  # smooth ramps without wrap-around edges (JPEG-friendly)
        img = np.stack([xx * 3 + 10 * j, yy * 4 + 7 * j, np.full_like(xx, 40 * j)], -1)
        colors.append(img.astype(np.uint8))
        d = rng.integers(300, 6000, size=(DH, DW)).astype(np.uint16)
        d[rng.random((DH, DW)) < 0.1] = 0
        depths.append(d)
        poses.append(rigid_pose(0.3 * i, (0.1 * i, 1.0 - 0.05 * i, 1.4)))
    return colors, depths, np.stack(poses)


def scene_meta(scene_id: str, n: int, with_alignment: bool = True) -> dict:
    """A ``<scene>.txt`` dict consistent with the small synthetic frames."""
    meta = {
        "colorHeight": CH, "colorWidth": CW, "depthHeight": DH, "depthWidth": DW,
        "fx_color": 60.0, "fy_color": 61.0, "mx_color": 31.5, "my_color": 23.5,
        "fx_depth": 30.0, "fy_depth": 30.5, "mx_depth": 15.5, "my_depth": 11.5,
        "numColorFrames": n, "numDepthFrames": n, "numIMUmeasurements": 0, "sceneType": "Bedroom / Hotel",
    }
    if with_alignment:
        meta["axisAlignment"] = A_SCENE0000
    return meta


def make_raw_scan(root: Path, scene_id: str = "scene0001_00", n: int = 6, poses: np.ndarray | None = None,
                  seed: int = 0, with_alignment: bool = True):
    """Write ``root/<scene_id>/<scene_id>.{sens,txt}``; returns (folder, colors, depths, poses)."""
    colors, depths, default_poses = make_rgbd(n, seed)
    poses = default_poses if poses is None else poses
    folder = root / scene_id
    write_sens(folder / f"{scene_id}.sens", colors, depths, poses, K_COLOR, K_DEPTH, jpeg_quality=95)
    write_scene_meta(folder / f"{scene_id}.txt", scene_meta(scene_id, n, with_alignment))
    return folder, colors, depths, poses
