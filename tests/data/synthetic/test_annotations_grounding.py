"""Grounding situations: the stored SQA3D pose is the named object's centre, facing the other named object.

Checked with the independent geometry of ``test_annotations_support`` (object rectangles mapped aligned -> raw
-> SQA3D, forward = R(q)(-1, 0, 0) with scipy).
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import test_annotations_support as S

from loc3r.data.synthetic.annotations.grounding import (
    GROUNDING_TEMPLATES,
    grounding_files_for_set,
    grounding_items,
)
from loc3r.data.synthetic.annotations.relations import scene_entities


def _pattern(template: str) -> re.Pattern:
    return re.compile("^" + re.escape(template).replace(r"\{A\}", "(?P<A>.+?)").replace(r"\{B\}", "(?P<B>.+?)")
                      + "$")


PATTERNS = [_pattern(t) for t in GROUNDING_TEMPLATES]


def _names(text: str) -> tuple[str, str]:
    for p in PATTERNS:
        m = p.match(text)
        if m:
            return m["A"], m["B"]
    raise AssertionError(f"{text!r} matches no grounding template")


@pytest.mark.parametrize("world", [S.bedroom_world(), S.living_world(),
                                   S.bedroom_world("scene9102_00", -140.0, jitter=0.3, seed=3)],
                         ids=["bedroom", "living", "rotated"])
def test_pose_is_the_named_object_facing_the_other(world):
    center = S.raw_center(world)
    sc = S.SceneCheck(world, center)
    items = grounding_items(world, scene_entities(world), np.random.default_rng(0), center, per_scene=40)
    assert len(items) == min(40, len(items)) and len(items) >= 10
    for it in items:
        a, b = _names(it["situation"])
        ra, rb = sc.sqa_rect("the " + a), sc.sqa_rect("the " + b)
        p, f = S.sqa_pose(it)
        assert np.allclose(p, ra.c, atol=1e-9), it["situation"]
        v = rb.c - p
        assert np.linalg.norm(v) >= 0.5
        cos = float(f @ v / np.linalg.norm(v))
        assert cos == pytest.approx(1.0, abs=1e-9), f"{it['situation']!r}: not facing the {b}"
        assert it["anchor_id"] == ra.eid and it["facing_id"] == rb.eid
    # Wording and pairs vary; same rng state -> same items.
    assert len({it["situation"] for it in items}) == len(items)
    again = grounding_items(world, scene_entities(world), np.random.default_rng(0), center, per_scene=40)
    assert again == items


def test_unnamed_or_too_close_pairs_are_skipped():
    world = S.bedroom_world()
    items = grounding_items(world, scene_entities(world), np.random.default_rng(1), S.raw_center(world),
                            per_scene=1000, min_distance_m=0.5)
    sc = S.SceneCheck(world, S.raw_center(world))
    for it in items:
        a, b = _names(it["situation"])
        assert np.linalg.norm(sc.sqa_rect("the " + a).c - sc.sqa_rect("the " + b).c) >= 0.5
    # The nightstand and the lamp on it share a centre: never paired.
    named = {(it["anchor_id"], it["facing_id"]) for it in items}
    assert (1, 7) not in named and (7, 1) not in named


@pytest.mark.slow
def test_files_for_a_generated_set_read_back(tmp_path):
    from loc3r.data.sources.registry import read_records
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic

    synth = tmp_path / "synth"
    generate_synthetic(SynthConfig(out=synth, num_scenes=3, seed=4, frames_per_scene=4, color_width=32,
                                   color_height=24, depth_width=32, depth_height=24, val_fraction=0.34,
                                   test_fraction=0.34, progress=False))
    paths = grounding_files_for_set(synth, per_scene=5)
    assert set(paths) == {"train", "val", "test"}
    splits = {s: (synth / "splits" / f"{s}.txt").read_text().split() for s in paths}
    for split, path in paths.items():
        items = json.loads(path.read_text())["annotations"]
        assert 1 <= len(items) <= 5 * len(splits[split])
        assert {it["scene_id"] for it in items} <= set(splits[split])
        records = read_records("sqa3d", [path])
        assert len(records) == len(items)
        for r, it in zip(records, items, strict=True):
            assert r.situation == it["situation"] and r.pose is not None
            assert math.isclose(r.pose.x, it["position"]["x"]) and math.isclose(r.pose.y, it["position"]["y"])
