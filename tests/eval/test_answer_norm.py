"""``clean_answer``: every rule of data_formats.md §2.4, with hand-written expectations, and its order."""

from __future__ import annotations

import pytest

from loc3r.eval.metrics.answer_norm import clean_answer


@pytest.mark.parametrize(
    "raw, expected",
    [
        # lower-case, strip leading/trailing spaces, collapse runs of spaces
        ("  Brown   Chair  ", "brown chair"),
        ("WHITE", "white"),
        # only spaces are stripped, not tabs or newlines (\s is kept by the character filter)
        ("\tblue", "\tblue"),
        # characters outside [a-zA-Z0-9,'\s\-:] are deleted; , ' - : are kept
        ("brown?!", "brown"),
        ('"red" (dark)', "red dark"),
        ("left, right", "left, right"),
        ("dark-brown", "dark-brown"),
        ("2:30", "two:30"),  # ":" is kept and is a word boundary, so "2" is a whole word
        ("don't know", "don't know"),
        # deletion happens after the space clean-up: a deleted '.' leaves its space
        ("chair .", "chair "),
        ("brown . chair", "brown  chair"),
        # ç -> c and ’ -> ' come after the deletion, so they never fire (reference order)
        ("façade", "faade"),
        ("it’s", "its"),
        # '.' is deleted, so a decimal number fuses into an integer (then becomes a word)
        ("1.5", "fifteen"),
    ],
)
def test_character_and_space_rules(raw, expected):
    assert clean_answer(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("letf", "left"),
        ("let", "left"),
        ("to the letf side", "to left side"),
        ("tehre", "there"),
        ("rigth", "right"),
        ("rght", "right"),
        ("behine", "behind"),
        ("chai", "chair"),
        ("wasing machine", "washing machine"),
        ("waslked", "walked"),
        ("oclock", "o'clock"),
        ("3 o' clock", "three o'clock"),
        ("backwards", "backward"),
        # typo fixes are whole-word only
        ("letter", "letter"),
        ("chair", "chair"),
        ("chairs", "chairs"),
        ("outlet", "outlet"),
    ],
)
def test_typo_fixes(raw, expected):
    assert clean_answer(raw) == expected


def test_tv_is_upper_case_again_after_lowercasing():
    assert clean_answer("tv") == "TV"
    assert clean_answer("The TV") == "TV"  # lower -> "the tv" -> "the TV" -> article dropped before a word
    assert clean_answer("tv stand") == "TV stand"
    assert clean_answer("tvs") == "tvs"  # whole word only


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("0", "zero"),
        ("none", "zero"),
        ("1", "one"),
        ("2 chairs", "two chairs"),
        ("7", "seven"),
        ("10", "ten"),
        ("13", "thirteen"),
        ("20", "twenty"),
        ("23", "twenty-three"),
        # numbers without a word stay digits; digits inside a longer number are not words
        ("21", "21"),
        ("22", "22"),
        ("24", "24"),
        ("100", "100"),
        ("123", "123"),
        ("nonexistent", "nonexistent"),
    ],
)
def test_numbers_to_words_whole_words_only(raw, expected):
    assert clean_answer(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        # one trailing digit glued to a word is dropped
        ("mat2", "mat"),
        ("no1", "no"),
        ("chair3 and table4", "chair and table"),
        # two digits are not "one trailing digit": unchanged
        ("mat23", "mat23"),
        # a digit inside a word is kept
        ("a2b", "a2b"),
    ],
)
def test_trailing_digit(raw, expected):
    assert clean_answer(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("a chair", "chair"),
        ("an apple", "apple"),
        ("the door", "door"),
        ("on the left of the table", "on left of table"),
        # only before a space + word
        ("a", "a"),
        ("the", "the"),
        ("plan a", "plan a"),
        ("theater", "theater"),
        # numbers become words first, so the article before them is dropped too (order matters)
        ("a 3", "three"),
        # 'a' followed by a non-letter (comma) stays
        ("a, b", "a, b"),
    ],
)
def test_articles(raw, expected):
    assert clean_answer(raw) == expected


def test_rule_order_interactions():
    # typo fix creates an article target: "the chai" -> "the chair" -> "chair"
    assert clean_answer("The Chai") == "chair"
    # "none" -> "zero" happens before the article rule
    assert clean_answer("a none") == "zero"
    assert clean_answer("  Brown. ") == "brown"
    assert clean_answer("") == ""


def test_idempotent_on_clean_words():
    for s in ["left", "two", "TV", "washing machine", "o'clock", "dark-brown"]:
        assert clean_answer(clean_answer(s)) == clean_answer(s)


def test_rejects_non_strings():
    with pytest.raises(TypeError):
        clean_answer(3)  # type: ignore[arg-type]
