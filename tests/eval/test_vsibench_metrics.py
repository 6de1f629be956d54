"""VSI-Bench scoring: fuzzy matching, multiple choice, MRA boundary cases, aggregation."""

from __future__ import annotations

import numpy as np
import pytest

from loc3r.eval.metrics.vsibench import (
    aggregate_vsibench,
    fuzzy_matching,
    mca_accuracy,
    mean_relative_accuracy,
    mra_thresholds,
    vsibench_sample_score,
)


@pytest.mark.parametrize(
    "pred, expected",
    [
        ("A", "A"),
        ("A.", "A"),
        ("B. right", "B"),
        ("3.5 meters", "3.5"),
        ("12...", "12"),
        ("", ""),
        (" A", ""),  # split(' ') keeps the empty first token
        ("A\tB", "A\tB"),  # only spaces split; the final strip() only trims the ends
    ],
)
def test_fuzzy_matching(pred, expected):
    assert fuzzy_matching(pred) == expected


def test_mca_accuracy():
    assert mca_accuracy("B", "B") == 1.0
    assert mca_accuracy("b. right", "B") == 1.0
    assert mca_accuracy("The answer is B", "B") == 0.0  # first token only
    assert mca_accuracy("C", "B") == 0.0


def test_thresholds_are_the_official_linspace():
    c = mra_thresholds()
    assert len(c) == 10
    np.testing.assert_array_equal(c, np.linspace(0.5, 0.95, 10))
    assert c[0] == 0.5 and c[-1] == 0.95


@pytest.mark.parametrize(
    "pred, expected",
    [
        (10, 1.0),
        (11, 0.9),
        (12, 0.6),  # 1 - 0.8 = 0.19999999999999996 < 0.2: float rounding makes this 0.6, not 0.7
        (15, 0.1),
        (5, 0.1),
        (4.9, 0.0),
        (8, 0.6),  # |8-10|/10 = 0.2, same boundary from below
        (-10, 0.0),
    ],
)
def test_mra_documented_cases(pred, expected):
    assert mean_relative_accuracy(pred, 10) == pytest.approx(expected, abs=1e-12)


def test_mra_nan_and_bad_target():
    assert mean_relative_accuracy(float("nan"), 10) == 0.0
    assert mean_relative_accuracy(float("inf"), 10) == 0.0
    with pytest.raises(ValueError):
        mean_relative_accuracy(1.0, 0.0)


def test_sample_score_parsing():
    assert vsibench_sample_score("object_counting", "11", "10") == pytest.approx(0.9)
    assert vsibench_sample_score("object_counting", "11. chairs", "10") == pytest.approx(0.9)
    assert vsibench_sample_score("room_size_estimation", "about 20", "20") == 0.0  # unparsable first token
    assert vsibench_sample_score("object_abs_distance", "", "2.5") == 0.0
    assert vsibench_sample_score("route_planning", "C. turn left", "C") == 1.0
    with pytest.raises(ValueError):
        vsibench_sample_score("unknown_type", "1", "1")
    with pytest.raises(ValueError):
        vsibench_sample_score("object_counting", "1", "many")


def test_aggregation_hand_case():
    scores = [
        ("object_counting", 1.0), ("object_counting", 0.5),              # 75
        ("object_abs_distance", 0.2),                                   # 20
        ("object_size_estimation", 0.4),                                # 40
        ("room_size_estimation", 0.6),                                  # 60
        ("object_rel_distance", 1.0), ("object_rel_distance", 0.0),      # 50
        ("object_rel_direction_easy", 1.0),                             # 100
        ("object_rel_direction_medium", 0.0), ("object_rel_direction_medium", 1.0),  # 50
        ("object_rel_direction_hard", 0.0),                             # 0 -> direction = 50
        ("route_planning", 1.0),                                        # 100
        ("obj_appearance_order", 0.0),                                  # 0
    ]
    agg = aggregate_vsibench(scores)
    assert agg["tasks"]["object_counting"] == pytest.approx(75.0)
    # the mean of the sub-task means, not of the samples
    assert agg["tasks"]["object_rel_direction"] == pytest.approx(50.0)
    assert agg["subtasks"]["object_rel_direction_medium"] == pytest.approx(50.0)
    assert len(agg["tasks"]) == 8
    assert agg["overall"] == pytest.approx((75 + 20 + 40 + 60 + 50 + 50 + 100 + 0) / 8)
    assert agg["missing_tasks"] == []
    assert agg["counts"]["object_counting"] == 2


def test_aggregation_reports_missing_tasks():
    agg = aggregate_vsibench([("object_counting", 1.0), ("object_rel_direction_easy", 0.0)])
    assert agg["overall"] == pytest.approx(50.0)  # mean over the 2 present task scores
    assert "route_planning" in agg["missing_tasks"]
    assert "object_rel_direction_hard" in agg["missing_tasks"]
    assert aggregate_vsibench([])["overall"] is None
