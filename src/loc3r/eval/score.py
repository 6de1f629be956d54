"""Score a predictions file against benchmark annotations: ``loc3r score preds.jsonl --benchmark B``.

Scoring is a pure function of the predictions JSONL (``loc3r.eval.predictions``) and the annotations (unified
records JSONL from ``loc3r data convert``, or the records embedded in the predictions), so metric changes
never need the model again. Each benchmark is a small ``Task``: ``examples(records)`` picks the annotation
records it scores, ``score(record, prediction)`` scores one sample, ``aggregate(samples)`` gives the headline
metrics and the per-type breakdown. All accuracies / scores are percentages; errors are in metres and degrees.

Benchmarks (metric definitions: ``data_formats.md`` §2.3-§5; ``loc3r.eval.metrics``):

* ``sqa3d-loc``: Acc@0.5m / Acc@1.0m / Acc@15deg / Acc@30deg (xy distance, yaw difference, strict ``<``,
  up to 3 guesses) and median errors, on SQA3D records with a pose (only the localization-file records when
  there are any).
* ``sqa3d``: EM@1 and EM-R (``clean_answer`` + LEO ``answer_match``), by question type (what / is / how /
  can / which / others).
* ``scanqa``: EM@1 / EM-R as above, the official raw-string ``EM@1_official``, BLEU-1..4, METEOR, ROUGE-L
  and CIDEr (pycocoevalcap over the whole set), by the official question types.
* ``vsibench``: per-task MRA / multiple-choice accuracy, relative direction averaged over its 3 sub-tasks,
  and the macro ``overall``.
* ``msqa``: EM@1 / EM-R by type, and the judge's ``GPT-score`` ((mean - 1) / 4 * 100) when a judge is given.
* ``beacon3d``: per question 5 if EM or (yes/no question and EM-R), else the judge's 1-5 (1 without a
  judge); ``Overall (Case)`` = (mean - 1) / 4 * 100; ``Overall (Obj.)`` = share of objects whose questions
  all score >= 4; by tag.
* ``synthetic``: records of any source: localization metrics on records with a pose and EM@1 / EM-R on
  records with answers.

Design choices:

* Prediction and annotation ids must match exactly; a mismatch is an error that lists the counts (missing /
  extra) and examples. ``allow_missing=True`` scores only the predicted samples (and reports the rest).
* A sample without answer text (``answer`` and ``raw_output`` null) or pose is scored as wrong (never
  silently dropped) and counted. Note that an *empty* answer string gets EM-R = 1 under ``answer_match``
  (the empty string is a substring of every answer), as in the reference; a null answer does not.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from loc3r.data.schema import Record
from loc3r.eval.metrics.exact_match import (
    SCANQA_QUESTION_TYPES,
    SQA3D_QUESTION_TYPES,
    answer_match,
    is_binary_question,
    scanqa_official_em,
    scanqa_question_type,
    sqa3d_question_type,
)
from loc3r.eval.metrics.llm_judge import LLMJudge, judge_case_score
from loc3r.eval.metrics.localization import bev_to_dataset, localization_accuracy, min_errors, rotvec_yaw
from loc3r.eval.metrics.vsibench import aggregate_vsibench, vsibench_sample_score
from loc3r.eval.predictions import Prediction, PredictionsHeader, read_predictions
from loc3r.geometry.frames import heading_to_sqa3d_yaw
from loc3r.utils.io import DataError, atomic_write_text

__all__ = [
    "BENCHMARKS",
    "ScoreOptions",
    "Task",
    "TASKS",
    "get_task",
    "load_annotations",
    "match_ids",
    "score",
    "score_predictions",
    "format_score_table",
]

BENCHMARKS = ("sqa3d-loc", "sqa3d", "scanqa", "vsibench", "msqa", "beacon3d", "synthetic")
Sample = dict[str, Any]
Metrics = dict[str, Any]
Breakdown = dict[str, dict[str, dict[str, Any]]]


@dataclass
class ScoreOptions:
    """Metric variants, named explicitly.

    Attributes:
        strict: localization thresholds use ``<`` (SQA3D, default) instead of ``<=`` (View2Cap / SIG3D).
        caption_metrics: compute ScanQA's BLEU / METEOR / ROUGE-L / CIDEr.
        caption_tokenizer: ``"ptb"`` (official ScanQA, Java) or ``"clean"`` (LEO: ``clean_answer``, no PTB).
        meteor: compute METEOR (Java).
        judge: LLM judge for MSQA / Beacon3D, or None (off, the default).
        allow_missing: score only the annotated samples that have a prediction instead of failing.
    """

    strict: bool = True
    caption_metrics: bool = True
    caption_tokenizer: str = "ptb"
    meteor: bool = True
    judge: LLMJudge | None = None
    allow_missing: bool = False


def _pct(values: Sequence[float]) -> float | None:
    return 100.0 * float(np.mean(values)) if len(values) else None


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


# --------------------------------------------------------------------------------------------- tasks
class Task:
    """A benchmark: which records it scores, how one sample is scored, and how scores are aggregated.

    Attributes:
        name: benchmark name (``BENCHMARKS``).
        sources: the ``Record.source`` values it reads.
    """

    name: str = ""
    sources: tuple[str, ...] = ()

    def __init__(self, options: ScoreOptions | None = None) -> None:
        self.options = options or ScoreOptions()

    def examples(self, records: Sequence[Record]) -> list[Record]:
        """The annotation records this benchmark scores (default: those of its sources)."""
        return [r for r in records if r.source in self.sources]

    def score(self, record: Record, prediction: Prediction) -> Sample:
        """Per-sample scores (JSON-ready)."""
        raise NotImplementedError

    def aggregate(self, samples: Sequence[Sample]) -> tuple[Metrics, Breakdown]:
        """``(headline metrics, breakdowns)`` from the per-sample scores."""
        raise NotImplementedError


def _answer_text(prediction: Prediction) -> tuple[str, bool]:
    """(text to score, whether it was missing)."""
    text = prediction.text
    return ("", True) if text is None else (text, False)


def _require_answers(record: Record) -> list[str]:
    if not record.answers:
        raise DataError(f"annotation {record.id!r} ({record.source}) has no ground-truth answer to score")
    return list(record.answers)


def _qa_sample(record: Record, prediction: Prediction, qtype: str) -> Sample:
    text, missing = _answer_text(prediction)
    em, em_r = answer_match(text, _require_answers(record))
    if missing:  # a null answer is wrong; an empty *generated* answer keeps the reference's EM-R quirk
        em, em_r = 0, 0
    return {"id": record.id, "type": qtype, "em": em, "em_r": em_r, "missing": missing}


def _by_group(samples: Sequence[Sample], key: str, columns: dict[str, str],
              order: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """``{group: {"n": n, column: pct}}`` of per-sample [0, 1] fields; ``order`` first, then sorted."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(str(s[key]), []).append(s)
    names = [g for g in order if g in groups] + sorted(g for g in groups if g not in order)
    return {g: {"n": len(groups[g]), **{col: _pct([s[f] for s in groups[g]]) for col, f in columns.items()}}
            for g in names}


