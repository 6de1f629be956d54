"""Localization metric (SQA3D protocol) and the BEV -> dataset-frame mapping, on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loc3r.eval.metrics.localization import (
    bev_to_dataset,
    localization_accuracy,
    min_errors,
    position_error,
    rotation_error_deg,
    rotvec_yaw,
    sqa3d_localization_metric,
)


def _quat_yaw(yaw_rad: float) -> list[float]:
    return [0.0, 0.0, math.sin(yaw_rad / 2), math.cos(yaw_rad / 2)]


def test_position_error_ignores_z():
    assert position_error([3.0, 4.0, 10.0], [0.0, 0.0, -5.0]) == pytest.approx(5.0)


@pytest.mark.parametrize(
    "a_deg, b_deg, expected",
    [
        (10, 0, 10),
        (179, -179, 2),  # wrap: |358| -> 2
        (-170, 170, 20),
        (90, -90, 180),
        (0, 360, 0),
        (720 + 5, 0, 5),  # arbitrary radians are wrapped first
    ],
)
def test_rotation_error_wraps(a_deg, b_deg, expected):
    got = float(rotation_error_deg(math.radians(a_deg), math.radians(b_deg)))
    assert got == pytest.approx(expected, abs=1e-9)


def test_rotvec_yaw_matches_half_angle_formula_including_negative_w():
    # _w < 0: raw 2*atan2(z, w) is outside (-pi, pi]; the rotation vector's z is the wrapped angle
    q = [0.0, 0.0, -0.9995736030415032, -0.02919952230128897]  # real SQA3D test annotation
    raw = 2 * math.atan2(q[2], q[3])
    assert abs(raw) > math.pi
    wrapped = (raw + math.pi) % (2 * math.pi) - math.pi
    assert float(rotvec_yaw(np.array(q))) == pytest.approx(wrapped, abs=1e-12)


def test_strict_threshold_is_default_and_le_is_an_option():
    pos = np.array([0.5, 1.0, 0.49])
    rot = np.array([15.0, 30.0, 14.9])
    strict = localization_accuracy(pos, rot)
    assert strict["Acc@0.5m"] == pytest.approx(100 / 3)  # only 0.49
    assert strict["Acc@1.0m"] == pytest.approx(200 / 3)  # 1.0 is not < 1.0
    assert strict["Acc@15deg"] == pytest.approx(100 / 3)
    assert strict["Acc@30deg"] == pytest.approx(200 / 3)
    le = localization_accuracy(pos, rot, strict=False)
    assert le["Acc@0.5m"] == pytest.approx(200 / 3)
    assert le["Acc@1.0m"] == pytest.approx(100.0)
    assert le["Acc@15deg"] == pytest.approx(200 / 3)
    assert le["Acc@30deg"] == pytest.approx(100.0)


def test_medians_and_missing_predictions():
    out = localization_accuracy(np.array([0.3, 0.1, np.inf]), np.array([10.0, 5.0, np.inf]))
    assert out["median_pos_err_m"] == pytest.approx(0.3)
    assert out["median_rot_err_deg"] == pytest.approx(10.0)
    assert out["Acc@0.5m"] == pytest.approx(200 / 3)  # the missing one counts as a miss
    mostly_missing = localization_accuracy(np.array([0.1, np.inf, np.inf]), np.array([1.0, np.inf, np.inf]))
    assert mostly_missing["median_pos_err_m"] is None
    empty = localization_accuracy(np.zeros(0), np.zeros(0))
    assert empty["Acc@0.5m"] is None


def test_guesses_minimised_independently_for_position_and_rotation():
    # guess 1: right place, wrong direction; guess 2: wrong place, right direction -> both count
    pos, rot = min_errors([np.array([[0.1, 0.0], [3.0, 0.0]])], [np.array([math.pi / 2, 0.05])],
                          gt_xy=np.array([[0.0, 0.0]]), gt_yaw=np.array([0.0]))
    assert pos[0] == pytest.approx(0.1)
    assert rot[0] == pytest.approx(math.degrees(0.05))
    # no guess -> inf
    pos, rot = min_errors([np.zeros((0, 2))], [np.zeros(0)], np.zeros((1, 2)), np.zeros(1))
    assert np.isinf(pos[0]) and np.isinf(rot[0])
    with pytest.raises(ValueError, match="at most 3"):
        min_errors([np.zeros((4, 2))], [np.zeros(4)], np.zeros((1, 2)), np.zeros(1))


def test_official_api_with_quaternions():
    gt_pos = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    gt_rot = np.array([_quat_yaw(0.0), _quat_yaw(math.radians(170))])
    pred_pos = [np.array([[0.3, 0.4, 7.0]]),  # 0.5 m exactly (z ignored): not < 0.5
                np.array([[1.2, 1.0, 0.0], [5.0, 5.0, 0.0]])]
    pred_rot = [np.array([_quat_yaw(math.radians(20))]),
                np.array([_quat_yaw(math.radians(-176)), _quat_yaw(0.0)])]  # 14 deg across the wrap
    out = sqa3d_localization_metric(gt_pos, gt_rot, pred_pos, pred_rot)
    assert out["Acc@0.5m"] == pytest.approx(50.0)
    assert out["Acc@1.0m"] == pytest.approx(100.0)
    assert out["Acc@15deg"] == pytest.approx(50.0)  # 14 deg yes, 20 deg no
    assert out["Acc@30deg"] == pytest.approx(100.0)
    assert out["median_rot_err_deg"] == pytest.approx(17.0)
    assert out["median_pos_err_m"] == pytest.approx(0.35)


# --------------------------------------------------------------------------------------------- BEV mapping
def _camera_looking_along_y(center) -> np.ndarray:
    """c2w of a level camera at ``center`` looking along world +Y (x_cam = +X, y_cam = -Z, z_cam = +Y)."""
    T = np.eye(4)
    T[:3, 0] = [1.0, 0.0, 0.0]
    T[:3, 1] = [0.0, 0.0, -1.0]
    T[:3, 2] = [0.0, 1.0, 0.0]
    T[:3, 3] = center
    return T


def test_bev_to_sqa3d_hand_case():
    # First camera at raw (2, 1, 1.5) looking along raw +Y: BEV x axis = raw +Y, BEV y axis = raw -X.
    T0 = _camera_looking_along_y([2.0, 1.0, 1.5])
    center_raw = np.array([1.0, 1.0, 1.0])
    # BEV (1, 0) facing BEV +x -> raw (2, 2) facing +Y (heading pi/2) -> SQA3D (1, 1), same heading
    xy, head = bev_to_dataset(np.array([1.0, 0.0]), np.array(0.0), T0, "sqa3d", scene_center_raw=center_raw)
    np.testing.assert_allclose(xy, [1.0, 1.0], atol=1e-12)
    assert float(head) == pytest.approx(math.pi / 2)
    # BEV (0, 2) facing BEV +y (heading pi/2) -> raw (2 - 2, 1) = (0, 1) facing raw -X (heading pi)
    xy, head = bev_to_dataset(np.array([0.0, 2.0]), np.array(math.pi / 2), T0, "raw")
    np.testing.assert_allclose(xy, [0.0, 1.0], atol=1e-12)
    assert math.cos(float(head) - math.pi) == pytest.approx(1.0)
    # target "bev" is the identity
    xy, head = bev_to_dataset(np.array([0.3, -0.2]), np.array(0.1), T0, "bev")
    np.testing.assert_allclose(xy, [0.3, -0.2])


def test_bev_to_raw_through_an_aligned_first_pose():
    # axisAlignment = rotation by +90 deg about Z, translation (10, 0, 0): p_al = R p_raw + t
    A = np.eye(4)
    A[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    A[:3, 3] = [10.0, 0.0, 0.0]
    T_raw = _camera_looking_along_y([2.0, 1.0, 1.5])
    T_al = A @ T_raw
    xy_raw, head_raw = bev_to_dataset(np.array([1.0, 0.0]), np.array(0.0), T_raw, "raw")
    xy_via_al, head_via_al = bev_to_dataset(np.array([1.0, 0.0]), np.array(0.0), T_al, "raw",
                                            world_frame="aligned", axis_alignment=A)
    np.testing.assert_allclose(xy_via_al, xy_raw, atol=1e-12)
    assert math.cos(float(head_via_al - head_raw)) == pytest.approx(1.0)
    # raw first pose, aligned target: raw (2, 2) heading pi/2 -> aligned (10 - 2, 2) = (8, 2) heading pi
    xy_al, head_al = bev_to_dataset(np.array([1.0, 0.0]), np.array(0.0), T_raw, "aligned", axis_alignment=A)
    np.testing.assert_allclose(xy_al, [8.0, 2.0], atol=1e-12)
    assert math.cos(float(head_al) - math.pi) == pytest.approx(1.0)


def test_bev_mapping_errors():
    T0 = _camera_looking_along_y([0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="scene_center_raw"):
        bev_to_dataset(np.zeros(2), np.array(0.0), T0, "sqa3d")
    with pytest.raises(ValueError, match="axis_alignment"):
        bev_to_dataset(np.zeros(2), np.array(0.0), T0, "aligned")
    with pytest.raises(ValueError, match="unknown target frame"):
        bev_to_dataset(np.zeros(2), np.array(0.0), T0, "camera")
