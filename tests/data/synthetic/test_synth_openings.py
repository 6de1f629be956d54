"""Doors and windows are instances (id ``len(objects) + k``) in the mesh, the aggregation and the renders."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loc3r.data.scannet.instances import build_instances
from loc3r.data.synthetic.config import SynthConfig, scaled_intrinsics
from loc3r.data.synthetic.layout import sample_world
from loc3r.data.synthetic.mesh import build_mesh, mesh_vertices_raw
from loc3r.data.synthetic.render import SceneRenderer
from loc3r.data.synthetic.trajectory import look_rotation, sample_trajectory
from loc3r.data.synthetic.world import Opening, Part, Room, SceneObject, World, opening_object_id
from loc3r.data.synthetic.writer import object_seg_groups
from loc3r.geometry.transforms import apply_rigid

# Door/window panels (frames, sills, handles) stand at most this far in front of their wall and reach at
# most this far beyond the opening's nominal rectangle (the same tolerances as synth_reference).
_MAX_DEPTH_M = 0.13
_MAX_OVERHANG_M = 0.06


def _world() -> World:
    """A 4 x 3 m room: a cabinet (id 0), a door on wall 0 (id 1) and a window on wall 1 (id 2)."""
    A = np.eye(4)
    A[:2, :2] = [[math.cos(0.4), -math.sin(0.4)], [math.sin(0.4), math.cos(0.4)]]
    A[:3, 3] = [1.0, -2.0, 0.05]
    openings = (
        Opening("door", wall=0, offset=1.0, width=0.9, z_min=0.0, z_max=2.1),  # centre (-1.0, -1.5)
        Opening("window", wall=1, offset=1.5, width=1.2, z_min=0.9, z_max=2.0),  # centre (2.0, 0.0)
    )
    room = Room(
        polygon=np.array([[-2.0, -1.5], [2.0, -1.5], [2.0, 1.5], [-2.0, 1.5]]), height=2.6, openings=openings
    )
    cabinet = SceneObject(
        object_id=0,
        category="cabinet",
        color_name="red",
        center=(-1.2, 1.0, 0.4),
        size=(0.6, 0.8, 0.8),
        yaw=-math.pi / 2,
        parts=(Part("box", (0.0, 0.0, 0.4), (0.6, 0.8, 0.8), (180, 40, 40)),),
    )
    return World(scene_id="scene9996_00", room=room, objects=(cabinet,), axis_alignment=A)


def _wall_coords(world: World, wall: int, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance along the wall from its start, distance in front of it) of aligned points [N, >=2]."""
    a, b = world.room.walls()[wall]
    e = (b - a) / np.linalg.norm(b - a)
    n = np.array([-e[1], e[0]])  # inward for a counter-clockwise polygon
    q = np.asarray(pts)[:, :2] - a
    return q @ e, q @ n


def _assert_on_opening(world: World, k: int, pts: np.ndarray) -> None:
    """Aligned points [N, 3] lie on the k-th opening: on its wall, within its extent (plus the panel trim)."""
    op = world.room.openings[k]
    s, off = _wall_coords(world, op.wall, pts)
    assert (np.abs(s - op.offset) <= op.width / 2 + _MAX_OVERHANG_M).all()
    assert (off >= -1e-4).all() and (off <= _MAX_DEPTH_M).all()
    assert (pts[:, 2] >= op.z_min - _MAX_OVERHANG_M).all() and (pts[:, 2] <= op.z_max + _MAX_OVERHANG_M).all()


def test_opening_ids_follow_the_objects():
    w = _world()
    assert [opening_object_id(w, k) for k in range(2)] == [1, 2]


def test_mesh_labels_door_and_window_vertices_with_their_ids():
    w = _world()
    m = build_mesh(w, resolution_m=0.1)
    v = m.vertices_aligned.astype(np.float64)
    assert set(np.unique(m.vertex_object_id)) == {-1, 0, 1, 2}
    for k in range(2):
        _assert_on_opening(w, k, v[m.vertex_object_id == opening_object_id(w, k)])
    # everything left as structure lies on the floor or exactly on a wall plane
    s = v[m.vertex_object_id == -1]
    on_wall = np.zeros(len(s), dtype=bool)
    for i in range(len(w.room.polygon)):
        on_wall |= np.abs(_wall_coords(w, i, s)[1]) < 1e-5
    assert (on_wall | (np.abs(s[:, 2]) < 1e-5)).all()
    # segments never mix instances (doors and windows have their own)
    seg, obj = m.vertex_segment.astype(np.int64), m.vertex_object_id.astype(np.int64)
    owner = {}
    for sg, o in zip(seg.tolist(), obj.tolist(), strict=True):
        assert owner.setdefault(sg, o) == o


