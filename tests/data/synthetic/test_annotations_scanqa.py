"""ScanQA annotations: real item format; every answer re-derived from the geometry by the test's own code."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import test_annotations_support as S

from loc3r.data.synthetic.annotations import AnnotationConfig, generate_annotations
from loc3r.data.synthetic.annotations.scanqa import write_scanqa_file


def _worlds():
    out = [S.bedroom_world(), S.living_world(), S.bedroom_world("scene9102_00", 75.0, jitter=0.3, seed=5)]
    try:
        from loc3r.data.synthetic.layout import sample_world
    except ImportError:
        return out
    return out + [sample_world(np.random.default_rng(200 + i), f"scene{9300 + i}_00") for i in range(4)]


@pytest.fixture(scope="module")
def generated():
    cfg = AnnotationConfig(situations_per_scene=0, scanqa_per_scene=40, vsi_per_type=0)
    runs = []
    for w in _worlds():
        for seed in (0, 1):
            out = generate_annotations(w, np.random.default_rng(seed), cfg, split="val",
                                       center_raw=np.zeros(3))
            runs.append((S.SceneCheck(w, np.zeros(3)), out["scanqa"]))
    return runs


# --------------------------------------------------------------------------------------------- relations
# (test's own)
def _stacked(a, b) -> bool:
    return _on(a, b) or _on(b, a)


def _on(x, r) -> bool:
    return abs(x.z0 - r.z1) <= 0.05 and float(r.dist(x.c)) == 0.0 and x.eid != r.eid


def _next_to(x, r) -> bool:
    return x.eid != r.eid and not _stacked(x, r) and S.rect_gap(x, r) <= 0.5 + 0.005


def _in_front(x, r, rs) -> bool:
    """x within 30 deg of r's front axis, at most 1 m away, and no other object on the line between them."""
    front = np.array([math.cos(r.yaw), math.sin(r.yaw)])
    if not _has_front(r):
        return False
    if not (x.eid != r.eid and x.kind == "object" and not _stacked(x, r)
            and S.ang(front, x.c - r.c) <= 30 and S.rect_gap(x, r) <= 1.0 + 0.005):
        return False
    line = x.c + np.linspace(0, 1, 400)[:, None] * (r.c - x.c)
    blockers = [o for o in rs if o.kind == "object" and o.eid not in (x.eid, r.eid)
                and not any(_stacked(o, y) for y in (x, r))]
    return all(float(o.dist(line).min()) > 0 for o in blockers)


def _has_front(r) -> bool:
    """Objects with a well-defined front: against a wall or screen-like; never round/symmetric ones."""
    if r.kind != "object":
        return True
    if r.category in ("plant", "trash can", "lamp", "round table", "ottoman", "table", "coffee table"):
        return False
    screens = ("tv", "monitor", "whiteboard", "refrigerator", "stove", "sink", "toilet")
    return r.wall is not None or r.category in screens


def _wall(world, i):
    poly = np.asarray(world.room.polygon, float)
    return poly[i], poly[(i + 1) % len(poly)]


