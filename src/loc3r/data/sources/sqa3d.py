"""SQA3D reader: questions + annotations files (joined on ``question_id``) and localization files.

Files (``data_formats.md`` §2.1):
  * ``v1_balanced_questions_<split>_scannetv2.json``: ``{..., "questions": [{scene_id, situation,
    alternative_situation, question, question_id}]}``;
  * ``v1_balanced_sqa_annotations_<split>_scannetv2.json``: ``{..., "annotations": [{scene_id, question_type,
    answer_type, question_id, answers: [{answer, ...}], rotation {_x,_y,_z,_w}, position {x,y,z}}]}``;
  * ``v1_balanced_localization_<split>_scannetv2.json``: ``{"annotations": [{scene_id, situation,
    alternative_situation, position, rotation}]}`` (documented by SQA3D's ``assets/localization.md``; no
    such file was available to check, so the reader follows the documented fields).

The kind of each file is recognised from its content, so the files can be passed in any order.

Design choices:
  * Questions and annotations are joined on ``question_id``, never on file order; an unmatched id on either
    side is an item problem (strict: ``DataError`` naming the file and id; lenient: skipped and counted).
  * The quaternion is built explicitly by key as ``[_x, _y, _z, _w]`` (xyzw; the key order stored in a file
    is irrelevant). It must be finite, non-zero and a pure yaw (``|_x|, |_y| <= PURE_YAW_TOL * |q|``).
  * Poses stay in SQA3D's own frame (``frame="sqa3d"``: raw ScanNet axes, origin at the raw mesh's
    bounding-box centre, metres): ``yaw = quat_xyzw_to_yaw(q)`` (SQA3D's metric quantity, in [-pi, pi)) and
    the facing direction ``forward = sqa3d_forward(yaw) = (-cos yaw, -sin yaw)`` (the agent faces
    ``R(q) @ (-1, 0, 0)``).
  * ``task`` = LEO's question-type bucket (``sqa3d_question_type``); ``question_type`` / ``answer_type`` and
    the quaternion (``rotation_xyzw``) are kept in ``extra``. Localization items get
    ``task="localization"``, an empty question and no answers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from loc3r.data.schema import Pose, Record
from loc3r.data.sources.common import (
    ItemProblems,
    PathLike,
    ReadResult,
    as_object,
    get_number,
    get_object,
    get_str,
    get_str_list,
    load_json,
    top_level_list,
)
from loc3r.geometry.frames import sqa3d_forward
from loc3r.geometry.rotations import quat_xyzw_to_yaw
from loc3r.utils.io import DataError

__all__ = [
    "SQA3D_QUESTION_TYPES",
    "PURE_YAW_TOL",
    "LOCALIZATION_TASK",
    "sqa3d_question_type",
    "sqa3d_quaternion",
    "sqa3d_pose",
    "read_sqa3d",
]

# LEO / Video-3D-LLM buckets, tested in this order on the left-stripped, lower-cased question prefix.
SQA3D_QUESTION_TYPES = ("what", "is", "how", "can", "which", "others")
# Largest |_x| or |_y| (relative to the quaternion norm) accepted as "pure yaw"; real files have exactly 0.
PURE_YAW_TOL = 1e-3
LOCALIZATION_TASK = "localization"


def sqa3d_question_type(question: str) -> str:
    """LEO's SQA3D question-type bucket: ``what | is | how | can | which | others``.

    The test is a case-insensitive *prefix* match on the left-stripped question (as LEO's
    ``get_sqa_question_type`` does), so e.g. "Isn't ..." counts as ``is``; "Are ..." and "Where ..." are
    ``others``.
    """
    q = question.lstrip().lower()
    for bucket in SQA3D_QUESTION_TYPES[:-1]:
        if q.startswith(bucket):
            return bucket
    return "others"


def sqa3d_quaternion(rotation: Any, where: str) -> list[float]:
    """SQA3D rotation dict ``{_x, _y, _z, _w}`` -> ``[x, y, z, w]`` (built by key), validated.

    Raises:
        DataError: missing/non-numeric component, zero or non-finite quaternion, or not a pure yaw.
    """
    where_r = f"{where}: rotation"
    rot = as_object(rotation, where_r)
    q = [get_number(rot, k, where_r) for k in ("_x", "_y", "_z", "_w")]
    norm = math.sqrt(sum(c * c for c in q))
    if norm < 1e-9:
        raise DataError(f"{where_r}: quaternion is zero")
    if max(abs(q[0]), abs(q[1])) > PURE_YAW_TOL * norm:
        raise DataError(f"{where_r}: not a pure yaw about +Z (_x={q[0]}, _y={q[1]}); "
                        "SQA3D rotations are yaw-only")
    return q


def sqa3d_pose(position: Any, rotation: Any, where: str) -> Pose:
    """An SQA3D ``position`` / ``rotation`` pair -> ``Pose`` in the SQA3D frame.

    Args:
        position: ``{"x", "y", "z"}`` in metres (``z`` optional, 0 when absent).
        rotation: ``{"_x", "_y", "_z", "_w"}`` pure-yaw quaternion (any key order and sign; need not be
            unit).
        where: location used in error messages (file and item).

    Returns:
        ``Pose(x, y, yaw, forward, frame="sqa3d", z)`` with ``yaw = 2 atan2(_z, _w)`` wrapped to [-pi, pi)
        (equal to scipy ``Rotation.from_quat(q).as_rotvec()[2]`` up to the +-pi wrap) and
        ``forward = (-cos yaw, -sin yaw)``.
    """
    where_p = f"{where}: position"
    pos = as_object(position, where_p)
    x, y = get_number(pos, "x", where_p), get_number(pos, "y", where_p)
    z = get_number(pos, "z", where_p, default=0.0)
    q = sqa3d_quaternion(rotation, where)
    yaw = float(quat_xyzw_to_yaw(np.asarray(q)))
    fx, fy = (float(v) for v in sqa3d_forward(yaw))
    return Pose(x=x, y=y, yaw=yaw, forward=(fx, fy), frame="sqa3d", z=z)


# --------------------------------------------------------------------------------------------- files
def _file_kind(data: Any, path: Path) -> str:
    """``questions`` | ``annotations`` | ``localization`` from a parsed SQA3D file."""
    if isinstance(data, dict) and "questions" in data:
        return "questions"
    if isinstance(data, dict) and "annotations" in data:
        items = top_level_list(data, path, "annotations")
        first = items[0] if items and isinstance(items[0], dict) else {}
        if "localization" in path.name or ("question_id" not in first and "situation" in first):
            return "localization"
        return "annotations"
    found = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
    raise DataError(
        f"{path}: not an SQA3D file (expected a JSON object with a 'questions' or 'annotations' list, "
        f"found {found})"
    )


def _question_key(item: dict[str, Any], where: str) -> str:
    qid = item.get("question_id")
    if qid is None:
        raise DataError(f"{where}: missing field 'question_id'")
    if isinstance(qid, bool) or not isinstance(qid, (int, str)):
        raise DataError(f"{where}: field 'question_id' must be an integer or string, got {qid!r}")
    return str(qid)


def _index_by_question_id(
    items: list[tuple[Path, int, Any]], what: str, problems: ItemProblems
) -> dict[str, tuple[str, dict[str, Any]]]:
    """``question_id`` -> (where, item); duplicate or id-less items are problems."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for path, i, raw in items:
        where = f"{path}: {what} {i}"
        try:
            item = as_object(raw, where)
            key = _question_key(item, where)
            where = f"{where} (question_id {key})"
            if key in out:
                raise DataError(f"{where}: duplicate question_id (first seen at {out[key][0]})")
        except DataError as e:
            problems.report(e)
            continue
        out[key] = (where, item)
    return out


