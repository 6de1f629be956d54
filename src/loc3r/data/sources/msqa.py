"""MSQA reader: ``msqa_<scannet|rscan|arkitscenes>_<split>.json`` -> ``Record``s.

Each file is a JSON list of items (fields from MSR3D's ``data/datasets/msr3d.py``, ``data_formats.md`` §5):
``{scan_id, index, type, question, answers: [str], situation, location: [x, y, z], orientation: [cos, sin,
0], raw_thought?, query_type?, mode?}``. ``location`` is in metres in the axis-aligned ScanNet frame;
``orientation`` is the agent's facing vector in the xy plane. No MSQA file was available to check (the data
is released on request), so this follows the documented fields.

Design choices:
  * Pose: ``frame="aligned"``, ``(x, y, z) = location``, ``yaw = atan2(v_y, v_x)`` in [-pi, pi) (the facing
    heading, as MSR3D's ``face_vector_in_xy_to_quaternion``), ``forward = (v_x, v_y) / |(v_x, v_y)|``.
  * ``id`` = ``<scan_id>-<index>``; ``task`` = ``type`` verbatim (e.g. ``attribute-color``).
  * Situation / question texts may hold image placeholders ``<label-instid-IMG>``; the record keeps the
    text-only form (placeholder -> ``label``, as MSR3D's text-only variant does) and stores the originals in
    ``extra["situation_raw"]`` / ``extra["question_raw"]`` when they differ.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from loc3r.data.schema import Pose, Record
from loc3r.data.sources.common import (
    PathLike,
    ReadResult,
    as_object,
    collect_records,
    get_number_list,
    get_optional_str,
    get_str,
    get_str_list,
    iter_list_items,
)
from loc3r.geometry.rotations import vector_to_yaw
from loc3r.utils.io import DataError

__all__ = ["msqa_text_only", "msqa_pose", "read_msqa"]

_IMG_PLACEHOLDER = re.compile(r"<([^<>-]+)-\d+-IMG>")


def msqa_text_only(text: str) -> str:
    """Replace MSQA image placeholders ``<label-instid-IMG>`` by their label (``<chair-3-IMG>`` -> chair)."""
    return _IMG_PLACEHOLDER.sub(lambda m: m.group(1), text)


def msqa_pose(location: list[float], orientation: list[float], where: str) -> Pose:
    """MSQA ``location`` [x, y(, z)] and facing vector ``orientation`` [v_x, v_y(, v_z)] -> ``Pose``.

    The pose is in the axis-aligned ScanNet frame (``frame="aligned"``), metres; ``yaw`` is the facing
    heading in radians, [-pi, pi).

    Raises:
        DataError: when the facing vector has no horizontal component.
    """
    vx, vy = orientation[0], orientation[1]
    n = math.hypot(vx, vy)
    if n < 1e-9:
        raise DataError(f"{where}: orientation {orientation} has no horizontal component; "
                        "the facing direction is undefined")
    z = location[2] if len(location) == 3 else 0.0
    yaw = float(vector_to_yaw([vx, vy]))  # [-pi, pi)
    return Pose(x=location[0], y=location[1], yaw=yaw, forward=(vx / n, vy / n), frame="aligned", z=z)


def _msqa_record(raw: Any, where: str) -> Record:
    item = as_object(raw, where)
    scan_id = get_str(item, "scan_id", where)
    index = item.get("index")
    if isinstance(index, bool) or not isinstance(index, (int, str)) or index == "":
        raise DataError(f"{where}: field 'index' must be an integer or string, got {index!r}")
    where = f"{where} (scan_id {scan_id}, index {index})"
    situation_raw = get_str(item, "situation", where)
    question_raw = get_str(item, "question", where)
    pose = msqa_pose(get_number_list(item, "location", where, lengths=(3, 2)),
                     get_number_list(item, "orientation", where, lengths=(3, 2)), where)
    extra: dict[str, Any] = {"index": index}
    for key in ("raw_thought", "query_type", "mode"):
        value = get_optional_str(item, key, where)
        if value is not None:
            extra[key] = value
    situation, question = msqa_text_only(situation_raw), msqa_text_only(question_raw)
    if situation != situation_raw:
        extra["situation_raw"] = situation_raw
    if question != question_raw:
        extra["question_raw"] = question_raw
    return Record(
        id=f"{scan_id}-{index}",
        source="msqa",
        task=get_str(item, "type", where),
        scene_id=scan_id,
        question=question,
        answers=get_str_list(item, "answers", where),
        situation=situation,
        pose=pose,
        extra=extra,
    )


def read_msqa(paths: Sequence[PathLike], strict: bool = True) -> ReadResult:
    """Read MSQA files (JSON lists) into records, in file order.

    Args:
        paths: one or more ``msqa_*.json`` files.
        strict: raise on the first bad item (default); otherwise skip, count and list bad items.

    Raises:
        FileNotFoundError: a path does not exist.
        DataError: unreadable file / not a list, or (strict) a bad item or a duplicate ``(scan_id, index)``.
    """
    return collect_records(iter_list_items(paths), _msqa_record, strict, id_label="(scan_id, index)")
