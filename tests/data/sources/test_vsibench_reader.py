"""VSI-Bench readers: hand-made question rows (JSON / JSONL / Parquet) and the real ScanNet meta info."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from loc3r.data.sources.vsibench import (
    MissingOptionalDependency,
    read_vsibench,
    read_vsibench_meta_info,
)
from loc3r.utils.io import DataError

# The example row quoted in data_formats.md §4, plus a hand-made multiple-choice row in the documented
# format.
ROW_NA = {"id": 166, "dataset": "arkitscenes", "scene_name": "47430468", "question_type": "object_counting",
          "question": "How many chair(s) are in this room?", "ground_truth": "4", "options": None}
ROW_MCA = {"id": 2001, "dataset": "scannet", "scene_name": "scene0251_00",
           "question_type": "object_rel_distance", "question": "Which object is closest to the door?",
           "ground_truth": "B",
           "options": ["A. chair", "B. table", "C. window", "D. trash bin"]}


def _check_records(records):
    a, b = records
    assert (a.id, a.source, a.task, a.scene_id) == ("166", "vsibench", "object_counting", "47430468")
    assert a.question == "How many chair(s) are in this room?" and a.answers == ["4"] and a.options is None
    assert a.extra == {"dataset": "arkitscenes", "answer_format": "na",
                       "video_path": "arkitscenes/47430468.mp4"}
    assert (b.id, b.task, b.answers) == ("2001", "object_rel_distance", ["B"])
    assert b.options == ["A. chair", "B. table", "C. window", "D. trash bin"]
    assert b.extra["answer_format"] == "mca"
    assert a.pose is None and a.situation is None


def test_json_and_jsonl_rows(write_json, tmp_path):
    _check_records(read_vsibench([write_json("vsi.json", [ROW_NA, ROW_MCA])]).records)
    p = tmp_path / "vsi.jsonl"
    p.write_text(json.dumps(ROW_NA) + "\n\n" + json.dumps(ROW_MCA) + "\n", encoding="utf-8")
    _check_records(read_vsibench([p]).records)


def test_parquet(tmp_path):
    p = tmp_path / "test-00000-of-00001.parquet"
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        p.write_bytes(b"PAR1")
        with pytest.raises(MissingOptionalDependency, match=r"test-00000-of-00001\.parquet.*pyarrow"):
            read_vsibench([p])
        return
    pq.write_table(pa.Table.from_pylist([ROW_NA, ROW_MCA]), p)
    _check_records(read_vsibench([p]).records)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"ground_truth": "E"}, "ground_truth 'E' is not one of the option letters"),
        ({"options": None}, "without options"),
        ({"options": ["chair", "table"]}, "does not start with a letter label"),
        ({"question_type": "object_color"}, "unknown question_type 'object_color'"),
        ({"ground_truth": 2}, "field 'ground_truth' must be a string"),
    ],
)
def test_bad_rows(write_json, change, message):
    p = write_json("vsi_bad.json", [ROW_NA, {**ROW_MCA, **change}])
    with pytest.raises(DataError, match=rf"vsi_bad\.json: row 1 \(id 2001\): .*{message}"):
        read_vsibench([p])
    res = read_vsibench([p], strict=False)
    assert (len(res.records), res.skipped) == (1, 1)


def test_more_row_errors(write_json, tmp_path):
    with pytest.raises(DataError, match="non-numeric ground_truth 'four'"):
        read_vsibench([write_json("na.json", [{**ROW_NA, "ground_truth": "four"}])])
    with pytest.raises(DataError, match="duplicate id .166."):
        read_vsibench([write_json("dup.json", [ROW_NA, ROW_NA])])
    with pytest.raises(DataError, match=r"cols\.json: expected a JSON list of row objects"):
        read_vsibench([write_json("cols.json", {"id": {"0": 166}})])
    bad_line = tmp_path / "bad.jsonl"
    bad_line.write_text(json.dumps(ROW_NA) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: invalid JSON"):
        read_vsibench([bad_line])
    with pytest.raises(DataError, match=r"rows\.csv: unknown VSI-Bench file type"):
        read_vsibench([tmp_path / "rows.csv"])


def test_real_meta_info(realdata_dir):
    path = realdata_dir / "vsibench" / "scannet_meta_info_val.first2.json"
    meta = read_vsibench_meta_info(path)
    assert list(meta) == ["scene0251_00", "scene0277_02"]
    m = meta["scene0251_00"]
    assert m.scene_id == "scene0251_00" and m.dataset == "scannet"
    assert m.room_size == 35.8577252791554
    assert m.room_center == (-0.09263372421264648, -0.5296549797058105, 0.1304503083229065)
    assert m.object_counts == {"chair": 2, "window": 3, "door": 3, "trash bin": 5, "table": 2}
    assert m.video_path.endswith("scene0251_00.mp4")
    chair = m.object_bbox["chair"][0]
    assert chair.centroid == (1.6660784105904327, -0.11247369636632484, -0.3127635643278425)
    assert chair.normalized_axes[0] == (-0.4825706269772676, 0.8758498999721477, -0.0035415671030991133)
    assert meta["scene0277_02"].object_counts["trash bin"] == 2
    raw = json.loads(path.read_text(encoding="utf-8"))
    for scene, sm in meta.items():
        # counts agree with the number of boxes, and each box is self-consistent
        assert {c: len(b) for c, b in sm.object_bbox.items()} == raw[scene]["object_counts"]
        for boxes in sm.object_bbox.values():
            for b in boxes:
                axes = np.array(b.normalized_axes)
                assert np.allclose(axes @ axes.T, np.eye(3), atol=1e-6)
                assert np.allclose((np.array(b.min) + np.array(b.max)) / 2, b.centroid, atol=1e-9)
                assert all(math.isfinite(v) and v >= 0 for v in b.axes_lengths)


def test_meta_info_errors(write_json):
    with pytest.raises(DataError, match=r"meta\.json: scene0001_00: missing field 'room_size'"):
        read_vsibench_meta_info(write_json("meta.json", {"scene0001_00": {"object_counts": {}}}))
    box = {"centroid": [0, 0, 0], "axesLengths": [1, 1, 1], "normalizedAxes": [1, 0, 0, 0, 1, 0, 0, 0, 1],
           "min": [0, 0, 0], "max": [1, 1]}
    pattern = r"scene0001_00: object_bbox\['chair'\]\[0\]: field 'max' must be a list of 3"
    with pytest.raises(DataError, match=pattern):
        read_vsibench_meta_info(write_json("meta2.json", {"scene0001_00": {
            "room_size": 10.0, "object_counts": {"chair": 1}, "object_bbox": {"chair": [box]}}}))