def _answers(item: dict[str, Any], where: str) -> list[str]:
    raw = item.get("answers")
    if not isinstance(raw, list):
        raise DataError(f"{where}: field 'answers' must be a list of {{'answer': ...}} objects, got {raw!r}")
    answers = []
    for j, a in enumerate(raw):
        answers.append(get_str(as_object(a, f"{where}: answers[{j}]"), "answer", f"{where}: answers[{j}]"))
    return answers


def _qa_record(q_where: str, q: dict[str, Any], a_where: str, a: dict[str, Any], key: str) -> Record:
    scene_q = get_str(q, "scene_id", q_where)
    scene_a = get_str(a, "scene_id", a_where)
    if scene_q != scene_a:
        raise DataError(f"{q_where}: scene_id {scene_q!r} differs from the annotation's {scene_a!r} "
                        f"({a_where})")
    question = get_str(q, "question", q_where)
    position, rotation = get_object(a, "position", a_where), get_object(a, "rotation", a_where)
    pose = sqa3d_pose(position, rotation, a_where)
    extra: dict[str, Any] = {
        "question_type": a.get("question_type"),
        "answer_type": a.get("answer_type"),
        "rotation_xyzw": sqa3d_quaternion(rotation, a_where),
    }
    return Record(
        id=key,
        source="sqa3d",
        task=sqa3d_question_type(question),
        scene_id=scene_q,
        question=question,
        answers=_answers(a, a_where),
        situation=get_str(q, "situation", q_where),
        alternative_situations=get_str_list(q, "alternative_situation", q_where, default=[]),
        pose=pose,
        extra=extra,
    )


