"""MSQA reader on hand-made items in the documented format (no real MSQA file is available here).

The first item's location / orientation are the values of the example in MSR3D's ``msr3d.py`` docstring.
"""

from __future__ import annotations

import math

import pytest

from loc3r.data.sources.msqa import msqa_text_only, read_msqa
from loc3r.utils.io import DataError


def _item(**kw):
    item = {
        "scan_id": "scene0000_00", "index": 12, "type": "attribute-color",
        "question": "What is the color of the office chair in front of me?", "answers": ["gray"],
        "situation": "To my left there's a gray fabric office chair <chair-3-IMG>.",
        "location": [0.08045649528503418, -0.19432830810546875, 0.026395104825496674],
        "orientation": [0.6343910511301244, 0.7730122859605894, 0],
        "raw_thought": "chair-3, bin-7",
    }
    item.update(kw)
    return item


def test_items_to_records(write_json):
    second = _item(index=13, orientation=[-2.0, 0.0, 0.0], type="count")
    p = write_json("msqa_scannet_test.json", [_item(), second])
    records, skipped, _ = read_msqa([p])
    assert skipped == 0
    a, b = records
    assert (a.id, a.source, a.task) == ("scene0000_00-12", "msqa", "attribute-color")
    assert a.scene_id == "scene0000_00"
    assert a.answers == ["gray"]
    assert a.situation == "To my left there's a gray fabric office chair chair."
    assert a.extra["situation_raw"] == "To my left there's a gray fabric office chair <chair-3-IMG>."
    assert "question_raw" not in a.extra
    assert a.extra["raw_thought"] == "chair-3, bin-7" and a.extra["index"] == 12
    assert a.pose.frame == "aligned"
    assert (a.pose.x, a.pose.y, a.pose.z) == (0.08045649528503418, -0.19432830810546875, 0.026395104825496674)
    # facing vector (0.6344, 0.7730): heading atan(0.7730 / 0.6344) in the first quadrant
    assert a.pose.yaw == pytest.approx(math.atan(0.7730122859605894 / 0.6343910511301244))
    assert a.pose.forward == pytest.approx((0.6343910511301244, 0.7730122859605894), rel=1e-12)
    assert a.pose.heading == pytest.approx(a.pose.yaw)
    # a non-unit facing vector along -x: forward normalised, yaw = -pi (wrap to [-pi, pi))
    assert b.pose.forward == (-1.0, 0.0) and b.pose.yaw == pytest.approx(-math.pi)


def test_text_only():
    assert msqa_text_only("a <table-12-IMG> and <trash can-4-IMG>, <not a placeholder>") == \
        "a table and trash can, <not a placeholder>"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"orientation": [0.0, 0.0, 1.0]}, "has no horizontal component"),
        ({"location": [1.0]}, "field 'location' must be a list of 3 or 2 numbers"),
        ({"answers": "gray"}, "field 'answers' must be a list of strings"),
        ({"index": None}, "field 'index'"),
    ],
)
def test_bad_items(write_json, change, message):
    p = write_json("msqa_bad.json", [_item(index=1), _item(**change)])
    with pytest.raises(DataError, match=rf"msqa_bad\.json: item 1.*{message}"):
        read_msqa([p])
    res = read_msqa([p], strict=False)
    assert (len(res.records), res.skipped) == (1, 1)


def test_missing_field_and_duplicates(write_json):
    item = _item()
    del item["location"]
    with pytest.raises(DataError, match=r"msqa_missing\.json: item 0 \(scan_id scene0000_00, index 12\): "
                                        r"missing field 'location'"):
        read_msqa([write_json("msqa_missing.json", [item])])
    with pytest.raises(DataError, match="duplicate"):
        read_msqa([write_json("msqa_dup.json", [_item(), _item()])])
