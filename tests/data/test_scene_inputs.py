"""Scene inputs: prepared-scene / frame-folder / video loading, poses into the BEV frame, prompt templates."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from loc3r.data.scene_inputs import (
    SHORT_ANSWER_PROMPT,
    SceneInputs,
    load_frame_folder,
    load_prepared_scene,
    load_scene_inputs,
    load_video,
    pose_to_bev,
    question_text,
    situation_text,
)
from loc3r.data.schema import Pose, Record
from loc3r.eval.metrics.localization import bev_to_dataset
from loc3r.geometry.frames import sqa3d_forward
from loc3r.utils.io import DataError


# --------------------------------------------------------------------------------------------- fixtures
def _c2w(position, heading_rad, pitch_rad=0.0) -> np.ndarray:
    """OpenCV camera-to-world: optical axis (z) at ``heading`` in the XY plane (tilted by pitch), y down."""
    ch, sh = math.cos(heading_rad), math.sin(heading_rad)
    fwd = np.array([ch * math.cos(pitch_rad), sh * math.cos(pitch_rad), math.sin(pitch_rad)])
    right = np.array([sh, -ch, 0.0])
    down = np.cross(fwd, right)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = right, down, fwd, position
    return T


def _write_prepared(root, scene_id="scene0001_00", ids=(0, 5, 9, 14, 20), size=(24, 16)):
    """A minimal prepared scene: frame i has constant colour i*10 and camera at (i/10, 0, 1.5) facing +y."""
    d = root / scene_id
    (d / "color").mkdir(parents=True)
    (d / "pose").mkdir()
    for i in ids:
        Image.fromarray(np.full((size[1], size[0], 3), i * 10, np.uint8)).save(
            d / "color" / f"{i}.jpg", quality=100
        )
        np.savetxt(d / "pose" / f"{i}.txt", _c2w([i / 10, 0.0, 1.5], math.pi / 2), fmt="%f")
    A = np.eye(4)
    A[:2, :2] = [[0, -1], [1, 0]]  # 90 deg about +Z
    A[:3, 3] = [1.0, 2.0, 0.0]
    K = [[20.0, 0, 12, 0], [0, 20.0, 8, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    meta = {
        "scene_id": scene_id,
        "frame_selection": {"indices": list(ids)},
        "K_color": K,
        "color_size": list(size),
        "axis_alignment": A.tolist(),
        "mesh_bbox_center": [0.5, -0.5, 1.0],
    }
    (d / "scene.json").write_text(json.dumps(meta))
    return d


def _scene(first_pose, center=None, A=None) -> SceneInputs:
    return SceneInputs(
        scene_id="s",
        frame_ids=(0,),
        frames=np.zeros((1, 4, 4, 3), np.uint8),
        poses_c2w=first_pose[None],
        intrinsics=np.eye(3),
        axis_alignment=A,
        scene_center_raw=center,
    )


# --------------------------------------------------------------------------------------------- loading
def test_load_prepared_scene_reads_the_selection(tmp_path):
    _write_prepared(tmp_path)
    s = load_prepared_scene(tmp_path, "scene0001_00")
    assert (
        s.frame_ids == (0, 5, 9, 14, 20) and s.frames.shape == (5, 16, 24, 3) and s.frames.dtype == np.uint8
    )
    assert abs(int(s.frames[2].mean()) - 90) <= 2  # frame 9 has colour 90 (JPEG)
    np.testing.assert_allclose(s.poses_c2w[1][:3, 3], [0.5, 0.0, 1.5])
    np.testing.assert_allclose(s.intrinsics, [[20, 0, 12], [0, 20, 8], [0, 0, 1]])
    assert s.image_size_wh == (24, 16) and s.scene_center_raw.tolist() == [0.5, -0.5, 1.0]
    # fewer frames: a fixed uniform subset that keeps the first frame (and thus the BEV frame)
    sub = load_prepared_scene(tmp_path, "scene0001_00", num_frames=3)
    assert sub.frame_ids == (0, 9, 20)
    np.testing.assert_array_equal(sub.poses_c2w[0], s.poses_c2w[0])
    assert load_prepared_scene(tmp_path, "scene0001_00", num_frames=50).frame_ids == s.frame_ids
    # camera path in BEV: first camera at the origin looking along +x; the others are to its right (-y)
    xy, heading = s.camera_path_bev()
    np.testing.assert_allclose(xy[:, 0], 0.0, atol=1e-9)
    np.testing.assert_allclose(xy[:, 1], [0.0, -0.5, -0.9, -1.4, -2.0], atol=1e-9)
    np.testing.assert_allclose(heading, 0.0, atol=1e-9)
    assert load_scene_inputs(tmp_path / "scene0001_00").frame_ids == s.frame_ids


def test_prepared_scene_errors_name_the_file(tmp_path):
    d = _write_prepared(tmp_path)
    with pytest.raises(DataError, match="prepared scene not found"):
        load_prepared_scene(tmp_path, "scene0404_00")
    (d / "pose" / "9.txt").write_text("1 0 0\n")
    with pytest.raises(DataError, match=r"9\.txt"):
        load_prepared_scene(tmp_path, "scene0001_00")
    (d / "color" / "14.jpg").unlink()
    with pytest.raises(DataError, match=r"14\.jpg"):
        load_prepared_scene(tmp_path, "scene0001_00")
    with pytest.raises(ValueError):
        load_prepared_scene(tmp_path, "../outside")


def test_frame_folder_natural_order_and_uniform_sampling(tmp_path):
    for i in range(12):
        Image.fromarray(np.full((8, 10, 3), i * 20, np.uint8)).save(tmp_path / f"frame_{i}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    s = load_frame_folder(tmp_path, num_frames=4)
    assert s.frame_ids == (0, 3, 7, 11)  # linspace(0, 11, 4) -> 0, 3.67, 7.33, 11 floored
    assert [int(f[0, 0, 0]) for f in s.frames] == [0, 60, 140, 220]  # frame_10 sorts after frame_9
    assert s.poses_c2w is None and s.bev_frame is None and s.source == "frames"
    Image.fromarray(np.zeros((9, 10, 3), np.uint8)).save(tmp_path / "frame_99.png")
    with pytest.raises(DataError, match="same size"):
        load_frame_folder(tmp_path, num_frames=None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        load_frame_folder(tmp_path / "empty")


def test_video_frames_are_sampled_uniformly(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "walk.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(21):
        w.write(np.full((24, 32, 3), i * 12, np.uint8))
    w.release()
    s = load_video(path, num_frames=5)
    assert s.frame_ids == (0, 5, 10, 15, 20)
    np.testing.assert_allclose([f.mean() for f in s.frames], [0, 60, 120, 180, 240], atol=4)
    assert s.source == "video" and s.scene_id == "walk"
    with pytest.raises(DataError, match="not found"):
        load_video(tmp_path / "nope.mp4")


# --------------------------------------------------------------------------------------------- poses
def test_pose_to_bev_hand_computed():
    # First camera at raw (1, 2, 1.5) looking along raw +y: the BEV x axis is raw +y, BEV y is raw -x.
    scene = _scene(_c2w([1.0, 2.0, 1.5], math.pi / 2, pitch_rad=-0.3), center=np.array([0.5, -0.5, 1.0]))
    # raw point (1, 3) facing raw +x  ->  BEV (1, 0) facing -90 deg
    xy, h = pose_to_bev(Pose(x=1.0, y=3.0, yaw=0.0, forward=(1.0, 0.0), frame="raw"), scene)
    np.testing.assert_allclose(xy, [1.0, 0.0], atol=1e-9)
    assert h == pytest.approx(-math.pi / 2)
    # SQA3D: raw = sqa3d + centre; quaternion yaw 0 faces -x -> raw (0, 2) facing -x -> BEV (0, 1), +90 deg
    yaw = 0.0
    f = sqa3d_forward(yaw)
    xy, h = pose_to_bev(Pose(x=-0.5, y=2.5, yaw=yaw, forward=(f[0], f[1]), frame="sqa3d"), scene)
    np.testing.assert_allclose(xy, [0.0, 1.0], atol=1e-9)
    assert h == pytest.approx(math.pi / 2)
    # aligned: A rotates by +90 deg and shifts by (1, 2): aligned (1, 2) is raw (0, 0); aligned heading 0 is
    # raw -90 deg  ->  BEV (-2, 1), heading 180 deg
    A = np.eye(4)
    A[:2, :2] = [[0, -1], [1, 0]]
    A[:3, 3] = [1.0, 2.0, 0.0]
    scene_a = _scene(_c2w([1.0, 2.0, 1.5], math.pi / 2), A=A)
    xy, h = pose_to_bev(Pose(x=1.0, y=2.0, yaw=0.0, forward=(1.0, 0.0), frame="aligned"), scene_a)
    np.testing.assert_allclose(xy, [-2.0, 1.0], atol=1e-9)
    assert abs(abs(h) - math.pi) < 1e-9
    bev = Pose(x=0.3, y=-0.2, yaw=0.5, forward=(math.cos(0.5), math.sin(0.5)), frame="bev")
    assert pose_to_bev(bev, scene)[1] == pytest.approx(0.5)
    with pytest.raises(DataError, match="axisAlignment"):
        pose_to_bev(Pose(x=0, y=0, yaw=0, forward=(1, 0), frame="aligned"), scene)
    with pytest.raises(DataError, match="centre"):
        pose_to_bev(Pose(x=0, y=0, yaw=0, forward=(-1, 0), frame="sqa3d"), scene_a)


@pytest.mark.parametrize("frame", ["sqa3d", "aligned", "raw"])
def test_pose_to_bev_inverts_bev_to_dataset(frame):
    rng = np.random.default_rng(7)
    A = np.eye(4)
    c, s = math.cos(0.7), math.sin(0.7)
    A[:2, :2] = [[c, -s], [s, c]]
    A[:3, 3] = [-3.0, 1.5, -0.05]
    first = _c2w([2.0, -1.0, 1.4], 2.1, pitch_rad=-0.4)
    scene = _scene(first, center=np.array([1.0, 0.5, 1.2]), A=A)
    for _ in range(5):
        xy_bev, h_bev = rng.uniform(-3, 3, 2), rng.uniform(-math.pi, math.pi)
        xy_d, h_d = bev_to_dataset(
            xy_bev, np.array(h_bev), first, frame, axis_alignment=A, scene_center_raw=scene.scene_center_raw
        )
        pose = Pose(
            x=float(xy_d[0]), y=float(xy_d[1]), yaw=0.0, forward=(math.cos(h_d), math.sin(h_d)), frame=frame
        )
        xy, h = pose_to_bev(pose, scene)
        np.testing.assert_allclose(xy, xy_bev, atol=1e-9)
        assert abs(math.remainder(h - h_bev, 2 * math.pi)) < 1e-9


# --------------------------------------------------------------------------------------------- prompts
def _record(source, question, options=None, situation=None):
    return Record(
        id="1",
        source=source,
        task="t",
        scene_id="scene0000_00",
        question=question,
        answers=["x"],
        options=options,
        situation=situation,
    )


def test_question_templates():
    q = "How many chair(s) are in this room?"
    assert question_text(_record("vsibench", q)) == (
        "These are frames of a video.\nHow many chair(s) are in this room?\n"
        "Please answer the question using a single word or phrase."
    )
    mc = _record("vsibench", "Which is closer?", options=["A. chair", "B. table"])
    assert question_text(mc) == (
        "These are frames of a video.\nWhich is closer?\nOptions:\nA. chair\nB. table\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert (
        question_text(_record("sqa3d", " What is on my left? "))
        == f"What is on my left?\n{SHORT_ANSWER_PROMPT}"
    )
    assert question_text(_record("msqa", "Describe the room.")) == "Describe the room."
    assert question_text(_record("sqa3d", "")) == ""
    assert situation_text(_record("sqa3d", "q", situation="  I sit.  ")) == "I sit."
    assert situation_text(_record("scanqa", "q", situation="   ")) is None
