"""Shared helpers of the annotation readers: JSON loading with clear errors, typed field access, and the
strict / lenient problem policy.

Design:
  * Every problem names the file (and the item index / id) it comes from; data problems raise
    ``loc3r.utils.io.DataError``.
  * File-level problems (unreadable or corrupt JSON, wrong top-level structure) always raise. Item-level
    problems (a missing field, a bad quaternion, an unmatched id) raise in strict mode and are skipped,
    counted and listed in lenient mode (``ItemProblems``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from loc3r.data.schema import Record
from loc3r.utils.io import DataError

__all__ = [
    "ReadResult",
    "ItemProblems",
    "PathLike",
    "load_json",
    "load_json_lines",
    "top_level_list",
    "as_object",
    "get_object",
    "get_str",
    "get_optional_str",
    "get_int",
    "get_number",
    "get_str_list",
    "get_int_list",
    "get_number_list",
]

PathLike = str | os.PathLike


class ReadResult(NamedTuple):
    """What a reader returns.

    Attributes:
        records: the records read, in file order.
        skipped: number of items skipped (always 0 in strict mode).
        problems: one message per skipped item, naming the file and the item.
    """

    records: list[Record]
    skipped: int
    problems: list[str]


class ItemProblems:
    """Item-level problem policy: strict mode raises the first problem, lenient mode records and counts it."""

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self.problems: list[str] = []

    def report(self, error: DataError | str) -> None:
        """Handle one bad item.

        Raises:
            DataError: in strict mode (the given error, or a new one with the given message).
        """
        if self.strict:
            raise error if isinstance(error, DataError) else DataError(error)
        self.problems.append(str(error))

    def result(self, records: list[Record]) -> ReadResult:
        """Bundle ``records`` with the problems seen so far."""
        return ReadResult(records=records, skipped=len(self.problems), problems=list(self.problems))


def collect_records(
    items: Iterable[tuple[str, Any]],
    to_record: Callable[[Any, str], Record],
    strict: bool = True,
    id_label: str = "id",
) -> ReadResult:
    """Turn ``(where, item)`` pairs into records under the strict/lenient policy, rejecting duplicate ids.

    Whole-file problems raised while iterating ``items`` always propagate; item problems raised by
    ``to_record`` (``DataError``) are raised (strict) or skipped and counted (lenient).
    """
    problems = ItemProblems(strict)
    records: list[Record] = []
    seen: dict[str, str] = {}
    for where, item in items:
        try:
            rec = to_record(item, where)
            if rec.id in seen:
                raise DataError(f"{where}: duplicate {id_label} {rec.id!r} (first seen at {seen[rec.id]})")
        except DataError as e:
            problems.report(e)
            continue
        seen[rec.id] = where
        records.append(rec)
    return problems.result(records)


def iter_list_items(paths: Sequence[PathLike]) -> Iterator[tuple[str, Any]]:
    """Yield ``("<file>: item <i>", item)`` for every item of JSON-list files, in order."""
    for path in map(Path, paths):
        for i, item in enumerate(top_level_list(load_json(path), path)):
            yield f"{path}: item {i}", item


# --------------------------------------------------------------------------------------------- files
def load_json(path: PathLike) -> Any:
    """Parse a JSON file (UTF-8).

    Raises:
        FileNotFoundError: when the file does not exist.
        DataError: when the file is not valid UTF-8 JSON (the message gives line and column).
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except IsADirectoryError as e:
        raise DataError(f"{path}: is a directory, expected a JSON file") from e


