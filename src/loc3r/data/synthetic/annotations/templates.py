"""Wording: every sentence pattern and synonym the annotation generators use, in one place.

Design choices:
  * Several templates per relation and synonyms for each direction ("on my left" / "to my left" / "at my left
    hand side" / "in my nine o'clock direction"), so that a model cannot answer by string matching alone.
  * Placeholders ``{X}``, ``{A}``, ``{B}`` receive a full noun phrase with its article ("the red chair");
    ``{cats}`` receives a plural category ("chairs"); ``{N}`` a distance in metres ("two", "2").
  * Clock directions are stated only when the bearing is within ``CLOCK_TOL_DEG`` of the exact direction.
  * The VSI-Bench question texts are the official ones (thinking-in-space paper, Tab. 4 / released rows).
  * SQA3D answers follow SQA3D's style: lower case, one or two words, numbers as words ("two").
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CLOCK_TOL_DEG",
    "number_word",
    "pluralize",
    "capitalize_first",
    "pick",
    "referring_names",
    "SIT_CLAUSES",
    "SIT_CLAUSES_BY_CATEGORY",
    "FRONT_CLAUSES",
    "FRONT_CLAUSES_BY_CATEGORY",
    "BETWEEN_CLAUSES",
    "WITH_PHRASES",
    "CLOCK_WITH_PHRASES",
    "STATEMENT_CLAUSES",
    "CLOCK_STATEMENT_CLAUSES",
    "DISTANCE_CLAUSES",
    "SQA_WHAT_DIRECT",
    "SQA_COUNT_SIDE",
    "SQA_TURN_TO",
    "SQA_GO_TO",
    "SQA_GO_TO_ACTIVITY",
    "SQA_CLOSER",
    "SQA_LEFT_OR_RIGHT",
    "SQA_FRONT_OR_BEHIND",
    "SQA_COLOR_SIDE",
    "SIDE_PHRASES",
    "SCANQA_COLOR",
    "SCANQA_COUNT",
    "SCANQA_WHERE",
    "SCANQA_WHAT_REL",
    "VSI_COUNTING",
    "VSI_ABS_DISTANCE",
    "VSI_OBJECT_SIZE",
    "VSI_ROOM_SIZE",
    "VSI_REL_DISTANCE",
    "VSI_REL_DIRECTION_EASY",
    "VSI_REL_DIRECTION_MEDIUM",
    "VSI_REL_DIRECTION_HARD",
    "VSI_ROUTE_PLAN",
    "VSI_APPEARANCE_ORDER",
]

# A clock direction ("nine o'clock") is only used within this many degrees of the exact direction.
CLOCK_TOL_DEG = 15.0

_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                 "nineteen", "twenty"]

_IRREGULAR_PLURALS = {"shelf": "shelves", "bookshelf": "bookshelves", "person": "people", "mouse": "mice"}


def number_word(n: int) -> str:
    """0..20 as an English word (SQA3D answer style), larger numbers as digits."""
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def pluralize(noun: str) -> str:
    """English plural of a (possibly multi-word) category name: ``"trash can"`` -> ``"trash cans"``."""
    head, _, last = noun.rpartition(" ")
    if last in _IRREGULAR_PLURALS:
        plural = _IRREGULAR_PLURALS[last]
    elif last.endswith(("s", "x", "ch", "sh")):
        plural = last + "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        plural = last[:-1] + "ies"
    else:
        plural = last + "s"
    return f"{head} {plural}" if head else plural


def capitalize_first(text: str) -> str:
    """Upper-case the first character only (keeps "tv" etc. inside the sentence untouched)."""
    return text[:1].upper() + text[1:]


def pick(rng: np.random.Generator, options: list | tuple):
    """One element of ``options`` drawn with ``rng`` (deterministic for a given generator state)."""
    return options[int(rng.integers(len(options)))]


def referring_names(entities) -> dict[int, str]:
    """Names (without article) that pick out exactly one entity: the category when it has one instance, else
    ``"<colour> <category>"`` when that colour is unique within the category; other entities get no name.

    Args:
        entities: objects with ``entity_id``, ``category`` and ``color_name`` attributes.

    Returns:
        {entity_id: name}, e.g. ``{3: "bed", 5: "red chair"}``.
    """
    by_cat: dict[str, list] = {}
    for e in entities:
        by_cat.setdefault(e.category, []).append(e)
    names: dict[int, str] = {}
    for cat, group in by_cat.items():
        if len(group) == 1:
            names[group[0].entity_id] = cat
            continue
        colors = [e.color_name for e in group]
        for e in group:
            if e.color_name and colors.count(e.color_name) == 1:
                names[e.entity_id] = f"{e.color_name} {cat}"
    return names


# --------------------------------------------------------------------------------------------- situations
# Position clauses (main clauses). {A}, {B}: noun phrases with article.
SIT_CLAUSES = (
    "I am sitting on {A}",
    "I am seated on {A}",
    "I sit on {A}",
    "I have just sat down on {A}",
)
SIT_CLAUSES_BY_CATEGORY = {
    "bed": ("I am sitting on the edge of {A}", "I am sitting on {A}", "I sit on the side of {A}"),
    "sofa": ("I am relaxing on {A}", "I am sitting on {A}"),
    "couch": ("I am relaxing on {A}", "I am sitting on {A}"),
    "armchair": ("I am relaxing in {A}", "I am sitting in {A}"),
}
FRONT_CLAUSES = (
    "I am standing in front of {A}",
    "I am standing just in front of {A}",
    "I stand in front of {A}",
)
FRONT_CLAUSES_BY_CATEGORY = {
    "window": ("I am looking out of {A}",),
    "door": ("I am about to open {A}",),
    "sink": ("I am washing my hands at {A}",),
    "cabinet": ("I am opening {A}",),
    "wardrobe": ("I am opening {A}",),
    "dresser": ("I am opening {A}",),
    "refrigerator": ("I am opening {A}",),
    "bookshelf": ("I am picking a book from {A}",),
    "whiteboard": ("I am writing on {A}",),
    "stove": ("I am cooking at {A}",),
    "kitchen counter": ("I am preparing food at {A}",),
    "tv": ("I am standing in front of {A} watching it",),
    "nightstand": ("I am opening {A}",),
}
BETWEEN_CLAUSES = (
    "I am standing between {A} and {B}",
    "I am in between {A} and {B}",
    "I stand between {A} and {B}",
    "I am standing in the space between {A} and {B}",
)

# Orientation facts as "with"-phrases appended to a position clause.
WITH_PHRASES = {
    "facing": ("facing {X}", "looking at {X}", "looking towards {X}", "with {X} in front of me",
               "with {X} ahead of me"),
    "left": ("with {X} on my left", "with {X} to my left", "with {X} on my left side",
             "with {X} at my left hand side"),
    "right": ("with {X} on my right", "with {X} to my right", "with {X} on my right side",
              "with {X} at my right hand side"),
    "behind": ("with {X} behind me", "with {X} at my back", "with my back to {X}"),
}
CLOCK_WITH_PHRASES = {
    "facing": ("with {X} in my twelve o'clock direction",),
    "left": ("with {X} in my nine o'clock direction",),
    "right": ("with {X} in my three o'clock direction",),
    "behind": ("with {X} in my six o'clock direction",),
}
# The same facts as independent clauses.
STATEMENT_CLAUSES = {
    "facing": ("{X} is in front of me", "{X} is straight ahead of me", "I am facing {X}",
               "I am looking at {X}"),
    "left": ("{X} is on my left", "{X} is to my left", "{X} is on my left side",
             "{X} is at my left hand side"),
    "right": ("{X} is on my right", "{X} is to my right", "{X} is on my right side",
              "{X} is at my right hand side"),
    "behind": ("{X} is behind me", "{X} is at my back", "my back is to {X}"),
}
CLOCK_STATEMENT_CLAUSES = {
    "facing": ("{X} is in my twelve o'clock direction",),
    "left": ("{X} is in my nine o'clock direction",),
    "right": ("{X} is in my three o'clock direction",),
    "behind": ("{X} is in my six o'clock direction",),
}
# "About N meters in front of me": the closest point of X's footprint is N metres away (rounded).
DISTANCE_CLAUSES = (
    "about {N} {meters} in front of me there is {X}",
    "{X} is about {N} {meters} in front of me",
    "{X} is roughly {N} {meters} ahead of me",
)

# --------------------------------------------------------------------------------------------- SQA3D
# questions
# Side phrases used by side-dependent questions; "front"/"behind"/"left"/"right" are half-planes there.
SIDE_PHRASES = {
    "left": ("on my left", "to my left", "on my left side", "at my left hand side"),
    "right": ("on my right", "to my right", "on my right side", "at my right hand side"),
    "front": ("in front of me", "ahead of me"),
    "behind": ("behind me", "at my back"),
}
# "What is directly ...": the nearest entity of that half-plane, which also lies in the central 90-degree
# sector.
SQA_WHAT_DIRECT = {
    "front": ("What is directly in front of me?", "What is the closest object in front of me?",
              "What object is straight ahead of me?"),
    "left": ("What is directly to my left?", "What is the closest object on my left?",
             "What object is immediately to my left?", "What is the nearest thing at my left hand side?"),
    "right": ("What is directly to my right?", "What is the closest object on my right?",
              "What object is immediately to my right?", "What is the nearest thing at my right hand side?"),
    "behind": ("What is directly behind me?", "What is the closest object behind me?",
               "What object is directly at my back?"),
}
SQA_COUNT_SIDE = ("How many {cats} are {side}?", "How many {cats} can I find {side}?",
                  "What is the number of {cats} {side}?")
SQA_TURN_TO = ("Which way should I turn to face {X}?", "Which direction should I turn to look at {X}?",
               "If I want to face {X}, which way should I turn?")
SQA_GO_TO = ("Which direction should I go if I want to reach {X}?",
             "Which direction should I walk to get to {X}?",
             "Which way should I go to get to {X}?")
# Activity questions name only the category; used when that category has one instance.
SQA_GO_TO_ACTIVITY = {
    "door": "Which direction should I go if I want to exit the room?",
    "window": "Which direction should I go if I want to open the window?",
    "bed": "Which direction should I go if I want to lie down on the bed?",
    "sink": "Which direction should I go if I want to wash my hands?",
    "tv": "Which direction should I go if I want to turn on the tv?",
    "refrigerator": "Which direction should I go if I want to get a cold drink from the refrigerator?",
    "toilet": "Which direction should I go if I want to use the toilet?",
    "bookshelf": "Which direction should I go if I want to get a book from the bookshelf?",
}
SQA_CLOSER = ("Which is closer to me, {X} or {Y}?", "Is {X} or {Y} nearer to me?",
              "Which one is nearer to me: {X} or {Y}?")
SQA_LEFT_OR_RIGHT = ("Is {X} on my left or right?", "Is {X} to my left or to my right?",
                     "Is {X} on my left side or on my right side?")
SQA_FRONT_OR_BEHIND = ("Is {X} in front of me or behind me?", "Is {X} ahead of me or at my back?")
SQA_COLOR_SIDE = ("What color is the {cat} {side}?", "What is the color of the {cat} {side}?")

# --------------------------------------------------------------------------------------------- ScanQA
SCANQA_COLOR = ("What color is {X}?", "What is the color of {X}?")
SCANQA_COUNT = ("How many {cats} are in the room?", "How many {cats} are there in the room?",
                "How many {cats} are there?")
SCANQA_WHERE = ("Where is {X}?", "Where is {X} located?", "Where is {X} placed?")
SCANQA_WHAT_REL = {
    "next_to": ("What is next to {R}?", "What is beside {R}?"),
    "under_window": ("What is under {R}?", "What is below {R}?"),
    "on_top": ("What is on {R}?", "What is on top of {R}?"),
    "in_front": ("What is in front of {R}?",),
}

# --------------------------------------------------------------------------------------------- VSI-Bench
VSI_COUNTING = "How many {category}(s) are in this room?"
VSI_ABS_DISTANCE = (
    "Measuring from the closest point of each object, what is the direct distance between the {object_1} and "
    "the {object_2} (in meters)?"
)
VSI_OBJECT_SIZE = (
    "What is the length of the longest dimension (length, width, or height) of the {category}, measured in "
    "centimeters?"
)
VSI_ROOM_SIZE = (
    "What is the size of this room (in square meters)? If multiple rooms are shown, estimate the size of the "
    "combined space."
)
VSI_REL_DISTANCE = (
    "Measuring from the closest point of each object, which of these objects ({choice_a}, {choice_b}, "
    "{choice_c}, {choice_d}) is the closest to the {category}?"
)
_VSI_STANDING = "If I am standing by the {positioning} and facing the {orienting}, is the {querying} "
VSI_REL_DIRECTION_EASY = _VSI_STANDING + "to the left or the right of the {orienting}?"
VSI_REL_DIRECTION_MEDIUM = _VSI_STANDING + (
    "to my left, right, or back? An object is to my back if I would have to turn at least 135 degrees in "
    "order to face it."
)
VSI_REL_DIRECTION_HARD = _VSI_STANDING + (
    "to my front-left, front-right, back-left, or back-right? The directions refer to the quadrants of a "
    "Cartesian plane (if I am standing at the origin and facing along the positive y-axis)."
)
VSI_ROUTE_PLAN = (
    "You are a robot beginning at the {start} facing the {facing}. You want to navigate to the {end}. You "
    "will perform the following actions (Note: for each [please fill in], choose either 'turn back,' "
    "'turn left,' or 'turn right.'): {actions} You have reached the final destination."
)
VSI_APPEARANCE_ORDER = (
    "What will be the first-time appearance order of the following categories in the video: {choice_a}, "
    "{choice_b}, {choice_c}, {choice_d}?"
)