def _seg_dist(p, a, b):
    t = np.clip(((p - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
    return np.linalg.norm(p - (a + t[..., None] * (b - a)), axis=-1)


def _under_window(world, x, w) -> bool:
    a, b = _wall(world, w.wall)
    u = (b - a) / np.linalg.norm(b - a)
    along = abs(float((x.c - w.c) @ u))
    gap = float(_seg_dist(x.boundary(0.02), a, b).min())
    return x.kind == "object" and along <= w.hy and gap <= 0.35 + 0.01 and x.z1 <= w.z0 + 0.02


def _corner(world, x) -> bool:
    poly = np.asarray(world.room.polygon, float)
    n = len(poly)
    pts = x.boundary(0.02)
    for i in range(n):
        prev, cur, nxt = poly[i - 1], poly[i], poly[(i + 1) % n]
        convex = (cur[0] - prev[0]) * (nxt[1] - cur[1]) - (cur[1] - prev[1]) * (nxt[0] - cur[0]) > 0
        if convex and _seg_dist(pts, prev, cur).min() <= 0.31 and _seg_dist(pts, cur, nxt).min() <= 0.31:
            return True
    return False


def _between(x, a, b) -> bool:
    ab = b.c - a.c
    t = float((x.c - a.c) @ ab) / float(ab @ ab)
    off = abs(float(ab[0] * (x.c - a.c)[1] - ab[1] * (x.c - a.c)[0])) / float(np.linalg.norm(ab))
    return 0.3 <= t <= 0.7 and off <= 0.3


def _check_item(sc: S.SceneCheck, item: dict) -> str:
    """Re-derive the item's first answer (and check its second and its object ids); returns the family."""
    rs, nm, world = sc.rs, sc.nm, sc.world
    NP = S.np_regex(nm)
    q, answers = item["question"], item["answers"]
    mentioned: list = []
    cat_by_plural = {S.plural(r.category): r.category for r in rs}
    m = re.fullmatch(r"How many (?P<cats>[a-z ]+?) are (?:there in the room|there|in the room)\?", q)
    if m:
        cat = cat_by_plural[m.group("cats")]
        group = [r for r in rs if r.category == cat]
        n = len(group)
        assert answers == [str(n), f"{n} {cat if n == 1 else m.group('cats')}"], q
        assert item["object_ids"] == sorted(r.eid for r in group)
        family = "count"
    elif (m := re.fullmatch(rf"What (?:color is|is the color of) (?P<x>{NP})\?", q)) is not None:
        x = S.name_to_rect(nm, rs, m.group("x"))
        assert x.category == m.group("x")[4:], "colour questions about a colour-named object are pointless"
        assert answers == [x.color, x.color]
        mentioned, family = [x], "color"
    elif (m := re.fullmatch(rf"What (?:color is|is the color of) the (?P<cat>[a-z ]+?) "
                            rf"(?P<rel>next to|in front of|on) (?P<r>{NP})\?", q)) is not None:
        ref = S.name_to_rect(nm, rs, m.group("r"))
        rel_test = {"next to": _next_to, "in front of": lambda x, y: _in_front(x, y, rs), "on": _on}
        test = rel_test[m.group("rel")]
        (x,) = [r for r in rs if r.category == m.group("cat") and test(r, ref)]
        assert answers == [x.color, x.color]
        mentioned, family = [x, ref], "color_rel"
    elif (m := re.fullmatch(rf"Where is (?P<x>{NP})(?: located| placed)?\?", q)) is not None:
        x = S.name_to_rect(nm, rs, m.group("x"))
        a0 = answers[0]
        if (mm := re.fullmatch(rf"on (?P<r>{NP})", a0)) is not None:
            ref = S.name_to_rect(nm, rs, mm.group("r"))
            assert _on(x, ref), q
            assert answers[1] == f"on top of {mm.group('r')[4:]}"
            mentioned = [x, ref]
        elif a0 == "under the window":
            (w,) = [r for r in rs if r.kind == "window"]
            assert _under_window(world, x, w), q
            mentioned = [x, w]
        elif (mm := re.fullmatch(rf"in front of (?P<r>{NP})", a0)) is not None:
            ref = S.name_to_rect(nm, rs, mm.group("r"))
            assert _in_front(x, ref, rs), q
            mentioned = [x, ref]
        elif (mm := re.fullmatch(rf"next to (?P<r>{NP})", a0)) is not None:
            ref = S.name_to_rect(nm, rs, mm.group("r"))
            assert _next_to(x, ref), q
            assert answers[1] == f"beside {mm.group('r')[4:]}"
            mentioned = [x, ref]
        elif (mm := re.fullmatch(rf"between (?P<a>{NP}) and (?P<b>{NP})", a0)) is not None:
            a, b = S.name_to_rect(nm, rs, mm.group("a")), S.name_to_rect(nm, rs, mm.group("b"))
            assert _between(x, a, b), q
            mentioned = [x, a, b]
        else:
            assert a0 == "in the corner of the room", a0
            assert _corner(world, x), q
            mentioned = [x]
        family = "where"
    elif (m := re.fullmatch(rf"What is (?P<rel>next to|beside|under|below|on top of|on|in front of) "
                            rf"(?P<r>{NP})\?", q)) is not None:
        ref = S.name_to_rect(nm, rs, m.group("r"))
        rel = m.group("rel")
        if rel in ("next to", "beside"):
            hits = [r for r in rs if _next_to(r, ref)]
        elif rel in ("under", "below"):
            hits = [r for r in rs if _under_window(world, r, ref)]
        elif rel in ("on", "on top of"):
            hits = [r for r in rs if _on(r, ref)]
        else:
            hits = [r for r in rs if _in_front(r, ref, rs)]
        assert len(hits) == 1, (q, [h.category for h in hits])
        (x,) = hits
        assert answers[0] == x.category and answers[1] in (x.category, f"{x.color} {x.category}")
        mentioned, family = [x, ref], "what_rel"
    else:
        raise AssertionError(f"question not understood by the test: {q!r}")
    ids = item["object_ids"]
    assert all(r.eid in ids for r in mentioned), (q, ids)
    assert ids == sorted(ids) and item["object_names"] == [sc.by_id[i].category for i in ids]
    return family


def test_every_answer_is_rederived_from_the_geometry(generated):
    families: dict[str, int] = {}
    for sc, items in generated:
        for item in items:
            fam = _check_item(sc, item)
            families[fam] = families.get(fam, 0) + 1
    assert sum(families.values()) >= 150
    assert set(families) == {"count", "color", "color_rel", "where", "what_rel"}, families


def test_items_have_the_real_format(generated, realdata_dir):
    real = json.loads((realdata_dir / "scanqa" / "ScanQA_v1.0_val.first50.json").read_text())
    keys = list(real[0])
    for sc, items in generated:
        ids = [it["question_id"] for it in items]
        assert len(set(ids)) == len(ids)
        num = int(sc.world.scene_id[5:9])
        for it in items:
            assert list(it) == keys
            assert re.fullmatch(rf"val-scene{num:04d}-\d+", it["question_id"])
            assert it["scene_id"] == sc.world.scene_id and len(it["answers"]) == 2
            assert all(isinstance(i, int) for i in it["object_ids"])


def test_file_reads_back_with_the_project_reader(tmp_path, generated):
    from loc3r.data.sources.scanqa import read_scanqa

    items = [it for _, items in generated[::2][:2] for it in items]  # two different scenes
    path = write_scanqa_file(tmp_path / "ScanQA_v1.0_val.json", items)
    res = read_scanqa([path])
    assert res.skipped == 0 and [r.id for r in res.records] == [it["question_id"] for it in items]
    assert [r.answers for r in res.records] == [it["answers"] for it in items]
