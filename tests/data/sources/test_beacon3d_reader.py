"""Beacon3D readers on the real samples: QA tags, metadata cross-check, grounding items, errors."""

from __future__ import annotations

import json

import pytest

from loc3r.data.sources.beacon3d import (
    parse_beacon3d_question_id,
    read_beacon3d,
    read_beacon3d_grounding,
    read_beacon3d_metadata,
)
from loc3r.utils.io import DataError


def test_real_qa_sample(beacon3d_dir):
    path = beacon3d_dir / "scannet_qa.first30.json"
    records, skipped, _ = read_beacon3d([path])
    assert (len(records), skipped) == (30, 0)
    assert [r.task for r in records[:6]] == [
        "appearance", "spatial", "geometry", "appearance", "geometry", "spatial"]
    raw = json.loads(path.read_text(encoding="utf-8"))
    # the tag is the second-to-last underscore field of the id
    assert [r.task for r in records] == [x["question_id"].split("_")[-2] for x in raw]
    assert {r.task for r in records} == {"appearance", "spatial", "geometry", "existence", "class"}
    r = records[0]
    assert (r.id, r.source, r.scene_id) == ("scene0025_00_27_0_appearance_0", "beacon3d", "scene0025_00")
    assert r.question == "What color is the largest box?" and r.answers == ["White"]
    assert r.extra == {"object_ids": [27], "object_names": ["box"], "object_id": 27, "question_index": 0,
                       "extra_knowledge": 0}
    assert records[1].extra["extra_knowledge"] == 1  # scene0025_00_27_1_spatial_1


def test_qa_agrees_with_metadata(beacon3d_dir):
    """Every QA item is the k-th question of its object in the metadata file (tag and extra flag included)."""
    records = read_beacon3d([beacon3d_dir / "scannet_qa.first30.json"]).records
    meta = read_beacon3d_metadata(beacon3d_dir / "metadata_scannet_qa.first_scene.json")
    for r in records:
        obj = meta[r.scene_id][r.extra["object_id"]]
        qa = obj.qa[r.extra["question_index"]]
        assert (qa.question, [qa.answer], qa.tag, qa.extra_knowledge) == (
            r.question, r.answers, r.task, r.extra["extra_knowledge"])
    # (object_names may differ from the metadata class: object 9 is a "desk" in the QA file, a "table" there)
    assert records[12].extra["object_names"] == ["desk"] and meta["scene0025_00"][9].class_name == "table"


def test_metadata(beacon3d_dir):
    meta = read_beacon3d_metadata(beacon3d_dir / "metadata_scannet_qa.first_scene.json")
    assert list(meta) == ["scene0025_00"]
    objects = meta["scene0025_00"]
    assert len(objects) == 29
    assert all(len(o.grounding_texts) == 3 and len(o.qa) == 3 for o in objects.values())
    box = objects[27]
    assert (box.class_name, box.object_id) == ("box", 27)
    assert box.grounding_texts == (
        "White box on the desk", "The largest box", "The box closest to the windowsill")
    assert [q.tag for q in box.qa] == ["appearance", "spatial", "geometry"]
    assert objects[35].class_name == "toilet paper"


def test_grounding(beacon3d_dir):
    items = read_beacon3d_grounding(beacon3d_dir / "scannet_grounding.first30.json")
    assert len(items) == 30
    g = items[1]
    assert g.item_id == "scene0025_00_27_chain_1_1_class-spatial"
    assert (g.scene_id, g.target_ids, g.instance_type, g.utterance) == ("scene0025_00", (29, 27), "box",
                                                                       "Box on the desk")
    meta = read_beacon3d_metadata(beacon3d_dir / "metadata_scannet_qa.first_scene.json")["scene0025_00"]
    # utterances of a single-target chain start are the metadata's grounding texts of that object
    assert items[0].utterance in meta[27].grounding_texts


@pytest.mark.parametrize(
    "qid, message",
    [
        ("scene0025_00_27_0_colour_0", "unknown tag 'colour'"),
        ("scene0025_01_27_0_class_0", "is not 'scene0025_00_"),
        ("scene0025_00_27_class_0", "is not"),
        ("scene0025_00_x_0_class_0", "is not"),
    ],
)
def test_malformed_question_ids(qid, message):
    with pytest.raises(DataError, match=message):
        parse_beacon3d_question_id(qid, "scene0025_00")


def test_reader_errors(beacon3d_dir, write_json):
    items = json.loads((beacon3d_dir / "scannet_qa.first30.json").read_text(encoding="utf-8"))
    items[2]["question_id"] = "scene0025_00_27_2_size_0"
    p = write_json("beacon_bad.json", items)
    with pytest.raises(DataError, match=r"beacon_bad\.json: item 2: unknown tag 'size'"):
        read_beacon3d([p])
    res = read_beacon3d([p], strict=False)
    assert (len(res.records), res.skipped) == (29, 1)
    with pytest.raises(DataError, match=r"meta_bad\.json: scene0025_00/box/27: field 'grounding_text'"):
        read_beacon3d_metadata(write_json("meta_bad.json", {"scene0025_00": {"box": {"27": {"qa": []}}}}))
    with pytest.raises(DataError, match=r"ground_bad\.json: item 0: missing field 'utterance'"):
        item = {"item_id": "a", "scan_id": "s", "target_id": [1], "instance_type": "box"}
        read_beacon3d_grounding(write_json("ground_bad.json", [item]))
