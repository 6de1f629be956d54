"""Availability checks for optional dependencies, and one clear error when one is missing.

Design:
  * Nothing here imports an optional package: checks use ``importlib.util.find_spec`` and are evaluated
    lazily (at call time, cached), so ``import loc3r`` never fails and never mutates the environment.
  * ``require_package`` raises :class:`MissingDependencyError` (an ``ImportError``) whose message says what
    to install and how, taken from ``INSTALL_HINTS``.
  * CUT3R is not a package: it is a cloned repository whose ``src/`` folder holds the ``dust3r`` and
    ``croco`` packages. ``cut3r_src_dir`` resolves the folder a user points at; the CUT3R backend adds it to
    ``sys.path`` only when it is built (never at import time).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

__all__ = [
    "MissingDependencyError",
    "INSTALL_HINTS",
    "is_package_available",
    "is_vggt_available",
    "is_safetensors_available",
    "require_package",
    "cut3r_src_dir",
]

#: How to install each optional dependency (shown in ``MissingDependencyError`` messages).
INSTALL_HINTS: dict[str, str] = {
    "vggt": (
        "VGGT is not on PyPI. Install it from its repository:\n"
        "    git clone https://github.com/facebookresearch/vggt && pip install -e ./vggt\n"
        "Weights: facebook/VGGT-1B on the Hugging Face Hub (downloaded on first use), or a local "
        "model.safetensors / model.pt passed as `checkpoint`. See docs/backends.md."
    ),
    "dust3r": (
        "CUT3R is not a pip package. Clone it and install its requirements:\n"
        "    git clone https://github.com/CUT3R/CUT3R && pip install -r CUT3R/requirements.txt\n"
        "then pass `cut3r_root=/path/to/CUT3R` (the clone; its src/ folder is added to sys.path) and "
        "`checkpoint=/path/to/cut3r_512_dpt_4_64.pth`. See docs/backends.md."
    ),
    "safetensors": "pip install safetensors",
    "PIL": "pip install pillow",
}


class MissingDependencyError(ImportError):
    """An optional dependency needed for the requested feature is not installed."""


def is_package_available(name: str) -> bool:
    """True when ``name`` (a top-level package or dotted module) can be imported; imports nothing.

    For a dotted name only the parent package is imported by ``find_spec`` (which is what Python does
    anyway); a missing parent counts as unavailable.
    """
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        # ValueError: module in sys.modules with __spec__ None (or set to None to hide it in tests).
        return False


@functools.cache
def _cached_available(name: str) -> bool:
    return is_package_available(name)


def is_vggt_available() -> bool:
    """True when the ``vggt`` package (facebookresearch/vggt) is importable."""
    return is_package_available("vggt")


def is_safetensors_available() -> bool:
    """True when ``safetensors`` is importable (a base dependency; checked for clear errors)."""
    return _cached_available("safetensors")


def require_package(name: str, *, feature: str | None = None, hint: str | None = None) -> None:
    """Raise a clear :class:`MissingDependencyError` unless ``name`` is importable.

    Args:
        name: import name of the package (e.g. ``"vggt"``).
        feature: what needs it, for the message (e.g. ``"the 'vggt' prior backend"``).
        hint: install instructions; defaults to ``INSTALL_HINTS[name]`` or ``pip install <name>``.

    Raises:
        MissingDependencyError: naming the package, the feature and how to install it.
    """
    if is_package_available(name):
        return
    what = f" (needed by {feature})" if feature else ""
    how = hint or INSTALL_HINTS.get(name.split(".")[0], f"pip install {name}")
    raise MissingDependencyError(f"Python package '{name}' is not installed{what}.\n{how}")


def cut3r_src_dir(cut3r_root: str | Path) -> Path:
    """The folder to put on ``sys.path`` so that ``import dust3r`` finds CUT3R's package.

    Accepts the repository clone (``<root>/src/dust3r`` exists) or its ``src`` folder itself
    (``<root>/dust3r`` exists).

    Raises:
        MissingDependencyError: when neither layout is found, with install instructions.
    """
    root = Path(cut3r_root).expanduser()
    for candidate in (root / "src", root):
        if (candidate / "dust3r").is_dir():
            return candidate.resolve()
    raise MissingDependencyError(
        f"cut3r_root={str(root)!r} does not contain CUT3R's sources (expected {root / 'src' / 'dust3r'} "
        f"or {root / 'dust3r'}).\n{INSTALL_HINTS['dust3r']}"
    )