def _qa_metrics(samples: Sequence[Sample]) -> Metrics:
    return {"EM@1": _pct([s["em"] for s in samples]), "EM-R": _pct([s["em_r"] for s in samples]),
            "missing_answers": sum(bool(s["missing"]) for s in samples)}


class SQA3DTask(Task):
    """SQA3D situated QA: EM@1 / EM-R after ``clean_answer``, by question type."""

    name, sources = "sqa3d", ("sqa3d",)

    def examples(self, records: Sequence[Record]) -> list[Record]:  # noqa: D102
        return [r for r in super().examples(records) if r.task != "localization"]

    def score(self, record: Record, prediction: Prediction) -> Sample:  # noqa: D102
        return _qa_sample(record, prediction, sqa3d_question_type(record.question))

    def aggregate(self, samples: Sequence[Sample]) -> tuple[Metrics, Breakdown]:  # noqa: D102
        return _qa_metrics(samples), {"by_type": _by_group(samples, "type", {"EM@1": "em", "EM-R": "em_r"},
                                                           SQA3D_QUESTION_TYPES)}


class ScanQATask(Task):
    """ScanQA: EM@1 / EM-R (clean), official raw EM, and the captioning metrics over the whole set."""

    name, sources = "scanqa", ("scanqa",)

    def score(self, record: Record, prediction: Prediction) -> Sample:  # noqa: D102
        s = _qa_sample(record, prediction, scanqa_question_type(record.question))
        text, _ = _answer_text(prediction)
        s["em_official"] = scanqa_official_em(text, record.answers)
        s["answers"], s["prediction"] = list(record.answers), text
        return s

    def aggregate(self, samples: Sequence[Sample]) -> tuple[Metrics, Breakdown]:  # noqa: D102
        metrics = _qa_metrics(samples)
        metrics["EM@1_official"] = _pct([s["em_official"] for s in samples])
        if self.options.caption_metrics and samples:
            from loc3r.eval.metrics.captioning import caption_scores

            refs = {s["id"]: s["answers"] for s in samples}
            preds = {s["id"]: s["prediction"] for s in samples}
            metrics.update(caption_scores(refs, preds, tokenizer=self.options.caption_tokenizer,
                                          meteor=self.options.meteor))
        cols = {"EM@1": "em", "EM-R": "em_r", "EM@1_official": "em_official"}
        return metrics, {"by_type": _by_group(samples, "type", cols, SCANQA_QUESTION_TYPES)}


