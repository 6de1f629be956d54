"""Registry entry points, JSONL conversion (atomic, content) and validated read-back."""

from __future__ import annotations

import json
import math

import pytest

from loc3r.data.sources.convert import convert_to_jsonl, read_records_jsonl, write_records_jsonl
from loc3r.data.sources.registry import SOURCES, read_records, read_records_lenient
from loc3r.utils.io import DataError


def test_sources_and_unknown_source(scanqa_file):
    assert SOURCES == ("sqa3d", "scanqa", "vsibench", "msqa", "beacon3d")
    with pytest.raises(ValueError, match=r"unknown annotation source 'scannet' for "
                                         r".*ScanQA_v1\.0_val\.first50\.json; known sources: sqa3d, scanqa"):
        read_records("scannet", [scanqa_file])
    with pytest.raises(ValueError, match="no input files"):
        read_records("scanqa", [])
    with pytest.raises(TypeError, match="sequence of file paths"):
        read_records("scanqa", str(scanqa_file))


def test_strict_and_lenient(scanqa_file, write_json):
    assert len(read_records("scanqa", [scanqa_file])) == 50
    items = json.loads(scanqa_file.read_text(encoding="utf-8"))
    items[0]["answers"] = [1]
    p = write_json("bad.json", items)
    with pytest.raises(DataError, match=r"bad\.json: item 0"):
        read_records("scanqa", [p])
    assert len(read_records("scanqa", [p], strict=False)) == 49
    records, skipped, problems = read_records_lenient("scanqa", [p])
    assert (len(records), skipped, len(problems)) == (49, 1, 1)
    assert "bad.json: item 0 (question_id val-scene0011-0): field 'answers'" in problems[0]


def test_convert_sqa3d_jsonl_content(sqa3d_files, tmp_path):
    out = tmp_path / "out" / "records.jsonl"
    summary = convert_to_jsonl("sqa3d", sqa3d_files, out)
    assert (summary.written, summary.skipped, summary.out_path) == (50, 0, out)
    assert "sqa3d: wrote 50 records" in summary.format()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 50
    first = json.loads(lines[0])
    ann = json.loads(sqa3d_files[1].read_text(encoding="utf-8"))["annotations"][0]
    assert first["id"] == "220602000002" and first["source"] == "sqa3d" and first["answers"] == ["piano"]
    pose = first["pose"]
    assert (pose["x"], pose["y"], pose["frame"]) == (ann["position"]["x"], ann["position"]["y"], "sqa3d")
    yaw = 2 * math.atan2(ann["rotation"]["_z"], ann["rotation"]["_w"])  # -pi - d: pi - d after wrapping
    assert math.cos(pose["yaw"] - yaw) == pytest.approx(1.0) and -math.pi <= pose["yaw"] < math.pi
    assert pose["forward"] == pytest.approx([-math.cos(yaw), -math.sin(yaw)])
    # read back == read directly
    assert read_records_jsonl(out) == read_records("sqa3d", sqa3d_files)
    assert [p.name for p in out.parent.iterdir()] == ["records.jsonl"]  # no temp file left


def test_convert_is_atomic_and_refuses_empty(scanqa_file, write_json, tmp_path):
    out = tmp_path / "records.jsonl"
    out.write_text("old\n", encoding="utf-8")
    bad = write_json("bad.json", [{"question_id": "x"}])
    with pytest.raises(DataError, match="bad.json: item 0"):
        convert_to_jsonl("scanqa", [bad], out, strict=True)
    with pytest.raises(DataError, match=r"no scanqa records read from .*bad\.json \(1 skipped; "
                                        r"first problem: .*missing field 'question'\); nothing written"):
        convert_to_jsonl("scanqa", [bad], out)
    assert out.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "records.jsonl"]


def test_round_trip_all_sources(scanqa_file, beacon3d_dir, write_json, tmp_path):
    vsi = write_json("vsi.json", [{"id": 1, "dataset": "scannet", "scene_name": "scene0251_00",
                                   "question_type": "room_size_estimation", "question": "How big?",
                                   "ground_truth": "35.9", "options": None}])
    msqa = write_json("msqa.json", [{"scan_id": "scene0000_00", "index": 0, "type": "count",
                                     "question": "How many?", "answers": ["two"], "situation": "I sit.",
                                     "location": [1, 2, 0], "orientation": [0, -1, 0]}])
    inputs = {"scanqa": [scanqa_file], "beacon3d": [beacon3d_dir / "scannet_qa.first30.json"],
              "vsibench": [vsi], "msqa": [msqa]}
    for source, paths in inputs.items():
        out = tmp_path / f"{source}.jsonl"
        convert_to_jsonl(source, paths, out)
        assert read_records_jsonl(out) == read_records(source, paths)
    msqa_pose = json.loads((tmp_path / "msqa.jsonl").read_text(encoding="utf-8"))["pose"]
    assert msqa_pose["forward"] == [0.0, -1.0] and msqa_pose["yaw"] == pytest.approx(-math.pi / 2)


def test_write_refuses_nan(tmp_path, sqa3d_files):
    from dataclasses import replace

    rec = read_records("sqa3d", sqa3d_files)[0]
    bad = replace(rec, pose=replace(rec.pose, x=float("nan")))
    with pytest.raises(ValueError):
        write_records_jsonl([bad], tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


def _good_line() -> dict:
    return {"id": "1", "source": "sqa3d", "task": "what", "scene_id": "scene0000_00", "question": "What?",
            "answers": ["a"], "situation": "s", "alternative_situations": [], "options": None,
            "pose": {"x": 0.0, "y": 1.0, "yaw": 0.0, "forward": [-1.0, 0.0], "frame": "sqa3d", "z": 0.0},
            "extra": {}}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("answers"), "missing field"),
        (lambda d: d.update(answers="abc"), "field 'answers' must be a list of strings"),
        (lambda d: d.update(id=7), "field 'id' must be a string"),
        (lambda d: d["pose"].update(forward=[1.0, 0.0]), "disagrees with yaw"),
        (lambda d: d["pose"].update(forward=[0.5, 0.0]), "not a unit vector"),
        (lambda d: d["pose"].update(frame="world"), "unknown frame 'world'"),
        (lambda d: d["pose"].pop("yaw"), "pose: missing field 'yaw'"),
        (lambda d: d.update(options="A"), "field 'options'"),
        (lambda d: d.update(extra=[]), "field 'extra'"),
    ],
)
def test_read_jsonl_validation(tmp_path, mutate, message):
    good, bad = _good_line(), _good_line()
    bad["id"] = "2"
    mutate(bad)
    p = tmp_path / "records.jsonl"
    p.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"records\.jsonl:3: .*{message}"):
        read_records_jsonl(p)


def test_read_jsonl_bad_json_and_duplicates(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps(_good_line()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"r\.jsonl:2: invalid JSON"):
        read_records_jsonl(p)
    p.write_text(json.dumps(_good_line()) + "\n" + json.dumps(_good_line()) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"r\.jsonl:2: duplicate record id '1'.*line 1"):
        read_records_jsonl(p)
    p.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"r\.jsonl:1: expected a JSON object"):
        read_records_jsonl(p)
