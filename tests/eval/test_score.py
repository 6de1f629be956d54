"""``score``: every benchmark end to end on hand-made records and predictions, id matching, real data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from loc3r.data.schema import Pose, Record
from loc3r.data.sources.convert import write_records_jsonl
from loc3r.data.sources.registry import read_records
from loc3r.eval.metrics.llm_judge import LLMJudge
from loc3r.eval.predictions import BevAnchor, PosePrediction, Prediction, PredictionsHeader, write_predictions
from loc3r.eval.score import ScoreOptions, format_score_table
from loc3r.eval.score import score as _score
from loc3r.utils.io import DataError


def _rec(rid, source, question="What is it?", answers=("chair",), task="t", scene="scene0000_00",
         **kw) -> Record:
    return Record(id=str(rid), source=source, task=task, scene_id=scene, question=question,
                  answers=list(answers), **kw)


def _files(tmp_path, benchmark, records, preds, embed=False):
    ann = tmp_path / "records.jsonl"
    write_records_jsonl(records, ann)
    if embed:
        by_id = {r.id: r for r in records}
        preds = [Prediction(**{**p.__dict__, "record": by_id[p.id]}) for p in preds]
    path = tmp_path / "preds.jsonl"
    write_predictions(path, PredictionsHeader.new(benchmark, {"model": "test"}), preds)
    return path, ann


def score(path, *args, **kwargs):
    """``score`` that also writes the JSON and checks it reads back equal (no NaN / infinity)."""
    out = path.with_name(f"{path.stem}.metrics.json")
    res = _score(path, *args, out_json=out, **kwargs)
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(res))
    return res


def _ans(rid, benchmark, text):
    return Prediction(id=str(rid), benchmark=benchmark, raw_output=text, answer=text)


# --------------------------------------------------------------------------------------------- SQA3D QA
def test_sqa3d_em_and_question_types(tmp_path):
    records = [
        _rec(1, "sqa3d", "What is in front of me?", ["piano"]),
        _rec(2, "sqa3d", "Is the door open?", ["yes"]),
        _rec(3, "sqa3d", "How many chairs?", ["2"]),
        _rec(4, "sqa3d", "Can I sit?", ["no"]),
        _rec(5, "sqa3d", "Which way?", ["left"]),
        _rec(6, "sqa3d", "Where is the sink?", ["behind me"]),
        _rec(7, "sqa3d", "What color?", ["dark brown"]),
    ]
    preds = [_ans(1, "sqa3d", "The piano."), _ans(2, "sqa3d", "no"), _ans(3, "sqa3d", "two"),
             _ans(4, "sqa3d", "No"), _ans(5, "sqa3d", "letf"), Prediction(id="6", benchmark="sqa3d"),
             _ans(7, "sqa3d", "brown")]
    path, ann = _files(tmp_path, "sqa3d", records, preds)
    res = score(path, "sqa3d", annotations=ann)
    m = res["metrics"]
    # EM: 1, 3, 4, 5 -> 4/7; EM-R adds 7 ("brown" in "darkbrown"); 6 is missing (null) -> wrong
    assert m["EM@1"] == pytest.approx(400 / 7)
    assert m["EM-R"] == pytest.approx(500 / 7)
    assert m["missing_answers"] == 1
    bt = res["breakdown"]["by_type"]
    assert list(bt) == ["what", "is", "how", "can", "which", "others"]
    assert bt["what"] == {"n": 2, "EM@1": 50.0, "EM-R": 100.0}
    assert bt["is"]["EM@1"] == 0.0 and bt["others"]["EM-R"] == 0.0
    table = format_score_table(res)
    assert "EM@1" in table and "which" in table


# --------------------------------------------------------------------------------------------- localization
def _sqa3d_pose(x, y, yaw):
    return Pose(x=x, y=y, yaw=yaw, forward=(-math.cos(yaw), -math.sin(yaw)), frame="sqa3d")


def _quat(yaw):
    return [0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)]


def _loc_case(tmp_path):
    # Sample a: BEV prediction. First camera at raw (2, 1, 1.5) looking along raw +Y; raw mesh bbox centre
    # (1, 1, 1). BEV (1, 0) facing BEV +x -> raw (2, 2) facing +Y -> SQA3D (1, 1), quaternion yaw
    # pi/2 - pi = -pi/2. GT (1, 1.3), yaw -80 deg -> errors 0.3 m and 10 deg.
    T0 = np.eye(4)
    T0[:3, :3] = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    T0[:3, 3] = [2.0, 1.0, 1.5]
    yaw_a = math.radians(-80)
    # Sample b: three guesses in the SQA3D frame; GT (0, 0), yaw 0 (faces -X, heading pi).
    # guess 1 at 0.1 m facing +Y (SQA3D yaw -pi/2: 90 deg off); guess 2 at 3 m with heading pi + 0.1 (yaw
    # 0.1).
    records = [
        _rec("a", "sqa3d", task="localization", answers=(), pose=_sqa3d_pose(1.0, 1.3, yaw_a),
             extra={"rotation_xyzw": _quat(yaw_a)}),
        _rec("b", "sqa3d", task="localization", answers=(), pose=_sqa3d_pose(0.0, 0.0, 0.0),
             extra={"rotation_xyzw": _quat(0.0)}),
        _rec("c", "sqa3d", task="localization", answers=(), pose=_sqa3d_pose(0.5, 0.5, 1.0)),
        _rec("q", "sqa3d", "What?", ["x"], pose=_sqa3d_pose(0.0, 0.0, 0.0)),  # QA record: ignored here
    ]
    preds = [
        Prediction(id="a", benchmark="sqa3d-loc", pose_bev=(PosePrediction(1.0, 0.0, 0.0),),
                   bev_anchor=BevAnchor(T0, "raw", None, np.array([1.0, 1.0, 1.0]))),
        Prediction(id="b", benchmark="sqa3d-loc",
                   pose_dataset=(PosePrediction(0.1, 0.0, math.pi / 2, "sqa3d"),
                                 PosePrediction(3.0, 0.0, math.pi + 0.1, "sqa3d"))),
        Prediction(id="c", benchmark="sqa3d-loc"),  # no pose: a miss
    ]
    return _files(tmp_path, "sqa3d-loc", records, preds)


def test_sqa3d_localization_hand_case(tmp_path):
    path, ann = _loc_case(tmp_path)
    res = score(path, "sqa3d-loc", annotations=ann)
    m = res["metrics"]
    assert res["n"] == 3 and res["counts"]["other_records_ignored"] == 1
    per = {s["id"]: s for s in res["per_sample"]}
    assert per["a"]["pos_err_m"] == pytest.approx(0.3)
    assert per["a"]["rot_err_deg"] == pytest.approx(10.0)
    assert per["b"]["pos_err_m"] == pytest.approx(0.1)
    assert per["b"]["rot_err_deg"] == pytest.approx(math.degrees(0.1))
    assert per["c"]["pos_err_m"] is None and per["c"]["guesses"] == 0
    assert m["Acc@0.5m"] == pytest.approx(200 / 3)
    assert m["Acc@1.0m"] == pytest.approx(200 / 3)
    assert m["Acc@15deg"] == pytest.approx(200 / 3)
    assert m["Acc@30deg"] == pytest.approx(200 / 3)
    assert m["median_pos_err_m"] == pytest.approx(0.3)
    assert m["median_rot_err_deg"] == pytest.approx(10.0)
    assert m["missing_poses"] == 1 and m["threshold_comparison"] == "<"


def test_localization_needs_an_anchor_for_bev_predictions(tmp_path):
    rec = _rec("a", "sqa3d", task="localization", answers=(), pose=_sqa3d_pose(0, 0, 0))
    path, ann = _files(tmp_path, "sqa3d-loc", [rec],
                       [Prediction(id="a", benchmark="sqa3d-loc", pose_bev=(PosePrediction(0, 0, 0),))])
    with pytest.raises(DataError, match="needs a 'bev_anchor'"):
        score(path, "sqa3d-loc", annotations=ann)


def test_non_strict_option(tmp_path):
    rec = _rec("a", "sqa3d", task="localization", answers=(), pose=_sqa3d_pose(0, 0, 0))
    guess = PosePrediction(0.5, 0.0, math.pi, "sqa3d")
    pred = Prediction(id="a", benchmark="sqa3d-loc", pose_dataset=(guess,))
    path, ann = _files(tmp_path, "sqa3d-loc", [rec], [pred])
    assert score(path, annotations=ann)["metrics"]["Acc@0.5m"] == 0.0  # benchmark from the header
    loose = score(path, annotations=ann, options=ScoreOptions(strict=False))["metrics"]
    assert loose["Acc@0.5m"] == 100.0 and loose["threshold_comparison"] == "<="


# --------------------------------------------------------------------------------------------- ScanQA
def test_scanqa_official_and_clean_em_and_caption_metrics(tmp_path):
    records = [_rec("val-scene0000-0", "scanqa", "What color is the chair?", ["red chair"]),
               _rec("val-scene0000-1", "scanqa", "Where is the tv?", ["green"])]
    preds = [_ans("val-scene0000-0", "scanqa", "red chair"), _ans("val-scene0000-1", "scanqa", "blue")]
    path, ann = _files(tmp_path, "scanqa", records, preds)
    opts = ScoreOptions(caption_tokenizer="clean", meteor=False)
    res = score(path, "scanqa", annotations=ann, options=opts)
    m = res["metrics"]
    assert m["EM@1"] == 50.0 and m["EM@1_official"] == 50.0
    assert m["CIDEr"] == pytest.approx(250.0)  # hand case of test_captioning: whole-set document frequencies
    assert m["BLEU-1"] == pytest.approx(100 * 2 / 3, abs=1e-6)  # corpus BLEU: 2 of 3 predicted unigrams match
    assert "METEOR" not in m
    assert set(res["breakdown"]["by_type"]) == {"Color", "Place"}
    no_caps = score(path, "scanqa", annotations=ann, options=ScoreOptions(caption_metrics=False))["metrics"]
    assert "CIDEr" not in no_caps


def test_scanqa_official_em_uses_raw_strings(tmp_path):
    records = [_rec("v-0", "scanqa", "What?", ["brown"])]
    path, ann = _files(tmp_path, "scanqa", records, [_ans("v-0", "scanqa", "Brown.")])
    m = score(path, "scanqa", annotations=ann, options=ScoreOptions(caption_metrics=False))["metrics"]
    assert (m["EM@1"], m["EM@1_official"]) == (100.0, 0.0)


# --------------------------------------------------------------------------------------------- VSI-Bench
def test_vsibench_tasks_and_overall(tmp_path):
    rows = [("object_counting", "10", "12"),        # MRA 0.6
            ("object_counting", "4", "4"),          # 1.0  -> counting 80
            ("room_size_estimation", "20", "meh"),  # 0    -> room size 0
            ("object_rel_direction_easy", "A", "A. left"),   # 1
            ("object_rel_direction_medium", "B", "a"),       # 0
            ("object_rel_direction_hard", "C", "c."),        # 1 -> direction (100 + 0 + 100) / 3
            ("route_planning", "B", None)]                   # missing -> 0
    records = [_rec(i, "vsibench", answers=[gt], task=t) for i, (t, gt, _) in enumerate(rows)]
    preds = [Prediction(id=str(i), benchmark="vsibench", raw_output=p) for i, (_, _, p) in enumerate(rows)]
    path, ann = _files(tmp_path, "vsibench", records, preds)
    m = score(path, "vsibench", annotations=ann)["metrics"]
    assert m["object_counting"] == pytest.approx(80.0)
    assert m["room_size_estimation"] == 0.0
    assert m["object_rel_direction"] == pytest.approx(200 / 3)
    assert m["route_planning"] == 0.0
    assert m["overall"] == pytest.approx((80 + 0 + 200 / 3 + 0) / 4)
    assert m["missing_answers"] == 1
    assert "object_abs_distance" in m["missing_tasks"]


# --------------------------------------------------------------------------------------------- MSQA /
# Beacon3D
class FakeJudge:
    def __init__(self, score="4"):
        self.calls = 0
        self.score = score

    def __call__(self, messages):
        self.calls += 1
        return self.score


def test_msqa_em_and_judge(tmp_path):
    records = [_rec("s-0", "msqa", "How many?", ["three"], task="counting", situation="I stand."),
               _rec("s-1", "msqa", "What color?", ["white"], task="attribute"),
               _rec("s-2", "msqa", "What?", ["lamp"], task="attribute")]
    preds = [_ans("s-0", "msqa", "3"), _ans("s-1", "msqa", "grey"), Prediction(id="s-2", benchmark="msqa")]
    path, ann = _files(tmp_path, "msqa", records, preds)
    no_judge = score(path, "msqa", annotations=ann)["metrics"]
    assert no_judge["EM@1"] == pytest.approx(100 / 3) and "GPT-score" not in no_judge
    fake = FakeJudge("4")
    judge = LLMJudge(fake, model="fake", cache_path=tmp_path / "cache.jsonl")
    res = score(path, "msqa", annotations=ann, options=ScoreOptions(judge=judge))
    # judge: 4, 4 for the two answers; the missing answer scores 1 without a call -> mean 3 -> 50
    assert res["metrics"]["GPT-score"] == pytest.approx(50.0)
    assert fake.calls == 2
    assert res["breakdown"]["by_type"]["attribute"]["GPT-score"] == pytest.approx((2.5 - 1) / 4 * 100)
    judge2 = LLMJudge(fake, model="fake", cache_path=tmp_path / "cache.jsonl")
    again = score(path, "msqa", annotations=ann, options=ScoreOptions(judge=judge2))
    assert fake.calls == 2 and again["metrics"]["GPT-score"] == pytest.approx(50.0)  # cached


def test_beacon3d_case_and_object_metrics(tmp_path):
    s = "scene0011_00"
    records = [
        _rec(f"{s}_5_0_class_0", "beacon3d", "What is it?", ["chair"], task="class", scene=s),
        _rec(f"{s}_5_1_existence_0", "beacon3d", "Is there a chair?", ["yes"], task="existence", scene=s),
        _rec(f"{s}_5_2_appearance_0", "beacon3d", "What color?", ["brown"], task="appearance", scene=s),
        _rec(f"{s}_9_0_class_0", "beacon3d", "What is it?", ["table"], task="class", scene=s),
        _rec(f"{s}_9_1_geometry_0", "beacon3d", "What shape?", ["round"], task="geometry", scene=s),
    ]
    preds = [_ans(records[0].id, "beacon3d", "chair"),          # EM -> 5
             _ans(records[1].id, "beacon3d", "yes, it is"),     # binary + EM-R -> 5
             _ans(records[2].id, "beacon3d", "dark wood"),      # judge (4) or 1
             _ans(records[3].id, "beacon3d", "round table"),    # EM-R, not binary -> judge or 1
             _ans(records[4].id, "beacon3d", "square")]         # judge or 1
    path, ann = _files(tmp_path, "beacon3d", records, preds)
    m = score(path, "beacon3d", annotations=ann)["metrics"]
    assert m["Overall (Case)"] == pytest.approx((13 / 5 - 1) / 4 * 100)  # scores 5, 5, 1, 1, 1
    assert m["Overall (Obj.)"] == 0.0 and m["objects"] == 2
    fake = FakeJudge("4")
    res = score(path, "beacon3d", annotations=ann, options=ScoreOptions(judge=LLMJudge(fake, model="f")))
    assert fake.calls == 3
    assert res["metrics"]["Overall (Case)"] == pytest.approx((22 / 5 - 1) / 4 * 100)  # 5, 5, 4, 4, 4
    assert res["metrics"]["Overall (Obj.)"] == 100.0  # every question of both objects scores >= 4
    assert res["breakdown"]["by_tag"]["class"]["Case"] == pytest.approx((4.5 - 1) / 4 * 100)


# --------------------------------------------------------------------------------------------- synthetic
def test_synthetic_localization_and_qa(tmp_path):
    aligned = Pose(x=1.0, y=2.0, yaw=0.5, forward=(math.cos(0.5), math.sin(0.5)), frame="aligned")
    records = [_rec("p", "synthetic", answers=(), task="localization", pose=aligned),
               _rec("q", "synthetic", "How many?", ["3"], task="counting")]
    guess = PosePrediction(1.0, 2.4, 0.5, "aligned")
    preds = [Prediction(id="p", benchmark="synthetic", pose_dataset=(guess,)),
             _ans("q", "synthetic", "three")]
    path, ann = _files(tmp_path, "synthetic", records, preds)
    m = score(path, "synthetic", annotations=ann)["metrics"]
    assert m["Acc@0.5m"] == 100.0 and m["median_pos_err_m"] == pytest.approx(0.4)
    assert m["median_rot_err_deg"] == pytest.approx(0.0, abs=1e-9)
    assert m["EM@1"] == 100.0 and m["localized_samples"] == 1 and m["qa_samples"] == 1


def test_synthetic_accepts_records_of_the_real_formats(tmp_path):
    # the synthetic generator writes SQA3D files: their records (source sqa3d) carry a pose and an answer
    rec = _rec("7", "sqa3d", "What is on my left?", ["lamp"], task="what", pose=_sqa3d_pose(0.0, 0.0, 0.0))
    pred = Prediction(id="7", benchmark="synthetic", answer="a lamp",
                      pose_dataset=(PosePrediction(0.2, 0.0, math.pi + math.radians(20), "sqa3d"),))
    path, ann = _files(tmp_path, "synthetic", [rec], [pred])
    res = score(path, annotations=ann)
    m = res["metrics"]
    assert m["EM@1"] == 100.0 and m["Acc@0.5m"] == 100.0 and m["Acc@15deg"] == 0.0
    assert m["median_rot_err_deg"] == pytest.approx(20.0)
    assert list(res["breakdown"]["by_type"]) == ["sqa3d/what"]


def test_frame_mismatch_is_an_error(tmp_path):
    aligned = Pose(x=1.0, y=2.0, yaw=0.5, forward=(math.cos(0.5), math.sin(0.5)), frame="aligned")
    pred = Prediction(id="p", benchmark="synthetic", pose_dataset=(PosePrediction(0, 0, 0, "sqa3d"),))
    path, ann = _files(tmp_path, "synthetic", [_rec("p", "synthetic", answers=(), pose=aligned)], [pred])
    with pytest.raises(DataError, match="'sqa3d' frame, the ground truth in 'aligned'"):
        score(path, annotations=ann)


# --------------------------------------------------------------------------------------------- matching
def test_id_mismatch_lists_counts(tmp_path):
    records = [_rec(i, "sqa3d", answers=["a"]) for i in range(5)]
    preds = [_ans(i, "sqa3d", "a") for i in (0, 1, 2)]
    path, ann = _files(tmp_path, "sqa3d", records, preds)
    with pytest.raises(DataError, match=r"2 annotated samples have no prediction \(e.g. '3', '4'\).*3 match"):
        score(path, "sqa3d", annotations=ann)
    res = score(path, "sqa3d", annotations=ann, options=ScoreOptions(allow_missing=True))
    assert res["n"] == 3 and res["counts"]["left_without_prediction"] == 2 and res["metrics"]["EM@1"] == 100.0
    assert "had no prediction" in format_score_table(res)
    path2, _ = _files(tmp_path, "sqa3d", records[:1], [_ans(0, "sqa3d", "a"), _ans(9, "sqa3d", "a")])
    with pytest.raises(DataError, match=r"1 predictions have no annotation \(e.g. '9'\)"):
        score(path2, "sqa3d", annotations=ann, options=ScoreOptions(allow_missing=True))


def test_embedded_records_and_wrong_sources(tmp_path):
    records = [_rec(i, "sqa3d", answers=["a"]) for i in range(2)]
    path, _ = _files(tmp_path, "sqa3d", records, [_ans(0, "sqa3d", "a"), _ans(1, "sqa3d", "b")], embed=True)
    assert score(path, "sqa3d")["metrics"]["EM@1"] == 50.0
    path, ann = _files(tmp_path, "sqa3d", records, [_ans(0, "sqa3d", "a"), _ans(1, "sqa3d", "b")])
    with pytest.raises(DataError, match="embed no 'record'"):
        score(path, "sqa3d")
    with pytest.raises(DataError, match=r"no scanqa annotation records \(record sources found: sqa3d"):
        score(path, "scanqa", annotations=ann)
    with pytest.raises(ValueError, match="unknown benchmark"):
        score(path, "sqa4d", annotations=ann)


# --------------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def sqa3d_records(realdata_dir):
    d = realdata_dir / "sqa3d"
    return read_records("sqa3d", [d / "v1_balanced_questions_test_scannetv2.first50.json",
                                  d / "v1_balanced_sqa_annotations_test_scannetv2.first50.json"])


def test_real_sqa3d_ground_truth_scores_perfectly(tmp_path, sqa3d_records):
    preds = [_ans(r.id, "sqa3d", r.answers[0]) for r in sqa3d_records]
    path, ann = _files(tmp_path, "sqa3d", sqa3d_records, preds)
    res = score(path, "sqa3d", annotations=ann)
    assert res["n"] == 50 and res["metrics"]["EM@1"] == 100.0
    assert sum(row["n"] for row in res["breakdown"]["by_type"].values()) == 50


def test_real_sqa3d_poses_through_the_metric(tmp_path, sqa3d_records):
    # Predict each GT pose shifted by 0.6 m along x and turned by 20 deg: Acc@0.5m = 0, Acc@1.0m = 100,
    # Acc@15deg = 0, Acc@30deg = 100 (the prediction uses facing headings, the GT SQA3D quaternions).
    preds = [Prediction(id=r.id, benchmark="sqa3d-loc", pose_dataset=(
        PosePrediction(r.pose.x + 0.6, r.pose.y, r.pose.heading + math.radians(20), "sqa3d"),))
        for r in sqa3d_records]
    path, ann = _files(tmp_path, "sqa3d-loc", sqa3d_records, preds)
    m = score(path, "sqa3d-loc", annotations=ann)["metrics"]
    assert (m["Acc@0.5m"], m["Acc@1.0m"], m["Acc@15deg"], m["Acc@30deg"]) == (0.0, 100.0, 0.0, 100.0)
    assert m["median_pos_err_m"] == pytest.approx(0.6)
    assert m["median_rot_err_deg"] == pytest.approx(20.0)


def test_real_scanqa_and_beacon3d_ground_truth(tmp_path, realdata_dir):
    scanqa = read_records("scanqa", [realdata_dir / "scanqa" / "ScanQA_v1.0_val.first50.json"])
    preds = [_ans(r.id, "scanqa", r.answers[-1]) for r in scanqa]  # the last answer: EM needs any one
    path, ann = _files(tmp_path, "scanqa", scanqa, preds)
    m = score(path, "scanqa", annotations=ann, options=ScoreOptions(caption_metrics=False))["metrics"]
    assert (m["EM@1_official"], m["EM-R"]) == (100.0, 100.0)
    beacon = read_records("beacon3d", [realdata_dir / "beacon3d" / "scannet_qa.first30.json"])
    preds = [_ans(r.id, "beacon3d", r.answers[0]) for r in beacon]
    path, ann = _files(tmp_path, "beacon3d", beacon, preds)
    m = score(path, "beacon3d", annotations=ann)["metrics"]
    assert m["Overall (Case)"] == 100.0 and m["Overall (Obj.)"] == 100.0
    assert m["objects"] == len({r.id.rsplit("_", 3)[0] for r in beacon})
