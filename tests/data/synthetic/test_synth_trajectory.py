"""Camera walk: heights, free space, valid OpenCV poses, smoothness, coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loc3r.data.synthetic.config import SynthConfig
from loc3r.data.synthetic.layout import free_space_mask, sample_world
from loc3r.data.synthetic.trajectory import free_grid, look_rotation, sample_trajectory
from loc3r.geometry.frames import camera_heading
from loc3r.geometry.transforms import check_rigid

CFG = SynthConfig()


@pytest.fixture(scope="module")
def walks():
    out = []
    for i in range(6):
        w = sample_world(CFG.rng(i, 0), CFG.scene_id(i), CFG)
        out.append((w, sample_trajectory(w, CFG.rng(i, 1), 120)))
    return out


def test_look_rotation_known_axes():
    R = look_rotation(np.array(0.0), np.array(0.0), np.array(0.0))
    # looking along +x with z up: camera x (right) = -y, camera y (down) = -z, camera z (forward) = +x
    np.testing.assert_allclose(R, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-12)
    R = look_rotation(np.array(math.pi / 2), np.array(-math.pi / 6), np.array(0.0))
    np.testing.assert_allclose(R[:, 2], [0, math.cos(math.pi / 6), -0.5], atol=1e-12)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_poses_are_rigid_at_hand_height_and_in_free_space(walks):
    for w, T in walks:
        assert T.shape == (120, 4, 4)
        for k in range(0, 120, 7):
            check_rigid(T[k])
        z = T[:, 2, 3]
        assert z.min() >= 1.3 - 1e-9 and z.max() <= 1.7 + 1e-9
        assert free_space_mask(w, T[:, :2, 3], clearance=0.2).all(), w.scene_id
        down = T[:, 2, 1]  # world z of the camera's y (down) axis
        assert (down < -0.6).all(), "the camera stays roughly upright"
        pitch = np.degrees(np.arcsin(T[:, 2, 2]))
        assert pitch.max() < 5 and pitch.min() > -65, "looks ahead / slightly down"


def test_walk_is_smooth_and_looks_around(walks):
    for w, T in walks:
        step = np.linalg.norm(np.diff(T[:, :3, 3], axis=0), axis=1)
        assert step.max() < 0.25, f"{w.scene_id}: a jump of {step.max():.2f} m between frames"
        h = np.unwrap(camera_heading(T))
        dh = np.degrees(np.abs(np.diff(h)))
        assert dh.max() < 25, f"{w.scene_id}: heading jumps {dh.max():.1f} deg between frames"
        assert np.degrees(h.max() - h.min()) > 90, "the camera should look around"


def test_walk_covers_the_free_floor(walks):
    for w, T in walks:
        free, xs, ys = free_grid(w, clearance=0.3)
        cells = np.argwhere(free)
        pts = np.stack([xs[cells[:, 0]], ys[cells[:, 1]]], -1)
        d = np.linalg.norm(pts[:, None, :] - T[None, :, :2, 3], axis=-1).min(axis=1)
        assert (d < 1.5).mean() > 0.8, f"{w.scene_id}: the walk leaves much of the room unvisited"


def test_same_seed_same_walk():
    w = sample_world(CFG.rng(2, 0), CFG.scene_id(2), CFG)
    a = sample_trajectory(w, CFG.rng(2, 1), 30)
    b = sample_trajectory(w, CFG.rng(2, 1), 30)
    assert np.array_equal(a, b)
