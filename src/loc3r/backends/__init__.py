"""Camera-pose prior backends: frames (and optionally poses) in, one token per frame ``[T, D]`` out.

Backends (``make_backend(name, **kwargs)``; modules are imported only when built):

==========  =====  ==================================================================================
name        D      what
==========  =====  ==================================================================================
``cut3r``   768    CUT3R's camera token, online over the frames (the paper's prior; user-installed)
``vggt``    2048   VGGT's last-layer aggregator camera token, all frames jointly (user-installed)
``pose``    13/10  known or estimated poses relative to the first frame + normalised intrinsics
``none``    0      no prior
==========  =====  ==================================================================================

Tokens are cached on disk by ``TokenCache`` (``cache.py``); see docs/backends.md for installation and the
cache layout. Importing this package imports neither torch nor any backend.
"""

from .registry import BACKENDS, backend_names, get_backend_class, make_backend

__all__ = [
    "BACKENDS",
    "backend_names",
    "get_backend_class",
    "make_backend",
    "PriorBackend",
    "TokenCache",
    "CacheKey",
    "encode_cached",
]


def __getattr__(name: str):
    # Lazy re-exports keep `import loc3r.backends` free of torch/safetensors imports.
    if name == "PriorBackend":
        from .base import PriorBackend

        return PriorBackend
    if name in ("TokenCache", "CacheKey", "encode_cached"):
        from . import cache

        return getattr(cache, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
