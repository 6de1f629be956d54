"""Ray-cast renderer: depth and instance ids against hand computations and a slow scalar reference."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from synth_reference import first_hit

from loc3r.data.synthetic.config import SynthConfig, scaled_intrinsics
from loc3r.data.synthetic.layout import sample_world
from loc3r.data.synthetic.render import SceneRenderer
from loc3r.data.synthetic.trajectory import look_rotation, sample_trajectory
from loc3r.data.synthetic.world import Part, Room, SceneObject, World


def _pose(x, y, z, yaw, pitch=0.0):
    T = np.eye(4)
    T[:3, :3] = look_rotation(np.array(yaw), np.array(pitch), np.array(0.0))
    T[:3, 3] = (x, y, z)
    return T


def _empty_room(objects=()) -> World:
    room = Room(polygon=np.array([[-2.0, -2.0], [2.0, -2.0], [2.0, 2.0], [-2.0, 2.0]]), height=2.5)
    return World(scene_id="scene9997_00", room=room, objects=tuple(objects))


def test_hand_computed_depths_in_an_empty_room():
    w = _empty_room()
    K = scaled_intrinsics(65, 49)  # principal point exactly on pixel (32, 24)
    f, cx, cy = K[0, 0], K[0, 2], K[1, 2]
    assert (cx, cy) == (32.0, 24.0)
    r = SceneRenderer(w)
    level = r.render(_pose(-1.5, 0.0, 1.2, 0.0), K, 65, 49)
    assert level.depth[24, 32] == pytest.approx(3.5, abs=1e-5)  # the wall x = 2, 3.5 m ahead
    np.testing.assert_allclose(level.depth[24, :], 3.5, atol=1e-5)  # a wall parallel to the image: constant
    # top row: ray slope cy / f upwards, ceiling 1.3 m above; bottom row: floor 1.2 m below
    assert level.depth[0, 32] == pytest.approx(1.3 / (cy / f), abs=1e-5)
    assert level.depth[48, 32] == pytest.approx(1.2 / ((48 - cy) / f), abs=1e-5)
    assert (level.instance == -1).all()
    down = r.render(_pose(-1.5, 0.0, 1.5, 0.0, math.radians(-30)), K, 65, 49)
    assert down.depth[24, 32] == pytest.approx(1.5 / math.sin(math.radians(30)), abs=1e-5)  # the floor


def test_box_in_front_gives_its_depth_and_instance_id():
    obj = SceneObject(
        object_id=0,
        category="cabinet",
        color_name="red",
        center=(1.0, 0.0, 0.75),
        size=(0.4, 1.0, 1.5),
        yaw=0.0,
        parts=(Part("box", (0.0, 0.0, 0.75), (0.4, 1.0, 1.5), (200, 30, 30)),),
    )
    w = _empty_room([obj])
    K = scaled_intrinsics(64, 48)
    out = SceneRenderer(w).render(_pose(0.0, 0.0, 1.2, 0.0), K, 64, 48)
    # the front face is the plane x = 0.8; the centre pixels see it at depth 0.8
    np.testing.assert_allclose(out.depth[20:28, 28:36], 0.8, atol=1e-5)
    assert (out.instance[20:28, 28:36] == 0).all()
    # the far left column (u = 0) looks 28.6 deg left: past the box (half width 0.5 at 0.8 m = 32 deg) -> box
    assert out.instance[24, 0] == 0
    assert out.rgb[24, 32, 0] > out.rgb[24, 32, 1] + 60, "a red box renders red"


@pytest.fixture(scope="module")
def scene_without_openings():
    cfg = SynthConfig()
    w = sample_world(cfg.rng(4, 0), cfg.scene_id(4), cfg)
    w = dataclasses.replace(w, room=dataclasses.replace(w.room, openings=()))
    return w, sample_trajectory(w, cfg.rng(4, 1), 12)


def test_depth_and_instances_match_a_scalar_reference(scene_without_openings):
    w, poses = scene_without_openings
    width, height = 80, 60
    K = scaled_intrinsics(width, height)
    r = SceneRenderer(w)
    rng = np.random.default_rng(0)
    checked = objects_seen = 0
    for k in range(0, len(poses), 3):
        T = poses[k]
        out = r.render(T, K, width, height)
        for u, v in zip(rng.integers(0, width, 25), rng.integers(0, height, 25), strict=True):
            d_cam = np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
            t, obj = first_hit(w, T[:3, 3], T[:3, :3] @ d_cam)
            assert out.depth[v, u] == pytest.approx(t, abs=2e-4), (k, u, v)
            if abs(out.depth[v, u] - t) < 2e-4 and out.instance[v, u] != obj:
                # the two may disagree only where two surfaces are hit at (numerically) the same distance
                t2, _ = first_hit(w, T[:3, 3], T[:3, :3] @ (d_cam * (1 + 1e-9)))
                assert abs(t2 - t) < 1e-3
            else:
                assert out.instance[v, u] == obj, (k, u, v)
            checked += 1
            objects_seen += obj >= 0
    assert checked == 100 and objects_seen > 10


def test_rendering_is_deterministic_and_noise_follows_the_generator(scene_without_openings):
    w, poses = scene_without_openings
    K = scaled_intrinsics(80, 60)
    a = SceneRenderer(w).render(poses[0], K, 80, 60, np.random.default_rng(5))
    b = SceneRenderer(w).render(poses[0], K, 80, 60, np.random.default_rng(5))
    c = SceneRenderer(w).render(poses[0], K, 80, 60, None)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)
    assert np.array_equal(a.depth, c.depth) and not np.array_equal(a.rgb, c.rgb)
    assert np.abs(a.rgb.astype(int) - c.rgb.astype(int)).mean() < 3


def test_shading_makes_faces_distinguishable():
    obj = SceneObject(
        object_id=0,
        category="cabinet",
        color_name="white",
        center=(0.0, 0.0, 0.5),
        size=(0.8, 0.8, 1.0),
        yaw=math.radians(30),
        parts=(Part("box", (0.0, 0.0, 0.5), (0.8, 0.8, 1.0), (220, 220, 220)),),
    )
    w = _empty_room([obj])
    K = scaled_intrinsics(160, 120)
    T = _pose(-1.6, -0.3, 1.6, math.radians(10), math.radians(-30))
    out = SceneRenderer(w).render(T, K, 160, 120)
    # the box shows two side faces and its top: their mean brightness must differ clearly
    from loc3r.geometry.camera import unproject_depth

    pts, _ = unproject_depth(out.depth, K, T)
    m = out.instance == 0
    c, s = math.cos(obj.yaw), math.sin(obj.yaw)
    q = pts[m] - np.array([0.0, 0.0, 0.5])
    lx, ly = c * q[:, 0] + s * q[:, 1], -s * q[:, 0] + c * q[:, 1]
    lum = out.rgb[m].mean(axis=1)
    top = np.abs(q[:, 2] - 0.5) < 1e-3
    side_x = np.abs(np.abs(lx) - 0.4) < 1e-3
    side_y = np.abs(np.abs(ly) - 0.4) < 1e-3
    means = [lum[sel & ~top].mean() if sel is not top else lum[top].mean() for sel in (top, side_x, side_y)]
    assert min(abs(means[0] - means[1]), abs(means[1] - means[2]), abs(means[0] - means[2])) > 8, means


def test_cylinders_are_shaded_by_their_normals():
    obj = SceneObject(
        object_id=0,
        category="trash can",
        color_name="white",
        center=(0.0, 0.0, 0.5),
        size=(0.8, 0.8, 1.0),
        yaw=0.0,
        parts=(Part("cylinder", (0.0, 0.0, 0.5), (0.8, 0.8, 1.0), (220, 220, 220)),),
    )
    w = _empty_room([obj])
    K = scaled_intrinsics(160, 120)
    T = _pose(-1.5, 0.0, 1.3, 0.0, math.radians(-25))
    out = SceneRenderer(w).render(T, K, 160, 120)
    from loc3r.geometry.camera import unproject_depth

    pts, _ = unproject_depth(out.depth, K, T)
    m = out.instance == 0
    q = pts[m] - np.array([0.0, 0.0, 0.5])
    lum = out.rgb[m].mean(axis=1)
    top = np.abs(q[:, 2] - 0.5) < 1e-3
    side = np.abs(np.hypot(q[:, 0], q[:, 1]) - 0.4) < 1e-3
    assert top.sum() > 50 and side.sum() > 200
    # the side facing the camera (normal ~ -x) is lit by the camera light, the grazing parts much less
    facing = side & (q[:, 0] < -0.35)
    grazing = side & (np.abs(q[:, 1]) > 0.37)
    assert lum[facing].mean() > lum[grazing].mean() + 15
    assert abs(lum[top].mean() - lum[facing].mean()) > 8
