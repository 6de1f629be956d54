"""Safe file I/O: atomic writes, paths confined to a data root, and a restricted unpickler."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

__all__ = [
    "DataError",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "safe_join",
    "restricted_pickle_load",
    "RestrictedUnpickler",
]


class DataError(ValueError):
    """A problem with an input file; the message names the file and the problem."""


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temporary file next to ``path`` and rename it into place only on success.

    A crash or exception leaves either the old file or no file — never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_write(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write UTF-8 ``text`` to ``path``."""
    with atomic_write(path, "w") as f:
        f.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> None:
    """Atomically write ``obj`` as JSON."""
    atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")


def safe_join(root: str | os.PathLike, *parts: str) -> Path:
    """Join ``parts`` under ``root`` and refuse any result that escapes it (``..``, absolute parts, symlinks).

    Raises:
        DataError: when the resolved path is outside the resolved root.
    """
    root_r = Path(root).resolve()
    p = Path(root_r, *parts).resolve()
    if p != root_r and root_r not in p.parents:
        raise DataError(f"path {Path(*parts)} escapes the data root {root_r}")
    return p


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only resolves an explicit allow-list of globals (numpy arrays by default).

    Enough for mmdetection3d / EmbodiedScan info pickles; anything else raises ``pickle.UnpicklingError``.
    """

    ALLOWED: frozenset[tuple[str, str]] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),
            ("collections", "OrderedDict"),
        }
    )

    def find_class(self, module: str, name: str):  # noqa: D102
        if (module, name) in self.ALLOWED:
            if module.startswith("numpy.core"):
                module = module.replace("numpy.core", "numpy._core", 1)
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from a data pickle")


def restricted_pickle_load(path: str | os.PathLike, encoding: str = "latin1") -> Any:
    """Load a data pickle with ``RestrictedUnpickler``; errors name the file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, encoding=encoding).load()
    except FileNotFoundError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise DataError(f"{path}: cannot load pickle safely: {e}") from e
