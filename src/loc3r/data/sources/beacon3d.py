"""Beacon3D readers: the QA file (-> ``Record``s), the per-object metadata file and the grounding file.

Files (``beacon-3d/beacon-3d`` ``data/scannet/``, ``data_formats.md`` §5):
  * ``scannet_qa.json``: ScanQA-format list ``{question_id, scene_id, question, object_ids, object_names,
    answers}`` with ``question_id = <scene>_<objid>_<k>_<tag>_<extra_knowledge>``;
  * ``metadata_scannet_qa.json``: ``{scene: {class: {obj_id: {grounding_text: [3], qa: [{question, answer,
    tag, extra_knowledge}] x 3}}}}`` (the object grouping behind the "Overall (Obj.)" metric);
  * ``scannet_grounding.json``: ScanRefer-like list ``{item_id, scan_id, target_id: [ids], instance_type,
    utterance}``.

Design choices:
  * ``task`` = the tag parsed from ``question_id`` (class | appearance | geometry | spatial | existence); the
    object id, question index ``k`` and ``extra_knowledge`` flag are kept in ``extra``.
  * The metadata and grounding files are not QA samples, so they are read into small frozen dataclasses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from loc3r.data.schema import Record
from loc3r.data.sources.common import (
    PathLike,
    ReadResult,
    as_object,
    collect_records,
    get_int,
    get_int_list,
    get_str,
    iter_list_items,
    load_json,
    top_level_list,
)
from loc3r.data.sources.scanqa import scanqa_item_to_record
from loc3r.utils.io import DataError

__all__ = [
    "BEACON3D_TAGS",
    "Beacon3DQuestionId",
    "Beacon3DQA",
    "Beacon3DObject",
    "Beacon3DGroundingItem",
    "parse_beacon3d_question_id",
    "read_beacon3d",
    "read_beacon3d_metadata",
    "read_beacon3d_grounding",
]

BEACON3D_TAGS = ("class", "appearance", "geometry", "spatial", "existence")


@dataclass(frozen=True)
class Beacon3DQuestionId:
    """The parts of a Beacon3D ``question_id`` ``<scene>_<objid>_<k>_<tag>_<extra_knowledge>``.

    Attributes:
        scene_id: ScanNet scene id.
        object_id: ScanNet object id the question is about.
        index: position ``k`` of the question among the object's questions (0-based).
        tag: question category (one of ``BEACON3D_TAGS``).
        extra_knowledge: 0 or 1 (whether answering needs knowledge beyond the object itself).
    """

    scene_id: str
    object_id: int
    index: int
    tag: str
    extra_knowledge: int


def parse_beacon3d_question_id(
    question_id: str, scene_id: str, where: str = "question_id"
) -> Beacon3DQuestionId:
    """Split ``<scene_id>_<objid>_<k>_<tag>_<extra>`` (the scene id itself contains an underscore).

    Raises:
        DataError: when the id does not start with ``scene_id`` or does not have that shape, or the tag is
            unknown.
    """
    m = re.fullmatch(re.escape(scene_id) + r"_(\d+)_(\d+)_([a-z]+)_([01])", question_id)
    if m is None:
        raise DataError(f"{where}: question_id {question_id!r} is not '{scene_id}_<objid>_<k>_<tag>_<0|1>'")
    tag = m.group(3)
    if tag not in BEACON3D_TAGS:
        raise DataError(f"{where}: unknown tag {tag!r} in question_id {question_id!r} "
                        f"(known: {', '.join(BEACON3D_TAGS)})")
    return Beacon3DQuestionId(scene_id, int(m.group(1)), int(m.group(2)), tag, int(m.group(4)))


def read_beacon3d(paths: Sequence[PathLike], strict: bool = True) -> ReadResult:
    """Read Beacon3D QA files (``scannet_qa.json``) into records, in file order.

    Args:
        paths: one or more Beacon3D QA files.
        strict: raise on the first bad item (default); otherwise skip, count and list bad items.

    Raises:
        FileNotFoundError: a path does not exist.
        DataError: unreadable file / not a list, or (strict) a bad item, a malformed or duplicate
            ``question_id``.
    """
    def to_record(raw: Any, where: str) -> Record:
        item = as_object(raw, where)
        qid = parse_beacon3d_question_id(get_str(item, "question_id", where), get_str(item, "scene_id", where), where)
        extra = {"object_id": qid.object_id, "question_index": qid.index, "extra_knowledge": qid.extra_knowledge}
        return scanqa_item_to_record(item, where, source="beacon3d", task=qid.tag, extra=extra)

    return collect_records(iter_list_items(paths), to_record, strict, id_label="question_id")


# --------------------------------------------------------------------------------------------- metadata
@dataclass(frozen=True)
class Beacon3DQA:
    """One question of an object in the metadata file."""

    question: str
    answer: str
    tag: str
    extra_knowledge: int


@dataclass(frozen=True)
class Beacon3DObject:
    """One annotated object: its grounding texts and its (usually 3) questions, in file order."""

    scene_id: str
    class_name: str
    object_id: int
    grounding_texts: tuple[str, ...]
    qa: tuple[Beacon3DQA, ...]


def _metadata_object(scene: str, cls: str, obj_key: str, raw: Any, where: str) -> Beacon3DObject:
    if not obj_key.isdigit():
        raise DataError(f"{where}: object key {obj_key!r} is not an integer object id")
    item = as_object(raw, where)
    texts = item.get("grounding_text")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise DataError(f"{where}: field 'grounding_text' must be a list of strings, got {texts!r}")
    qa_raw = item.get("qa")
    if not isinstance(qa_raw, list):
        raise DataError(f"{where}: field 'qa' must be a list, got {qa_raw!r}")
    qa = []
    for k, q in enumerate(qa_raw):
        w = f"{where}: qa[{k}]"
        q = as_object(q, w)
        tag = get_str(q, "tag", w)
        if tag not in BEACON3D_TAGS:
            raise DataError(f"{w}: unknown tag {tag!r} (known: {', '.join(BEACON3D_TAGS)})")
        qa.append(Beacon3DQA(question=get_str(q, "question", w), answer=get_str(q, "answer", w), tag=tag,
                             extra_knowledge=get_int(q, "extra_knowledge", w)))
    return Beacon3DObject(scene, cls, int(obj_key), tuple(texts), tuple(qa))


def read_beacon3d_metadata(path: PathLike) -> dict[str, dict[int, Beacon3DObject]]:
    """Read ``metadata_scannet_qa.json``.

    Returns:
        ``{scene_id: {object_id: Beacon3DObject}}`` in file order.

    Raises:
        FileNotFoundError: the file does not exist.
        DataError: a structural problem, naming the file, scene, class and object.
    """
    path = Path(path)
    data = as_object(load_json(path), str(path))
    out: dict[str, dict[int, Beacon3DObject]] = {}
    for scene, classes in data.items():
        objects: dict[int, Beacon3DObject] = {}
        for cls, objs in as_object(classes, f"{path}: {scene}").items():
            for obj_key, raw in as_object(objs, f"{path}: {scene}/{cls}").items():
                obj = _metadata_object(scene, cls, obj_key, raw, f"{path}: {scene}/{cls}/{obj_key}")
                if obj.object_id in objects:
                    raise DataError(f"{path}: {scene}: object {obj.object_id} listed under two classes")
                objects[obj.object_id] = obj
        out[scene] = objects
    return out


# --------------------------------------------------------------------------------------------- grounding
@dataclass(frozen=True)
class Beacon3DGroundingItem:
    """One grounding query (ScanRefer-like).

    Attributes:
        item_id: e.g. ``scene0025_00_27_chain_1_0_class-appearance-spatial``.
        scene_id: ScanNet scene id (``scan_id`` in the file).
        target_ids: ScanNet object ids the utterance refers to (several when it is ambiguous on purpose).
        instance_type: object class.
        utterance: the referring expression.
    """

    item_id: str
    scene_id: str
    target_ids: tuple[int, ...]
    instance_type: str
    utterance: str


def read_beacon3d_grounding(path: PathLike) -> list[Beacon3DGroundingItem]:
    """Read ``scannet_grounding.json`` (a list), in file order.

    Raises:
        FileNotFoundError: the file does not exist.
        DataError: a structural problem, naming the file and item.
    """
    path = Path(path)
    out = []
    for i, raw in enumerate(top_level_list(load_json(path), path)):
        where = f"{path}: item {i}"
        item = as_object(raw, where)
        out.append(Beacon3DGroundingItem(
            item_id=get_str(item, "item_id", where),
            scene_id=get_str(item, "scan_id", where),
            target_ids=tuple(get_int_list(item, "target_id", where)),
            instance_type=get_str(item, "instance_type", where),
            utterance=get_str(item, "utterance", where),
        ))
    return out