class VSIBenchTask(Task):
    """VSI-Bench: MRA (numerical) / accuracy (multiple choice) per task, and the macro ``overall``."""

    name, sources = "vsibench", ("vsibench",)

    def score(self, record: Record, prediction: Prediction) -> Sample:  # noqa: D102
        text, missing = _answer_text(prediction)
        try:
            value = vsibench_sample_score(record.task, text, _require_answers(record)[0])
        except ValueError as e:
            raise DataError(f"annotation {record.id!r}: {e}") from e
        return {"id": record.id, "type": record.task, "score": value, "missing": missing}

    def aggregate(self, samples: Sequence[Sample]) -> tuple[Metrics, Breakdown]:  # noqa: D102
        agg = aggregate_vsibench((s["type"], s["score"]) for s in samples)
        metrics: Metrics = {"overall": agg["overall"], **agg["tasks"],
                            "missing_answers": sum(bool(s["missing"]) for s in samples)}
        if agg["missing_tasks"]:
            metrics["missing_tasks"] = agg["missing_tasks"]
        by_type = _by_group(samples, "type", {"score": "score"})
        return metrics, {"by_question_type": by_type}


class MSQATask(Task):
    """MSQA: EM@1 / EM-R by type, plus the judge's GPT-score when a judge is configured."""

    name, sources = "msqa", ("msqa",)

    def score(self, record: Record, prediction: Prediction) -> Sample:  # noqa: D102
        s = _qa_sample(record, prediction, record.task)
        judge = self.options.judge
        if judge is not None and s["missing"]:
            s["judge"] = 1
        elif judge is not None:
            r = judge.judge(record.question, record.answers, prediction.text or "",
                            situation=record.situation)
            s["judge"] = 1 if r.score is None else r.score
        return s

    def aggregate(self, samples: Sequence[Sample]) -> tuple[Metrics, Breakdown]:  # noqa: D102
        metrics = _qa_metrics(samples)
        by_type = _by_group(samples, "type", {"EM@1": "em", "EM-R": "em_r"})
        if self.options.judge is not None:
            metrics["GPT-score"] = judge_case_score([s["judge"] for s in samples])
            for g, row in by_type.items():
                row["GPT-score"] = judge_case_score([s["judge"] for s in samples if s["type"] == g])
            metrics["judge"] = self.options.judge.stats()
        return metrics, {"by_type": by_type}


