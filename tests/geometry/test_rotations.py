"""Rotations: quaternion (xyzw) <-> yaw, wrapping, matrices; checked against scipy and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from loc3r.geometry.rotations import (
    angle_diff_abs,
    matrix_to_quat_xyzw,
    matrix_to_yaw,
    quat_xyzw_to_matrix,
    quat_xyzw_to_yaw,
    vector_to_yaw,
    wrap_angle,
    yaw_to_matrix,
    yaw_to_quat_xyzw,
    yaw_to_vector,
)

angles = st.floats(min_value=-20.0, max_value=20.0, allow_nan=False)


def test_wrap_angle_known_values():
    assert wrap_angle(0.0) == 0.0
    assert wrap_angle(math.pi) == pytest.approx(-math.pi)  # [-pi, pi): +pi maps to -pi
    assert wrap_angle(-math.pi) == pytest.approx(-math.pi)
    assert wrap_angle(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert wrap_angle(-7 * math.pi / 2) == pytest.approx(math.pi / 2)


@given(angles)
def test_wrap_angle_range_and_equivalence(a):
    w = float(wrap_angle(a))
    assert -math.pi <= w < math.pi
    assert math.cos(w) == pytest.approx(math.cos(a), abs=1e-9)
    assert math.sin(w) == pytest.approx(math.sin(a), abs=1e-9)


def test_angle_diff_wraps_at_pi():
    assert math.degrees(angle_diff_abs(math.radians(179), math.radians(-179))) == pytest.approx(2.0)
    assert math.degrees(angle_diff_abs(math.radians(10), math.radians(350))) == pytest.approx(20.0)
    assert math.degrees(angle_diff_abs(0.0, math.pi)) == pytest.approx(180.0)


def test_sqa3d_quaternion_yaw_matches_scipy_rotvec_with_negative_w():
    # SQA3D stores pure-yaw quaternions whose _w may be negative; 2*atan2(z, w) then exceeds pi before wrapping.
    q = [0.0, 0.0, -0.9995736030415032, -0.02919952230128897]  # the example annotation in data_formats.md §2.1
    expected = Rotation.from_quat(q).as_rotvec()[2]
    assert quat_xyzw_to_yaw(q) == pytest.approx(expected)
    raw = 2 * math.atan2(q[2], q[3])
    assert abs(raw) > math.pi  # the unwrapped formula is outside (-pi, pi]
    assert quat_xyzw_to_yaw(q) == pytest.approx(wrap_angle(raw))


@given(angles)
def test_yaw_quaternion_round_trip(yaw):
    q = yaw_to_quat_xyzw(yaw)
    assert q[3] >= 0 and np.linalg.norm(q) == pytest.approx(1.0)
    assert angle_diff_abs(quat_xyzw_to_yaw(q), yaw) < 1e-9
    # same rotation as scipy's
    np.testing.assert_allclose(quat_xyzw_to_matrix(q), Rotation.from_quat(q).as_matrix(), atol=1e-12)


@settings(max_examples=50)
@given(st.lists(st.floats(-1, 1, allow_nan=False), min_size=4, max_size=4))
def test_general_quaternion_matrix_round_trip(q):
    q = np.asarray(q)
    if np.linalg.norm(q) < 1e-3:
        return
    R = quat_xyzw_to_matrix(q)
    np.testing.assert_allclose(R, Rotation.from_quat(q).as_matrix(), atol=1e-9)
    q2 = matrix_to_quat_xyzw(R)
    np.testing.assert_allclose(quat_xyzw_to_matrix(q2), R, atol=1e-9)
    # yaw of a general rotation = heading of its rotated +X axis
    x_axis = R[:, 0]
    if np.hypot(x_axis[0], x_axis[1]) > 1e-3:
        assert angle_diff_abs(quat_xyzw_to_yaw(q), math.atan2(x_axis[1], x_axis[0])) < 1e-7


def test_yaw_matrix_and_vector():
    R = yaw_to_matrix(math.pi / 2)
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)  # counter-clockwise seen from +Z
    assert matrix_to_yaw(R) == pytest.approx(math.pi / 2)
    np.testing.assert_allclose(yaw_to_vector(math.pi), [-1, 0], atol=1e-12)
    assert vector_to_yaw([0.0, -2.0]) == pytest.approx(-math.pi / 2)
    with pytest.raises(ValueError):
        vector_to_yaw([0.0, 0.0])


def test_bad_quaternions_raise():
    with pytest.raises(ValueError):
        quat_xyzw_to_matrix([0, 0, 0, 0])
    with pytest.raises(ValueError):
        quat_xyzw_to_matrix([0, 0, np.nan, 1])
    with pytest.raises(ValueError):
        quat_xyzw_to_yaw([0, 0, 1])
