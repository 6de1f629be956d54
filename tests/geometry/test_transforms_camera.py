"""Rigid transforms and the pinhole camera: validation, inversion, unprojection (hand-computed cases)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from loc3r.geometry.camera import project_points, scale_intrinsics, unproject_depth
from loc3r.geometry.transforms import RigidTransformError, apply_rigid, check_rigid, invert_rigid, make_rigid


def _random_rigid(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return make_rigid(Rotation.random(random_state=seed).as_matrix(), rng.normal(size=3) * 3)


@settings(max_examples=30)
@given(st.integers(0, 10_000))
def test_invert_round_trip(seed):
    T = _random_rigid(seed)
    np.testing.assert_allclose(invert_rigid(T) @ T, np.eye(4), atol=1e-12)
    p = np.random.default_rng(seed).normal(size=(5, 3))
    np.testing.assert_allclose(apply_rigid(invert_rigid(T), apply_rigid(T, p)), p, atol=1e-12)


def test_check_rigid_names_the_problem():
    T = np.eye(4)
    T[0, 3] = -np.inf
    with pytest.raises(RigidTransformError, match="pose of frame 7.*-inf"):
        check_rigid(T, name="pose of frame 7")
    S = np.diag([2.0, 1.0, 1.0, 1.0])
    with pytest.raises(RigidTransformError, match="not orthonormal"):
        check_rigid(S)
    F = np.diag([-1.0, 1.0, 1.0, 1.0])
    with pytest.raises(RigidTransformError, match="reflection"):
        check_rigid(F)
    with pytest.raises(RigidTransformError, match="4x4"):
        check_rigid(np.eye(3))
    B = np.eye(4)
    B[3, 0] = 1
    with pytest.raises(RigidTransformError, match="last row"):
        check_rigid(B)


def test_unproject_hand_computed():
    # 2x3 depth image, fx=fy=2, cx=1, cy=0.5; pixel (u=2, v=1) at depth 4 -> x=(2-1)*4/2=2, y=(1-0.5)*4/2=1.
    K = np.array([[2.0, 0, 1.0], [0, 2.0, 0.5], [0, 0, 1]])
    depth = np.zeros((2, 3))
    depth[1, 2] = 4.0
    pts, valid = unproject_depth(depth, K)
    assert valid.sum() == 1 and valid[1, 2]
    np.testing.assert_allclose(pts[1, 2], [2.0, 1.0, 4.0])
    # With a pose: camera at (10, 0, 1) looking along world +X (OpenCV z -> world +X, x -> world -Y, y -> -Z).
    R = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
    T = make_rigid(R, [10.0, 0.0, 1.0])
    pw, _ = unproject_depth(depth, K, T)
    np.testing.assert_allclose(pw[1, 2], [14.0, -2.0, 0.0])
    uv, z = project_points(pw[1, 2], K, T)
    np.testing.assert_allclose(uv, [2.0, 1.0])
    assert z == pytest.approx(4.0)


def test_scale_intrinsics():
    K = np.array([[577.59, 0, 318.9, 0], [0, 578.73, 242.68, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    K2 = scale_intrinsics(K, 0.5, 0.25)
    np.testing.assert_allclose(K2, [[288.795, 0, 159.45], [0, 144.6825, 60.67], [0, 0, 1]])