class Beacon3DTask(Task):
    """Beacon3D: 1-5 case scores (EM / binary EM-R -> 5, else judge or 1), case and object metrics, by tag."""

    name, sources = "beacon3d", ("beacon3d",)

    def score(self, record: Record, prediction: Prediction) -> Sample:  # noqa: D102
        from loc3r.data.sources.beacon3d import parse_beacon3d_question_id

        s = _qa_sample(record, prediction, record.task)
        qid = parse_beacon3d_question_id(record.id, record.scene_id, where=f"annotation {record.id!r}")
        s["object"] = f"{qid.scene_id}_{qid.object_id}"
        s["binary"] = is_binary_question(record.answers)
        if s["em"] or (s["binary"] and s["em_r"]):
            s["score"] = 5
        elif self.options.judge is not None and not s["missing"]:
            r = self.options.judge.judge(record.question, record.answers, prediction.text or "")
            s["score"] = 1 if r.score is None else r.score
        else:
            s["score"] = 1
        return s

    def aggregate(self, samples: Sequence[Sample]) -> tuple[Metrics, Breakdown]:  # noqa: D102
        objects: dict[str, list[int]] = {}
        for s in samples:
            objects.setdefault(s["object"], []).append(s["score"])
        metrics: Metrics = {
            "Overall (Case)": judge_case_score([s["score"] for s in samples]),
            "Overall (Obj.)": _pct([all(v >= 4 for v in scores) for scores in objects.values()]),
            **_qa_metrics(samples),
            "objects": len(objects),
            "judge": "off (answers that are not an exact match score 1)" if self.options.judge is None
            else self.options.judge.stats(),
        }
        by_tag = _by_group(samples, "type", {"EM@1": "em", "EM-R": "em_r"})
        for g, row in by_tag.items():
            row["Case"] = judge_case_score([s["score"] for s in samples if s["type"] == g])
        return metrics, {"by_tag": by_tag}


# --------------------------------------------------------------------------------------------- localization
def _gt_yaw(record: Record) -> float:
    """Ground-truth yaw in the record frame's convention (SQA3D: rotation-vector z of the quaternion)."""
    pose = record.pose
    assert pose is not None
    if pose.frame == "sqa3d":
        q = record.extra.get("rotation_xyzw")
        return float(rotvec_yaw(np.asarray(q, dtype=np.float64))) if q is not None else pose.yaw
    return pose.heading


def _pred_guesses(record: Record, prediction: Prediction) -> tuple[np.ndarray, np.ndarray]:
    """Guessed positions [K, 2] and yaws [K] in the ground truth's frame and yaw convention (K = 0: none)."""
    frame = record.pose.frame  # type: ignore[union-attr]
    where = f"prediction {prediction.id!r}"
    if prediction.pose_dataset:
        got = prediction.pose_dataset[0].frame
        if got != frame:
            raise DataError(f"{where}: pose_dataset is in the {got!r} frame, the ground truth in {frame!r}")
        xy = np.array([[p.x, p.y] for p in prediction.pose_dataset])
        heading = np.array([p.heading for p in prediction.pose_dataset])
    elif prediction.pose_bev:
        xy_bev = np.array([[p.x, p.y] for p in prediction.pose_bev])
        head_bev = np.array([p.heading for p in prediction.pose_bev])
        anchor = prediction.bev_anchor
        if anchor is None and frame != "bev":
            raise DataError(f"{where}: pose_bev needs a 'bev_anchor' to be mapped to the {frame!r} frame")
        try:
            xy, heading = (xy_bev, head_bev) if frame == "bev" else bev_to_dataset(
                xy_bev, head_bev, anchor.first_frame_pose, frame, world_frame=anchor.world_frame,
                axis_alignment=anchor.axis_alignment, scene_center_raw=anchor.scene_center_raw)
        except ValueError as e:
            raise DataError(f"{where}: cannot map pose_bev to the {frame!r} frame: {e}") from e
    else:
        return np.zeros((0, 2)), np.zeros(0)
    yaw = heading_to_sqa3d_yaw(heading) if frame == "sqa3d" else heading
    return xy, np.asarray(yaw, dtype=np.float64).reshape(-1)


