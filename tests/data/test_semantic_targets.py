"""Per-token category targets: hand-computed cases (frames, boxes, ties) and a real prepared synthetic scene."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loc3r.data.semantic_targets import IGNORE_INDEX, footprints_of_instances, token_categories, token_instances
from loc3r.geometry.frames import BevFrame


def _box(label, lo, hi, key="bbox_aligned"):
    return {"label": label, key: {"min": [lo[0], lo[1], 0.0], "max": [hi[0], hi[1], 1.0]}}


def test_hand_case_through_bev_and_axis_alignment():
    # BEV frame at raw (1, 2), heading +90 deg: BEV (x, y) -> raw (1 - y, 2 + x).
    bev = BevFrame(origin_xy=np.array([1.0, 2.0]), heading0=math.pi / 2)
    # aligned = R(+90 deg) raw + (10, 0): raw (a, b) -> aligned (10 - b, a).
    A = np.eye(4)
    A[:2, :2] = [[0.0, -1.0], [1.0, 0.0]]
    A[0, 3] = 10.0
    xy = np.array([[[[1.0, 0.0], [0.0, 0.0], [3.0, 3.0]]]])  # [T=1, R=1, C=3, 2]
    valid = np.array([[[True, True, False]]])
    # token 0: BEV (1, 0) -> raw (1, 3) -> aligned (7, 1); token 1: BEV (0, 0) -> raw (1, 2) -> aligned (8, 1)
    inst = [_box("chair", (6.5, 0.5), (7.5, 1.5)), _box("bed", (7.9, 0.0), (9.0, 2.0)),
            _box("sofa", (0.0, 0.0), (1.0, 1.0))]
    got = token_categories(xy, valid, bev, inst, ["bed", "chair"], A)
    assert got.tolist() == [[[2, 1, IGNORE_INDEX]]]
    # Without the alignment the raw boxes are used.
    raw = [_box("chair", (0.5, 2.5), (1.5, 3.5), key="bbox_raw")]
    assert token_categories(xy, valid, bev, raw, ["chair"], None).tolist() == [[[1, 0, IGNORE_INDEX]]]


def test_smallest_footprint_wins_and_unlisted_labels_are_background():
    bev = BevFrame(origin_xy=np.zeros(2), heading0=0.0)
    xy = np.array([[[[0.5, 0.5], [2.5, 2.5]]]])
    valid = np.ones((1, 1, 2), bool)
    inst = [_box("table", (0, 0), (2, 2)), _box("lamp", (0.4, 0.4), (0.6, 0.6)), _box("plant", (2, 2), (3, 3))]
    assert token_categories(xy, valid, bev, inst, ["table", "lamp"], np.eye(4)).tolist() == [[[2, 0]]]
    # margin grows every footprint
    near = np.array([[[[2.03, 1.0], [2.2, 1.0]]]])
    assert token_categories(near, valid, bev, inst, ["table"], np.eye(4), margin_m=0.05).tolist() == [[[1, 0]]]
    lo, hi, cls = footprints_of_instances(inst, ["plant"], np.eye(4))
    assert lo.tolist() == [[2, 2]] and hi.tolist() == [[3, 3]] and cls.tolist() == [1]
    assert token_categories(xy, valid, bev, [], ["table"]).tolist() == [[[0, 0]]]



def test_token_instances_follow_the_same_rule_with_object_ids():
    bev = BevFrame(origin_xy=np.zeros(2), heading0=0.0)
    xy = np.array([[[[0.5, 0.5], [2.5, 2.5], [5.0, 5.0], [0.0, 0.0]]]])
    valid = np.array([[[True, True, True, False]]])
    inst = [{**_box("table", (0, 0), (2, 2)), "object_id": 4}, {**_box("lamp", (0.4, 0.4), (0.6, 0.6)), "object_id": 9},
            {**_box("plant", (2, 2), (3, 3)), "object_id": 1}]
    # the smallest footprint wins (lamp in the table), every label counts, -1 = nothing / no target
    assert token_instances(xy, valid, bev, inst, np.eye(4)).tolist() == [[[9, 1, -1, -1]]]
    assert token_instances(xy, valid, bev, []).tolist() == [[[-1, -1, -1, -1]]]


@pytest.mark.slow
def test_prepared_synthetic_scene_tokens_see_their_objects(tmp_path):
    """On a generated + prepared scene, labels agree with the renderer's instance ids for most tokens."""
    import json

    from loc3r.data.prepare import PrepareConfig, prepare_scannet
    from loc3r.data.scene_inputs import load_prepared_scene
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic, scene_poses, scene_world
    from loc3r.data.synthetic.render import render_view

    cfg = SynthConfig(out=tmp_path / "s", num_scenes=1, seed=11, frames_per_scene=6, color_width=64,
                      color_height=48, depth_width=64, depth_height=48, progress=False)
    generate_synthetic(cfg)
    prepare_scannet(PrepareConfig(scans_dir=tmp_path / "s" / "scans", out_dir=tmp_path / "p", num_frames=6,
                                  bev_targets=True, image_size=64, patch_size=8, pool_stride=2, progress=False))
    sid = cfg.scene_id(0)
    scene = load_prepared_scene(tmp_path / "p", sid, 6)
    with np.load(tmp_path / "p" / sid / "bev_targets.npz") as z:
        ids = [int(i) for i in z["frame_ids"]]
        rows = [ids.index(i) for i in scene.frame_ids]
        xy, valid = z["xy"][rows], z["valid"][rows]
    instances = json.loads((tmp_path / "p" / sid / "instances.json").read_text())["instances"]
    classes = sorted({i["label"] for i in instances})
    labels = token_categories(xy, valid, scene.bev_frame, instances, classes, scene.axis_alignment)
    object_ids = token_instances(xy, valid, scene.bev_frame, instances, scene.axis_alignment)
    # Independent reference: the majority rendered instance inside each token's 16x12-pixel footprint.
    world = scene_world(cfg, 0)
    poses = scene_poses(cfg, 0, world)  # aligned-frame camera-to-world, the renderer's frame
    label_of = {i["object_id"]: i["label"] for i in instances}
    agree = total = same_object = on_object = 0
    for t, fid in enumerate(scene.frame_ids):
        inst = render_view(world, poses[fid], cfg.color_intrinsics(), 64, 48).instance  # [48, 64]
        for r in range(4):
            for c in range(4):
                if labels[t, r, c] == IGNORE_INDEX:
                    continue
                patch = inst[r * 12:(r + 1) * 12, c * 16:(c + 1) * 16].ravel()
                names = [label_of.get(int(i)) for i in patch if i >= 0]
                top = max(set(names), key=names.count) if names else None
                ref = top if top is not None and names.count(top) > len(patch) / 2 else None
                got = classes[labels[t, r, c] - 1] if labels[t, r, c] > 0 else None
                agree += got == ref
                total += 1
                ids = [int(i) for i in patch if i >= 0]
                top_id = max(set(ids), key=ids.count) if ids else None
                if top_id is not None and ids.count(top_id) > len(patch) / 2:  # a token mostly on one object
                    on_object += 1
                    same_object += int(object_ids[t, r, c]) == top_id
    print(f"agreement {agree}/{total}, object ids {same_object}/{on_object}")
    assert total > 0 and agree / total > 0.6, f"{agree}/{total}"
    assert on_object > 0 and same_object / on_object > 0.6, f"{same_object}/{on_object}"
