"""Scene clips: frame resizing, BEV targets on the model's grid, caches, situation targets (BEV frame)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loc3r.data.bev_targets import TokenGrid, compute_bev_targets
from loc3r.data.scene_inputs import load_prepared_scene
from loc3r.data.schema import Pose, Record
from loc3r.geometry.frames import BevFrame
from loc3r.training.dataset import SceneClip, SceneClipStore, make_sample, resize_frames, situation_target
from loc3r.utils.io import DataError

SCENE = "scene9000_00"


def _store(root, grid=None, **kw):
    from loc3r.backends.registry import make_backend

    grid = grid or TokenGrid.llava_video(64, 8, 2)
    kw.setdefault("backend", make_backend("pose", mode="relative"))
    return SceneClipStore(root / "prepared", image_size=grid.input_hw[0], grid=grid, **kw)


def test_resized_frames_give_the_processor_exactly_the_same_pixels(tiny_processor):
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (3, 96, 128, 3), dtype=np.uint8)
    small = resize_frames(video, 64, tiny_processor.frame_transform.resample)
    assert small.shape == (3, 3, 64, 64) and small.dtype == np.uint8
    ft = tiny_processor.frame_transform
    import torch

    assert torch.equal(ft(torch.from_numpy(small)), ft(video))


def test_clip_holds_the_selected_frames_and_the_prepared_targets(synth_root):
    store = _store(synth_root)
    clip = store.get(SCENE, 4)
    scene = load_prepared_scene(synth_root / "prepared", SCENE, 4)
    assert clip.frame_ids == scene.frame_ids and clip.frame_ids[0] == scene.frame_ids[0]
    assert clip.frames.shape == (4, 3, 64, 64)
    assert clip.bev_xy.shape == (4, 4, 4, 2) and clip.bev_valid.shape == (4, 4, 4)
    assert clip.camera_tokens.shape == (4, 13)
    np.testing.assert_array_equal(clip.poses_c2w, scene.poses_c2w)
    # The prepared targets (from the exact rendered depth) agree with targets recomputed here from the
    # exported 16-bit millimetre depth PNGs, to the depth quantisation.
    meta = store.scene_meta(SCENE)
    depths = [store._read_depth(SCENE, i, meta) for i in clip.frame_ids]
    ref = compute_bev_targets(
        depths,
        np.asarray(meta["K_depth"]),
        clip.poses_c2w,
        clip.bev_frame,
        TokenGrid.llava_video(64, 8, 2),
        K_color=np.asarray(meta["K_color"]),
        color_hw=(meta["color_size"][1], meta["color_size"][0]),
    )
    np.testing.assert_array_equal(ref.valid, clip.bev_valid)
    np.testing.assert_allclose(ref.xy[ref.valid], clip.bev_xy[clip.bev_valid], atol=2e-3)
    assert clip.bev_valid.mean() > 0.5


def test_targets_are_computed_on_another_grid(synth_root):
    grid = TokenGrid.llava_video(32, 8, 2)  # 4x4 patches -> 2x2 tokens: the prepared npz does not fit
    clip = _store(synth_root, grid=grid).get(SCENE, 3)
    assert clip.bev_xy.shape == (3, 2, 2, 2) and clip.frames.shape == (3, 3, 32, 32)
    # Everything the first camera sees lies in front of it: BEV x (its horizontal forward axis) > 0.
    first = clip.bev_xy[0][clip.bev_valid[0]]
    assert len(first) and (first[:, 0] > 0).all()


def test_memory_and_disk_caches_return_the_same_clip(synth_root, tmp_path, caplog):
    store = _store(synth_root, cache_dir=tmp_path / "cache")
    a = store.get(SCENE, 4)
    assert store.get(SCENE, 4) is a  # memory LRU
    files = list((tmp_path / "cache").rglob("*.npz"))
    assert len(files) == 1
    fresh = _store(synth_root, cache_dir=tmp_path / "cache").get(SCENE, 4)  # from disk
    for name in ("frames", "poses_c2w", "bev_xy", "bev_valid", "camera_tokens", "scene_center_raw"):
        np.testing.assert_array_equal(getattr(fresh, name), getattr(a, name))
    files[0].write_bytes(b"not an npz")
    again = _store(synth_root, cache_dir=tmp_path / "cache").get(SCENE, 4)
    np.testing.assert_array_equal(again.bev_xy, a.bev_xy)
    assert "unusable" in caplog.text


def test_memory_cache_is_bounded(synth_root):
    store = _store(synth_root, memory_items=2)
    for n in (2, 3, 4):
        store.get(SCENE, n)
    assert list(store._memory) == [(SCENE, 3), (SCENE, 4)]


def test_missing_scene_and_missing_cached_tokens_are_named(synth_root, tmp_path):
    from loc3r.backends.cache import TokenCache

    with pytest.raises(DataError, match="scene9999_00.*not found"):
        _store(synth_root).get("scene9999_00", 4)
    store = _store(synth_root, token_cache=TokenCache(tmp_path / "empty"), require_cached=True)
    with pytest.raises(DataError, match=f"scene {SCENE}: no cached 'pose' prior tokens"):
        store.get(SCENE, 4)


def _hand_clip(center=(3.0, 2.0, 1.0), alignment=None) -> SceneClip:
    """A one-frame clip whose first camera sits at (1, 2, 1.5) looking along world +y (z up)."""
    T = np.eye(4)
    # Columns of R: camera x (right) = world +x, camera y (down) = world -z, camera z (forward) = world +y.
    T[:3, :3] = np.stack([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]], axis=1)
    T[:3, 3] = [1.0, 2.0, 1.5]
    return SceneClip(
        scene_id="hand",
        frame_ids=(0,),
        frames=np.zeros((1, 3, 8, 8), np.uint8),
        poses_c2w=T[None],
        bev_xy=np.zeros((1, 1, 1, 2), np.float32),
        bev_valid=np.zeros((1, 1, 1), bool),
        axis_alignment=alignment,
        scene_center_raw=np.asarray(center),
    )


def test_sqa3d_pose_maps_to_the_first_frame_bev_frame():
    clip = _hand_clip()
    assert clip.bev_frame.heading0 == pytest.approx(math.pi / 2)
    # SQA3D pose at its origin (= mesh centre (3, 2)) with yaw 0: the agent faces R(q) @ (-1, 0) = world -x.
    pose = Pose(x=0.0, y=0.0, yaw=0.0, forward=(-1.0, 0.0), frame="sqa3d")
    xy, heading = situation_target(pose, clip)
    # 2 m along world +x from the camera = 2 m to the camera's right = BEV (0, -2); facing world -x = the
    # camera's left = BEV heading +90 deg.
    np.testing.assert_allclose(xy, [0.0, -2.0], atol=1e-6)
    assert heading == pytest.approx(math.pi / 2)


def test_aligned_pose_maps_through_the_inverse_axis_alignment():
    theta = math.radians(30.0)
    A = np.eye(4)
    A[:2, :2] = [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]
    A[:3, 3] = [0.5, -1.0, 0.0]
    clip = _hand_clip(alignment=A)
    raw_xy, raw_heading = np.array([4.0, 3.0]), 0.25  # the pose, chosen in the raw frame
    al = A[:3, :3] @ np.array([*raw_xy, 0.0]) + A[:3, 3]
    pose = Pose(
        x=al[0],
        y=al[1],
        yaw=raw_heading + theta,
        forward=(math.cos(raw_heading + theta), math.sin(raw_heading + theta)),
        frame="aligned",
    )
    xy, heading = situation_target(pose, clip)
    bev = BevFrame.from_first_pose(clip.poses_c2w[0])
    np.testing.assert_allclose(xy, bev.world_to_bev_xy(raw_xy), atol=1e-6)
    assert heading == pytest.approx(raw_heading - math.pi / 2)


def test_make_sample_masks_what_is_unknown():
    clip = _hand_clip()
    pose = Pose(x=0.0, y=0.0, yaw=0.0, forward=(-1.0, 0.0), frame="sqa3d")
    rec = Record(
        id="1",
        source="sqa3d",
        task="what",
        scene_id="hand",
        question="What is on my left?",
        answers=["a door", "door"],
        situation="I face the door.",
        pose=pose,
    )
    s = make_sample(rec, clip, rec.situation, "sqa3d/1")
    assert s["has_pose"] and s["answer"] == "a door"
    assert s["question"].startswith("What is on my left?")
    np.testing.assert_allclose(s["pos_target"], [0.0, -2.0], atol=1e-6)
    loc_only = Record(
        id="2",
        source="sqa3d",
        task="localization",
        scene_id="hand",
        question="",
        answers=[],
        situation="I face the door.",
        pose=pose,
    )
    s = make_sample(loc_only, clip, loc_only.situation, "sqa3d/2")
    assert s["answer"] is None and s["question"] == "" and s["has_pose"]
    qa = Record(
        id="3",
        source="scanqa",
        task="Place",
        scene_id="hand",
        question="Where is the bed?",
        answers=["by the wall"],
    )
    s = make_sample(qa, clip, None, "scanqa/3")
    assert not s["has_pose"] and s["situation"] is None
    np.testing.assert_array_equal(s["pos_target"], [0.0, 0.0])


def test_semantic_targets_come_from_the_scene_instances(synth_root, tmp_path):
    import json

    from loc3r.data.semantic_targets import token_categories

    inst = json.loads((synth_root / "prepared" / SCENE / "instances.json").read_text())["instances"]
    classes = sorted({i["label"] for i in inst})
    store = _store(synth_root, semantic_classes=classes, cache_dir=tmp_path / "c")
    clip = store.get(SCENE, 4)
    ref = token_categories(clip.bev_xy, clip.bev_valid, clip.bev_frame, inst, classes, clip.axis_alignment)
    np.testing.assert_array_equal(clip.semantic_targets, ref)
    assert (clip.semantic_targets > 0).any() and (clip.semantic_targets[~clip.bev_valid] == -100).all()
    # the on-disk clip cache does not hold them; a second store recomputes the same targets
    again = _store(synth_root, semantic_classes=classes, cache_dir=tmp_path / "c").get(SCENE, 4)
    np.testing.assert_array_equal(again.semantic_targets, ref)
    rec = Record(id="1", source="sqa3d", task="what", scene_id=SCENE, question="what?", answers=["bed"])
    assert make_sample(rec, clip, None, "s")["semantic_targets"] is clip.semantic_targets
    assert _store(synth_root).get(SCENE, 4).semantic_targets is None


def test_a_subset_of_the_pool_clip_equals_the_clip_built_for_those_frames(synth_root):
    """``SceneClip.take`` keeps frame 0, so targets, prior tokens and categories need no recomputation."""
    import json

    inst = json.loads((synth_root / "prepared" / SCENE / "instances.json").read_text())["instances"]
    classes = sorted({i["label"] for i in inst})
    store = _store(synth_root, semantic_classes=classes)
    pool = store.get(SCENE, None)
    assert pool.num_frames == len(load_prepared_scene(synth_root / "prepared", SCENE).frame_ids) == 8
    direct = store.get(SCENE, 4)  # the uniform subset of 4 = positions 0, 2, 4, 7 of the 8
    sub = pool.take([0, 2, 4, 7])
    assert sub.frame_ids == direct.frame_ids
    for name in ("frames", "poses_c2w", "bev_valid", "semantic_targets", "camera_tokens"):
        np.testing.assert_array_equal(getattr(sub, name), getattr(direct, name), err_msg=name)
    np.testing.assert_allclose(sub.bev_xy, direct.bev_xy, atol=1e-6)
    for bad in ([], [1, 2], [0, 2, 2], [0, 8]):
        with pytest.raises(ValueError, match="frame positions"):
            pool.take(bad)


def test_grounding_records_get_the_tokens_of_their_referents(synth_root):
    import json

    inst = json.loads((synth_root / "prepared" / SCENE / "instances.json").read_text())["instances"]
    store = _store(synth_root, instance_targets=True)
    clip = store.get(SCENE, 4)
    assert clip.instance_ids.shape == clip.bev_valid.shape and clip.semantic_targets is None
    seen = [int(i) for i in np.unique(clip.instance_ids) if i >= 0]
    assert seen and set(seen) <= {int(i["object_id"]) for i in inst}
    assert (clip.instance_ids[~clip.bev_valid] == -1).all()
    a, f = seen[0], seen[-1]
    pose = Pose(x=0.0, y=0.0, yaw=0.0, forward=(-1.0, 0.0), frame="sqa3d")
    rec = Record(id="g", source="sqa3d", task="localization", scene_id=SCENE, question="", answers=[],
                 situation="Facing the x, I am at the y.", pose=pose, extra={"anchor_id": a, "facing_id": f})
    s = make_sample(rec, clip, rec.situation, "grounding/g")
    np.testing.assert_array_equal(s["ground_pos_mask"], clip.instance_ids == a)
    np.testing.assert_array_equal(s["ground_ori_mask"], clip.instance_ids == f)
    assert s["ground_pos_mask"].any()
    # no referent ids, no instance ids or no situation: no mask
    plain = Record(id="p", source="sqa3d", task="localization", scene_id=SCENE, question="", answers=[],
                   situation="I sit.", pose=pose)
    assert make_sample(plain, clip, plain.situation, "p")["ground_pos_mask"] is None
    assert make_sample(rec, _store(synth_root).get(SCENE, 4), rec.situation, "g")["ground_pos_mask"] is None
    assert make_sample(rec, clip, None, "g")["ground_ori_mask"] is None
    assert clip.take([0, 2]).instance_ids.shape[0] == 2
