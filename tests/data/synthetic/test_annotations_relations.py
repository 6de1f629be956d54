"""Geometric predicates and wording helpers of the annotation generator, against hand-computed values."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import test_annotations_support as S

from loc3r.data.synthetic.annotations import AnnotationConfig, opening_object_id
from loc3r.data.synthetic.annotations import relations as R
from loc3r.data.synthetic.annotations import templates as T

rad = math.radians
M = rad(20)


def _box(eid, x0, x1, y0, y1, z0, z1, cat="box", color=None):
    fp = np.array([[x1, y1], [x0, y1], [x0, y0], [x1, y0]], dtype=float)
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2])
    return R.Entity(eid, cat, color, "object", center, fp, z0, z1, 0.0, (x1 - x0, y1 - y0, z1 - z0), None)


@pytest.mark.parametrize("deg, expected",
                         [(30, "left"), (10, None), (-100, "right"), (170, None), (-165, None)])
def test_side_label(deg, expected):
    assert R.side_label(rad(deg), M) == expected


@pytest.mark.parametrize("deg, expected",
                         [(60, "front"), (80, None), (100, None), (120, "behind"), (-179, "behind")])
def test_front_back_label(deg, expected):
    assert R.front_back_label(rad(deg), M) == expected


@pytest.mark.parametrize("deg, expected", [(0, "front"), (90, "left"), (50, None), (70, "left"), (-150, None),
                                           (-160, "behind"),
                                           (130, None), (-90, "right"), (24, "front")])
def test_sector_label(deg, expected):
    assert R.sector_label(rad(deg), M) == expected


@pytest.mark.parametrize("deg, expected", [(45, "front-left"), (135, "back-left"), (-45, "front-right"),
                                           (-135, "back-right"), (80, None), (5, None), (-175, None)])
def test_quadrant_label(deg, expected):
    assert R.quadrant_label(rad(deg), M) == expected


@pytest.mark.parametrize("deg, expected", [(140, None), (120, None), (160, "back"), (-170, "back"),
                                           (100, "left"),
                                           (-100, "right"), (10, None)])
def test_left_right_back_label(deg, expected):
    assert R.left_right_back_label(rad(deg), M) == expected


def test_relative_bearing_is_counter_clockwise_positive():
    # Facing +y from the origin: (-1, 0) is on the left (+90), (1, 0) on the right (-90), (0, -1) behind.
    b = R.relative_bearing(np.zeros(2), math.pi / 2, np.array([[-1.0, 0], [1, 0], [0, 2]]))
    assert np.degrees(b) == pytest.approx([90, -90, 0])
    assert abs(math.degrees(float(R.relative_bearing(np.zeros(2), math.pi / 2, np.array([0.0, -1])))))\
        == pytest.approx(180)


def test_distances_hand_cases():
    a = _box(0, 0, 1, 0, 1, 0, 1)
    b = _box(1, 2, 3, 0, 1, 1.5, 2)
    assert R.box_distance(a, b) == pytest.approx(math.sqrt(1.0 + 0.25))
    assert R.point_polygon_distance(np.array([2.0, 2.0]), a.footprint) == pytest.approx(math.sqrt(2))
    assert R.point_polygon_distance(np.array([0.5, 0.2]), a.footprint) == 0.0
    diamond = np.array([[4.0, 0], [3, 1], [2, 0], [3, -1]])
    square = np.array([[1.0, 0.5], [0, 0.5], [0, -0.5], [1, -0.5]])
    assert R.polygons_distance(diamond, square) == pytest.approx(1.0)
    assert R.polygons_distance(square, square + 0.5) == 0.0
    assert R.segment_hits_entity(np.array([-1.0, 0.5]), np.array([2.0, 0.5]), a)
    assert not R.segment_hits_entity(np.array([-1.0, 1.2]), np.array([2.0, 1.2]), a)
    assert R.segment_hits_entity(np.array([-1.0, 1.2]), np.array([2.0, 1.2]), a, clearance=0.3)


def test_between_and_area():
    a, b = np.array([0.0, 0]), np.array([4.0, 0])
    assert R.is_between(np.array([2.0, 0.3]), a, b)
    assert not R.is_between(np.array([2.0, 0.5]), a, b)
    assert not R.is_between(np.array([0.8, 0.0]), a, b)
    assert R.floor_area(S.living_world().room.polygon) == pytest.approx(7 * 3 + 4 * 2)


def test_scene_entities_place_openings_on_their_walls():
    w = S.bedroom_world()
    ents = R.scene_entities(w)
    assert [e.entity_id for e in ents] == list(range(len(w.objects) + 2))
    window, door = ents[-2], ents[-1]
    assert window.entity_id == opening_object_id(w, 0) == 11
    assert window.xy == pytest.approx([3.0, 0.0]) and math.degrees(window.front_heading) == pytest.approx(90)
    assert door.xy == pytest.approx([3.4, 4.5]) and math.degrees(door.front_heading) == pytest.approx(-90)
    assert (window.z_min, window.z_max, door.kind) == (0.9, 2.0, "door")
    by_cat = {e.category: e for e in ents}
    assert R.is_on_top_of(by_cat["lamp"], by_cat["nightstand"])
    assert not R.is_on_top_of(by_cat["nightstand"], by_cat["lamp"])
    assert R.is_under_window(by_cat["desk"], window, w.room)
    assert not R.is_under_window(by_cat["bed"], window, w.room)
    assert R.in_corner(by_cat["trash can"], w.room) and not R.in_corner(by_cat["desk"], w.room)
    assert R.has_front(by_cat["wardrobe"]) and not R.has_front(by_cat["plant"]) and R.has_front(door)


def test_wording_helpers():
    assert [T.pluralize(c) for c in ("trash can", "bookshelf", "couch", "box", "tv", "shelf")] == \
        ["trash cans", "bookshelves", "couches", "boxes", "tvs", "shelves"]
    assert [T.number_word(n) for n in (0, 2, 20, 21)] == ["zero", "two", "twenty", "21"]
    spec = [("bed", "blue"), ("chair", "red"), ("chair", "green"), ("lamp", "red"), ("lamp", "red")]
    ents = [SimpleNamespace(entity_id=i, category=c, color_name=k) for i, (c, k) in enumerate(spec)]
    assert T.referring_names(ents) == {0: "bed", 1: "red chair", 2: "green chair"}


def test_config_from_any():
    synth = SimpleNamespace(situations_per_scene=3, questions_per_situation=2,
                            extra={"annotations": {"vsi_per_type": 1, "angle_margin_deg": 15.0}})
    cfg = AnnotationConfig.from_any(synth)
    assert (cfg.situations_per_scene, cfg.questions_per_situation, cfg.vsi_per_type) == (3, 2, 1)
    assert cfg.angle_margin_rad == pytest.approx(rad(15))
    assert AnnotationConfig.from_any({"scanqa_per_scene": 5}).scanqa_per_scene == 5
    assert AnnotationConfig.from_any(None) == AnnotationConfig()
    with pytest.raises(ValueError, match="unknown annotation setting"):
        AnnotationConfig.from_any({"nope": 1})
    with pytest.raises(ValueError, match="angle_margin_deg"):
        AnnotationConfig(angle_margin_deg=50)