def _localization_record(path: Path, i: int, raw: Any) -> Record:
    where = f"{path}: annotation {i}"
    item = as_object(raw, where)
    position, rotation = get_object(item, "position", where), get_object(item, "rotation", where)
    return Record(
        id=f"{path.name.removesuffix('.json')}-{i}",
        source="sqa3d",
        task=LOCALIZATION_TASK,
        scene_id=get_str(item, "scene_id", where),
        question="",
        answers=[],
        situation=get_str(item, "situation", where),
        alternative_situations=get_str_list(item, "alternative_situation", where, default=[]),
        pose=sqa3d_pose(position, rotation, where),
        extra={"rotation_xyzw": sqa3d_quaternion(rotation, where), **_referent_ids(item, where)},
    )


#: Object ids a localization item may name (the project's grounding files, ``loc3r.data.synthetic.annotations.
#: grounding``: the object the agent is at / faces); kept in ``Record.extra`` for the grounding loss.
REFERENT_KEYS = ("anchor_id", "facing_id")


def _referent_ids(item: dict[str, Any], where: str) -> dict[str, int]:
    out = {}
    for key in REFERENT_KEYS:
        if key in item and item[key] is not None:
            value = item[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise DataError(f"{where}: {key!r} must be an integer object id, got {value!r}")
            out[key] = int(value)
    return out


def read_sqa3d(paths: Sequence[PathLike], strict: bool = True) -> ReadResult:
    """Read SQA3D files into records.

    Args:
        paths: any mix of questions, annotations and localization files (kinds are recognised from content).
            Every questions file needs the matching annotations among ``paths`` (all questions of all files
            are joined with all annotations on ``question_id``).
        strict: raise on the first bad item (default); otherwise skip, count and list bad items.

    Returns:
        ``ReadResult``: QA records in questions-file order, then localization records in file order.

    Raises:
        FileNotFoundError: a path does not exist.
        DataError: an unreadable file, questions without any annotations file (or vice versa), or (strict) a
            bad item: missing field, duplicate or unmatched ``question_id``, mismatching ``scene_id``, bad
            pose.
    """
    problems = ItemProblems(strict)
    questions: list[tuple[Path, int, Any]] = []
    annotations: list[tuple[Path, int, Any]] = []
    localizations: list[tuple[Path, int, Any]] = []
    q_files: list[Path] = []
    a_files: list[Path] = []
    for p in map(Path, paths):
        data = load_json(p)
        kind = _file_kind(data, p)
        items = top_level_list(data, p, "questions" if kind == "questions" else "annotations")
        target = {"questions": questions, "annotations": annotations, "localization": localizations}[kind]
        target.extend((p, i, item) for i, item in enumerate(items))
        if kind == "questions":
            q_files.append(p)
        elif kind == "annotations":
            a_files.append(p)
    if q_files and not a_files:
        raise DataError(f"{', '.join(map(str, q_files))}: SQA3D questions need their annotations file "
                        "(v1_balanced_sqa_annotations_<split>_scannetv2.json) among the inputs")
    if a_files and not q_files:
        raise DataError(f"{', '.join(map(str, a_files))}: SQA3D annotations need their questions file "
                        "(v1_balanced_questions_<split>_scannetv2.json) among the inputs")

    q_index = _index_by_question_id(questions, "question", problems)
    a_index = _index_by_question_id(annotations, "annotation", problems)
    a_names = ", ".join(map(str, a_files))
    q_names = ", ".join(map(str, q_files))
    records: list[Record] = []
    for key, (q_where, q) in q_index.items():
        if key not in a_index:
            problems.report(f"{q_where}: no annotation with this question_id in {a_names}")
            continue
        a_where, a = a_index[key]
        try:
            records.append(_qa_record(q_where, q, a_where, a, key))
        except DataError as e:
            problems.report(e)
    for key, (a_where, _) in a_index.items():
        if key not in q_index:
            problems.report(f"{a_where}: no question with this question_id in {q_names}")
    for p, i, raw in localizations:
        try:
            records.append(_localization_record(p, i, raw))
        except DataError as e:
            problems.report(e)
    return problems.result(records)