def test_aggregation_groups_give_door_and_window_instances_on_their_walls():
    w = _world()
    m = build_mesh(w, resolution_m=0.1)
    groups = object_seg_groups(w, m)
    assert [(g.object_id, g.label) for g in groups] == [(0, "cabinet"), (1, "door"), (2, "window")]
    raw = mesh_vertices_raw(m, w.axis_alignment)
    inst = build_instances(raw, m.vertex_segment, groups, w.axis_alignment)
    assert [(x.object_id, x.label) for x in inst] == [(0, "cabinet"), (1, "door"), (2, "window")]
    for k, op in enumerate(w.room.openings):
        x = inst[opening_object_id(w, k)]
        assert len(x.vertex_indices) == int((m.vertex_object_id == x.object_id).sum())
        centroid = apply_rigid(w.axis_alignment, x.centroid[None])
        _assert_on_opening(w, k, centroid)
        # the instance's aligned box covers the opening's rectangle on the wall
        lo, hi = x.bbox_min_aligned, x.bbox_max_aligned
        corners = np.array([[lo[0], lo[1]], [hi[0], hi[1]]])
        s, _ = _wall_coords(w, op.wall, corners)
        assert s.min() <= op.offset - op.width / 2 + 1e-4 and s.max() >= op.offset + op.width / 2 - 1e-4
        assert lo[2] <= op.z_min + 1e-4 and hi[2] >= op.z_max - 1e-4
    # hand-computed: the door is centred on (-1.0, -1.5), the window on (2.0, 0.0)
    door_c = apply_rigid(w.axis_alignment, inst[1].centroid[None])[0]
    win_c = apply_rigid(w.axis_alignment, inst[2].centroid[None])[0]
    assert door_c[0] == pytest.approx(-1.0, abs=0.1) and door_c[1] == pytest.approx(-1.5, abs=0.07)
    assert win_c[0] == pytest.approx(2.0, abs=0.07) and win_c[1] == pytest.approx(0.0, abs=0.1)


def _pose(x, y, z, yaw):
    T = np.eye(4)
    T[:3, :3] = look_rotation(np.array(yaw), np.array(0.0), np.array(0.0))
    T[:3, 3] = (x, y, z)
    return T


def test_renderer_reports_doors_and_windows_with_their_instance_ids():
    w = _world()
    K = scaled_intrinsics(65, 49)  # principal point exactly on pixel (32, 24)
    r = SceneRenderer(w)
    door = r.render(_pose(-1.0, 0.5, 1.2, -math.pi / 2), K, 65, 49)  # facing the door (wall y = -1.5)
    assert door.instance[24, 32] == 1 and door.opening[24, 32] == 0
    assert door.depth[24, 32] == pytest.approx(2.0 - 0.03, abs=1e-4)  # the 3 cm door leaf
    window = r.render(_pose(0.0, 0.0, 1.45, 0.0), K, 65, 49)  # facing the window (wall x = 2)
    assert window.instance[24, 32] == 2 and window.opening[24, 32] == 1
    assert 2.0 - _MAX_DEPTH_M < window.depth[24, 32] < 2.0


def test_instance_and_opening_maps_agree_along_a_trajectory():
    cfg = SynthConfig()
    w = sample_world(cfg.rng(2, 0), cfg.scene_id(2), cfg)
    assert w.room.openings
    n_obj = len(w.objects)
    r = SceneRenderer(w)
    K = scaled_intrinsics(48, 36)
    seen = set()
    for T in sample_trajectory(w, cfg.rng(2, 1), 16):
        out = r.render(T, K, 48, 36)
        op = out.opening
        assert (out.instance[op >= 0] == n_obj + op[op >= 0]).all()
        assert (op[out.instance >= n_obj] == out.instance[out.instance >= n_obj] - n_obj).all()
        assert out.instance.max() < n_obj + len(w.room.openings)
        seen |= set(np.unique(op[op >= 0]).tolist())
    assert seen, "the walk sees at least one door or window"
