"""ScanNet scan meta files (``<scene>.txt``) and the ReferIt3D axis-alignment JSON.

``<scene>.txt`` holds one ``key = value`` per line, keys in alphabetical order, e.g.::

    axisAlignment = 0.945519 0.325568 0.000000 -5.384390 ... 1.000000
    colorHeight = 968
    fx_color = 1170.187988
    sceneType = Apartment

Parsing splits each line at the *first* ``=`` (the votenet idiom ``strip('axisAlignment = ')`` works only by
luck). Values are typed: 16 numbers -> [4, 4] float64 row-major matrix, other lists of numbers -> [K]
float64, an integer literal -> ``int``, a decimal literal -> ``float``, anything else -> ``str``
(``"Bedroom / Hotel"``).
``format_scene_meta`` writes the same text back (sorted keys, ``%f`` floats), so a real file round-trips.

``axisAlignment`` (A) maps the raw ScanNet world to the axis-aligned one: ``p_aligned = A @ [p_raw, 1]``
(see ``loc3r.geometry.frames``). ``scans_test`` scans have no ``axisAlignment``: ``axis_alignment_from_meta``
returns None for them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from loc3r.geometry.frames import check_axis_alignment
from loc3r.utils.io import DataError, atomic_write_text

__all__ = [
    "parse_scene_meta",
    "read_scene_meta",
    "format_scene_meta",
    "write_scene_meta",
    "axis_alignment_from_meta",
    "load_axis_alignment_json",
]

_INT_RE = re.compile(r"^[+-]?\d+$")


def _parse_number(tok: str) -> float | None:
    try:
        return float(tok)
    except ValueError:
        return None


def _parse_value(raw: str) -> Any:
    toks = raw.split()
    if not toks:
        return ""
    nums = [_parse_number(t) for t in toks]
    if any(x is None for x in nums):
        return raw.strip()
    if len(toks) == 1:
        return int(toks[0]) if _INT_RE.match(toks[0]) else nums[0]
    arr = np.array(nums, dtype=np.float64)
    return arr.reshape(4, 4) if arr.size == 16 else arr


def parse_scene_meta(text: str, source: str = "<string>") -> dict[str, Any]:
    """Parse the text of a ``<scene>.txt`` meta file.

    Args:
        text: file content.
        source: name used in error messages (the file path).

    Returns:
        dict key -> typed value (see the module docstring); 4x4 matrices are float64 row-major.

    Raises:
        DataError: a non-empty line without ``=``, an empty key, or a repeated key.
    """
    meta: dict[str, Any] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if "=" not in line:
            raise DataError(f"{source}:{lineno}: expected 'key = value', got {line.strip()!r}")
        key, raw = line.split("=", 1)
        key = key.strip()
        if not key:
            raise DataError(f"{source}:{lineno}: empty key")
        if key in meta:
            raise DataError(f"{source}:{lineno}: key {key!r} appears twice")
        meta[key] = _parse_value(raw)
    return meta


def read_scene_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Read and parse a ``<scene>.txt`` file (see ``parse_scene_meta``)."""
    path = Path(path)
    return parse_scene_meta(path.read_text(encoding="utf-8", errors="replace"), source=str(path))


def _format_value(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        raise TypeError("booleans are not valid scene meta values")
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):f}"
    if isinstance(v, str):
        return v
    arr = np.asarray(v, dtype=np.float64).reshape(-1)
    return " ".join(f"{x:f}" for x in arr)


def format_scene_meta(meta: Mapping[str, Any]) -> str:
    """Format a meta dict as ScanNet writes it: sorted ``key = value`` lines, floats with ``%f``.

    Matrices are written row-major as 16 numbers. ``parse_scene_meta(format_scene_meta(m))`` returns ``m``
    up to the 6-decimal rounding of floats.
    """
    return "".join(f"{k} = {_format_value(meta[k])}\n" for k in sorted(meta))


def write_scene_meta(path: str | os.PathLike, meta: Mapping[str, Any]) -> None:
    """Atomically write ``meta`` as a ``<scene>.txt`` file."""
    atomic_write_text(path, format_scene_meta(meta))


def axis_alignment_from_meta(meta: Mapping[str, Any], source: str = "scene meta") -> np.ndarray | None:
    """The validated [4, 4] float64 ``axisAlignment`` matrix, or None when the key is absent (``scans_test``).

    Raises:
        DataError: the value is not a rigid rotation about +Z plus a translation (naming ``source``).
    """
    if "axisAlignment" not in meta:
        return None
    try:
        return check_axis_alignment(np.asarray(meta["axisAlignment"], dtype=np.float64).reshape(4, 4),
                                    name=f"{source}: axisAlignment")
    except ValueError as e:
        raise DataError(str(e)) from e


def load_axis_alignment_json(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load ReferIt3D's ``scans_axis_alignment_matrices.json`` (``{scene_id: [16 floats row-major]}``).

    Returns:
        dict scene_id -> validated [4, 4] float64 matrix.

    Raises:
        DataError: malformed JSON, or an entry that is not a z-rotation + translation (naming the scene).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON: {e}") from e
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected an object {{scene_id: [16 floats]}}, got {type(data).__name__}")
    out = {}
    for scene_id, vals in data.items():
        try:
            m = np.asarray(vals, dtype=np.float64)
            if m.size != 16:
                raise ValueError(f"expected 16 numbers, got {m.size}")
            out[scene_id] = check_axis_alignment(m.reshape(4, 4), name=scene_id)
        except (ValueError, TypeError) as e:
            raise DataError(f"{path}: scene {scene_id}: {e}") from e
    return out
