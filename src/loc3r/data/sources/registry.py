"""Annotation-source registry: source name -> reader, and the two entry points ``read_records`` (strict) and
``read_records_lenient`` (skip, count and list bad items).

Readers are referenced as ``"module:function"`` strings and imported when first used, so importing this module
(e.g. by the CLI) costs nothing. Every reader has the signature
``reader(paths: Sequence[PathLike], strict: bool = True) -> ReadResult``.
"""

from __future__ import annotations

import importlib
from typing import Callable, Sequence

from loc3r.data.schema import Record
from loc3r.data.sources.common import PathLike, ReadResult

__all__ = ["SOURCES", "get_reader", "read_records", "read_records_lenient"]

_READERS: dict[str, str] = {
    "sqa3d": "loc3r.data.sources.sqa3d:read_sqa3d",
    "scanqa": "loc3r.data.sources.scanqa:read_scanqa",
    "vsibench": "loc3r.data.sources.vsibench:read_vsibench",
    "msqa": "loc3r.data.sources.msqa:read_msqa",
    "beacon3d": "loc3r.data.sources.beacon3d:read_beacon3d",
}
SOURCES: tuple[str, ...] = tuple(_READERS)

Reader = Callable[..., ReadResult]


def get_reader(source: str, paths: Sequence[PathLike] = ()) -> Reader:
    """The reader function of ``source``.

    Raises:
        ValueError: unknown source (the message names the input files, if given, and the known sources).
    """
    if source not in _READERS:
        files = f" for {', '.join(map(str, paths))}" if paths else ""
        raise ValueError(f"unknown annotation source {source!r}{files}; known sources: {', '.join(SOURCES)}")
    module, func = _READERS[source].split(":")
    return getattr(importlib.import_module(module), func)


def _read(source: str, paths: Sequence[PathLike], strict: bool) -> ReadResult:
    if isinstance(paths, (str, bytes)) or not hasattr(paths, "__iter__"):
        raise TypeError(f"paths must be a sequence of file paths, got {type(paths).__name__}")
    paths = list(paths)
    reader = get_reader(source, paths)
    if not paths:
        raise ValueError(f"no input files given for source {source!r}")
    return reader(paths, strict=strict)


def read_records(source: str, paths: Sequence[PathLike], strict: bool = True) -> list[Record]:
    """Read annotation files of ``source`` into unified records.

    Args:
        source: one of ``SOURCES`` (``sqa3d``, ``scanqa``, ``vsibench``, ``msqa``, ``beacon3d``).
        paths: the source's files (see each reader; SQA3D needs questions + annotations together).
        strict: raise on the first bad item (default). With ``strict=False`` bad items are skipped silently;
            use ``read_records_lenient`` to get the count and the reasons.

    Returns:
        The records, in file order.

    Raises:
        ValueError: unknown source or no paths.
        FileNotFoundError: a path does not exist.
        DataError: an unreadable file, or (strict) a bad item; the message names the file and the item.
    """
    return _read(source, paths, strict).records


def read_records_lenient(source: str, paths: Sequence[PathLike]) -> ReadResult:
    """Like ``read_records(strict=False)`` but also returns what was skipped.

    Returns:
        ``ReadResult(records, skipped, problems)``, a named tuple (``records, skipped, problems = ...``).
        File-level problems (missing or corrupt file) still raise.
    """
    return _read(source, paths, strict=False)
