"""SQA3D reader: join on question_id, poses checked against scipy, validation, localization files."""

from __future__ import annotations

import copy
import json
import math
import random

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from loc3r.data.sources.sqa3d import read_sqa3d, sqa3d_question_type
from loc3r.utils.io import DataError


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_real_sample_join_first_item(sqa3d_files):
    records, skipped, problems = read_sqa3d(sqa3d_files)
    assert (len(records), skipped, problems) == (50, 0, [])
    r = records[0]
    assert r.id == "220602000002" and r.source == "sqa3d" and r.scene_id == "scene0050_00"
    assert r.question == "What instrument in front of me is ebony and ivory?"
    assert r.situation == "I am standing by the ottoman on my right facing a couple of toolboxes."
    assert len(r.alternative_situations) == 2
    assert r.alternative_situations[1] == (
        "I stood up from the ottoman and walked over to the piano ahead of me.")
    assert r.answers == ["piano"]
    assert r.task == "what"
    assert r.extra["answer_type"] == "other" and r.extra["question_type"] == "N/A"
    assert (r.pose.x, r.pose.y, r.pose.z) == (0.7110268899979686, -0.03219739162793617, 0.0)
    assert r.pose.frame == "sqa3d"
    # records come in questions-file order
    assert [x.id for x in records] == [str(q["question_id"]) for q in _load(sqa3d_files[0])["questions"]]


def test_negative_w_pose_hand_computed(sqa3d_files):
    """First item: q = (0, 0, -0.99957, -0.02920), i.e. _w < 0. Its rotation angle is pi - d with
    d = 2 atan(0.0292 / 0.99957) (the same rotation as -q), so yaw = pi - d and the agent faces
    (-cos yaw, -sin yaw) = (cos d, -sin d)."""
    r = read_sqa3d(sqa3d_files).records[0]
    d = 2.0 * math.atan(0.02919952230128897 / 0.9995736030415032)
    assert r.pose.yaw == pytest.approx(math.pi - d, abs=1e-12)
    assert r.pose.forward == pytest.approx((math.cos(d), -math.sin(d)), abs=1e-12)
    assert r.extra["rotation_xyzw"] == [0.0, 0.0, -0.9995736030415032, -0.02919952230128897]


def test_all_poses_match_scipy(sqa3d_files):
    """yaw == Rotation.from_quat(q).as_rotvec()[2] (mod 2 pi) and forward == (R(q) @ [-1, 0, 0])[:2]."""
    records = read_sqa3d(sqa3d_files).records
    anns = {str(a["question_id"]): a for a in _load(sqa3d_files[1])["annotations"]}
    n_negative_w = 0
    for r in records:
        rot, pos = anns[r.id]["rotation"], anns[r.id]["position"]
        q = [rot["_x"], rot["_y"], rot["_z"], rot["_w"]]
        n_negative_w += q[3] < 0
        scipy_yaw = Rotation.from_quat(q).as_rotvec()[2]
        diff = (r.pose.yaw - scipy_yaw + math.pi) % (2 * math.pi) - math.pi
        assert abs(diff) < 1e-9, r.id
        fwd = Rotation.from_quat(q).as_matrix() @ np.array([-1.0, 0.0, 0.0])
        assert r.pose.forward == pytest.approx(tuple(fwd[:2]), abs=1e-9)
        assert (r.pose.x, r.pose.y) == (pos["x"], pos["y"])
        assert -math.pi <= r.pose.yaw < math.pi
    assert n_negative_w > 0  # the sample covers the _w < 0 case


def test_shuffled_annotations_and_key_order_join_correctly(sqa3d_files, write_json):
    expected = read_sqa3d(sqa3d_files).records
    ann = _load(sqa3d_files[1])
    random.Random(0).shuffle(ann["annotations"])
    for a in ann["annotations"]:  # store _w first, as SQA3D's docs print it
        r = a["rotation"]
        a["rotation"] = {"_w": r["_w"], "_z": r["_z"], "_y": r["_y"], "_x": r["_x"]}
    assert [a["question_id"] for a in ann["annotations"]] != [
        a["question_id"] for a in _load(sqa3d_files[1])["annotations"]]
    shuffled = write_json("ann_shuffled.json", ann)
    # file order on the command line does not matter either
    assert read_sqa3d([shuffled, sqa3d_files[0]]).records == expected


