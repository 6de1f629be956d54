"""Tests for loc3r.data.frame_selection (uniform and greedy max-coverage selection)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from loc3r.data.frame_selection import (
    select_stratified_random,
    FrameSelection,
    select_coverage,
    select_coverage_from_depth,
    select_uniform,
    voxelize_points,
)


# --------------------------------------------------------------------------------------------- uniform
def test_uniform_hand_computed_endpoints():
    # n = 10, k = 4: positions floor(i * 9 / 3) = 0, 3, 6, 9.
    ids = np.arange(100, 110)
    assert select_uniform(ids, 4).tolist() == [100, 103, 106, 109]
    # n = 7, k = 3: floor(i * 6 / 2) = 0, 3, 6.
    assert select_uniform([5, 1, 9, 3, 7, 11, 13], 3).tolist() == [1, 7, 13]


def test_uniform_hand_computed_centers():
    # n = 10, k = 4: floor((2i + 1) * 10 / 8) = 1, 3, 6, 8.
    assert select_uniform(np.arange(10), 4, anchor="centers").tolist() == [1, 3, 6, 8]


@pytest.mark.parametrize("n,k", [(33, 32), (100, 32), (5578, 32), (1000, 16), (57, 7)])
def test_uniform_matches_llava_video_linspace(n, k):
    ids = np.arange(n) * 3 + 2  # non-contiguous original indices
    expected = ids[np.linspace(0, n - 1, k).astype(int)]
    got = select_uniform(ids, k)
    assert got.tolist() == expected.tolist()
    assert got[0] == ids[0] and got[-1] == ids[-1]


def test_uniform_fewer_frames_returns_all_sorted():
    assert select_uniform([9, 2, 4], 32).tolist() == [2, 4, 9]
    assert select_uniform([7], 1).tolist() == [7]
    assert select_uniform(np.arange(50), 1).tolist() == [0]


def test_uniform_properties():
    for n, k in itertools.product([1, 2, 17, 64, 300], [1, 2, 5, 32]):
        sel = select_uniform(np.arange(n), k)
        assert len(sel) == min(n, k)
        assert np.all(np.diff(sel) > 0)  # strictly increasing, no duplicates
        # deterministic
        assert np.array_equal(sel, select_uniform(np.arange(n)[::-1], k))


def test_uniform_errors():
    with pytest.raises(ValueError):
        select_uniform([], 3)
    with pytest.raises(ValueError):
        select_uniform([1, 1, 2], 2)
    with pytest.raises(ValueError):
        select_uniform([1, 2], 0)
    with pytest.raises(ValueError):
        select_uniform([1, 2], 1, anchor="middle")


# --------------------------------------------------------------------------------------------- coverage
def _cube_points(voxels, voxel_size=0.1):
    """Points at the centres of the given integer voxels."""
    return (np.asarray(voxels, dtype=np.float64) + 0.5) * voxel_size


def test_voxelize_points_hand_computed():
    pts = np.array(
        [[0.05, 0.05, 0.05], [0.09, 0.01, 0.0], [-0.01, 0.0, 0.0], [0.25, 0.1, 0.1], [np.nan, 0, 0]]
    )
    got = voxelize_points(pts, 0.1)
    assert got.tolist() == [[-1, 0, 0], [0, 0, 0], [2, 1, 1]]


def test_coverage_greedy_hand_computed():
    # Frame A covers voxels 0..5 along x, B covers 0..2, C covers 4..9, D covers 10..11.
    line = lambda a, b: _cube_points([[i, 0, 0] for i in range(a, b)])  # noqa: E731
    pts = [line(0, 6), line(0, 3), line(4, 10), line(10, 12)]
    ids = [10, 20, 30, 40]
    # Greedy: C (6 new) ties with A (6) -> lowest index A=10 first; then C adds 4 (6..9), D adds 2, B adds 0.
    sel, info = select_coverage(pts, 3, frame_ids=ids)
    assert info["order"] == [10, 30, 40]
    assert info["gains"] == [6, 4, 2]
    assert info["num_voxels"] == 12
    assert info["coverage"] == 1.0
    assert sel.tolist() == [10, 30, 40]
    # Asking for all 4: the zero-gain frame comes last.
    sel4, info4 = select_coverage(pts, 4, frame_ids=ids)
    assert info4["order"] == [10, 30, 40, 20] and info4["gains"] == [6, 4, 2, 0]
    assert sel4.tolist() == [10, 20, 30, 40]


def test_coverage_ratio_early_stop():
    line = lambda a, b: _cube_points([[i, 0, 0] for i in range(a, b)])  # noqa: E731
    pts = [line(0, 6), line(0, 3), line(4, 10), line(10, 12)]
    # After A: 6/12 = 0.5 < 0.8; after C: 10/12 = 0.83 >= 0.8 -> stop with 2 frames.
    sel, info = select_coverage(pts, 32, frame_ids=[10, 20, 30, 40], coverage_ratio=0.8)
    assert sel.tolist() == [10, 30]
    assert info["coverage"] == pytest.approx(10 / 12)


def test_coverage_tie_break_by_lowest_frame_index_not_position():
    same = _cube_points([[0, 0, 0], [1, 0, 0]])
    sel, info = select_coverage([same, same, same], 1, frame_ids=[7, 3, 5])
    assert sel.tolist() == [3]


def _brute_force_greedy(voxel_sets, ids, k):
    covered: set = set()
    chosen: list[int] = []
    for _ in range(min(k, len(ids))):
        best, best_gain = None, -1
        for fid, vs in sorted(zip(ids, voxel_sets), key=lambda p: p[0]):
            if fid in chosen:
                continue
            gain = len(vs - covered)
            if gain > best_gain:
                best, best_gain = (fid, vs), gain
        chosen.append(best[0])
        covered |= best[1]
    return chosen


def test_coverage_matches_brute_force_reference():
    rng = np.random.default_rng(0)
    for trial in range(5):
        num = int(rng.integers(3, 12))
        ids = rng.permutation(100)[:num]
        pts, sets = [], []
        for _ in range(num):
            vox = rng.integers(0, 6, size=(int(rng.integers(0, 30)), 3))
            sets.append({tuple(v) for v in vox.tolist()})
            pts.append(_cube_points(vox))
        k = int(rng.integers(1, num + 2))
        sel, info = select_coverage(pts, k, frame_ids=ids)
        assert info["order"] == _brute_force_greedy(sets, ids.tolist(), k)
        assert sel.tolist() == sorted(info["order"])


def test_coverage_from_depth_prefers_frames_seeing_new_walls():
    # Camera at the origin of a cube room (half-size 2 m), looking along +x, -x, +x (again), +y.
    # A synthetic depth map for each: a fronto-parallel wall 2 m away.
    h, w, f = 12, 16, 8.0
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]])
    depth = np.full((h, w), 2.0)

    def look(yaw):
        fwd = np.array([np.cos(yaw), np.sin(yaw), 0.0])
        right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
        down = np.array([0, 0, -1.0])
        T = np.eye(4)
        T[:3, :3] = np.stack([right, down, fwd], axis=1)
        return T

    poses = np.stack([look(0.0), look(np.pi), look(0.0), look(np.pi / 2)])
    sel, info = select_coverage_from_depth([depth] * 4, poses, K, 3, voxel_size=0.25, frame_ids=[0, 1, 2, 3])
    # Frame 2 duplicates frame 0, so the three distinct walls (frames 0, 1, 3) are chosen.
    assert sel.tolist() == [0, 1, 3]
    assert info["gains"][-1] > 0


def test_frame_selection_json_round_trip():
    fs = FrameSelection(
        method="uniform", k=32, indices=(0, 5, 9), num_available=10, params={"anchor": "endpoints"}
    )
    d = json.loads(json.dumps(fs.to_dict()))
    assert FrameSelection.from_dict(d) == fs


def test_coverage_from_depth_accepts_a_generator_and_checks_counts():
    K = np.array([[10.0, 0, 3.5], [0, 10.0, 2.5], [0, 0, 1]])
    poses = np.stack([np.eye(4)] * 3)
    poses[:, 0, 3] = [0.0, 5.0, 10.0]  # three cameras far apart: disjoint voxels, all gains equal
    depths = [np.full((6, 8), 1.0) for _ in range(3)]
    sel, info = select_coverage_from_depth((d for d in depths), poses, K, 2, frame_ids=[4, 8, 2])
    assert info["order"] == [2, 4] and sel.tolist() == [2, 4]  # equal gains -> lowest frame index first
    with pytest.raises(ValueError, match="depth maps"):
        select_coverage_from_depth(depths[:2], poses, K, 2)
    with pytest.raises(ValueError, match="more depth maps"):
        select_coverage_from_depth(depths + depths[:1], poses, K, 2)


def test_stratified_random_keeps_the_first_frame_and_one_frame_per_stretch():
    ids = np.arange(100, 140)  # 40 frames, ids 100..139, given shuffled
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        sel = select_stratified_random(rng.permutation(ids), 8, rng)
        assert sel[0] == 100 and len(sel) == 8 and np.all(np.diff(sel) > 0)
        # positions 1..39 split into 7 stretches with edges 1 + floor(j * 39 / 7): 1, 6, 12, 17, 23, 28, 34, 40
        edges = [1, 6, 12, 17, 23, 28, 34, 40]
        for s, pos in enumerate(sel[1:] - 100):
            assert edges[s] <= pos < edges[s + 1]
        seen.update(int(p) for p in sel)
    assert seen == set(range(100, 140))  # every frame can be drawn
    a = select_stratified_random(ids, 8, np.random.default_rng(5))
    np.testing.assert_array_equal(a, select_stratified_random(ids, 8, np.random.default_rng(5)))


def test_stratified_random_small_cases():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(select_stratified_random([7, 3, 5], 8, rng), [3, 5, 7])
    np.testing.assert_array_equal(select_stratified_random([7, 3, 5], 1, rng), [3])
    np.testing.assert_array_equal(select_stratified_random([3, 4], 2, rng)[:1], [3])
    with pytest.raises(ValueError):
        select_stratified_random([1, 2], 0, rng)
    with pytest.raises(ValueError):
        select_stratified_random([], 2, rng)
