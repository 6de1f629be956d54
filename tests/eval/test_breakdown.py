"""Accuracy split by the first frame's view: hand-computed geometry and counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loc3r.data.schema import Pose, Record
from loc3r.eval.breakdown import accuracy_by_view, first_view_mask, half_fov_deg
from loc3r.utils.io import DataError


def _camera_c2w(x: float, y: float, heading_deg: float) -> np.ndarray:
    """OpenCV camera (x right, y down, z forward) at (x, y, 1.5) looking horizontally at ``heading_deg``."""
    h = math.radians(heading_deg)
    fwd, down = np.array([math.cos(h), math.sin(h), 0.0]), np.array([0.0, 0.0, -1.0])
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = np.cross(down, fwd), down, fwd, (x, y, 1.5)
    return T


def _record(i: int, x: float, y: float, scene: str = "scene0000_00") -> Record:
    return Record(id=f"r{i}", source="sqa3d", task="localization", scene_id=scene, question="", answers=[],
                  situation="I stand here.", pose=Pose(x=x, y=y, yaw=0.0, forward=(1.0, 0.0), frame="sqa3d"))


def test_half_fov_of_the_synthetic_camera():
    # 160 px wide, f = 577.870605 * 160 / 640: atan(80 / 144.47) = 28.98 deg
    assert half_fov_deg(160, 577.870605 / 4) == pytest.approx(28.98, abs=0.01)
    assert half_fov_deg(2, 1) == pytest.approx(45.0)
    with pytest.raises(ValueError):
        half_fov_deg(0, 1)


def test_first_view_mask_hand_computed():
    # First camera at raw (1, 2) facing +y; the SQA3D origin (mesh centre) at raw (1, 1): SQA3D = raw - (1, 1).
    cams = {"scene0000_00": (np.stack([_camera_c2w(1, 2, 90), _camera_c2w(5, 5, 0)]), np.array([1.0, 1.0, 0.7]))}
    recs = [
        _record(0, 0.0, 3.0),    # raw (1, 4): 2 m straight ahead -> in view
        _record(1, 1.5, 2.0),    # raw (2.5, 3): 1 m ahead, 1.5 m right: 56 deg off axis -> out
        _record(2, 0.0, -1.0),   # raw (1, 0): behind the camera -> out
        _record(3, 0.2, 4.0),    # raw (1.2, 5): 3.8 deg right of the axis -> in
        _record(4, -0.5, 1.9),   # raw (0.5, 2.9): 0.9 m ahead, 0.5 m left: 29.05 deg -> just out at 28.98
    ]
    assert first_view_mask(recs, cams, 28.98) == {"r0": True, "r1": False, "r2": False, "r3": True, "r4": False}
    assert first_view_mask(recs[4:], cams, 29.1) == {"r4": True}
    with pytest.raises(DataError, match="scene0001_00"):
        first_view_mask([_record(9, 0, 0, "scene0001_00")], cams, 30)


def test_accuracy_by_view_counts_each_side():
    in_view = {"a": True, "b": True, "c": False, "d": False, "e": False}
    samples = [{"id": "a", "pos_err_m": 0.2}, {"id": "b", "pos_err_m": 1.0}, {"id": "c", "pos_err_m": 0.99},
               {"id": "d", "pos_err_m": 3.0}, {"id": "e", "pos_err_m": 5.0}]
    got = accuracy_by_view(samples, in_view)
    assert got == {"in_view": 50.0, "out_of_view": pytest.approx(100 / 3), "n_in_view": 2, "n_out_of_view": 3}
    assert accuracy_by_view(samples, in_view, strict=False)["in_view"] == 100.0  # 1.0 <= 1.0
    assert accuracy_by_view(samples[:2], in_view)["out_of_view"] is None
    with pytest.raises(DataError, match="'z'"):
        accuracy_by_view([{"id": "z", "pos_err_m": 0.0}], in_view)