def load_json_lines(path: PathLike) -> list[tuple[int, Any]]:
    """Parse a JSON-lines file: one JSON value per non-blank line.

    Returns:
        [(line_number (1-based), value)] for every non-blank line.

    Raises:
        FileNotFoundError: when the file does not exist.
        DataError: naming ``<file>:<line>`` for a line that is not valid JSON.
    """
    path = Path(path)
    out: list[tuple[int, Any]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    out.append((lineno, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{lineno}: invalid JSON at column {e.colno}: {e.msg}") from e
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    return out


def top_level_list(data: Any, path: PathLike, key: str | None = None) -> list[Any]:
    """The list of items of a file: ``data`` itself, or ``data[key]`` when ``key`` is given.

    Raises:
        DataError: when the expected list is not there.
    """
    if key is None:
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON list at the top level, got {type(data).__name__}")
        return data
    if not isinstance(data, dict) or key not in data:
        found = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise DataError(f"{path}: expected a JSON object with a '{key}' list at the top level, found {found}")
    if not isinstance(data[key], list):
        raise DataError(f"{path}: '{key}' must be a list, got {type(data[key]).__name__}")
    return data[key]


# --------------------------------------------------------------------------------------------- fields
def as_object(item: Any, where: str) -> dict[str, Any]:
    """Check that ``item`` is a JSON object (dict)."""
    if not isinstance(item, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(item).__name__}")
    return item


def _get(item: dict[str, Any], key: str, where: str) -> Any:
    if key not in item:
        raise DataError(f"{where}: missing field '{key}'")
    return item[key]


def get_object(item: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """A required JSON-object field."""
    v = _get(item, key, where)
    if not isinstance(v, dict):
        raise DataError(f"{where}: field '{key}' must be a JSON object, got {v!r}")
    return v


def get_str(item: dict[str, Any], key: str, where: str, allow_empty: bool = False) -> str:
    """A required string field (non-empty unless ``allow_empty``)."""
    v = _get(item, key, where)
    if not isinstance(v, str):
        raise DataError(f"{where}: field '{key}' must be a string, got {type(v).__name__}")
    if not allow_empty and not v.strip():
        raise DataError(f"{where}: field '{key}' is empty")
    return v


def get_optional_str(item: dict[str, Any], key: str, where: str) -> str | None:
    """An optional string field (absent or null -> None)."""
    v = item.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise DataError(f"{where}: field '{key}' must be a string or null, got {type(v).__name__}")
    return v


def get_int(item: dict[str, Any], key: str, where: str) -> int:
    """A required integer field (booleans are refused)."""
    v = _get(item, key, where)
    if isinstance(v, bool) or not isinstance(v, int):
        raise DataError(f"{where}: field '{key}' must be an integer, got {v!r}")
    return v


def _check_number(v: Any, what: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise DataError(f"{where}: {what} must be a number, got {v!r}")
    if not math.isfinite(v):
        raise DataError(f"{where}: {what} is not finite ({v!r})")
    return float(v)


def get_number(item: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    """A finite number field; ``default`` (when not None) is used if the field is absent."""
    if key not in item and default is not None:
        return float(default)
    return _check_number(_get(item, key, where), f"field '{key}'", where)


def get_str_list(item: dict[str, Any], key: str, where: str, default: list[str] | None = None) -> list[str]:
    """A list-of-strings field; ``default`` (when not None) is used if the field is absent."""
    if key not in item and default is not None:
        return list(default)
    v = _get(item, key, where)
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise DataError(f"{where}: field '{key}' must be a list of strings, got {v!r}")
    return list(v)


def get_int_list(item: dict[str, Any], key: str, where: str, default: list[int] | None = None) -> list[int]:
    """A list-of-integers field; ``default`` (when not None) is used if the field is absent."""
    if key not in item and default is not None:
        return list(default)
    v = _get(item, key, where)
    if not isinstance(v, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        raise DataError(f"{where}: field '{key}' must be a list of integers, got {v!r}")
    return list(v)


def get_number_list(item: dict[str, Any], key: str, where: str, lengths: Sequence[int]) -> list[float]:
    """A list of finite numbers whose length is one of ``lengths``."""
    v = _get(item, key, where)
    if not isinstance(v, list) or len(v) not in lengths:
        want = " or ".join(str(n) for n in lengths)
        raise DataError(f"{where}: field '{key}' must be a list of {want} numbers, got {v!r}")
    return [_check_number(x, f"field '{key}'[{i}]", where) for i, x in enumerate(v)]
