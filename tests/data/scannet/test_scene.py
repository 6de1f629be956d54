"""Tests of ``load_scene`` / ``Scene`` on raw scan folders (poses, lazy decoding, mesh, instances)."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from loc3r.data.scannet import sens as sens_mod
from loc3r.data.scannet.instances import SegGroup, write_aggregation, write_segs
from loc3r.data.scannet.meta import write_scene_meta
from loc3r.data.scannet.ply import write_ply
from loc3r.data.scannet.scene import load_scene, resolve_scene_dir, rigid_pose_mask
from loc3r.geometry.transforms import is_valid_rigid
from loc3r.utils.io import DataError

from .factories import A_SCENE0000, DH, DW, K_COLOR, K_DEPTH, make_raw_scan, make_rgbd, scene_meta


def test_load_raw_scan_decodes_nothing_until_asked(tmp_path, monkeypatch):
    folder, colors, depths, poses = make_raw_scan(tmp_path, "scene0010_00", n=5)

    def boom(*a):
        raise AssertionError("decoded an image")

    monkeypatch.setattr(sens_mod, "_decode_color", boom)
    monkeypatch.setattr(sens_mod, "_decode_depth", boom)
    s = load_scene(folder)
    assert s.layout == "raw" and s.scene_id == "scene0010_00" and s.root == folder
    np.testing.assert_array_equal(s.frame_ids, np.arange(5))
    np.testing.assert_array_equal(s.poses([3, 1]), poses[[3, 1]].astype(np.float32))
    np.testing.assert_array_equal(s.K_color, K_COLOR[:3, :3])
    np.testing.assert_array_equal(s.K_depth, K_DEPTH[:3, :3])
    assert s.meta["sceneType"] == "Bedroom / Hotel" and s.meta["depthWidth"] == DW
    np.testing.assert_array_equal(s.axis_alignment, A_SCENE0000)
    np.testing.assert_allclose(s.poses([2], aligned=True)[0], A_SCENE0000 @ poses[2], atol=1e-6)


def test_frames_values(tmp_path):
    folder, colors, depths, poses = make_raw_scan(tmp_path, "scene0011_00", n=4)
    s = load_scene(folder / "scene0011_00.sens")  # the .sens itself works too
    f0, f3 = s.frames([0, 3])
    assert (f0.index, f3.index) == (0, 3)
    np.testing.assert_array_equal(f3.depth_m, depths[3].astype(np.float32) / np.float32(1000))
    assert f3.T_world_from_cam.dtype == np.float64
    np.testing.assert_array_equal(f3.T_world_from_cam, poses[3].astype(np.float32))
    np.testing.assert_array_equal(f3.K_color, K_COLOR[:3, :3])
    assert np.abs(f0.color.astype(int) - colors[0]).mean() < 3
    g = s.frame(2, color=False)
    assert g.color is None and g.depth_m.shape == (DH, DW)
    assert s.frames([1], depth=False)[0].depth_m is None


@pytest.mark.parametrize(
    "bad, reason",
    [
        (lambda T: np.full((4, 4), -np.inf), "NaN or inf"),
        (lambda T: np.where(np.eye(4) > 0, np.nan, T), "NaN or inf"),
        (lambda T: np.diag([1.1, 1.1, 1.1, 1.0]) @ T, "not orthonormal"),
        (lambda T: np.diag([-1.0, 1.0, 1.0, 1.0]) @ T, "reflection"),
        (lambda T: T + np.array([[0, 0, 0, 0]] * 3 + [[0, 0, 0.5, 0]]), "last row"),
    ],
)
def test_invalid_poses_are_dropped_counted_and_named(tmp_path, bad, reason):
    colors, depths, poses = make_rgbd(5)
    poses[1] = bad(poses[1])
    poses[3] = np.full((4, 4), -np.inf)
    folder, *_ = make_raw_scan(tmp_path, "scene0012_00", n=5, poses=poses)
    s = load_scene(folder)
    np.testing.assert_array_equal(s.frame_ids, [0, 2, 4])
    assert s.num_invalid_poses == 2 and s.num_frames == 3
    np.testing.assert_array_equal(s.invalid_frame_ids, [1, 3])
    assert s.poses().shape == (3, 4, 4)
    with pytest.raises(DataError, match=rf"scene0012_00\.sens: frame 1.*{reason}"):
        s.frames([0, 1])
    with pytest.raises(DataError, match=r"scene0012_00\.sens: frame 1"):
        s.poses([1])


def test_rigid_pose_mask_matches_check_rigid():
    rng = np.random.default_rng(0)
    poses = []
    for k in range(400):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                      [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                      [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        T = np.eye(4)
        T[:3, :3] = R
        T[:3, 3] = rng.normal(size=3)
        kind = k % 5
        if kind == 1:
            T[:3, :3] += rng.normal(scale=10 ** rng.uniform(-5, -2), size=(3, 3))  # around the tolerance
        elif kind == 2:
            T[3, :3] = rng.normal(scale=10 ** rng.uniform(-5, -2), size=3)
        elif kind == 3:
            T[:3, 0] *= -1
        elif kind == 4 and k % 2:
            T[rng.integers(4), rng.integers(4)] = rng.choice([np.nan, np.inf, -np.inf])
        poses.append(T)
    poses = np.stack(poses)
    expected = [is_valid_rigid(T) for T in poses]
    assert 50 < sum(expected) < 350  # both outcomes are well represented
    np.testing.assert_array_equal(rigid_pose_mask(poses), expected)


def test_wrong_depth_size_in_sens_names_file(tmp_path):
    folder, *_ = make_raw_scan(tmp_path, "scene0013_00", n=2)
    p = folder / "scene0013_00.sens"
    data = bytearray(p.read_bytes())
    name_len = struct.unpack_from("<Q", data, 4)[0]
    dw_offset = 4 + 8 + name_len + 4 * 64 + 8 + 8  # after version, name, calib, codes, colour w/h
    struct.pack_into("<I", data, dw_offset, DW + 1)
    p.write_bytes(bytes(data))
    s = load_scene(folder)
    s.frames([0], depth=False)
    msg = rf"scene0013_00\.sens: frame 0: depth has {DW * DH * 2} bytes.*wrong size"
    with pytest.raises(DataError, match=msg):
        s.frames([0])


def test_truncated_sens_through_load_scene(tmp_path):
    folder, *_ = make_raw_scan(tmp_path, "scene0014_00", n=4)
    p = folder / "scene0014_00.sens"
    p.write_bytes(p.read_bytes()[:-100])  # cut inside the last frame
    s = load_scene(folder)
    with pytest.raises(DataError, match="truncated"):
        s.frame_ids  # noqa: B018  (indexing happens lazily)
    s2 = load_scene(folder, allow_truncated=True)
    np.testing.assert_array_equal(s2.frame_ids, [0, 1, 2])


def test_missing_files(tmp_path):
    folder, *_ = make_raw_scan(tmp_path, "scene0015_00", n=2)
    (folder / "scene0015_00.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"scene0015_00\.txt: scan meta file missing"):
        load_scene(folder)
    write_scene_meta(folder / "scene0015_00.txt", scene_meta("scene0015_00", 2, with_alignment=False))
    s = load_scene(folder)
    assert s.axis_alignment is None  # scans_test scans have no axisAlignment
    with pytest.raises(DataError, match="no axisAlignment"):
        s.poses(aligned=True)
    with pytest.raises(FileNotFoundError, match="_vh_clean_2.ply mesh not found"):
        s.mesh_vertices  # noqa: B018
    with pytest.raises(FileNotFoundError, match="aggregation.json not found"):
        s.instances  # noqa: B018
    A = np.eye(4)
    A[:3, 3] = (1, 2, 3)
    assert load_scene(folder, axis_alignment=A).axis_alignment[1, 3] == 2
    with pytest.raises(DataError, match="axis alignment"):
        load_scene(folder, axis_alignment=np.diag([2.0, 1, 1, 1]))


def test_mesh_center_and_instances(tmp_path):
    folder, *_ = make_raw_scan(tmp_path, "scene0016_00", n=2)
    sid = "scene0016_00"
    v = np.array([[-1, 0, 0], [3, 2, 0], [1, 1, 2.5], [0, 4, 1]], dtype=np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    write_ply(folder / f"{sid}_vh_clean_2.ply", v, np.zeros((4, 3), np.uint8), faces)
    write_segs(folder / f"{sid}_vh_clean_2.0.010000.segs.json", sid, [5, 5, 6, 6])
    write_aggregation(folder / f"{sid}.aggregation.json", sid, [SegGroup(0, "bed", (6,))])
    s = load_scene(folder)
    np.testing.assert_array_equal(s.mesh_vertices, v)
    np.testing.assert_array_equal(s.mesh_bbox_center, [1.0, 2.0, 1.25])  # (min + max) / 2 by hand
    (bed,) = s.instances
    assert bed.label == "bed" and bed.object_id == 0
    np.testing.assert_array_equal(bed.points, v[2:])
    pts_aligned = np.c_[v[2:].astype(np.float64), np.ones(2)] @ A_SCENE0000.T
    np.testing.assert_allclose(bed.bbox_min_aligned, pts_aligned[:, :3].min(0))


def test_scene_pickles_and_resolve_scene_dir(tmp_path):
    folder, *_ = make_raw_scan(tmp_path / "scans", "scene0017_00", n=3)
    assert resolve_scene_dir(tmp_path, "scene0017_00") == folder.resolve()
    with pytest.raises(FileNotFoundError, match="scene0099_00 not found"):
        resolve_scene_dir(tmp_path, "scene0099_00")
    with pytest.raises(DataError, match="escapes"):
        resolve_scene_dir(tmp_path, "../../etc")
    s = load_scene(folder)
    _ = s.frame_ids
    s2 = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(s2.frame_ids, s.frame_ids)
    np.testing.assert_array_equal(s2.frames([1])[0].depth_m, s.frames([1])[0].depth_m)
