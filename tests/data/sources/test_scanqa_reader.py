"""ScanQA reader: the 50 real val items, question-type buckets, answer-less test files, error messages."""

from __future__ import annotations

import json

import pytest

from loc3r.data.sources.scanqa import read_scanqa, scanqa_question_type
from loc3r.utils.io import DataError


def test_real_sample(scanqa_file):
    records, skipped, _ = read_scanqa([scanqa_file])
    assert (len(records), skipped) == (50, 0)
    r = records[0]
    assert r.id == "val-scene0011-0" and r.source == "scanqa" and r.scene_id == "scene0011_00"
    assert r.question == "What color is the chair in the kitchen?"
    assert r.answers == ["dark brown", "brown"]
    assert r.extra["object_ids"] == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert r.extra["object_names"] == ["chair"] * 10
    assert r.task == "Color"
    assert r.pose is None and r.situation is None and r.options is None
    raw = json.loads(scanqa_file.read_text(encoding="utf-8"))
    assert [x.id for x in records] == [x["question_id"] for x in raw]
    assert [x.answers for x in records] == [x["answers"] for x in raw]
    assert {x.scene_id for x in records} == {"scene0011_00"}


@pytest.mark.parametrize(
    "question, bucket",
    [
        ("What color is the chair in the kitchen?", "Color"),
        ("What is the color of the table?", "Color"),  # checked before "What is"
        ("Where is the brown wooden chair placed?", "Place"),
        ("How many chairs face the table?", "Number"),
        ("What type of counter is below two windows?", "Object nature"),
        ("What shape is the refrigerator on the left of a kitchen counter?", "Object nature"),
        ("What kind of lamp is it?", "Object nature"),
        ("What is under the sink?", "Object"),
        ("Which chair is closest to the tv?", "Other"),
        ("To what side of a kitchen counter is the refrigerator located?", "Other"),
        ("What material is the refrigerator made of?", "Other"),
        ("The chair sits where?", "Other"),  # case-sensitive, as the official script
        ("In the kitchen, Where is the mug?", "Place"),  # substring anywhere, as the official script
    ],
)
def test_question_type_buckets(question, bucket):
    assert scanqa_question_type(question) == bucket


def test_test_file_without_answers(write_json):
    items = [{"object_ids": [1], "object_names": ["bed"], "question": "What is on the bed?",
              "question_id": "test-scene0707-0", "scene_id": "scene0707_00"},
             {"question": "Where is the sink?", "question_id": "test-scene0707-1",
              "scene_id": "scene0707_00"}]
    records = read_scanqa([write_json("ScanQA_v1.0_test_w_obj.json", items)]).records
    assert [r.answers for r in records] == [[], []]
    assert records[0].extra == {"object_ids": [1], "object_names": ["bed"]}
    assert records[1].extra == {}
    assert [r.task for r in records] == ["Object", "Place"]


def test_errors_name_file_and_item(scanqa_file, write_json, tmp_path):
    items = json.loads(scanqa_file.read_text(encoding="utf-8"))
    del items[7]["question"]
    p = write_json("scanqa_bad.json", items)
    with pytest.raises(DataError, match=r"scanqa_bad\.json: item 7 \(question_id val-scene0011-7\): "
                                        r"missing field 'question'"):
        read_scanqa([p])
    res = read_scanqa([p], strict=False)
    assert (len(res.records), res.skipped) == (49, 1)
    assert "item 7" in res.problems[0]

    items = json.loads(scanqa_file.read_text(encoding="utf-8"))
    items[3]["object_ids"] = ["4"]
    with pytest.raises(DataError, match="object_ids' must be a list of integers"):
        read_scanqa([write_json("scanqa_ids.json", items)])

    dup = json.loads(scanqa_file.read_text(encoding="utf-8"))[:3] * 2
    with pytest.raises(DataError, match="duplicate question_id 'val-scene0011-0'"):
        read_scanqa([write_json("scanqa_dup.json", dup)])

    corrupt = tmp_path / "scanqa_corrupt.json"
    corrupt.write_text('[{"question": "x",\n  "answers": [}]', encoding="utf-8")
    with pytest.raises(DataError, match=r"scanqa_corrupt\.json: invalid JSON at line 2"):
        read_scanqa([corrupt])
    with pytest.raises(DataError, match=r"scanqa_obj\.json: expected a JSON list"):
        read_scanqa([write_json("scanqa_obj.json", {"questions": []})])
