"""ScanQA reader: ``ScanQA_v1.0_<split>.json`` -> ``Record``s.

Each file is a JSON list of ``{answers, object_ids, object_names, question, question_id, scene_id}``
(``data_formats.md`` §3). Test files may lack ``answers`` (-> ``[]``) and ``test_wo_obj`` the object fields.

Design choices:
  * ``id`` = ``question_id`` (``<split>-scene<NNNN>-<k>``); object ids / names are kept in ``extra``.
  * ``task`` = the official per-type bucket of ``ATR-DBI/ScanQA/scripts/score.py`` (``scanqa_question_type``).
  * No pose and no situation (the model adds the pseudo-situation later).
"""

from __future__ import annotations

from typing import Any, Sequence

from loc3r.data.schema import Record
from loc3r.data.sources.common import (
    PathLike,
    ReadResult,
    as_object,
    collect_records,
    get_int_list,
    get_str,
    get_str_list,
    iter_list_items,
)

__all__ = ["SCANQA_QUESTION_TYPES", "scanqa_question_type", "scanqa_item_to_record", "read_scanqa"]

SCANQA_QUESTION_TYPES = ("Place", "Number", "Color", "Object nature", "Object", "Other")

# (substring, bucket), tested in this order, case-sensitive, anywhere in the question (as score.py's qclass1).
_SCANQA_TYPE_RULES = (
    ("Where", "Place"),
    ("How many", "Number"),
    ("What color", "Color"),
    ("What is the color", "Color"),
    ("What shape", "Object nature"),
    ("What type", "Object nature"),
    ("What kind", "Object nature"),
    ("What is", "Object"),
)


def scanqa_question_type(question: str) -> str:
    """ScanQA's official per-type bucket: Place | Number | Color | Object nature | Object | Other.

    Mirrors ``qclass1`` in ScanQA's ``scripts/score.py``: the first rule whose phrase occurs *anywhere* in the
    question (case-sensitive) decides, so "What is the color ..." is Color, not Object.
    """
    for phrase, bucket in _SCANQA_TYPE_RULES:
        if phrase in question:
            return bucket
    return "Other"


def scanqa_item_to_record(item: Any, where: str, source: str = "scanqa", task: str | None = None,
                          extra: dict[str, Any] | None = None) -> Record:
    """One ScanQA-format item -> ``Record`` (shared with Beacon3D, whose QA file uses the same format).

    Args:
        item: ``{question_id, scene_id, question, answers?, object_ids?, object_names?}``.
        where: location used in error messages (file and item).
        source: ``Record.source``.
        task: ``Record.task``; default ``scanqa_question_type(question)``.
        extra: more ``extra`` fields to add.
    """
    item = as_object(item, where)
    qid = get_str(item, "question_id", where)
    where = f"{where} (question_id {qid})"
    question = get_str(item, "question", where)
    rec_extra: dict[str, Any] = {}
    if "object_ids" in item:
        rec_extra["object_ids"] = get_int_list(item, "object_ids", where)
    if "object_names" in item:
        rec_extra["object_names"] = get_str_list(item, "object_names", where)
    rec_extra.update(extra or {})
    return Record(
        id=qid,
        source=source,
        task=scanqa_question_type(question) if task is None else task,
        scene_id=get_str(item, "scene_id", where),
        question=question,
        answers=get_str_list(item, "answers", where, default=[]),
        extra=rec_extra,
    )


def read_scanqa(paths: Sequence[PathLike], strict: bool = True) -> ReadResult:
    """Read ScanQA files (JSON lists) into records, in file order.

    Args:
        paths: one or more ``ScanQA_v1.0_<split>.json`` files.
        strict: raise on the first bad item (default); otherwise skip, count and list bad items.

    Raises:
        FileNotFoundError: a path does not exist.
        DataError: unreadable file / not a list, or (strict) a bad item or a duplicate ``question_id``.
    """
    return collect_records(iter_list_items(paths), scanqa_item_to_record, strict, id_label="question_id")
