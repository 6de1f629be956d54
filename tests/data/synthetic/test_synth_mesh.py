"""Scene mesh: vertices on the surfaces, outward winding, segments per object, raw bbox centre."""

from __future__ import annotations

import math

import numpy as np
from synth_reference import surface_distance

from loc3r.data.synthetic.config import SynthConfig
from loc3r.data.synthetic.layout import sample_world
from loc3r.data.synthetic.mesh import build_mesh, mesh_vertices_raw, raw_mesh_bbox_center
from loc3r.data.synthetic.world import Part, Room, SceneObject, World
from loc3r.geometry.transforms import invert_rigid


def _one_box_world(yaw=0.3) -> World:
    A = np.eye(4)
    A[:2, :2] = [[math.cos(0.5), -math.sin(0.5)], [math.sin(0.5), math.cos(0.5)]]
    A[:3, 3] = [-3.0, -2.0, 0.1]
    room = Room(polygon=np.array([[-2.0, -1.5], [2.0, -1.5], [2.0, 1.5], [-2.0, 1.5]]), height=2.6)
    obj = SceneObject(
        object_id=0,
        category="cabinet",
        color_name="red",
        center=(0.5, 0.2, 0.4),
        size=(0.6, 0.8, 0.8),
        yaw=yaw,
        parts=(
            Part("box", (0.0, 0.0, 0.4), (0.6, 0.8, 0.8), (180, 40, 40)),
            Part("cylinder", (0.0, 0.0, 0.1), (0.2, 0.2, 0.2), (40, 40, 40)),
        ),
    )
    return World(scene_id="scene9998_00", room=room, objects=(obj,), axis_alignment=A)


def test_vertices_lie_on_surfaces_and_faces_point_outward():
    w = _one_box_world()
    m = build_mesh(w, resolution_m=0.1)
    assert m.vertices_aligned.dtype == np.float32 and m.faces.dtype == np.int32
    assert m.colors.dtype == np.uint8 and m.colors.shape == m.vertices_aligned.shape
    assert surface_distance(w, m.vertices_aligned).max() < 2e-3  # cylinders: 16+ sides -> chord error
    v = m.vertices_aligned.astype(np.float64)
    tri = v[m.faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centroid = tri.mean(axis=1)
    obj = m.vertex_object_id[m.faces[:, 0]]
    # object faces point away from the object's centre; structure faces point into the room (towards z=H/2
    # axis)
    box_c = np.array([0.5, 0.2, 0.4])
    is_box_face = (obj == 0) & (np.abs(centroid[:, 2] - 0.4) <= 0.4 + 1e-4) & (centroid[:, 2] > 0.2 + 1e-4)
    assert (np.einsum("ij,ij->i", normal[is_box_face], centroid[is_box_face] - box_c) > 0).all()
    room_c = np.array([0.0, 0.0, 1.3])
    s = obj == -1
    assert (np.einsum("ij,ij->i", normal[s], room_c - centroid[s]) > 0).all()


def test_mesh_has_no_ceiling_by_default_but_can_have_one():
    w = _one_box_world()
    a = build_mesh(w)
    b = build_mesh(w, include_ceiling=True)
    top = lambda m: (
        (np.abs(m.vertices_aligned[:, 2] - 2.6) < 1e-5)
        & (np.abs(m.vertices_aligned[:, 0]) < 1.9)  # noqa: E731
        & (np.abs(m.vertices_aligned[:, 1]) < 1.4)
    ).sum()
    assert top(a) == 0 and top(b) > 100


def test_segments_belong_to_one_object_each():
    cfg = SynthConfig()
    w = sample_world(cfg.rng(1, 0), cfg.scene_id(1), cfg)
    m = build_mesh(w)
    seg, obj = m.vertex_segment.astype(np.int64), m.vertex_object_id.astype(np.int64)
    order = np.lexsort((obj, seg))
    s, o = seg[order], obj[order]
    change = (s[1:] == s[:-1]) & (o[1:] != o[:-1])
    assert not change.any()
    n_inst = len(w.objects) + len(w.room.openings)  # doors and windows are instances after the objects
    assert len(w.room.openings) > 0
    assert set(np.unique(obj)) == {-1, *range(n_inst)}, "every object, door and window has vertices"
    assert m.faces.min() >= 0 and m.faces.max() < len(m.vertices_aligned)


def test_raw_bbox_center_matches_hand_computation():
    w = _one_box_world()
    corners = np.array([[x, y, z] for x, y in w.room.polygon for z in (0.0, w.room.height)])
    Ainv = invert_rigid(w.axis_alignment)
    raw = corners @ Ainv[:3, :3].T + Ainv[:3, 3]
    expected = (raw.min(0) + raw.max(0)) / 2
    np.testing.assert_allclose(raw_mesh_bbox_center(w), expected, atol=1e-5)
    m = build_mesh(w, resolution_m=0.25)
    vr = mesh_vertices_raw(m, w.axis_alignment)
    assert vr.dtype == np.float32
    np.testing.assert_allclose(
        (vr.max(0).astype(np.float64) + vr.min(0)) / 2, raw_mesh_bbox_center(w), atol=1e-6
    )
