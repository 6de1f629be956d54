"""Localization baselines: hand-made scenes and texts, and the synthetic generator's own ground truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loc3r.data.schema import Pose, Record
from loc3r.eval.baselines import (
    ParsedSituation,
    SceneEntity,
    SceneGeometry,
    parse_situation,
    points_in_polygon,
    random_free_space,
    rule_oracle,
    rule_pose,
    scene_geometry_from_world,
    training_mean,
)
from loc3r.utils.io import DataError


def _rec(i: int, x: float = 0.0, y: float = 0.0, situation: str = "", scene: str = "scene9000_00") -> Record:
    yaw = 0.0
    return Record(id=str(i), source="sqa3d", task="localization", scene_id=scene, question="", answers=[],
                  situation=situation, pose=Pose(x=x, y=y, yaw=yaw, forward=(-1.0, 0.0), frame="sqa3d"))


def _ent(eid: int, category: str, xy, color: str | None = None, front: float = 0.0,
         dims=(0.5, 0.5, 1.0), kind: str = "object") -> SceneEntity:
    c = np.asarray(xy, dtype=np.float64)
    hx, hy = dims[0] / 2, dims[1] / 2
    local = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    rot = np.array([[math.cos(front), -math.sin(front)], [math.sin(front), math.cos(front)]])
    return SceneEntity(eid, category, color, kind, c, local @ rot.T + c, front, tuple(dims))


def _angle_close(a: float, b: float, tol: float = 1e-9) -> bool:
    return abs((a - b + math.pi) % (2 * math.pi) - math.pi) < tol


# --------------------------------------------------------------------------------------------- parsing
NAMES = {0: "red chair", 1: "desk", 2: "window", 3: "sofa", 4: "lamp", 5: "tv", 6: "office chair", 7: "door",
         8: "bed"}


@pytest.mark.parametrize("text, anchor, ids, facts", [
    ("I am sitting on the red chair facing the desk, with the window on my left.", "sit_on", (0,),
     (("facing", 1), ("left", 2))),
    ("The tv is in my twelve o'clock direction while I am standing between the sofa and the lamp.", "between",
     (3, 4), (("facing", 5),)),
    ("I am standing just in front of the door.", "in_front_of", (7,), ()),
    ("I am about to open the door.", "in_front_of", (7,), ()),
    ("I sit on the office chair and my back is to the desk.", "sit_on", (6,), (("behind", 1),)),
    ("I am sitting on the edge of the bed, the tv is about two meters in front of me and the lamp is at my "
     "right hand side.", "sit_on", (8,), (("facing", 5), ("right", 4))),
    ("I am relaxing on the sofa with the lamp in my three o'clock direction.", "sit_on", (3,),
     (("right", 4),)),
])
def test_parse_situation_hand_made(text, anchor, ids, facts):
    p = parse_situation(text, NAMES)
    assert p == ParsedSituation(anchor, ids, facts)


def test_parse_situation_unknown_text_and_names():
    assert parse_situation("I am floating near the ceiling.", NAMES).anchor is None
    # "the chair" is not a referring name here (only "red chair" / "office chair" are)
    assert parse_situation("I am sitting on the chair.", NAMES).anchor is None
    assert parse_situation("I am sitting on the desk.", {}) == ParsedSituation(None, (), ())


# --------------------------------------------------------------------------------------------- rule pose
def test_rule_pose_sit_and_facts():
    ents = {0: _ent(0, "chair", (1, 2), "red", front=math.pi / 2), 1: _ent(1, "desk", (1, 5)),
            2: _ent(2, "window", (3, 2))}
    pos, h = rule_pose(ParsedSituation("sit_on", (0,), (("facing", 1),)), ents)
    np.testing.assert_allclose(pos, [1, 2])
    assert _angle_close(h, math.pi / 2)
    # the window lies at bearing 0 from the seat; "on my left" -> heading -90 deg
    pos, h = rule_pose(ParsedSituation("sit_on", (0,), (("left", 2),)), ents)
    assert _angle_close(h, -math.pi / 2)
    # no facts: the seat's front
    _, h = rule_pose(ParsedSituation("sit_on", (0,), ()), ents)
    assert _angle_close(h, math.pi / 2)


def test_rule_pose_circular_mean_of_facts():
    ents = {0: _ent(0, "chair", (0, 0)), 1: _ent(1, "desk", (3, 0)),
            2: _ent(2, "lamp", (3 * math.cos(math.radians(-70)), 3 * math.sin(math.radians(-70))))}
    # facing the desk -> 0 deg; the lamp at -70 deg "on my right" -> 20 deg; mean 10 deg
    _, h = rule_pose(ParsedSituation("sit_on", (0,), (("facing", 1), ("right", 2))), ents)
    assert _angle_close(h, math.radians(10))


def test_rule_pose_front_bed_between():
    door = _ent(7, "door", (0, 0), front=0.0, dims=(0.1, 0.9, 2.0), kind="door")
    pos, h = rule_pose(ParsedSituation("in_front_of", (7,), ()), {7: door})
    np.testing.assert_allclose(pos, [0.05 + 0.475, 0.0])
    assert _angle_close(h, math.pi)
    bed = _ent(8, "bed", (0, 0), front=0.0, dims=(2.0, 1.4, 0.5))
    pos, _ = rule_pose(ParsedSituation("sit_on", (8,), ()), {8: bed})
    np.testing.assert_allclose(pos, [0.7, 0.0])
    ents = {3: _ent(3, "sofa", (0, 0)), 4: _ent(4, "lamp", (2, 0)), 5: _ent(5, "tv", (1, 3))}
    pos, h = rule_pose(ParsedSituation("between", (3, 4), (("facing", 5),)), ents)
    np.testing.assert_allclose(pos, [1, 0])
    assert _angle_close(h, math.pi / 2)
    assert rule_pose(ParsedSituation(None, (), ()), ents) is None


def test_rule_oracle_predictions_and_fallback():
    g = SceneGeometry("scene9000_00", np.array([[-3, -3], [3, -3], [3, 3], [-3, 3]], float),
                      (_ent(0, "chair", (1, 2), "red", front=math.pi / 2), _ent(1, "desk", (1, 5))))
    recs = [_rec(0, situation="I am sitting on the chair facing the desk."),
            _rec(1, situation="Nothing to read here.")]
    p0, p1 = rule_oracle(recs, {g.scene_id: g})
    (pose,) = p0.pose_dataset
    assert (pose.frame, p0.benchmark, p0.id) == ("sqa3d", "sqa3d-loc", "0")
    np.testing.assert_allclose([pose.x, pose.y], [1, 2])
    assert _angle_close(pose.heading, math.pi / 2)
    assert p0.extra["rule"] == "parsed" and p1.extra["rule"] == "fallback"
    assert (p1.pose_dataset[0].x, p1.pose_dataset[0].y) == (0.0, 0.0)
    with pytest.raises(DataError, match="no geometry for scene scene9999_00"):
        rule_oracle([_rec(2, scene="scene9999_00")], {g.scene_id: g})


# --------------------------------------------------------------------------------------------- mean / random
def test_training_mean():
    train = [_rec(0, 0.0, 0.0), _rec(1, 2.0, 4.0), _rec(2, 1.0, 2.0)]
    preds = training_mean([_rec(10), _rec(11)], train, seed=3)
    for p in preds:
        (pose,) = p.pose_dataset
        assert (pose.x, pose.y, pose.frame) == (1.0, 2.0, "sqa3d")
        assert -math.pi <= pose.heading < math.pi
    assert preds[0].pose_dataset[0].heading != preds[1].pose_dataset[0].heading
    again = training_mean([_rec(10), _rec(11)], train, seed=3)
    assert [p.pose_dataset for p in again] == [p.pose_dataset for p in preds]
    other = training_mean([_rec(10), _rec(11)], train, seed=4)
    assert other[0].pose_dataset[0].heading != preds[0].pose_dataset[0].heading
    with pytest.raises(DataError, match="no training record has a pose"):
        training_mean([_rec(10)], [])


def test_training_mean_rejects_other_frames():
    bev = Record(id="b", source="x", task="t", scene_id="s", question="", answers=[],
                 pose=Pose(x=0, y=0, yaw=0, forward=(1.0, 0.0), frame="bev"))
    with pytest.raises(DataError, match="SQA3D frame"):
        training_mean([bev], [_rec(0)])


def test_random_free_space_stays_in_free_floor():
    room = np.array([[0, 0], [4, 0], [4, 4], [0, 4]], float)
    table = _ent(0, "table", (2, 1), dims=(4, 2, 0.8))  # covers the lower half of the room
    window = _ent(1, "window", (2, 3.95), kind="window", dims=(0.1, 1.0, 1.0))  # not an obstacle
    g = SceneGeometry("scene9000_00", room, (table, window), obstacles=(0,))
    preds = random_free_space([_rec(i) for i in range(400)], {g.scene_id: g}, seed=1)
    xy = np.array([[p.pose_dataset[0].x, p.pose_dataset[0].y] for p in preds])
    assert np.all((xy[:, 0] > 0) & (xy[:, 0] < 4) & (xy[:, 1] > 2) & (xy[:, 1] < 4))
    # uniform over [0, 4] x [2, 4]: the mean is (2, 3) (standard error ~0.06 / 0.03)
    np.testing.assert_allclose(xy.mean(0), [2, 3], atol=0.25)
    h = np.array([p.pose_dataset[0].heading for p in preds])
    assert h.min() < -2.5 and h.max() > 2.5
    # per-record generator: a record's prediction does not depend on the others
    alone = random_free_space([_rec(5)], {g.scene_id: g}, seed=1)
    assert alone[0].pose_dataset != preds[5].pose_dataset  # index 0 vs index 5 draw differently
    assert random_free_space([_rec(i) for i in range(6)], {g.scene_id: g}, seed=1)[5].pose_dataset == \
        preds[5].pose_dataset


def test_points_in_polygon_l_shape():
    poly = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], float)
    pts = np.array([[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5], [-0.1, 0.5], [2.5, 2.5]])
    np.testing.assert_array_equal(points_in_polygon(pts, poly), [True, True, True, False, False, False])


# --------------------------------------------------------------------------------------------- frames
def test_scene_geometry_from_world_maps_to_sqa3d():
    from loc3r.data.synthetic.world import Room, SceneObject, World

    # p_aligned = R(+90 deg) p_raw + (1, 0, 0)
    A = np.eye(4)
    A[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    A[0, 3] = 1.0
    room = Room(polygon=np.array([[0, 0], [3, 0], [3, 3], [0, 3]], float), height=2.5)
    chair = SceneObject(0, "chair", "red", (1.0, 1.0, 0.5), (0.5, 0.4, 1.0), yaw=0.0)
    world = World("scene9000_00", room, (chair,), axis_alignment=A)
    g = scene_geometry_from_world(world, center_raw=np.array([0.5, 0.5, 1.0]))
    (e,) = g.entities
    # aligned (1, 1) -> minus t = (0, 1) -> R^T: (1, 0) raw -> minus centre: (0.5, -0.5)
    np.testing.assert_allclose(e.center_xy, [0.5, -0.5], atol=1e-12)
    assert _angle_close(e.front_heading, -math.pi / 2)
    # room corner aligned (3, 3) -> (2, 3) -> raw (3, -2) -> sqa3d (2.5, -2.5)
    np.testing.assert_allclose(g.room_polygon[2], [2.5, -2.5], atol=1e-12)
    assert g.obstacles == (0,) and (e.category, e.color_name) == ("chair", "red")


# ------------------------------------------------------------------------------------------ generator truth
def test_parse_situation_recovers_generator_situations():
    """The parser reads back the anchor and facts the generator put into each main text."""
    from loc3r.data.synthetic.annotations.config import AnnotationConfig
    from loc3r.data.synthetic.annotations.relations import scene_entities
    from loc3r.data.synthetic.annotations.situations import sample_situations
    from loc3r.data.synthetic.annotations.templates import referring_names
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import scene_world

    cfg = SynthConfig(num_scenes=4, seed=7)
    total = 0
    for i in range(4):
        world = scene_world(cfg, i)
        ents = scene_entities(world)
        names = referring_names(ents)
        for sit in sample_situations(world, ents, cfg.rng(i, 3), AnnotationConfig(), n=12):
            p = parse_situation(sit.text, names)
            assert p.anchor == sit.anchor, sit.text
            if sit.anchor == "between":
                assert set(p.anchor_ids) == set(sit.anchor_ids), sit.text
            else:
                assert p.anchor_ids == sit.anchor_ids, sit.text
            want = {("facing" if f.relation == "distance_front" else f.relation, f.entity_id)
                    for f in sit.facts}
            assert set(p.facts) == want, sit.text
            total += 1
    assert total >= 20


@pytest.mark.slow
def test_baselines_on_generated_set(tmp_path):
    """On a generated set, the rule oracle localizes nearly every test situation and beats both floors."""
    from loc3r.data.sources.sqa3d import read_sqa3d
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic
    from loc3r.eval.baselines import synthetic_scene_geometries
    from loc3r.eval.predictions import PredictionsHeader
    from loc3r.eval.score import score_predictions

    out = tmp_path / "synth"
    generate_synthetic(SynthConfig(out=out, num_scenes=4, frames_per_scene=2, color_width=32, color_height=24,
                                   depth_width=32, depth_height=24, situations_per_scene=16, progress=False))
    sqa = out / "annotations" / "sqa3d"
    test = read_sqa3d([sqa / "v1_balanced_localization_test_scannetv2.json"]).records
    train = read_sqa3d([sqa / "v1_balanced_localization_train_scannetv2.json"]).records
    scenes = synthetic_scene_geometries(out, sorted({r.scene_id for r in test}))
    assert test

    def metrics(preds):
        return score_predictions(PredictionsHeader.new("sqa3d-loc"), preds, test, "sqa3d-loc")["metrics"]

    rule = metrics(rule_oracle(test, scenes))
    mean = metrics(training_mean(test, train))
    rand = metrics(random_free_space(test, scenes))
    assert rule["Acc@1.0m"] >= 90 and rule["Acc@30deg"] >= 90
    assert rule["Acc@1.0m"] > mean["Acc@1.0m"] and rule["Acc@1.0m"] > rand["Acc@1.0m"]


def test_camera_path_centre_hand_case():
    from loc3r.eval.baselines import camera_path_centre

    poses = np.tile(np.eye(4), (2, 1, 1))
    poses[0, :3, 3] = [1.0, 2.0, 1.5]
    poses[1, :3, 3] = [3.0, 4.0, 1.4]
    cams = {"scene9000_00": (poses, np.array([1.0, 1.0, 0.7]))}
    preds = camera_path_centre([_rec(0), _rec(1)], cams, seed=3)
    for p in preds:  # centroid (2, 3) raw -> SQA3D (2 - 1, 3 - 1)
        pose = p.pose_dataset[0]
        assert (pose.x, pose.y, pose.frame) == (1.0, 2.0, "sqa3d")
        assert -math.pi <= pose.heading < math.pi
    assert preds[0].pose_dataset[0].heading != preds[1].pose_dataset[0].heading
    assert camera_path_centre([_rec(0)], cams, seed=3)[0] == preds[0]  # seeded
    with pytest.raises(DataError, match="no camera poses for scene scene9001_00"):
        camera_path_centre([_rec(0, scene="scene9001_00")], cams)


def _c2w(x: float, y: float, heading: float) -> np.ndarray:
    """OpenCV camera-to-world pose at (x, y, 1.5) looking horizontally along ``heading``."""
    T = np.eye(4)
    fwd = np.array([math.cos(heading), math.sin(heading), 0.0])
    down = np.array([0.0, 0.0, -1.0])
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = np.cross(down, fwd), down, fwd, [x, y, 1.5]
    return T


def test_first_frame_mean_hand_case():
    from loc3r.eval.baselines import first_frame_mean

    # scene A: first camera at (1, 0) facing +x, SQA3D origin (0, 0): the pose (3, 0) is 2 m ahead.
    # scene B: first camera at (0, 0) facing +y, origin (0, 1): the pose (0, 1) is raw (0, 2), 2 m ahead.
    # Mean in the first-frame frame: 2 m ahead. Scene C: camera at (5, 5) facing -x, origin (4, 5):
    # 2 m ahead is raw (3, 5) -> SQA3D (-1, 0).
    cams = {"scene9000_00": (np.stack([_c2w(1, 0, 0.0), _c2w(9, 9, 1.0)]), np.zeros(3)),
            "scene9001_00": (_c2w(0, 0, math.pi / 2)[None], np.array([0.0, 1.0, 0.5])),
            "scene9002_00": (_c2w(5, 5, math.pi)[None], np.array([4.0, 5.0, 0.5]))}
    train = [_rec(0, 3.0, 0.0), _rec(1, 0.0, 1.0, scene="scene9001_00")]
    preds = first_frame_mean([_rec(10, scene="scene9002_00"), _rec(11, scene="scene9000_00")], train, cams,
                             seed=2)
    (c,), (a,) = preds[0].pose_dataset, preds[1].pose_dataset
    assert (c.x, c.y, c.frame) == (pytest.approx(-1.0), pytest.approx(0.0), "sqa3d")
    assert (a.x, a.y) == (pytest.approx(3.0), pytest.approx(0.0))
    assert c.heading != a.heading and -math.pi <= c.heading < math.pi
    assert first_frame_mean([_rec(10, scene="scene9002_00")], train, cams, seed=2)[0] == preds[0]
    with pytest.raises(DataError, match="no camera poses for scene scene9003_00"):
        first_frame_mean([_rec(0, scene="scene9003_00")], train, cams)
    with pytest.raises(DataError, match="no training record has a pose"):
        first_frame_mean([_rec(10)], [], cams)