def test_unmatched_question_and_annotation(sqa3d_files, write_json):
    ann = _load(sqa3d_files[1])
    dropped = ann["annotations"].pop(3)
    missing_ann = write_json("ann_missing.json", ann)
    pattern = rf"{sqa3d_files[0].name}.*question_id {dropped['question_id']}.*no annotation"
    with pytest.raises(DataError, match=pattern):
        read_sqa3d([sqa3d_files[0], missing_ann])
    res = read_sqa3d([sqa3d_files[0], missing_ann], strict=False)
    assert (len(res.records), res.skipped) == (49, 1)
    assert str(dropped["question_id"]) in res.problems[0]

    questions = _load(sqa3d_files[0])
    dropped_q = questions["questions"].pop(0)
    missing_q = write_json("q_missing.json", questions)
    pattern = rf"{sqa3d_files[1].name}.*question_id {dropped_q['question_id']}.*no question"
    with pytest.raises(DataError, match=pattern):
        read_sqa3d([missing_q, sqa3d_files[1]])
    assert read_sqa3d([missing_q, sqa3d_files[1]], strict=False).skipped == 1


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: a["rotation"].update(_x=0.3), "not a pure yaw"),
        (lambda a: a["rotation"].update(_z=0.0, _w=0.0), "quaternion is zero"),
        (lambda a: a["rotation"].pop("_w"), "missing field '_w'"),
        (lambda a: a.pop("position"), "missing field 'position'"),
        (lambda a: a["position"].update(x="1.0"), "field 'x' must be a number"),
        (lambda a: a.update(scene_id="scene9999_00"), "scene_id"),
        (lambda a: a.update(answers="piano"), "answers"),
    ],
)
def test_bad_annotation_is_reported_with_file_and_id(sqa3d_files, write_json, mutate, message):
    ann = _load(sqa3d_files[1])
    bad = copy.deepcopy(ann)
    mutate(bad["annotations"][5])
    qid = bad["annotations"][5]["question_id"]
    p = write_json("ann_bad.json", bad)
    with pytest.raises(DataError, match=message) as e:
        read_sqa3d([sqa3d_files[0], p])
    assert str(qid) in str(e.value) and "ann_bad.json" in str(e.value)
    res = read_sqa3d([sqa3d_files[0], p], strict=False)
    assert (len(res.records), res.skipped) == (49, 1)


def test_nan_position_rejected(sqa3d_files, tmp_path):
    text = sqa3d_files[1].read_text(encoding="utf-8").replace('"x": 0.7110268899979686', '"x": NaN', 1)
    p = tmp_path / "ann_nan.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="220602000002.*not finite"):
        read_sqa3d([sqa3d_files[0], p])


def test_file_level_errors(sqa3d_files, tmp_path, write_json):
    with pytest.raises(DataError, match="need their annotations file"):
        read_sqa3d([sqa3d_files[0]])
    with pytest.raises(DataError, match="need their questions file"):
        read_sqa3d([sqa3d_files[1]])
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text(sqa3d_files[1].read_text(encoding="utf-8")[:500], encoding="utf-8")
    with pytest.raises(DataError, match=r"corrupt\.json: invalid JSON at line 1"):
        read_sqa3d([sqa3d_files[0], corrupt], strict=False)  # file-level problems raise even when lenient
    with pytest.raises(DataError, match=r"other\.json: not an SQA3D file"):
        read_sqa3d([write_json("other.json", [1, 2])])
    with pytest.raises(FileNotFoundError):
        read_sqa3d([tmp_path / "nope.json"])


