"""VSI-Bench scoring: answer extraction, multiple-choice accuracy, Mean Relative Accuracy (MRA), aggregation.

Re-implements the behaviour of the official code (``thinking-in-space/lmms_eval/tasks/vsibench/utils.py``;
``data_formats.md`` §4):

* ``fuzzy_matching(pred) = pred.split(' ')[0].rstrip('.').strip()`` (first space-separated token);
* multiple choice (MCA): ``1.0 if fuzzy.lower() == ground_truth.lower() else 0.0``;
* numerical (NA): ``MRA = mean over C of [ |y_hat - y| / y <= 1 - theta ]`` with
  ``C = np.linspace(0.5, 0.95, int((0.95 - 0.5) / 0.05 + 2))`` (10 thresholds). The thresholds and the ``<=``
  are computed in floating point exactly like that, because rounding decides boundary cases:
  ``y = 10``: ``y_hat = 11 -> 0.9``, ``12 -> 0.6`` (not 0.7), ``15 -> 0.1``, ``5 -> 0.1``, ``4.9 -> 0``.
  A prediction that ``float()`` cannot parse scores 0;
* aggregation: mean per question type; the three ``object_rel_direction_{easy,medium,hard}`` accuracies are
  averaged into one ``object_rel_direction`` score; ``overall`` = unweighted mean of the resulting task
  scores. Reported in percent.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np

from loc3r.data.sources.vsibench import VSIBENCH_MCA_TYPES, VSIBENCH_NA_TYPES

__all__ = [
    "MRA_START",
    "MRA_END",
    "MRA_INTERVAL",
    "REL_DIRECTION_SUBTASKS",
    "REL_DIRECTION_TASK",
    "VSIBENCH_TASK_ORDER",
    "fuzzy_matching",
    "to_float",
    "mca_accuracy",
    "mra_thresholds",
    "mean_relative_accuracy",
    "vsibench_sample_score",
    "aggregate_vsibench",
]

MRA_START, MRA_END, MRA_INTERVAL = 0.5, 0.95, 0.05
REL_DIRECTION_SUBTASKS = (
    "object_rel_direction_easy",
    "object_rel_direction_medium",
    "object_rel_direction_hard",
)
REL_DIRECTION_TASK = "object_rel_direction"
#: The 8 task scores of the ``overall`` average, in the order of the VSI-Bench paper's table.
VSIBENCH_TASK_ORDER = (
    "object_counting",
    "object_abs_distance",
    "object_size_estimation",
    "room_size_estimation",
    "object_rel_distance",
    REL_DIRECTION_TASK,
    "route_planning",
    "obj_appearance_order",
)


def fuzzy_matching(pred: str) -> str:
    """The official answer extraction: first space-separated token, trailing dots removed, then stripped."""
    return pred.split(" ")[0].rstrip(".").strip()


def to_float(text: str) -> float | None:
    """``float(text)``, or None when it does not parse (the official ``to_float``)."""
    try:
        return float(text)
    except (TypeError, ValueError, OverflowError):
        return None


def mca_accuracy(pred: str, ground_truth: str) -> float:
    """Multiple-choice score: 1.0 if ``fuzzy_matching(pred)`` is the ground-truth letter (any case)."""
    return 1.0 if fuzzy_matching(pred).lower() == ground_truth.lower() else 0.0


def mra_thresholds(
    start: float = MRA_START, end: float = MRA_END, interval: float = MRA_INTERVAL
) -> np.ndarray:
    """The confidence thresholds C of MRA, computed exactly as the official code: [10] for the defaults."""
    return np.linspace(start, end, int((end - start) / interval + 2))


def mean_relative_accuracy(pred: float, target: float) -> float:
    """MRA of one prediction: share of thresholds theta in C with ``|pred - target| / target <= 1 - theta``.

    Args:
        pred: predicted value (NaN or infinite scores 0).
        target: ground-truth value (non-zero).

    Returns:
        MRA in [0, 1] (a multiple of 0.1).

    Raises:
        ValueError: ``target`` is zero or not finite (relative error undefined).
    """
    if target == 0 or not math.isfinite(target):
        raise ValueError(f"MRA needs a finite non-zero ground truth, got {target!r}")
    rel = abs(pred - target) / target
    return float(np.mean(rel <= 1 - mra_thresholds()))


def vsibench_sample_score(question_type: str, pred: str, ground_truth: str) -> float:
    """Score one VSI-Bench answer in [0, 1]: MCA accuracy or MRA depending on ``question_type``.

    Args:
        question_type: one of ``VSIBENCH_MCA_TYPES + VSIBENCH_NA_TYPES``.
        pred: the model's generated text (``fuzzy_matching`` is applied here).
        ground_truth: option letter (MCA) or number as text (NA).

    Raises:
        ValueError: unknown question type, or a numerical ground truth that is not a finite non-zero number.
    """
    if question_type in VSIBENCH_MCA_TYPES:
        return mca_accuracy(pred, ground_truth)
    if question_type in VSIBENCH_NA_TYPES:
        target = to_float(ground_truth)
        if target is None:
            raise ValueError(f"numerical ground truth {ground_truth!r} is not a number")
        value = to_float(fuzzy_matching(pred))
        return 0.0 if value is None else mean_relative_accuracy(value, target)
    raise ValueError(f"unknown VSI-Bench question type {question_type!r}")


def aggregate_vsibench(scores: Iterable[tuple[str, float]]) -> dict[str, object]:
    """Per-task means and the macro ``overall``, in percent.

    Args:
        scores: ``(question_type, score in [0, 1])`` per sample.

    Returns:
        ``{"tasks": {task: pct}, "subtasks": {rel_direction_subtask: pct}, "overall": pct, "counts": {type:
        n}, "missing_tasks": [...]}``. ``tasks`` has the present tasks of ``VSIBENCH_TASK_ORDER`` (the
        relative direction score is the mean of the sub-task accuracies present); ``overall`` is the
        unweighted mean of ``tasks`` (None when there is none). ``missing_tasks`` lists tasks / sub-tasks
        without any sample (the official code would fail on a missing relative-direction sub-task; here it is
        reported instead).
    """
    by_type: dict[str, list[float]] = {}
    for qtype, s in scores:
        by_type.setdefault(qtype, []).append(float(s))
    means: Mapping[str, float] = {t: float(np.mean(v)) for t, v in by_type.items()}
    tasks: dict[str, float] = {}
    subtasks = {t: 100.0 * means[t] for t in REL_DIRECTION_SUBTASKS if t in means}
    missing: list[str] = [t for t in REL_DIRECTION_SUBTASKS if t not in means]
    for task in VSIBENCH_TASK_ORDER:
        if task == REL_DIRECTION_TASK:
            if subtasks:
                tasks[task] = float(np.mean(list(subtasks.values())))
            else:
                missing.append(task)
        elif task in means:
            tasks[task] = 100.0 * means[task]
        else:
            missing.append(task)
    overall = float(np.mean(list(tasks.values()))) if tasks else None
    return {
        "tasks": tasks,
        "subtasks": subtasks,
        "overall": overall,
        "counts": {t: len(v) for t, v in sorted(by_type.items())},
        "missing_tasks": missing,
    }
