r"""``clean_answer``: the answer normalisation shared by the situated-QA evaluations.

The same function (same rules, same order) is used by the SQA3D LLM evaluation (``LLM/eval_sqa3d_llm.py``),
LEO (``data/data_utils.py``), Video-3D-LLM (``llava/eval/eval_sqa3d.py``) and MSR3D; ``data_formats.md`` §2.4
lists the rules. This is a re-implementation of that behaviour, rule by rule and **in the reference order**,
because the order changes the result:

1. lower-case; strip leading/trailing *spaces* (only ``" "``, not tabs or newlines); collapse space runs;
2. ``". "`` followed by more spaces -> ``". "`` (a no-op after step 1, kept for fidelity);
3. delete every character outside ``[a-zA-Z0-9,'\s\-:]`` (so ``.``, ``?``, ``"``, accents ... vanish, and
   ``"1.5"`` becomes ``"15"``);
4. ``ç -> c`` and ``’ -> '`` (no-ops: step 3 already deleted both characters, so ``"façade" -> "faade"``);
5. typo fixes on whole words: ``letf``/``let`` -> ``left``, ``tehre`` -> ``there``, ``rigth``/``rght`` ->
   ``right``, ``behine`` -> ``behind``, ``tv`` -> ``TV`` (upper case again, after step 1), ``chai`` ->
   ``chair``, ``wasing`` -> ``washing``, ``waslked`` -> ``walked``, ``oclock`` / ``o' clock`` -> ``o'clock``;
6. numbers to words on whole words: ``0``/``none`` -> ``zero``, ``1`` ... ``20`` -> ``one`` ... ``twenty``,
   ``23`` -> ``twenty-three`` (other numbers stay digits; ``:`` is a word boundary, so ``2:30 -> two:30``);
7. drop one trailing digit glued to a word (``mat2`` -> ``mat``; ``mat23`` is unchanged);
8. drop the articles ``a``/``an``/``the`` when followed by a space and a word (``"a TV" -> "TV"``,
   ``"a 3" -> "three"``);
9. ``backwards`` -> ``backward``.

Deleting characters in step 3 happens after the space clean-up, so it can leave a trailing or double space
(``"chair ."`` -> ``"chair "``); the reference keeps it, and so does this function.
"""

from __future__ import annotations

import re

__all__ = ["clean_answer", "NUMBER_WORDS"]

#: Whole-word number replacements of step 6, applied in this order.
NUMBER_WORDS: tuple[tuple[str, str], ...] = (
    ("0", "zero"),
    ("none", "zero"),
    ("1", "one"),
    ("2", "two"),
    ("3", "three"),
    ("4", "four"),
    ("5", "five"),
    ("6", "six"),
    ("7", "seven"),
    ("8", "eight"),
    ("9", "nine"),
    ("10", "ten"),
    ("11", "eleven"),
    ("12", "twelve"),
    ("13", "thirteen"),
    ("14", "fourteen"),
    ("15", "fifteen"),
    ("16", "sixteen"),
    ("17", "seventeen"),
    ("18", "eighteen"),
    ("19", "nineteen"),
    ("20", "twenty"),
    ("23", "twenty-three"),
)

# (pattern, replacement) in the reference order; compiled once on first use.
_RULES_SRC: tuple[tuple[str, str], ...] = (
    (r"[ ]+$", ""),
    (r"^[ ]+", ""),
    (r" {2,}", " "),
    (r"\.[ ]{2,}", ". "),
    (r"[^a-zA-Z0-9,'\s\-:]+", ""),
    (r"ç", "c"),
    (r"’", "'"),
    (r"\bletf\b", "left"),
    (r"\blet\b", "left"),
    (r"\btehre\b", "there"),
    (r"\brigth\b", "right"),
    (r"\brght\b", "right"),
    (r"\bbehine\b", "behind"),
    (r"\btv\b", "TV"),
    (r"\bchai\b", "chair"),
    (r"\bwasing\b", "washing"),
    (r"\bwaslked\b", "walked"),
    (r"\boclock\b", "o'clock"),
    (r"\bo'[ ]+clock\b", "o'clock"),
    *((rf"\b{word}\b", repl) for word, repl in NUMBER_WORDS),
    (r"\b([a-zA-Z]+)([0-9])\b", r"\g<1>"),
    (r"\ba\b ([a-zA-Z]+)", r"\g<1>"),
    (r"\ban\b ([a-zA-Z]+)", r"\g<1>"),
    (r"\bthe\b ([a-zA-Z]+)", r"\g<1>"),
    (r"\bbackwards\b", "backward"),
)
_RULES: list[tuple[re.Pattern[str], str]] = []


def clean_answer(answer: str) -> str:
    """Normalise an answer exactly as the SQA3D / LEO / MSR3D evaluations do (see the module docstring).

    Args:
        answer: a predicted or ground-truth answer.

    Returns:
        The cleaned answer (lower case except ``TV``; may keep a trailing space, as the reference does).

    Raises:
        TypeError: ``answer`` is not a string.
    """
    if not isinstance(answer, str):
        raise TypeError(f"clean_answer expects a string, got {type(answer).__name__}")
    if not _RULES:
        _RULES.extend((re.compile(p), r) for p, r in _RULES_SRC)
    out = answer.lower()
    for pattern, repl in _RULES:
        out = pattern.sub(repl, out)
    return out
