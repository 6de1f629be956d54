"""``infer`` on a prepared scene (ground truth, frame mapping, picture), on plain frames, and clear errors."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")

from loc3r.data.scene_inputs import load_prepared_scene, pose_to_bev  # noqa: E402
from loc3r.data.sources.convert import read_records_jsonl  # noqa: E402
from loc3r.eval.infer import InferConfig, infer  # noqa: E402
from loc3r.eval.metrics.localization import bev_to_dataset  # noqa: E402
from loc3r.geometry.frames import heading_to_sqa3d_yaw  # noqa: E402
from loc3r.utils.import_utils import MissingDependencyError  # noqa: E402

pytestmark = pytest.mark.usefixtures("single_thread")


def test_infer_on_a_prepared_scene_with_ground_truth(eval_set, tiny_model_dir, tmp_path):
    rec = next(r for r in read_records_jsonl(eval_set.sqa3d) if r.situation)
    out = tmp_path / "out"
    res = infer(
        InferConfig(
            model=tiny_model_dir(13),
            input=eval_set.prepared / eval_set.test_scene,
            annotations=(eval_set.sqa3d,),
            record_id=rec.id,
            questions=("What is on my left?", "How many chairs are there?"),
            out_dir=out,
            max_new_tokens=3,
        )
    )
    scene = load_prepared_scene(eval_set.prepared, eval_set.test_scene)
    assert res.situation == rec.situation and res.frame_ids == list(scene.frame_ids)
    assert [qa["question"] for qa in res.answers] == ["What is on my left?", "How many chairs are there?"]
    gt_xy, gt_heading = pose_to_bev(rec.pose, scene)
    assert res.ground_truth["x"] == pytest.approx(gt_xy[0]) and res.ground_truth[
        "heading_rad"
    ] == pytest.approx(gt_heading)
    p = res.pose_bev
    assert p["sigma_x"] > 0 and p["heading_deg"] == pytest.approx(math.degrees(p["heading_rad"]))
    assert res.ground_truth["position_error_m"] == pytest.approx(
        math.hypot(p["x"] - gt_xy[0], p["y"] - gt_xy[1])
    )
    # the SQA3D-frame pose is the BEV pose carried by the first camera pose; its quaternion yaw = heading - pi
    xy_s, h_s = bev_to_dataset(
        np.array([p["x"], p["y"]]),
        np.array(p["heading_rad"]),
        scene.poses_c2w[0],
        "sqa3d",
        scene_center_raw=scene.scene_center_raw,
    )
    assert res.pose_sqa3d["x"] == pytest.approx(xy_s[0]) and res.pose_sqa3d["y"] == pytest.approx(xy_s[1])
    assert res.pose_sqa3d["sqa3d_yaw_rad"] == pytest.approx(float(heading_to_sqa3d_yaw(h_s)))
    saved = json.loads((out / "result.json").read_text())
    assert saved["pose_bev"] == pytest.approx(p) and saved["png"] == str(out / "bev.png")
    with Image.open(out / "bev.png") as im:
        assert im.format == "PNG" and im.size[0] > 400


def test_infer_on_plain_frames(eval_set, tiny_model_dir, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, src in enumerate(sorted((eval_set.prepared / eval_set.test_scene / "color").glob("*.jpg"))):
        Image.open(src).save(frames / f"{i:03d}.png")
    res = infer(
        InferConfig(
            model=tiny_model_dir(0),
            input=frames,
            situation="I am facing the bed",
            questions=("What is behind me?",),
            num_frames=4,
            out_dir=tmp_path / "o",
            max_new_tokens=2,
        )
    )
    assert res.source == "frames" and res.frame_ids == [0, 1, 3, 5]
    assert res.pose_bev is not None and res.pose_world is None and res.ground_truth is None
    assert res.prior_backend is None and (tmp_path / "o" / "bev.png").is_file()
    # a model whose prior needs known poses (pose backend) or CUT3R cannot run on plain frames: clear errors
    with pytest.raises(ValueError, match="no poses"):
        infer(InferConfig(model=tiny_model_dir(13), input=frames, situation="I sit."))
    with pytest.raises(MissingDependencyError, match="CUT3R"):
        infer(InferConfig(model=tiny_model_dir(768), input=frames, situation="I sit."))


_DIRECTIONS = [  # clause keywords -> where the named object is, relative to the facing direction (degrees)
    (("left", "nine o'clock"), 90.0),
    (("right", "three o'clock"), -90.0),
    (("behind", "back", "six o'clock"), 180.0),
    (("facing", "in front of", "ahead", "twelve o'clock", "looking"), 0.0),
]


def _stated_directions(text: str, labels):
    """(object label, expected relative angle) for every clause naming one known object and one direction."""
    for clause in re.split(r",| and | while |\.", text.lower()):
        found = {lab for lab in labels if re.search(rf"\bthe {re.escape(lab)}\b", clause)}
        names = [n for n in found if not any(n != m and n in m for m in found)]
        dirs = [angle for words, angle in _DIRECTIONS if any(w in clause for w in words)]
        if len(names) == 1 and len(dirs) == 1:
            yield names[0], dirs[0]


def test_ground_truth_in_the_bev_frame_agrees_with_the_situation_texts(eval_set):
    """The synthetic generator writes truthful situations: objects named on the left / right / behind / in
    front lie in those directions from the ground-truth pose once both are in the BEV frame (as infer draws
    them)."""
    scene = load_prepared_scene(eval_set.prepared, eval_set.test_scene)
    objects = json.loads((scene.path / "instances.json").read_text())["instances"]
    labels = {o["label"] for o in objects}
    errors = []
    for r in read_records_jsonl(eval_set.sqa3d_loc):
        xy, heading = pose_to_bev(r.pose, scene)
        for text in [r.situation, *r.alternative_situations]:
            for label, expected in _stated_directions(text, labels):
                cands = [o for o in objects if o["label"] == label]
                if len(cands) != 1:  # ambiguous or unknown names are skipped
                    continue
                d = scene.bev_frame.world_to_bev_xy(np.array(cands[0]["centroid"])) - xy
                rel = math.degrees(math.atan2(d[1], d[0]) - heading)
                errors.append(abs(math.remainder(rel - expected, 360.0)))
    assert len(errors) >= 8
    assert float(np.median(errors)) < 30.0


def test_direction_parser_and_sensitivity(eval_set):
    """The check above is not vacuous: with the heading flipped by 180 deg the stated directions disagree."""
    text = "I sit on the chair and the floor lamp is at my left hand side, facing the door."
    assert list(_stated_directions(text, {"chair", "lamp", "floor lamp", "door"})) == [
        ("floor lamp", 90.0),
        ("door", 0.0),
    ]
    scene = load_prepared_scene(eval_set.prepared, eval_set.test_scene)
    rows = json.loads((scene.path / "instances.json").read_text())["instances"]
    counts = {}
    for o in rows:
        counts[o["label"]] = counts.get(o["label"], 0) + 1
    objects = {o["label"]: o for o in rows if counts[o["label"]] == 1}
    errors = []
    for r in read_records_jsonl(eval_set.sqa3d_loc):
        xy, heading = pose_to_bev(r.pose, scene)
        for label, expected in _stated_directions(r.situation, set(counts)):
            if label in objects:
                d = scene.bev_frame.world_to_bev_xy(np.array(objects[label]["centroid"])) - xy
                rel = math.degrees(math.atan2(d[1], d[0]) - heading - math.pi)
                errors.append(abs(math.remainder(rel - expected, 360.0)))
    assert float(np.median(errors)) > 90.0