def test_duplicate_question_id(sqa3d_files, write_json):
    questions = _load(sqa3d_files[0])
    questions["questions"].append(questions["questions"][0])
    p = write_json("q_dup.json", questions)
    with pytest.raises(DataError, match="duplicate question_id"):
        read_sqa3d([p, sqa3d_files[1]])


def test_localization_file(write_json):
    """Hand-made file per SQA3D's localization.md (the real file is not available here)."""
    s = math.sin(math.pi / 4)
    data = {"annotations": [
        # yaw +90 deg: the agent faces R_z(90) @ (-1, 0) = (0, -1)
        {"scene_id": "scene0000_00", "situation": "I am facing the door.", "alternative_situation": ["alt"],
         "position": {"x": 1.5, "y": -2.0, "z": 0}, "rotation": {"_w": s, "_x": 0, "_y": 0, "_z": s}},
        # q = -(0, 0, sin 15deg, cos 15deg): yaw +30 deg, facing (-cos 30, -sin 30)
        {"scene_id": "scene0000_00", "situation": "I sit on the bed.", "alternative_situation": [],
         "position": {"x": 0.0, "y": 0.5, "z": 0},
         "rotation": {"_w": -math.cos(math.pi / 12), "_x": 0, "_y": 0, "_z": -math.sin(math.pi / 12)}},
    ]}
    p = write_json("v1_balanced_localization_test_scannetv2.json", data)
    records, skipped, _ = read_sqa3d([p])
    assert skipped == 0 and len(records) == 2
    a, b = records
    assert a.task == b.task == "localization" and a.answers == [] and a.question == ""
    assert a.id == "v1_balanced_localization_test_scannetv2-0" and b.id.endswith("-1")
    assert a.situation == "I am facing the door." and a.alternative_situations == ["alt"]
    assert (a.pose.x, a.pose.y) == (1.5, -2.0)
    assert a.pose.yaw == pytest.approx(math.pi / 2)
    assert a.pose.forward == pytest.approx((0.0, -1.0), abs=1e-12)
    assert b.pose.yaw == pytest.approx(math.pi / 6)
    assert b.pose.forward == pytest.approx((-math.cos(math.pi / 6), -math.sin(math.pi / 6)))
    assert "anchor_id" not in a.extra  # the real files name no objects


def test_localization_items_keep_the_grounding_files_object_ids(write_json):
    item = {"scene_id": "scene0000_00", "situation": "Facing the bed, I am at the desk.",
            "position": {"x": 0, "y": 0, "z": 0}, "rotation": {"_w": 1, "_x": 0, "_y": 0, "_z": 0},
            "anchor_id": 3, "facing_id": 7}
    p = write_json("v1_balanced_localization_train_scannetv2.json", {"annotations": [item]})
    (rec,), _, _ = read_sqa3d([p])
    assert rec.extra["anchor_id"] == 3 and rec.extra["facing_id"] == 7
    bad = write_json("v1_balanced_localization_val_scannetv2.json", {"annotations": [{**item, "anchor_id": "3"}]})
    from loc3r.utils.io import DataError

    with pytest.raises(DataError, match="annotation 0: 'anchor_id' must be an integer object id"):
        read_sqa3d([bad])


@pytest.mark.parametrize(
    "question, bucket",
    [
        ("What is on my left?", "what"), ("  is the door open?", "is"), ("Isn't it dark?", "is"),
        ("How many chairs?", "how"), ("Can I sit?", "can"), ("WHICH way?", "which"),
        ("Are there towels?", "others"), ("Where is the sink?", "others"),
        ("If I turn around, ...", "others"),
    ],
)
def test_question_type_buckets(question, bucket):
    assert sqa3d_question_type(question) == bucket


def test_real_sample_buckets(sqa3d_files):
    first_words = [q["question"].split()[0].lower() for q in _load(sqa3d_files[0])["questions"]]
    expected = [w if w in ("what", "is", "how", "can", "which") else "others" for w in first_words]
    assert [r.task for r in read_sqa3d(sqa3d_files).records] == expected
