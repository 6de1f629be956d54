"""Unified-record JSONL files: write them from annotation sources (``loc3r data convert``) and read them back
with validation.

Format: one JSON object per line, ``Record.to_dict()`` (UTF-8, no NaN/Infinity). Poses appear as
``{"x", "y", "z", "yaw", "forward": [fx, fy], "frame"}``; for SQA3D that is metres and radians in the SQA3D
frame (``yaw`` = SQA3D's quaternion yaw, ``forward`` = the unit facing direction ``(-cos yaw, -sin yaw)``).

Run: ``loc3r data convert --source sqa3d questions.json annotations.json --out records.jsonl``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from loc3r.data.schema import REQUIRED_RECORD_FIELDS, Record
from loc3r.data.sources.common import PathLike, load_json_lines
from loc3r.data.sources.registry import read_records, read_records_lenient
from loc3r.utils.io import DataError, atomic_write

__all__ = [
    "POSE_FRAMES",
    "ConvertSummary",
    "convert_to_jsonl",
    "write_records_jsonl",
    "read_records_jsonl",
    "record_from_json",
]

POSE_FRAMES = ("sqa3d", "aligned", "raw", "bev")
# Tolerances for the pose consistency checks of ``record_from_json``.
_UNIT_TOL = 1e-4
_ANGLE_TOL_RAD = 1e-4


@dataclass(frozen=True)
class ConvertSummary:
    """Outcome of ``convert_to_jsonl``.

    Attributes:
        source: annotation source name.
        out_path: the JSONL file written.
        written: number of records written.
        skipped: number of input items skipped (lenient mode).
        problems: one message per skipped item (file and item named).
    """

    source: str
    out_path: Path
    written: int
    skipped: int
    problems: list[str] = field(default_factory=list)

    def format(self, max_problems: int = 20) -> str:
        """Human-readable summary: counts, then up to ``max_problems`` skip reasons."""
        lines = [f"{self.source}: wrote {self.written} records to {self.out_path}; skipped {self.skipped}"]
        for p in self.problems[:max_problems]:
            lines.append(f"  skipped: {p}")
        if len(self.problems) > max_problems:
            lines.append(f"  ... and {len(self.problems) - max_problems} more")
        return "\n".join(lines)


def write_records_jsonl(records: Iterable[Record], out: PathLike) -> int:
    """Write records atomically (temp file + rename) as JSONL; returns the number written.

    Raises:
        ValueError: a record holds a non-finite float (JSON has no NaN) or a non-JSON value in ``extra``.
    """
    n = 0
    with atomic_write(out, "w") as f:
        for rec in records:
            f.write(json.dumps(rec.to_dict(), ensure_ascii=False, allow_nan=False) + "\n")
            n += 1
    return n


def convert_to_jsonl(
    source: str, inputs: Sequence[PathLike], out: PathLike, strict: bool = False
) -> ConvertSummary:
    """Read annotation files of ``source`` and write the unified records to ``out`` (JSONL, atomically).

    Args:
        source: one of ``loc3r.data.sources.registry.SOURCES``.
        inputs: the source's annotation files.
        out: output ``.jsonl`` path (parent folders are created).
        strict: stop at the first bad item; by default bad items are skipped, counted and listed.

    Returns:
        ``ConvertSummary``.

    Raises:
        DataError: an unreadable input, (strict) a bad item, or no record at all to write (then nothing is
            written).
    """
    if strict:
        records, skipped, problems = read_records(source, inputs, strict=True), 0, []
    else:
        records, skipped, problems = read_records_lenient(source, inputs)
    if not records:
        raise DataError(f"no {source} records read from {', '.join(map(str, inputs))} ({skipped} skipped"
                        + (f"; first problem: {problems[0]}" if problems else "") + "); nothing written")
    written = write_records_jsonl(records, out)
    return ConvertSummary(source=source, out_path=Path(out), written=written, skipped=skipped,
                          problems=problems)


# --------------------------------------------------------------------------------------------- reading back
def _check_str_list(d: dict[str, Any], key: str, where: str, nullable: bool = False) -> None:
    v = d.get(key)
    if v is None and (nullable or key not in d):
        return
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        allowed = "a list of strings or null" if nullable else "a list of strings"
        raise DataError(f"{where}: field '{key}' must be {allowed}, got {v!r}")


def _finite(v: Any, what: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise DataError(f"{where}: {what} must be a finite number, got {v!r}")
    return float(v)


def _check_pose(pose: Any, where: str) -> None:
    where = f"{where}: pose"
    if not isinstance(pose, dict):
        raise DataError(f"{where}: must be an object or null, got {type(pose).__name__}")
    for key in ("x", "y", "yaw", "forward"):
        if key not in pose:
            raise DataError(f"{where}: missing field '{key}'")
    for key in ("x", "y", "z"):
        if key in pose:
            _finite(pose[key], f"'{key}'", where)
    yaw = _finite(pose["yaw"], "'yaw'", where)
    fwd = pose["forward"]
    if not isinstance(fwd, list) or len(fwd) != 2:
        raise DataError(f"{where}: 'forward' must be a list [fx, fy], got {fwd!r}")
    fx, fy = (_finite(v, "'forward'", where) for v in fwd)
    if abs(math.hypot(fx, fy) - 1.0) > _UNIT_TOL:
        raise DataError(f"{where}: 'forward' {fwd} is not a unit vector")
    frame = pose.get("frame", "sqa3d")
    if frame not in POSE_FRAMES:
        raise DataError(f"{where}: unknown frame {frame!r} (known: {', '.join(POSE_FRAMES)})")
    # Pose.yaw convention: SQA3D yaw faces (-cos, -sin); aligned/bev yaw is the facing heading itself.
    expected = {"sqa3d": (-math.cos(yaw), -math.sin(yaw)), "aligned": (math.cos(yaw), math.sin(yaw)),
                "bev": (math.cos(yaw), math.sin(yaw))}.get(frame)
    if expected is not None and math.hypot(fx - expected[0], fy - expected[1]) > _ANGLE_TOL_RAD:
        raise DataError(f"{where}: 'forward' {fwd} disagrees with yaw {yaw} in frame {frame!r}")


def record_from_json(d: Any, where: str) -> Record:
    """Validate one decoded JSONL object and build the ``Record``.

    Checks the required fields and the types (``Record.from_dict`` alone would turn an ``answers`` string into
    a list of characters), and that a pose is finite, its ``forward`` a unit vector consistent with its
    ``yaw``.

    Raises:
        DataError: naming ``where`` and the problem.
    """
    if not isinstance(d, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(d).__name__}")
    missing = [k for k in REQUIRED_RECORD_FIELDS if k not in d]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
    for key in ("id", "source", "task", "scene_id", "question"):
        if not isinstance(d[key], str):
            raise DataError(f"{where}: field '{key}' must be a string, got {d[key]!r}")
    if d.get("situation") is not None and not isinstance(d["situation"], str):
        raise DataError(f"{where}: field 'situation' must be a string or null, got {d['situation']!r}")
    _check_str_list(d, "answers", where)
    _check_str_list(d, "alternative_situations", where, nullable=True)
    _check_str_list(d, "options", where, nullable=True)
    if d.get("extra") is not None and not isinstance(d["extra"], dict):
        raise DataError(f"{where}: field 'extra' must be an object, got {d['extra']!r}")
    if d.get("pose") is not None:
        _check_pose(d["pose"], where)
    try:
        return Record.from_dict(d, where=where)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{where}: {e}") from e


def read_records_jsonl(path: PathLike) -> list[Record]:
    """Read a unified-record JSONL file, validating every line.

    Returns:
        The records, in file order (blank lines are ignored).

    Raises:
        FileNotFoundError: the file does not exist.
        DataError: a line that is not valid JSON or not a valid record, or a duplicate ``(source, id)``; the
            message names ``<file>:<line>``.
    """
    path = Path(path)
    records: list[Record] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, obj in load_json_lines(path):
        where = f"{path}:{lineno}"
        rec = record_from_json(obj, where)
        key = (rec.source, rec.id)
        if key in seen:
            raise DataError(f"{where}: duplicate record id {rec.id!r} of source {rec.source!r} "
                            f"(first at line {seen[key]})")
        seen[key] = lineno
        records.append(rec)
    return records