def _loc_sample(record: Record, prediction: Prediction) -> Sample:
    xy, yaw = _pred_guesses(record, prediction)
    pose = record.pose
    assert pose is not None
    try:
        pos, rot = min_errors([xy], [yaw], np.array([[pose.x, pose.y]]), np.array([_gt_yaw(record)]))
    except ValueError as e:
        raise DataError(f"prediction {prediction.id!r}: {e}") from e
    return {"id": record.id, "type": record.task, "pos_err_m": float(pos[0]), "rot_err_deg": float(rot[0]),
            "guesses": len(xy)}


def _loc_metrics(samples: Sequence[Sample], strict: bool) -> Metrics:
    pos = np.array([s["pos_err_m"] for s in samples], dtype=np.float64)
    rot = np.array([s["rot_err_deg"] for s in samples], dtype=np.float64)
    metrics: Metrics = dict(localization_accuracy(pos, rot, strict=strict))
    metrics["missing_poses"] = int(sum(s["guesses"] == 0 for s in samples))
    metrics["threshold_comparison"] = "<" if strict else "<="
    return metrics


def _json_loc(samples: Iterable[Sample]) -> None:
    for s in samples:  # JSON has no infinity: no prediction -> null
        s["pos_err_m"], s["rot_err_deg"] = _finite_or_none(s["pos_err_m"]), _finite_or_none(s["rot_err_deg"])


class SQA3DLocalizationTask(Task):
    """SQA3D localization: Acc@0.5m / 1.0m / 15deg / 30deg and median errors."""

    name, sources = "sqa3d-loc", ("sqa3d",)

    def examples(self, records: Sequence[Record]) -> list[Record]:  # noqa: D102
        posed = [r for r in super().examples(records) if r.pose is not None]
        loc = [r for r in posed if r.task == "localization"]
        return loc or posed

    def score(self, record: Record, prediction: Prediction) -> Sample:  # noqa: D102
        return _loc_sample(record, prediction)

    def aggregate(self, samples: Sequence[Sample]) -> tuple[Metrics, Breakdown]:  # noqa: D102
        metrics = _loc_metrics(samples, self.options.strict)
        _json_loc(samples)
        return metrics, {}


class SyntheticTask(Task):
    """Combined check for synthetic scenes: localization on posed records, EM@1 / EM-R on answered records.

    Accepts records of any source (the synthetic generator writes SQA3D / ScanQA / VSI-Bench files, read by
    the ordinary readers), so one predictions file with poses and answers is scored in one go; breakdown by
    ``source/task``. For the benchmarks' own metrics on synthetic data use their names (``sqa3d``, ...).
    """

    name, sources = "synthetic", ()

    def examples(self, records: Sequence[Record]) -> list[Record]:  # noqa: D102
        return list(records)

    def score(self, record: Record, prediction: Prediction) -> Sample:  # noqa: D102
        s: Sample = {"id": record.id, "type": f"{record.source}/{record.task}"}
        if record.pose is not None:
            s.update({k: v for k, v in _loc_sample(record, prediction).items() if k != "type"})
        if record.answers:
            s.update({k: v for k, v in _qa_sample(record, prediction, "").items() if k != "type"})
        return s

    def aggregate(self, samples: Sequence[Sample]) -> tuple[Metrics, Breakdown]:  # noqa: D102
        loc = [s for s in samples if "pos_err_m" in s]
        qa = [s for s in samples if "em" in s]
        metrics: Metrics = {"localized_samples": len(loc), "qa_samples": len(qa)}
        if loc:
            metrics.update(_loc_metrics(loc, self.options.strict))
            _json_loc(loc)
        breakdown: Breakdown = {}
        if qa:
            metrics.update(_qa_metrics(qa))
            breakdown["by_type"] = _by_group(qa, "type", {"EM@1": "em", "EM-R": "em_r"})
        return metrics, breakdown


TASKS: dict[str, type[Task]] = {
    "sqa3d-loc": SQA3DLocalizationTask,
    "sqa3d": SQA3DTask,
    "scanqa": ScanQATask,
    "vsibench": VSIBenchTask,
    "msqa": MSQATask,
    "beacon3d": Beacon3DTask,
    "synthetic": SyntheticTask,
}


