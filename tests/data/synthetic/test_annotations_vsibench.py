"""VSI-Bench rows: official question texts, option format, and every ground truth re-derived by the test."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import test_annotations_support as S

from loc3r.data.synthetic.annotations import AnnotationConfig, generate_annotations
from loc3r.data.synthetic.annotations.vsibench import write_vsibench_file

MCA = {"object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard",
       "object_rel_distance", "route_planning", "obj_appearance_order"}


def _worlds():
    out = [S.bedroom_world(), S.living_world(), S.bedroom_world("scene9102_00", 10.0, jitter=0.3, seed=9)]
    try:
        from loc3r.data.synthetic.layout import sample_world
    except ImportError:
        return out
    return out + [sample_world(np.random.default_rng(300 + i), f"scene{9400 + i}_00") for i in range(5)]


def _first_seen(world, seed):
    r = np.random.default_rng(seed)
    n = len(world.objects) + len(world.room.openings)
    return {i: int(f) for i, f in enumerate(r.permutation(8 * n)[:n])}


@pytest.fixture(scope="module")
def generated():
    cfg = AnnotationConfig(situations_per_scene=0, scanqa_per_scene=0, vsi_per_type=4)
    runs = []
    for w in _worlds():
        for seed in (0, 1):
            fs = _first_seen(w, seed)
            out = generate_annotations(w, np.random.default_rng(seed), cfg, center_raw=np.zeros(3),
                                       first_seen=fs)
            runs.append((S.SceneCheck(w, np.zeros(3)), fs, out["vsibench"]))
    return runs


def _unique(rs, cat):
    (r,) = [x for x in rs if x.category == cat]
    return r


def _bearing(at, facing, target) -> float:
    return S.signed_bearing_deg(facing.c - at.c, target.c - at.c)


def _turn(h_from, h_to) -> str:
    b = S.signed_bearing_deg(h_from, h_to)
    assert abs(b) > 45, "a leg that goes straight on needs no turn"
    return "Turn Back" if abs(b) > 135 else "Turn Left" if b > 0 else "Turn Right"


def _expected(sc: S.SceneCheck, first_seen, row) -> str:
    """The ground truth as the test computes it (an option's text for multiple choice)."""
    rs, q, t = sc.rs, row["question"], row["question_type"]
    if t == "object_counting":
        (cat,) = re.fullmatch(r"How many (.+)\(s\) are in this room\?", q).groups()
        n = sum(r.category == cat for r in rs)
        assert n >= 2
        return str(n)
    if t == "object_abs_distance":
        a, b = re.fullmatch(r"Measuring from the closest point of each object, what is the direct distance "
                            r"between the (.+) and the (.+) \(in meters\)\?", q).groups()
        d = S.box_gap(_unique(rs, a), _unique(rs, b))
        assert abs(float(row["ground_truth"]) - d) <= 0.055 and re.fullmatch(r"\d+\.\d", row["ground_truth"])
        return row["ground_truth"]
    if t == "object_size_estimation":
        (cat,) = re.fullmatch(r"What is the length of the longest dimension \(length, width, or height\) of "
                              r"the (.+), measured in centimeters\?", q).groups()
        r = _unique(rs, cat)
        return str(round(100 * max(2 * r.hx, 2 * r.hy, r.z1 - r.z0)))
    if t == "room_size_estimation":
        assert q.startswith("What is the size of this room (in square meters)?")
        p = np.asarray(sc.world.room.polygon, float)
        area = 0.5 * abs(sum(p[i - 1, 0] * p[i, 1] - p[i, 0] * p[i - 1, 1] for i in range(len(p))))
        return f"{area:.1f}"
    if t == "object_rel_distance":
        m = re.fullmatch(r"Measuring from the closest point of each object, which of these objects \((.+)\) "
                         r"is the closest to the (.+)\?", q)
        choices, primary = m.group(1).split(", "), _unique(rs, m.group(2))
        assert [o[3:] for o in row["options"]] == choices
        d = {c: min(S.box_gap(primary, r) for r in rs if r.category == c) for c in choices}
        return min(choices, key=d.get)
    if t.startswith("object_rel_direction"):
        m = re.match(r"If I am standing by the (.+?) and facing the (.+?), is the (.+?) to ", q)
        p, o, x = (_unique(rs, c) for c in m.groups())
        b = _bearing(p, o, x)
        if t.endswith("easy"):
            assert q.endswith(f"to the left or the right of the {o.category}?")
            return "left" if b > 0 else "right"
        if t.endswith("medium"):
            assert "to my left, right, or back? An object is to my back if I would have to turn at least" in q
            return "back" if abs(b) >= 135 else "left" if b > 0 else "right"
        assert "to my front-left, front-right, back-left, or back-right?" in q
        return f"{'front' if abs(b) < 90 else 'back'}-{'left' if b > 0 else 'right'}"
    if t == "route_planning":
        m = re.fullmatch(r"You are a robot beginning at the (.+?) facing the (.+?)\. You want to navigate to "
                         r"the (.+?)\. You will perform the following actions \(Note: for each \[please fill "
                         r"in\], choose either 'turn back,' 'turn left,' or 'turn right\.'\): (.+) You have "
                         r"reached the final destination\.", q)
        start, facing, end, actions = m.groups()
        steps = re.split(r"\s*\d+\. ", " " + actions.rstrip("."))[1:]
        pos, heading = _unique(rs, start).c, _unique(rs, facing).c - _unique(rs, start).c
        turns = []
        pending = False
        for step in steps:
            if step == "[please fill in]":
                pending = True
                continue
            (target,) = re.fullmatch(r"Go forward until the (.+)", step).groups()
            new = _unique(rs, target).c - pos
            if pending:
                turns.append(_turn(heading, new))
                pending = False
            else:
                assert S.ang(heading, new) < 1e-3, "going forward must go where I face"
            pos, heading = _unique(rs, target).c, new
        assert target == end and turns
        return ", ".join(turns)
    if t == "obj_appearance_order":
        (cats,) = re.fullmatch(r"What will be the first-time appearance order of the following categories in "
                               r"the video: (.+)\?", q).groups()
        cats = cats.split(", ")
        first = {c: min(first_seen[r.eid] for r in rs if r.category == c and r.eid in first_seen)
                 for c in cats}
        return ", ".join(sorted(cats, key=first.get))
    raise AssertionError(f"unknown question type {t}")


def test_every_ground_truth_is_rederived(generated):
    seen: dict[str, int] = {}
    for sc, fs, rows in generated:
        for row in rows:
            exp = _expected(sc, fs, row)
            t = row["question_type"]
            seen[t] = seen.get(t, 0) + 1
            if t in MCA:
                letters = [o[:3] for o in row["options"]]
                assert letters == [f"{chr(65 + i)}. " for i in range(len(letters))]
                texts = [o[3:] for o in row["options"]]
                assert len(set(texts)) == len(texts) and exp in texts
                assert row["ground_truth"] == chr(65 + texts.index(exp)), row
            else:
                assert row["options"] is None and row["ground_truth"] == exp, (row, exp)
    assert set(seen) == MCA | {"object_counting", "object_abs_distance", "object_size_estimation",
                               "room_size_estimation"}, seen
    assert sum(seen.values()) >= 200


def test_answer_letters_are_spread(generated):
    letters = [r["ground_truth"] for _, _, rows in generated for r in rows if r["options"]]
    counts = {c: letters.count(c) for c in "ABC"}
    assert min(counts.values()) >= 0.15 * len(letters), counts


def test_rows_have_the_real_format_and_read_back(tmp_path, generated):
    from loc3r.data.sources.vsibench import read_vsibench

    rows = [r for _, _, rows in generated[::2] for r in rows]
    for r in rows:
        assert list(r) == ["id", "dataset", "scene_name", "question_type", "question", "ground_truth",
                           "options"]
        assert r["dataset"] == "synthetic" and isinstance(r["id"], int)
    assert len({r["id"] for r in rows}) == len(rows)
    for suffix in (".json", ".jsonl"):
        path = write_vsibench_file(tmp_path / f"vsi{suffix}", rows)
        res = read_vsibench([path])
        assert res.skipped == 0
        assert [rec.answers for rec in res.records] == [[r["ground_truth"]] for r in rows]


def test_appearance_order_needs_first_seen():
    w = S.bedroom_world()
    out = generate_annotations(w, np.random.default_rng(0), AnnotationConfig(situations_per_scene=0),
                               center_raw=np.zeros(3))
    types = {r["question_type"] for r in out["vsibench"]}
    assert "obj_appearance_order" not in types and "route_planning" in types


def test_route_options_are_distinct_turn_sequences(generated):
    turns = ["Turn Left", "Turn Right", "Turn Back"]
    valid = set(turns) | {", ".join(p) for p in itertools.product(turns, repeat=2)}
    for _, _, rows in generated:
        for r in rows:
            if r["question_type"] == "route_planning":
                assert {o[3:] for o in r["options"]} <= valid
                assert len(r["options"]) in (3, 4)
