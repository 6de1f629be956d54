"""Dataset frames: raw <-> aligned (real ScanNet matrices and boxes), SQA3D facing (real SQA3D samples), BEV."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from loc3r.geometry.frames import (
    BevFrame,
    aligned_to_raw_points,
    alignment_yaw,
    bbox_center,
    camera_heading,
    check_axis_alignment,
    heading_to_sqa3d_yaw,
    raw_to_aligned_points,
    raw_to_aligned_pose,
    raw_to_sqa3d,
    sqa3d_forward,
    sqa3d_to_raw,
    sqa3d_yaw_to_heading,
)
from loc3r.geometry.rotations import angle_diff_abs, quat_xyzw_to_matrix, quat_xyzw_to_yaw, yaw_to_matrix
from loc3r.geometry.transforms import make_rigid
from loc3r.utils.io import restricted_pickle_load


# ---------------------------------------------------------------------------------------------- axis alignment
def test_real_axis_alignment_matrices(realdata_dir):
    mats = json.loads((realdata_dir / "scannet" / "scans_axis_alignment_matrices.subset.json").read_text())
    assert len(mats) == 38
    for scene, flat in mats.items():
        A = check_axis_alignment(np.asarray(flat).reshape(4, 4), name=scene)  # z-rotation + shift, rigid
        assert A.shape == (4, 4)
    A0 = np.asarray(mats["scene0000_00"]).reshape(4, 4)
    assert math.degrees(alignment_yaw(A0)) == pytest.approx(-19.0, abs=0.05)
    np.testing.assert_allclose(A0[:3, 3], [-5.38439, -2.87178, -0.06435])


def test_real_boxes_confirm_raw_to_aligned_direction(realdata_dir):
    """mmdetection3d stores each GT box both in the raw ('unaligned') and aligned frame; p_al = A @ p_raw.

    Box centres are bbox centres of the instance points in each frame, so xy agree only up to the bbox of a
    rotated point set (< box size), while z is exact (rotation about +Z). The wrong direction (A^-1) or a
    transposed rotation is off by metres.
    """
    info = restricted_pickle_load(realdata_dir / "scannet" / "mmdet3d_tests_scannet" / "scannet_infos.pkl")[0]
    annos = info["annos"]
    A = annos["axis_align_matrix"]
    raw, aligned = annos["unaligned_location"], annos["location"]
    p = raw_to_aligned_points(raw, A)
    np.testing.assert_allclose(p[:, 2], aligned[:, 2], atol=1e-6)
    assert np.abs(p[:, :2] - aligned[:, :2]).max() < 0.3
    assert np.abs(aligned_to_raw_points(aligned, A)[:, :2] - raw[:, :2]).max() < 0.3
    wrong = raw_to_aligned_points(raw, np.linalg.inv(A))
    assert np.abs(wrong[:, :2] - aligned[:, :2]).max() > 3.0
    # The matrix in the pickle is the same as ReferIt3D's for scene0000_00.
    mats = json.loads((realdata_dir / "scannet" / "scans_axis_alignment_matrices.subset.json").read_text())
    np.testing.assert_allclose(A, np.asarray(mats["scene0000_00"]).reshape(4, 4), atol=1e-6)


def test_real_camera_pose_is_opencv_and_z_up(realdata_dir):
    info = restricted_pickle_load(realdata_dir / "scannet" / "mmdet3d_tests_scannet" / "scannet_infos.pkl")[0]
    c2w = np.asarray(info["extrinsics"][0])
    assert c2w[2, 1] == pytest.approx(-0.903587)  # camera y (image down) points to world -Z: world is +Z up
    assert c2w[2, 2] < 0  # optical axis slightly downward
    c2w_al = raw_to_aligned_pose(c2w, info["annos"]["axis_align_matrix"])
    np.testing.assert_allclose(c2w_al[2, :3], c2w[2, :3], atol=1e-6)  # rotation about Z keeps the vertical


def test_axis_alignment_rejects_non_z_rotation():
    A = make_rigid(Rotation.from_euler("x", 10, degrees=True).as_matrix(), [0, 0, 0])
    with pytest.raises(ValueError, match="not about \\+Z"):
        check_axis_alignment(A)


# ---------------------------------------------------------------------------------------------- SQA3D
def _sqa3d_annotations(realdata_dir):
    path = realdata_dir / "sqa3d" / "v1_balanced_sqa_annotations_test_scannetv2.first50.json"
    return json.loads(path.read_text())["annotations"]


def test_sqa3d_yaw_and_facing_on_real_samples(realdata_dir):
    anns = _sqa3d_annotations(realdata_dir)
    assert len(anns) == 50
    for a in anns:
        r = a["rotation"]
        q = [r["_x"], r["_y"], r["_z"], r["_w"]]  # explicit xyzw, never dict order
        yaw = quat_xyzw_to_yaw(q)
        assert yaw == pytest.approx(Rotation.from_quat(q).as_rotvec()[2], abs=1e-9)
        # facing = R(q) @ (-1, 0, 0), computed independently with scipy
        f_expected = Rotation.from_quat(q).apply([-1.0, 0.0, 0.0])
        np.testing.assert_allclose(sqa3d_forward(yaw), f_expected[:2], atol=1e-9)
        assert abs(f_expected[2]) < 1e-9
        # heading of the facing direction = yaw + pi
        h = sqa3d_yaw_to_heading(yaw)
        assert angle_diff_abs(h, math.atan2(f_expected[1], f_expected[0])) < 1e-9
        assert angle_diff_abs(heading_to_sqa3d_yaw(h), yaw) < 1e-9


def test_sqa3d_documented_example():
    # data_formats.md §2.1 example: rotation (_z=-0.99957, _w=-0.0292) -> yaw ~ +176.65 deg, facing ~ +X.
    q = [0, 0, -0.9995736030415032, -0.02919952230128897]
    yaw = quat_xyzw_to_yaw(q)
    assert math.degrees(yaw) == pytest.approx(176.654, abs=1e-2)
    f = sqa3d_forward(yaw)
    assert f[0] > 0.99  # the agent looks along +X of the SQA3D frame
    # left of the agent = +90 deg from forward (counter-clockwise seen from +Z)
    left = quat_xyzw_to_matrix(q) @ [0, -1, 0]  # R(q) @ (local left); local forward is -X, so local left is -Y
    np.testing.assert_allclose(left[:2], [-f[1], f[0]], atol=1e-9)


@settings(max_examples=40)
@given(
    st.floats(-4, 4), st.floats(-4, 4), st.floats(-10, 10),
    st.floats(-3, 3), st.floats(-3, 3), st.floats(-1, 3),
)
def test_sqa3d_raw_round_trip(x, y, yaw, cx, cy, cz):
    c = np.array([cx, cy, cz])
    p_raw, h_raw = sqa3d_to_raw(np.array([x, y]), yaw, c)
    np.testing.assert_allclose(p_raw, [x + cx, y + cy])
    p2, yaw2 = raw_to_sqa3d(p_raw, h_raw, c)
    np.testing.assert_allclose(p2, [x, y], atol=1e-9)
    assert angle_diff_abs(yaw2, yaw) < 1e-9


def test_bbox_center():
    v = np.array([[0, 0, 0], [2, 4, 1], [1, -2, 3]], dtype=float)
    np.testing.assert_allclose(bbox_center(v), [1.0, 1.0, 1.5])
    with pytest.raises(ValueError):
        bbox_center(np.zeros((0, 3)))


# ---------------------------------------------------------------------------------------------- BEV
def _camera(pos, heading, pitch_deg=-20.0):
    """OpenCV camera at pos, optical axis at `heading` (world yaw), tilted by pitch (negative = down)."""
    # camera axes in a 'level, looking along +X' reference: z_cam=+X, x_cam=-Y, y_cam=-Z
    base = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
    tilt = Rotation.from_euler("y", -pitch_deg, degrees=True).as_matrix()  # rotate the optical axis up/down
    R = yaw_to_matrix(heading) @ tilt @ base
    return make_rigid(R, pos)


def test_camera_heading_and_bev_anchor():
    T0 = _camera([2.0, 1.0, 1.5], math.radians(30))
    assert math.degrees(camera_heading(T0)) == pytest.approx(30.0)
    bev = BevFrame.from_first_pose(T0)
    # the first camera centre is the origin; a point 1 m ahead of it (horizontally) is (1, 0)
    np.testing.assert_allclose(bev.world_to_bev_xy([2.0, 1.0, 0.0]), [0, 0], atol=1e-12)
    ahead = np.array([2 + math.cos(math.radians(30)), 1 + math.sin(math.radians(30))])
    np.testing.assert_allclose(bev.world_to_bev_xy(ahead), [1, 0], atol=1e-12)
    left = np.array([2 - math.sin(math.radians(30)), 1 + math.cos(math.radians(30))])
    np.testing.assert_allclose(bev.world_to_bev_xy(left), [0, 1], atol=1e-12)
    assert bev.world_to_bev_heading(math.radians(30)) == pytest.approx(0.0)
    np.testing.assert_allclose(bev.T_bev_from_world @ bev.T_world_from_bev, np.eye(4), atol=1e-12)


@settings(max_examples=40)
@given(st.integers(0, 100_000))
def test_bev_round_trip_and_frame_independence(seed):
    """The BEV frame is the same whether anchored in the raw or the axis-aligned world."""
    rng = np.random.default_rng(seed)
    T0_raw = _camera(rng.normal(size=3), rng.uniform(-math.pi, math.pi), rng.uniform(-60, 30))
    A = make_rigid(yaw_to_matrix(rng.uniform(-math.pi, math.pi)), [*rng.normal(size=2) * 3, rng.normal() * 0.1])
    pts_raw = rng.normal(size=(6, 3)) * 3
    headings_raw = rng.uniform(-math.pi, math.pi, size=6)
    bev_raw = BevFrame.from_first_pose(T0_raw)
    bev_al = BevFrame.from_first_pose(raw_to_aligned_pose(T0_raw, A))
    p_bev = bev_raw.world_to_bev_xy(pts_raw)
    np.testing.assert_allclose(bev_al.world_to_bev_xy(raw_to_aligned_points(pts_raw, A)), p_bev, atol=1e-9)
    h_bev = bev_raw.world_to_bev_heading(headings_raw)
    h_al = bev_al.world_to_bev_heading(headings_raw + alignment_yaw(A))
    assert np.all(angle_diff_abs(h_al, h_bev) < 1e-9)
    np.testing.assert_allclose(bev_raw.bev_to_world_xy(p_bev), pts_raw[:, :2], atol=1e-9)
    assert np.all(angle_diff_abs(bev_raw.bev_to_world_heading(h_bev), headings_raw) < 1e-9)


def test_bev_prediction_to_sqa3d_hand_case():
    """A BEV prediction mapped to the SQA3D frame through the first frame's pose (rotation + translation)."""
    T0 = _camera([3.0, 2.0, 1.4], math.pi / 2)  # first camera looks along raw +Y
    bev = BevFrame.from_first_pose(T0)
    center_raw = np.array([1.0, 1.0, 1.2])
    # predicted agent 2 m ahead of the first camera, facing back towards it
    p_raw = bev.bev_to_world_xy([2.0, 0.0])
    h_raw = bev.bev_to_world_heading(math.pi)
    np.testing.assert_allclose(p_raw, [3.0, 4.0], atol=1e-12)
    assert angle_diff_abs(h_raw, -math.pi / 2) < 1e-12
    p_sqa, yaw_sqa = raw_to_sqa3d(p_raw, h_raw, center_raw)
    np.testing.assert_allclose(p_sqa, [2.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(sqa3d_forward(yaw_sqa), [0.0, -1.0], atol=1e-12)  # faces raw -Y