def get_task(benchmark: str, options: ScoreOptions | None = None) -> Task:
    """The ``Task`` of a benchmark.

    Raises:
        ValueError: unknown benchmark.
    """
    if benchmark not in TASKS:
        raise ValueError(f"unknown benchmark {benchmark!r} (known: {', '.join(BENCHMARKS)})")
    return TASKS[benchmark](options)


# --------------------------------------------------------------------------------------------- driver
PathLike = str | os.PathLike


def load_annotations(annotations: PathLike | Sequence[PathLike] | None, predictions: Sequence[Prediction],
                     preds_path: PathLike) -> tuple[list[Record], list[str]]:
    """Ground-truth records from records-JSONL files, or (when None) from the predictions' embedded records.

    Returns:
        ``(records, sources)`` where ``sources`` names where they came from.

    Raises:
        DataError: an invalid records file, a duplicate id across files, or predictions without embedded
            records.
    """
    if annotations is None:
        lacking = [p.id for p in predictions if p.record is None]
        if lacking:
            raise DataError(f"{preds_path}: no annotations given and {len(lacking)} of {len(predictions)} "
                            f"predictions embed no 'record' (e.g. id {lacking[0]!r}); pass the records file "
                            "(--annotations records.jsonl from `loc3r data convert`)")
        return [p.record for p in predictions if p.record is not None], [f"{preds_path} (embedded records)"]
    from loc3r.data.sources.convert import read_records_jsonl

    paths = [annotations] if isinstance(annotations, (str, os.PathLike)) else list(annotations)
    records: list[Record] = []
    first: dict[tuple[str, str], Path] = {}
    for path in map(Path, paths):
        for r in read_records_jsonl(path):
            key = (r.source, r.id)
            if key in first:
                raise DataError(f"{path}: record id {r.id!r} ({r.source}) is also in {first[key]}")
            first[key] = path
            records.append(r)
    return records, [str(p) for p in paths]


def match_ids(gt: Sequence[Record], predictions: Sequence[Prediction], allow_missing: bool,
              preds_label: str, gt_label: str) -> tuple[list[tuple[Record, Prediction]], int]:
    """Pair annotation records with predictions by id.

    Returns:
        ``(pairs in annotation order, number of annotated samples left without prediction)``.

    Raises:
        DataError: ids differ (prediction ids without annotation always; annotated ids without prediction
            unless ``allow_missing``); the message lists the counts and examples.
    """
    by_id = {p.id: p for p in predictions}
    gt_ids = [r.id for r in gt]
    gt_set = set(gt_ids)
    missing = [i for i in gt_ids if i not in by_id]
    extra = [p.id for p in predictions if p.id not in gt_set]
    if extra or (missing and not allow_missing):
        def _eg(ids: list[str]) -> str:
            return ", ".join(repr(i) for i in ids[:3]) + (", ..." if len(ids) > 3 else "")

        parts = []
        if missing:
            parts.append(f"{len(missing)} annotated samples have no prediction (e.g. {_eg(missing)})")
        if extra:
            parts.append(f"{len(extra)} predictions have no annotation (e.g. {_eg(extra)})")
        hint = (" Pass --allow-missing (allow_missing=True) to score the predicted samples only."
                if not extra else " Are these the right annotations for this benchmark and split?")
        raise DataError(f"{preds_label}: prediction ids do not match the annotations ({gt_label}): "
                        f"{'; '.join(parts)}; {len(gt_set) - len(missing)} match.{hint}")
    return [(r, by_id[r.id]) for r in gt if r.id in by_id], len(missing)


