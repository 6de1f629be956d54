"""Backend registry: short names -> ``"module:Class"`` strings, imported only when a backend is built.

Importing this module imports no backend (and no torch); ``make_backend("vggt")`` imports
``loc3r.backends.vggt`` at call time, which in turn checks that the ``vggt`` package is installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .base import PriorBackend

__all__ = ["BACKENDS", "backend_names", "get_backend_class", "make_backend"]

#: name -> "module:Class". Add a backend by adding a line here.
BACKENDS: dict[str, str] = {
    "none": "loc3r.backends.none:NoPrior",
    "pose": "loc3r.backends.pose:PosePrior",
    "cut3r": "loc3r.backends.cut3r:Cut3rPrior",
    "vggt": "loc3r.backends.vggt:VggtPrior",
}


def backend_names() -> list[str]:
    """Registered backend names, in registry order."""
    return list(BACKENDS)


def get_backend_class(name: str) -> type[PriorBackend]:
    """Import and return the class registered under ``name``.

    Raises:
        KeyError: unknown name (the message lists the known ones).
    """
    try:
        target = BACKENDS[name]
    except KeyError:
        raise KeyError(f"unknown prior backend {name!r}; known: {', '.join(BACKENDS)}") from None
    module_name, _, cls_name = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)


def make_backend(name: str, **kwargs: Any) -> PriorBackend:
    """Build the backend registered under ``name`` with ``kwargs`` (its constructor's arguments).

    Example:
        >>> backend = make_backend("pose", mode="relative")
        >>> backend.token_dim
        13
    """
    return get_backend_class(name)(**kwargs)
