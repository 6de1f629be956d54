"""Predictions JSONL: round trip, validation errors naming file:line, append-only writer and resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loc3r.data.schema import Record
from loc3r.eval.predictions import (
    BevAnchor,
    PosePrediction,
    Prediction,
    PredictionsHeader,
    PredictionWriter,
    read_predictions,
    write_predictions,
)
from loc3r.utils.io import DataError


def _header(**settings) -> PredictionsHeader:
    return PredictionsHeader.new("sqa3d", settings or {"model": "tiny", "frames": 32}, commit="abc123")


def _full_prediction() -> Prediction:
    rec = Record(id="7", source="sqa3d", task="what", scene_id="scene0000_00", question="What?",
                 answers=["chair"])
    return Prediction(
        id="7", benchmark="sqa3d", raw_output="The chair.", answer="chair",
        pose_bev=(PosePrediction(0.5, -1.0, 0.25), PosePrediction(1.0, 2.0, -3.0)),
        pose_dataset=(PosePrediction(0.1, 0.2, 0.3, frame="sqa3d"),),
        bev_anchor=BevAnchor(np.eye(4), "raw", None, np.array([1.0, 2.0, 3.0])),
        record=rec, extra={"latency_s": 0.5},
    )


def test_round_trip(tmp_path):
    path = tmp_path / "preds.jsonl"
    header = _header()
    preds = [_full_prediction(), Prediction(id="8", benchmark="sqa3d", raw_output=None, answer=None)]
    assert write_predictions(path, header, preds) == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert first["format"] == "loc3r-predictions" and first["settings"] == {"model": "tiny", "frames": 32}
    assert first["commit"] == "abc123" and first["created"].endswith("Z")
    h2, p2 = read_predictions(path)
    assert h2 == header
    a, b = p2
    assert a.id == "7" and a.answer == "chair" and a.text == "chair"
    assert a.pose_bev == preds[0].pose_bev and a.pose_dataset == preds[0].pose_dataset
    np.testing.assert_array_equal(a.bev_anchor.first_frame_pose, np.eye(4))
    np.testing.assert_array_equal(a.bev_anchor.scene_center_raw, [1.0, 2.0, 3.0])
    assert a.record == preds[0].record and a.extra == {"latency_s": 0.5}
    assert b.text is None and b.pose_bev == () and b.record is None


def test_text_falls_back_to_raw_output():
    assert Prediction(id="1", benchmark="x", raw_output="B. left").text == "B. left"
    assert Prediction(id="1", benchmark="x", raw_output="B. left", answer="B").text == "B"


def _write_lines(path, *objs, raw_tail: str = ""):
    path.write_text("".join(json.dumps(o) + "\n" for o in objs) + raw_tail, encoding="utf-8")


HEADER = {"format": "loc3r-predictions", "version": 1, "benchmark": "sqa3d", "settings": {}}


@pytest.mark.parametrize(
    "line, message",
    [
        ({"id": "1"}, r":2 \(id 1\): field 'benchmark'"),
        ({"id": "", "benchmark": "sqa3d"}, r":2: field 'id'"),
        ({"id": "1", "benchmark": "vsibench"}, r":2: benchmark 'vsibench' differs"),
        ({"id": "1", "benchmark": "sqa3d", "answer": 3}, r":2 \(id 1\): field 'answer'"),
        ({"id": "1", "benchmark": "sqa3d", "foo": 1}, r":2: unknown field\(s\) foo"),
        ({"id": "1", "benchmark": "sqa3d", "pose_bev": {"x": 0, "y": 0, "yaw": 1}}, r"use 'heading'"),
        ({"id": "1", "benchmark": "sqa3d", "pose_bev": {"x": 0, "y": 0}}, r"missing 'heading'"),
        ({"id": "1", "benchmark": "sqa3d", "pose_bev": [{"x": 0, "y": 0, "heading": 0}] * 4}, r"at most 3"),
        ({"id": "1", "benchmark": "sqa3d", "pose_dataset": {"x": 0, "y": 0, "heading": 0, "frame": "bev"}},
         r"cannot be in the 'bev' frame"),
        ({"id": "1", "benchmark": "sqa3d", "pose_dataset": {"x": 0, "y": 0, "heading": 0, "frame": "xyz"}},
         r"unknown pose frame"),
        ({"id": "1", "benchmark": "sqa3d", "bev_anchor": {"first_frame_pose": [[1, 0], [0, 1]]}},
         r"shape \[4, 4\]"),
        ({"id": "1", "benchmark": "sqa3d", "record": {"id": "2", "source": "sqa3d", "task": "what",
                                                      "scene_id": "s", "question": "q", "answers": ["a"]}},
         r"embedded record has id '2'"),
        ({"id": "1", "benchmark": "sqa3d", "record": {"id": "1"}}, r"record: missing field"),
    ],
)
def test_bad_sample_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    _write_lines(path, HEADER, line)
    with pytest.raises(DataError, match=message):
        read_predictions(path)


def test_file_level_errors(tmp_path):
    path = tmp_path / "p.jsonl"
    _write_lines(path, {"id": "1", "benchmark": "sqa3d"})
    with pytest.raises(DataError, match=r"p.jsonl:1: the first line must be the predictions header"):
        read_predictions(path)
    _write_lines(path, {**HEADER, "version": 2})
    with pytest.raises(DataError, match="version 2"):
        read_predictions(path)
    _write_lines(path, HEADER, {"id": "1", "benchmark": "sqa3d"}, {"id": "1", "benchmark": "sqa3d"})
    with pytest.raises(DataError, match=r"p.jsonl:3: duplicate id '1' \(first at line 2\)"):
        read_predictions(path)
    _write_lines(path, HEADER, HEADER)
    with pytest.raises(DataError, match="second header"):
        read_predictions(path)
    _write_lines(path, HEADER, raw_tail='{"id": "1", "bench')
    with pytest.raises(DataError, match=r"p.jsonl:2: invalid JSON.*incomplete line"):
        read_predictions(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        read_predictions(path)
    with pytest.raises(FileNotFoundError):
        read_predictions(tmp_path / "missing.jsonl")


def test_writers_refuse_bad_samples(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        write_predictions(tmp_path / "a.jsonl", _header(),
                          [Prediction(id="1", benchmark="sqa3d",
                                      pose_bev=(PosePrediction(float("nan"), 0, 0),))])
    assert not (tmp_path / "a.jsonl").exists()  # atomic: nothing left behind
    with pytest.raises(ValueError, match="benchmark"):
        write_predictions(tmp_path / "b.jsonl", _header(), [Prediction(id="1", benchmark="scanqa")])


def test_writer_appends_and_resumes(tmp_path):
    path = tmp_path / "preds.jsonl"
    header = _header()
    with PredictionWriter(path, header) as w:
        w.write(Prediction(id="1", benchmark="sqa3d", answer="a"))
        w.write(Prediction(id="2", benchmark="sqa3d", answer="b"))
        with pytest.raises(ValueError, match="already written"):
            w.write(Prediction(id="2", benchmark="sqa3d", answer="b"))
    # simulate a run killed in the middle of writing sample 3
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"id": "3", "benchmark": "sq')
    with pytest.raises(FileExistsError):
        PredictionWriter(path, header)
    with PredictionWriter(path, header, resume=True) as w:
        assert w.done_ids == {"1", "2"}
        w.write(Prediction(id="3", benchmark="sqa3d", answer="c"))
    h, preds = read_predictions(path)
    assert [p.id for p in preds] == ["1", "2", "3"] and [p.answer for p in preds] == ["a", "b", "c"]
    with pytest.raises(DataError, match="cannot resume"):
        PredictionWriter(path, _header(model="other"), resume=True)
