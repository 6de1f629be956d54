"""EM / EM-R (LEO ``answer_match``), ScanQA's official raw EM, question types, binary questions."""

from __future__ import annotations

import pytest

from loc3r.eval.metrics.exact_match import (
    answer_match,
    answer_match_raw,
    is_binary_question,
    scanqa_official_em,
    scanqa_question_type,
    sqa3d_question_type,
)


@pytest.mark.parametrize(
    "pred, gts, expected",
    [
        ("piano", ["piano"], (1, 1)),
        ("The piano.", ["piano"], (1, 1)),  # clean_answer on the prediction
        ("piano", ["A Piano"], (1, 1)),  # ... and on every ground truth
        ("2", ["two"], (1, 1)),  # digits to words
        ("brown", ["dark brown"], (0, 1)),  # prediction inside the ground truth
        ("dark brown wooden", ["brown wooden"], (0, 1)),  # ground truth inside the prediction
        ("darkbrown", ["dark brown"], (0, 1)),  # compared without spaces
        ("dark brown", ["darkbrown"], (0, 1)),
        ("chair", ["table", "desk"], (0, 0)),
        ("left", ["right"], (0, 0)),
        ("", ["chair"], (0, 1)),  # the empty string is a substring of everything (reference behaviour)
    ],
)
def test_answer_match(pred, gts, expected):
    assert answer_match(pred, gts) == expected


def test_first_matching_ground_truth_decides():
    # a refined match on the first GT hides the exact match on the second
    assert answer_match("brown", ["dark brown", "brown"]) == (0, 1)
    assert answer_match("brown", ["brown", "dark brown"]) == (1, 1)
    # a non-matching first GT does not stop the search
    assert answer_match("brown", ["white", "brown"]) == (1, 1)


def test_raw_variant_does_not_clean():
    assert answer_match_raw("Piano", ["piano"]) == (0, 0)
    assert answer_match_raw("piano", ["piano"]) == (1, 1)


def test_answer_match_needs_ground_truth():
    with pytest.raises(ValueError):
        answer_match("x", [])
    with pytest.raises(TypeError):
        answer_match("x", "x")  # type: ignore[arg-type]


def test_scanqa_official_em_is_raw_string_equality():
    assert scanqa_official_em("brown", ["dark brown", "brown"]) == 1
    assert scanqa_official_em("Brown", ["brown"]) == 0
    assert scanqa_official_em("brown.", ["brown"]) == 0
    assert scanqa_official_em("brown ", ["brown"]) == 0


@pytest.mark.parametrize(
    "question, bucket",
    [
        ("What is on my left?", "what"),
        ("  what color is the chair?", "what"),
        ("Is the door open?", "is"),
        ("Isn't it dark?", "is"),  # prefix match
        ("How many chairs are there?", "how"),
        ("Can I sit down?", "can"),
        ("Which way should I go?", "which"),
        ("Where is the sink?", "others"),
        ("Are there windows?", "others"),
    ],
)
def test_sqa3d_question_types(question, bucket):
    assert sqa3d_question_type(question) == bucket


@pytest.mark.parametrize(
    "question, bucket",
    [
        ("Where is the chair?", "Place"),
        ("How many chairs are there?", "Number"),
        ("What color is the sofa?", "Color"),
        ("What is the color of the sofa?", "Color"),
        ("What type of chair is it?", "Object nature"),
        ("What is in the corner?", "Object"),
        ("Which chair is closer?", "Other"),
    ],
)
def test_scanqa_question_types(question, bucket):
    assert scanqa_question_type(question) == bucket


def test_binary_question():
    assert is_binary_question(["Yes"])
    assert is_binary_question(["no."])
    assert not is_binary_question(["brown"])
    assert not is_binary_question(["yes and no"])