def score_predictions(header: PredictionsHeader, predictions: Sequence[Prediction], records: Sequence[Record],
                      benchmark: str, options: ScoreOptions | None = None, preds_label: str = "predictions",
                      gt_label: str = "annotations") -> dict[str, Any]:
    """Score already-loaded predictions (the core of ``score``; no file I/O).

    Returns:
        The result dict (see ``score``).
    """
    options = options or ScoreOptions()
    task = get_task(benchmark, options)
    gt = task.examples(records)
    if not gt:
        found = sorted({r.source for r in records})
        raise DataError(f"{gt_label}: no {benchmark} annotation records (record sources found: "
                        f"{', '.join(found) or 'none'}; expected {', '.join(task.sources) or 'any'})")
    pairs, n_missing = match_ids(gt, predictions, options.allow_missing, preds_label, gt_label)
    samples = [task.score(r, p) for r, p in pairs]
    metrics, breakdown = task.aggregate(samples)
    return {
        "benchmark": benchmark,
        "n": len(samples),
        "metrics": metrics,
        "breakdown": breakdown,
        "counts": {"annotated": len(gt), "scored": len(samples), "left_without_prediction": n_missing,
                   "other_records_ignored": len(records) - len(gt)},
        "options": {"strict": options.strict, "caption_metrics": options.caption_metrics,
                    "caption_tokenizer": options.caption_tokenizer, "meteor": options.meteor,
                    "judge": options.judge is not None, "allow_missing": options.allow_missing},
        "predictions": preds_label,
        "annotations": gt_label,
        "header": header.to_dict(),
        "per_sample": samples,
    }


def score(
    preds_path: PathLike,
    benchmark: str | None = None,
    annotations: PathLike | Sequence[PathLike] | None = None,
    out_json: PathLike | None = None,
    options: ScoreOptions | None = None,
) -> dict[str, Any]:
    """Score a predictions file.

    Args:
        preds_path: predictions JSONL (``loc3r.eval.predictions`` format).
        benchmark: one of ``BENCHMARKS``; None -> the header's benchmark.
        annotations: unified-records JSONL file(s); None -> the records embedded in the predictions.
        out_json: where to write the result (atomically); None -> not written.
        options: metric variants (``ScoreOptions``).

    Returns:
        ``{"benchmark", "n", "metrics": {name: value}, "breakdown": {name: {group: {column: value}}},
        "counts", "options", "predictions", "annotations", "header", "per_sample": [...]}``; percentages for
        accuracies / scores, metres and degrees for errors.

    Raises:
        FileNotFoundError: a missing file.
        DataError: invalid files, id mismatch, or annotations without ground truth.
        ValueError: unknown benchmark.
        MissingDependencyError: pycocoevalcap or Java missing for the captioning metrics.
    """
    header, predictions = read_predictions(preds_path)
    benchmark = benchmark or header.benchmark
    get_task(benchmark)  # fail early on an unknown name
    records, sources = load_annotations(annotations, predictions, preds_path)
    result = score_predictions(header, predictions, records, benchmark, options, preds_label=str(preds_path),
                               gt_label=", ".join(sources))
    if out_json is not None:
        atomic_write_text(out_json, json.dumps(result, indent=1, allow_nan=False) + "\n")
    return result


# --------------------------------------------------------------------------------------------- table
def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.2f}"
    return str(v)


def format_score_table(result: dict[str, Any]) -> str:
    """Plain-text table of a ``score`` result: headline metrics, then each breakdown."""
    lines = [f"{result['benchmark']}: {result['n']} samples scored "
             f"({result['predictions']} vs {result['annotations']})"]
    scalars = {k: v for k, v in result["metrics"].items() if not isinstance(v, (dict, list))}
    width = max((len(k) for k in scalars), default=0)
    for k, v in scalars.items():
        lines.append(f"  {k:<{width}}  {_fmt(v):>8}")
    for k, v in result["metrics"].items():
        if isinstance(v, (dict, list)) and v:
            lines.append(f"  {k}: {v}")
    for name, rows in result["breakdown"].items():
        if not rows:
            continue
        cols = list(dict.fromkeys(c for row in rows.values() for c in row))
        gw = max(len(name), *(len(g) for g in rows))
        cw = [max(8, len(c)) for c in cols]

        def _row(label: str, cells: list[str], gw: int = gw, cw: list[int] = cw) -> str:
            return f"  {label:<{gw}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cells, cw, strict=True))

        lines.append(_row(name, cols))
        lines += [_row(g, [_fmt(row.get(c)) for c in cols]) for g, row in rows.items()]
    left = result["counts"]["left_without_prediction"]
    if left:
        lines.append(f"  note: {left} annotated samples had no prediction and were not scored")
    return "\n".join(lines)
