"""Tests for loc3r.data.prepare (``loc3r prepare scannet``) on tiny ray-cast ScanNet scans.

Each scan is a box room (aligned frame [0, 4] x [0, 3] x [0, 2.5] m) seen by a camera turning on a small
circle; depth is ray-cast exactly, so geometry can be checked end to end (every BEV target must lie inside
the room). Poses and meshes are stored in the raw frame, ``p_raw = A^-1 p_aligned``, as in real ScanNet.
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from loc3r.data.bev_targets import TokenGrid
from loc3r.data.prepare import (
    DONE_MARKER,
    PARTIAL_DIR,
    REPORT_NAME,
    TEST_DELAY_ENV,
    PrepareConfig,
    prepare_scannet,
)
from loc3r.data.scannet.instances import SegGroup, write_aggregation, write_segs
from loc3r.data.scannet.meta import write_scene_meta
from loc3r.data.scannet.ply import write_ply
from loc3r.data.scannet.scene import load_scene
from loc3r.data.scannet.sens import write_sens
from loc3r.geometry.frames import BevFrame
from loc3r.geometry.transforms import invert_rigid

ROOM = np.array([4.0, 3.0, 2.5])
DW, DH, CW, CH = 64, 48, 80, 60
K_DEPTH = np.array([[40.0, 0, 31.5], [0, 40.0, 23.5], [0, 0, 1]])
K_COLOR = np.array([[52.0, 0, 40.2], [0, 51.0, 29.1], [0, 0, 1]])  # a slightly different FOV than depth
_c, _s = round(math.cos(0.4), 6), round(math.sin(0.4), 6)
A_ALIGN = np.array([[_c, -_s, 0, -1.2], [_s, _c, 0, 0.7], [0, 0, 1, -0.05], [0, 0, 0, 1.0]])
NUM_FRAMES = 20
INVALID = (3, 7)  # lost tracking (-inf poses)
TABLE = np.array([[1.0, 1.0, 0.0], [1.6, 1.0, 0.0], [1.0, 1.8, 0.7], [1.6, 1.8, 0.7], [1.3, 1.4, 0.4]])
CHAIR = np.array([[3.0, 2.0, 0.0], [3.4, 2.5, 0.9], [3.2, 2.2, 0.45]])


def pose_aligned(i: int, phase: float) -> np.ndarray:
    """Camera i: on a 0.6 m circle around the room centre, looking outwards-ish, tilted 0.2 rad down."""
    yaw = phase + 2 * math.pi * i / NUM_FRAMES
    pitch = 0.2
    fwd = np.array([math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), -math.sin(pitch)])
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    T = np.eye(4)
    T[:3, :3] = np.stack([right, np.cross(fwd, right), fwd], axis=1)
    T[:3, 3] = [2.0 + 0.6 * math.cos(yaw / 2), 1.5 + 0.6 * math.sin(yaw / 2), 1.4]
    return T


def raycast(T: np.ndarray, K: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Depth z [h, w] (metres along the optical axis) and hit points [h, w, 3] (aligned frame) in the room."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    d_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    d = d_cam @ T[:3, :3].T
    o = T[:3, 3]
    with np.errstate(divide="ignore"):
        t_axes = np.where(d > 0, (ROOM - o) / d, np.where(d < 0, -o / d, np.inf))
    z = t_axes.min(axis=-1)  # the z component of d_cam is 1, so the ray parameter is the depth
    return z, o + d * z[..., None]


def make_room_scan(root: Path, scene_id: str, phase: float = 0.0, invalid=INVALID) -> dict:
    """Write a raw scan folder; returns what was written (jpeg bytes, depth mm, raw poses)."""
    folder = root / scene_id
    A_inv = invert_rigid(A_ALIGN)
    jpgs, depths, poses = [], [], []
    for i in range(NUM_FRAMES):
        Ta = pose_aligned(i, phase)
        z, _ = raycast(Ta, K_DEPTH, DW, DH)
        mm = np.rint(z * 1000).astype(np.uint16)
        mm[:4, :6] = 0  # a hole (invalid depth)
        _, hit = raycast(Ta, K_COLOR, CW, CH)
        rgb = (127 + 120 * np.sin(2.0 * hit)).clip(0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
        jpgs.append(buf.getvalue())
        depths.append(mm)
        poses.append(A_inv @ Ta)
    poses = np.stack(poses)
    poses[list(invalid)] = -np.inf
    write_sens(folder / f"{scene_id}.sens", jpgs, depths, poses, K_COLOR, K_DEPTH)
    meta = {"colorWidth": CW, "colorHeight": CH, "depthWidth": DW, "depthHeight": DH, "sceneType": "Office",
            "axisAlignment": A_ALIGN, "numColorFrames": NUM_FRAMES, "numDepthFrames": NUM_FRAMES}
    write_scene_meta(folder / f"{scene_id}.txt", meta)
    corners = np.array([[x, y, z] for x in (0, 4.0) for y in (0, 3.0) for z in (0, 2.5)])
    verts_aligned = np.concatenate([corners, TABLE, CHAIR])
    verts_raw = verts_aligned @ A_inv[:3, :3].T + A_inv[:3, 3]
    write_ply(folder / f"{scene_id}_vh_clean_2.ply", verts_raw)
    segs = [0] * 8 + [1, 1, 2, 2, 2] + [3] * 3  # room corners, table (segments 1, 2), chair (3)
    write_segs(folder / f"{scene_id}_vh_clean_2.0.010000.segs.json", scene_id, segs)
    write_aggregation(folder / f"{scene_id}.aggregation.json", scene_id,
                      [SegGroup(0, "table", (1, 2)), SegGroup(1, "chair", (3,))])
    return {"jpgs": jpgs, "depths": depths, "poses": poses, "verts_raw": verts_raw.astype(np.float32)}


def cfg_for(scans: Path, out: Path, **kw) -> PrepareConfig:
    base = dict(num_frames=8, bev_targets=True, image_size=56, patch_size=8, pool_stride=2, progress=False)
    base.update(kw)
    return PrepareConfig(scans_dir=scans, out_dir=out, **base)


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under the scene folders of an output root (relative path -> bytes)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not rel.parts[0].startswith(".") and rel.name != REPORT_NAME:
            out[str(rel)] = p.read_bytes()
    return out


VALID_IDS = [i for i in range(NUM_FRAMES) if i not in INVALID]
# 18 valid frames, k = 8: positions floor(i * 17 / 7) = 0, 2, 4, 7, 9, 12, 14, 17.
EXPECTED_UNIFORM = [VALID_IDS[p] for p in (0, 2, 4, 7, 9, 12, 14, 17)]


# --------------------------------------------------------------------------------------------- tests
def test_prepare_outputs_match_inputs(tmp_path):
    scans, out = tmp_path / "scans", tmp_path / "out"
    written = make_room_scan(scans, "scene0000_00")
    report = prepare_scannet(cfg_for(scans, out, bev_heights=True))
    assert report.prepared == ["scene0000_00"] and not report.failed and not report.skipped
    d = out / "scene0000_00"
    assert EXPECTED_UNIFORM == [0, 2, 5, 9, 11, 14, 16, 19]

    sel = json.loads((d / "frame_selection.json").read_text())
    assert sel["method"] == "uniform" and sel["indices"] == EXPECTED_UNIFORM and sel["num_available"] == 18
    for fid in EXPECTED_UNIFORM:
        assert (d / "color" / f"{fid}.jpg").read_bytes() == written["jpgs"][fid]  # stored JPEG copied as is
        with Image.open(d / "depth" / f"{fid}.png") as im:
            assert np.array_equal(np.asarray(im).astype(np.uint16), written["depths"][fid])
        np.testing.assert_allclose(np.loadtxt(d / "pose" / f"{fid}.txt"), written["poses"][fid], atol=2e-6)
    assert sorted(int(p.stem) for p in (d / "pose").iterdir()) == EXPECTED_UNIFORM
    intr = d / "intrinsic"
    np.testing.assert_allclose(np.loadtxt(intr / "intrinsic_depth.txt")[:3, :3], K_DEPTH, atol=1e-6)
    np.testing.assert_allclose(np.loadtxt(intr / "intrinsic_color.txt")[:3, :3], K_COLOR, atol=1e-5)

    meta = json.loads((d / "scene.json").read_text())
    assert meta["scene_id"] == "scene0000_00" and meta["source_layout"] == "raw"
    np.testing.assert_allclose(meta["axis_alignment"], A_ALIGN, atol=1e-6)
    v = written["verts_raw"].astype(np.float64)
    np.testing.assert_allclose(meta["mesh_bbox_center"], (v.min(0) + v.max(0)) / 2, atol=1e-5)
    assert meta["color_size"] == [CW, CH] and meta["depth_size"] == [DW, DH]
    assert meta["counts"] == {"frames_valid_pose": 18, "frames_invalid_pose": 2, "frames_selected": 8,
                              "instances": 2}
    assert meta["frame_selection"] == sel

    inst = json.loads((d / "instances.json").read_text())["instances"]
    assert [(o["object_id"], o["label"], o["num_points"]) for o in inst] == [(0, "table", 5), (1, "chair", 3)]
    table_raw = v[8:13]
    np.testing.assert_allclose(inst[0]["bbox_raw"]["min"], table_raw.min(0), atol=1e-5)
    np.testing.assert_allclose(inst[0]["bbox_raw"]["max"], table_raw.max(0), atol=1e-5)
    np.testing.assert_allclose(inst[0]["centroid"], table_raw.mean(0), atol=1e-5)
    np.testing.assert_allclose(inst[0]["bbox_aligned"]["min"], TABLE.min(0), atol=1e-4)
    np.testing.assert_allclose(inst[1]["bbox_aligned"]["max"], CHAIR.max(0), atol=1e-4)
    np.testing.assert_allclose(inst[1]["centroid_aligned"], CHAIR.mean(0), atol=1e-4)

    with np.load(d / "bev_targets.npz") as z:
        xy, valid, count, height = z["xy"], z["valid"], z["count"], z["z"]
        assert z["frame_ids"].tolist() == EXPECTED_UNIFORM
        bev = BevFrame(origin_xy=z["bev_origin_xy"], heading0=float(z["bev_heading0"]))
    grid = TokenGrid(input_hw=(56, 56), patch_size=8, pool_stride=2)
    assert xy.shape == (8, *grid.token_hw, 2) == (8, 4, 4, 2) and valid.shape == (8, 4, 4)
    assert valid.mean() > 0.9 and (count[valid] > 0).all()
    # End-to-end geometry: every target, mapped back to the aligned world, lies inside the room.
    world_raw = bev.bev_to_world_xy(xy[valid].astype(np.float64))
    world_al = world_raw @ A_ALIGN[:2, :2].T + A_ALIGN[:2, 3]
    assert (world_al > -0.02).all() and (world_al < ROOM[:2] + 0.02).all()
    z_al = height[valid] + A_ALIGN[2, 3]
    assert (z_al > -0.02).all() and (z_al < ROOM[2] + 0.02).all()
    # The BEV frame is anchored at the first selected camera (raw world).
    np.testing.assert_allclose(bev.origin_xy, written["poses"][EXPECTED_UNIFORM[0]][:2, 3], atol=1e-5)

    done = json.loads((d / DONE_MARKER).read_text())
    assert done["fingerprint"] == cfg_for(scans, out, bev_heights=True).fingerprint()
    assert done["files"]["scene.json"] == (d / "scene.json").stat().st_size
    rep = json.loads((out / REPORT_NAME).read_text())
    assert rep["counts"] == {"prepared": 1, "skipped": 0, "replaced": 0, "failed": 0}

    # The output is itself a SensReader-export scene.
    back = load_scene(d)
    assert back.layout == "sensreader_export" and back.frame_ids.tolist() == EXPECTED_UNIFORM
    np.testing.assert_allclose(back.poses(), written["poses"][EXPECTED_UNIFORM], atol=2e-6)


def test_bad_scenes_are_skipped_counted_and_reported(tmp_path):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_room_scan(scans, "scene0000_00")
    make_room_scan(scans, "scene0001_00", invalid=range(NUM_FRAMES))  # no valid pose at all
    make_room_scan(scans, "scene0002_00")
    sens = scans / "scene0002_00" / "scene0002_00.sens"
    sens.write_bytes(sens.read_bytes()[: sens.stat().st_size // 2])  # truncated download
    make_room_scan(scans, "scene0003_00")
    (scans / "scene0003_00" / "scene0003_00.txt").unlink()  # missing scan meta
    make_room_scan(scans, "scene0004_00", phase=1.0)
    report = prepare_scannet(cfg_for(scans, out, bev_targets=False, scenes=None))
    assert report.prepared == ["scene0000_00", "scene0004_00"]
    assert sorted(report.failed) == ["scene0001_00", "scene0002_00", "scene0003_00"]
    assert "no frame with a valid camera pose" in report.failed["scene0001_00"]
    assert "truncated" in report.failed["scene0002_00"]
    assert "scene0003_00.txt" in report.failed["scene0003_00"]
    assert not report.all_failed
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "prepare_report.json", "scene0000_00", "scene0004_00"]
    assert not (out / PARTIAL_DIR).exists()
    rep = json.loads((out / REPORT_NAME).read_text())
    assert rep["counts"]["failed"] == 3 and set(rep["failed"]) == set(report.failed)
    assert not (out / "scene0000_00" / "bev_targets.npz").exists()

    # A requested scene that does not exist is a failure, not a crash; all-failed is flagged.
    only_bad = prepare_scannet(cfg_for(scans, tmp_path / "out2", scenes=("scene0001_00", "scene9999_00")))
    assert only_bad.all_failed and "not found" in only_bad.failed["scene9999_00"]


def test_rerun_skips_done_scenes_and_redoes_changed_settings(tmp_path):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_room_scan(scans, "scene0000_00")
    make_room_scan(scans, "scene0001_00", phase=0.5)
    prepare_scannet(cfg_for(scans, out, bev_targets=False))
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "scene0000_00").rglob("*")}
    again = prepare_scannet(cfg_for(scans, out, bev_targets=False))
    assert again.skipped == ["scene0000_00", "scene0001_00"] and not again.prepared
    assert {p: p.stat().st_mtime_ns for p in (out / "scene0000_00").rglob("*")} == mtimes
    # Other settings -> the scene is redone and replaced (old frames gone).
    changed = prepare_scannet(cfg_for(scans, out, bev_targets=False, num_frames=4, scenes=("scene0000_00",)))
    assert changed.prepared == ["scene0000_00"] and changed.replaced == ["scene0000_00"]
    sel = json.loads((out / "scene0000_00" / "frame_selection.json").read_text())
    assert sel["indices"] == [VALID_IDS[p] for p in (0, 5, 11, 17)]
    assert sorted(int(p.stem) for p in (out / "scene0000_00" / "pose").iterdir()) == sel["indices"]


def test_coverage_selection(tmp_path):
    scans, out = tmp_path / "scans", tmp_path / "out"
    make_room_scan(scans, "scene0000_00")
    cfg = cfg_for(scans, out, bev_targets=False, selection="coverage", num_frames=4, coverage_frame_stride=1,
                  coverage_pixel_stride=2, coverage_voxel_size=0.25)
    prepare_scannet(cfg)
    sel = json.loads((out / "scene0000_00" / "frame_selection.json").read_text())
    assert sel["method"] == "coverage" and len(sel["indices"]) == 4 and sel["num_available"] == 18
    assert set(sel["indices"]) <= set(VALID_IDS) and sel["indices"] == sorted(sel["params"]["pick_order"])
    # A camera turning full circle: four well-spread views cover more than four consecutive ones.
    gaps = np.diff(sorted(sel["indices"]))
    assert gaps.min() >= 2 and 0 < sel["params"]["coverage"] <= 1


def _run_cli_subprocess(scans: Path, out: Path, delay: float) -> subprocess.Popen:
    env = dict(os.environ, **{TEST_DELAY_ENV: str(delay)})
    cmd = [sys.executable, "-m", "loc3r", "prepare", "scannet", "--scans", str(scans), "--out", str(out),
           "--num-frames", "8", "--bev-targets", "--image-size", "56", "--patch-size", "8", "--no-progress"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_and_resume_gives_identical_complete_output(tmp_path):
    scans = tmp_path / "scans"
    names = [f"scene000{i}_00" for i in range(4)]
    for i, n in enumerate(names):
        make_room_scan(scans, n, phase=0.3 * i)
    # Reference: an uninterrupted run, in parallel.
    ref_out = tmp_path / "ref"
    ref = prepare_scannet(cfg_for(scans, ref_out, workers=2))
    assert ref.prepared == names

    out = tmp_path / "out"
    proc = _run_cli_subprocess(scans, out, delay=0.6)
    deadline = time.monotonic() + 60
    # Kill once the first scene is published and a later one is half-written.
    while time.monotonic() < deadline:
        partial = out / PARTIAL_DIR
        if (out / names[0] / DONE_MARKER).exists() and partial.is_dir() and any(partial.iterdir()):
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    else:
        pytest.fail("prepare did not reach the second scene in time")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    finished = [n for n in names if (out / n).exists()]
    assert names[0] in finished and len(finished) < len(names)
    for n in finished:  # nothing half-written in the final location
        assert (out / n / DONE_MARKER).is_file()
        assert tree_bytes(out / n) == tree_bytes(ref_out / n)
    # (the killed scene's partial copy, if any, sits in .partial/, outside the final location)
    mtimes = {str(p): p.stat().st_mtime_ns for n in finished for p in (out / n).rglob("*")}

    resumed = prepare_scannet(cfg_for(scans, out))
    assert resumed.skipped == finished and resumed.prepared == [n for n in names if n not in finished]
    assert {str(p): p.stat().st_mtime_ns for n in finished for p in (out / n).rglob("*")} == mtimes
    assert tree_bytes(out) == tree_bytes(ref_out)
    assert not (out / PARTIAL_DIR).exists()


def test_exported_layout_is_a_valid_input_and_lock_blocks_concurrent_runs(tmp_path):
    scans, out = tmp_path / "scans", tmp_path / "out"
    written = make_room_scan(scans, "scene0000_00")
    prepare_scannet(cfg_for(scans, out, bev_targets=False))
    # Prepare again from the exported (SensReader-layout) folder, keeping 4 of its 8 frames.
    out2 = tmp_path / "out2"
    report = prepare_scannet(cfg_for(out, out2, num_frames=4, scenes=("scene0000_00",)))
    assert report.prepared == ["scene0000_00"]
    meta = json.loads((out2 / "scene0000_00" / "scene.json").read_text())
    assert meta["source_layout"] == "sensreader_export"
    # The alignment is carried over by the copied <scene>.txt.
    np.testing.assert_allclose(meta["axis_alignment"], A_ALIGN, atol=1e-6)
    sel = meta["frame_selection"]["indices"]
    assert sel == [EXPECTED_UNIFORM[p] for p in (0, 2, 4, 7)]
    for fid in sel:  # JPEG files are copied, not re-encoded
        assert (out2 / "scene0000_00" / "color" / f"{fid}.jpg").read_bytes() == written["jpgs"][fid]
    # No mesh / annotations in an export: no instances, reported as such.
    assert meta["instances_missing"] and meta["mesh_bbox_center"] is None
    assert not (out2 / "scene0000_00" / "instances.json").exists()

    fcntl = pytest.importorskip("fcntl")
    with open(out / ".prepare.lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RuntimeError, match="another"):
            prepare_scannet(cfg_for(scans, out, bev_targets=False))
