"""Tests of aggregation + segs -> instances on a hand-made mesh with hand-computed boxes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loc3r.data.scannet.instances import (
    SegGroup,
    build_instances,
    load_instances,
    read_aggregation,
    read_segs,
    write_aggregation,
    write_segs,
)
from loc3r.utils.io import DataError

# 7 vertices in 4 segments (ids 10, 20, 30, 40 -- segment ids need not be contiguous)
VERTS = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 2, 0], [5, 5, 1], [6, 5, 1], [6, 7, 3], [9, 9, 9]], dtype=np.float32
)
SEGS = np.array([10, 10, 20, 30, 30, 30, 40])
GROUPS = [
    SegGroup(object_id=0, label="table", segments=(10, 20)),
    SegGroup(object_id=1, label="chair", segments=(30,)),
    SegGroup(object_id=2, label="ghost", segments=(99,)),  # no vertex: skipped
]
# 90 deg about +Z then translate by (1, 2, 3): (x, y, z) -> (-y + 1, x + 2, z + 3)
A = np.array([[0, -1, 0, 1], [1, 0, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]], dtype=np.float64)


def test_instances_hand_computed():
    inst = build_instances(VERTS, SEGS, GROUPS, axis_alignment=A)
    assert [(i.object_id, i.label) for i in inst] == [(0, "table"), (1, "chair")]
    table, chair = inst
    np.testing.assert_array_equal(table.vertex_indices, [0, 1, 2])
    np.testing.assert_array_equal(table.centroid, [2 / 3, 2 / 3, 0])
    np.testing.assert_array_equal(table.bbox_min, [0, 0, 0])
    np.testing.assert_array_equal(table.bbox_max, [1, 2, 0])
    np.testing.assert_array_equal(table.bbox_center, [0.5, 1, 0])
    # aligned points: (1,2,3), (1,3,3), (-1,3,3)
    np.testing.assert_array_equal(table.bbox_min_aligned, [-1, 2, 3])
    np.testing.assert_array_equal(table.bbox_max_aligned, [1, 3, 3])
    np.testing.assert_array_equal(chair.vertex_indices, [3, 4, 5])
    np.testing.assert_array_equal(chair.points, VERTS[3:6])
    np.testing.assert_array_equal(chair.bbox_size, [1, 2, 2])
    assert build_instances(VERTS, SEGS, GROUPS)[0].bbox_min_aligned is None


def test_shared_segment_belongs_to_both_objects():
    groups = [SegGroup(0, "a", (10, 20)), SegGroup(1, "b", (20, 40, 20))]  # duplicate seg id listed once
    a, b = build_instances(VERTS, SEGS, groups)
    np.testing.assert_array_equal(a.vertex_indices, [0, 1, 2])
    np.testing.assert_array_equal(b.vertex_indices, [2, 6])


def test_writers_round_trip_and_real_field_names(tmp_path):
    agg, segs = tmp_path / "s.aggregation.json", tmp_path / "s_vh_clean_2.0.010000.segs.json"
    write_segs(segs, "scene0999_00", SEGS, params={"kThresh": "0.0001"})
    write_aggregation(agg, "scene0999_00", GROUPS)
    raw = json.loads(agg.read_text())
    assert set(raw) == {"sceneId", "appId", "segGroups", "segmentsFile"}
    assert raw["segGroups"][1] == {"id": 1, "objectId": 1, "segments": [30], "label": "chair"}
    assert set(json.loads(segs.read_text())) == {"params", "sceneId", "segIndices"}
    np.testing.assert_array_equal(read_segs(segs), SEGS)
    assert read_aggregation(agg) == GROUPS
    inst = load_instances(VERTS, agg, segs, A)
    assert [i.object_id for i in inst] == [0, 1]


def test_errors(tmp_path):
    with pytest.raises(DataError, match="segIndices has 6 entries but the mesh has 7 vertices"):
        build_instances(VERTS, SEGS[:6], GROUPS)
    p = tmp_path / "x.aggregation.json"
    p.write_text(json.dumps({"segGroups": [{"objectId": 0, "segments": [1]}]}))
    with pytest.raises(DataError, match=r"x\.aggregation\.json: segGroups\[0\] is malformed"):
        read_aggregation(p)
    q = tmp_path / "y.segs.json"
    q.write_text(json.dumps({"params": {}}))
    with pytest.raises(DataError, match="no 'segIndices'"):
        read_segs(q)
