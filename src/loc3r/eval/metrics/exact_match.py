"""Exact match (EM) and refined exact match (EM-R) for short-answer 3D QA, and the question-type buckets.

Definitions (``data_formats.md`` §2.4 and §3):

* ``answer_match`` (LEO ``evaluator/scanqa_eval.py``; used for SQA3D, ScanQA, MSQA and Beacon3D): after
  ``clean_answer`` on the prediction and on every ground truth, walk the ground truths in order; the **first**
  one that matches decides: ``pred == gt`` -> EM = EM-R = 1; else the space-free prediction is a substring of
  the space-free ground truth, or the other way round -> EM = 0, EM-R = 1. No ground truth matches -> 0, 0.
  Because the first match decides, a refined match on an earlier ground truth hides an exact match on a later
  one (``pred="brown"``, ``gts=["dark brown", "brown"]`` gives EM = 0, EM-R = 1), exactly as the reference.
* ``scanqa_official_em`` (ScanQA ``scripts/score.py`` ``Top1 (EM)``): ``pred in gts`` on raw strings.
* SQA3D question types (LEO / Video-3D-LLM): ``what | is | how | can | which | others`` by prefix of the
  left-stripped, lower-cased question (``loc3r.data.sources.sqa3d.sqa3d_question_type``); ScanQA types: the
  official ``Place | Number | Color | Object nature | Object | Other`` (``scanqa_question_type``).
"""

from __future__ import annotations

from typing import Sequence

from loc3r.data.sources.scanqa import SCANQA_QUESTION_TYPES, scanqa_question_type
from loc3r.data.sources.sqa3d import SQA3D_QUESTION_TYPES, sqa3d_question_type
from loc3r.eval.metrics.answer_norm import clean_answer

__all__ = [
    "answer_match",
    "answer_match_raw",
    "scanqa_official_em",
    "is_binary_question",
    "SQA3D_QUESTION_TYPES",
    "sqa3d_question_type",
    "SCANQA_QUESTION_TYPES",
    "scanqa_question_type",
]


def answer_match_raw(pred: str, gts: Sequence[str]) -> tuple[int, int]:
    """``(EM, EM-R)`` of already-cleaned strings (no normalisation here; see ``answer_match``)."""
    pred_ns = "".join(pred.split())
    for gt in gts:
        if pred == gt:
            return 1, 1
        gt_ns = "".join(gt.split())
        if pred_ns in gt_ns or gt_ns in pred_ns:
            return 0, 1
    return 0, 0


def answer_match(pred: str, gts: Sequence[str]) -> tuple[int, int]:
    """LEO ``answer_match``: ``(EM, EM-R)`` after ``clean_answer`` on the prediction and every ground truth.

    Args:
        pred: the predicted answer text.
        gts: the acceptable answers (non-empty).

    Returns:
        ``(em, em_r)``, each 0 or 1; ``em <= em_r``.

    Raises:
        ValueError: ``gts`` is empty (the sample cannot be scored).
    """
    if isinstance(gts, str):
        raise TypeError("gts must be a sequence of answers, not a single string")
    if len(gts) == 0:
        raise ValueError("no ground-truth answer to match against")
    return answer_match_raw(clean_answer(pred), [clean_answer(g) for g in gts])


def scanqa_official_em(pred: str, gts: Sequence[str]) -> int:
    """ScanQA's official ``Top1 (EM)``: 1 if the raw prediction equals one of the raw answers, else 0."""
    if isinstance(gts, str):
        raise TypeError("gts must be a sequence of answers, not a single string")
    return int(pred in list(gts))


def is_binary_question(gts: Sequence[str]) -> bool:
    """Whether a question is a yes/no question: one of its cleaned ground-truth answers is ``yes`` or ``no``.

    Used by the Beacon3D rule "EM, or (binary question and EM-R) -> full score" (``data_formats.md`` §5). The
    Beacon3D code's own test for "binary" was not available; this answer-based test is a [G] choice.
    """
    return any(clean_answer(g).strip() in ("yes", "no") for g in gts)
