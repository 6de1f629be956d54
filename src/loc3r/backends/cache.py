"""On-disk cache of per-frame prior tokens: one ``.safetensors`` file per (scene, frames, backend, weights).

Layout (see docs/backends.md)::

    <cache_root>/<backend name>/<scene_id>/<sha256 key>.safetensors
        tensor  "tokens": float32 [T, D]   (row t = frame_indices[t])
        metadata (strings): "key", "payload" (the JSON below), "format"

The key is the sha256 of the canonical JSON (sorted keys, no spaces) of::

    {"format": 1, "scene_id": ..., "frame_indices": [...], "backend": ...,
     "checkpoint_hash": ..., "preprocessing": {...}}

so a different frame list, checkpoint or preprocessing setting is a different file (a miss), never a stale
hit. A file is trusted only if its stored payload equals the requested one and the tensor has shape
``[len(frame_indices), D]`` with finite values; anything else (truncated file, wrong content) is reported
with a warning and recomputed, and the recomputed tokens replace it. Writes are atomic (temp file + rename),
so concurrent cache builders and crashes never leave a half-written file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loc3r.utils.io import atomic_write_bytes, safe_join

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .base import PriorBackend

__all__ = [
    "CACHE_FORMAT_VERSION",
    "CacheKey",
    "TokenCache",
    "CacheStats",
    "encode_cached",
    "sha256_file",
]

CACHE_FORMAT_VERSION = 1
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TENSOR_NAME = "tokens"


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SAFE_NAME.match(value) or value in (".", ".."):
        raise ValueError(
            f"{what} {value!r} is not usable as a cache folder name (letters, digits, '.', '_', '-')"
        )
    return value


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


@dataclass(frozen=True)
class CacheKey:
    """Everything that determines a token file's content.

    Attributes:
        scene_id: scene/video identifier (e.g. ``"scene0000_00"``); a folder name.
        frame_indices: the selected frames, in the order the tokens are stored.
        backend: backend registry name.
        checkpoint_hash: the backend's weights identity.
        preprocessing: canonical JSON of the backend's ``preprocessing_params``.
    """

    scene_id: str
    frame_indices: tuple[int, ...]
    backend: str
    checkpoint_hash: str
    preprocessing: str = "{}"

    @classmethod
    def create(
        cls,
        scene_id: str,
        frame_indices: Sequence[int],
        backend: str,
        checkpoint_hash: str,
        preprocessing: Mapping[str, Any] | None = None,
    ) -> CacheKey:
        """Validate and build a key.

        Raises:
            ValueError: unsafe scene/backend name, empty or negative/non-integer frame indices, empty
                checkpoint hash, or non-JSON preprocessing values.
        """
        _check_name(scene_id, "scene_id")
        _check_name(backend, "backend name")
        idx = []
        for i in frame_indices:
            if isinstance(i, bool) or not hasattr(i, "__index__") or int(i) < 0:
                raise ValueError(f"frame indices must be non-negative integers, got {i!r}")
            idx.append(int(i))
        if not idx:
            raise ValueError("frame_indices is empty")
        if not checkpoint_hash:
            raise ValueError("checkpoint_hash is empty")
        try:
            pre = _canonical_json(dict(preprocessing or {}))
        except (TypeError, ValueError) as e:
            raise ValueError(f"preprocessing params must be JSON-serialisable: {e}") from e
        return cls(scene_id, tuple(idx), backend, str(checkpoint_hash), pre)

    @classmethod
    def for_backend(cls, backend: PriorBackend, scene_id: str, frame_indices: Sequence[int]) -> CacheKey:
        """The key of ``backend``'s tokens for ``frame_indices`` of ``scene_id``."""
        return cls.create(
            scene_id, frame_indices, backend.name, backend.checkpoint_hash, backend.preprocessing_params
        )

    def payload(self) -> dict[str, Any]:
        """The JSON object hashed into the key (also stored in the file's metadata)."""
        return {
            "format": CACHE_FORMAT_VERSION,
            "scene_id": self.scene_id,
            "frame_indices": list(self.frame_indices),
            "backend": self.backend,
            "checkpoint_hash": self.checkpoint_hash,
            "preprocessing": json.loads(self.preprocessing),
        }

    @property
    def digest(self) -> str:
        """sha256 hex digest of the canonical payload JSON."""
        return hashlib.sha256(_canonical_json(self.payload()).encode("utf-8")).hexdigest()


@dataclass
class CacheStats:
    """Counters for batch jobs to report: hits, misses (computed) and corrupt files recomputed."""

    hits: int = 0
    misses: int = 0
    recomputed_corrupt: int = 0

    def as_dict(self) -> dict[str, int]:
        """Counters as a plain dict."""
        return {"hits": self.hits, "misses": self.misses, "recomputed_corrupt": self.recomputed_corrupt}


@dataclass
class TokenCache:
    """A folder of token files (see module docstring).

    Attributes:
        root: cache root folder (created on first write).
        stats: hit/miss counters of this instance.
    """

    root: Path
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser()

    def path_for(self, key: CacheKey) -> Path:
        """``<root>/<backend>/<scene_id>/<digest>.safetensors`` (confined to ``root``)."""
        return safe_join(self.root, key.backend, key.scene_id, f"{key.digest}.safetensors")

    def load(self, key: CacheKey) -> torch.Tensor | None:
        """Tokens ``[T, D]`` float32 for ``key``, or None when absent or unusable (with a warning).

        An unusable file (unreadable, wrong payload, wrong shape, non-finite values) is reported with a
        ``UserWarning`` naming the file and the problem; the caller recomputes and overwrites it.
        """
        path = self.path_for(key)
        if not path.is_file():
            return None
        problem = None
        tokens = None
        try:
            tokens, problem = self._read_checked(path, key)
        except Exception as e:  # corrupt/truncated files raise various safetensors/OS errors
            problem = f"unreadable ({type(e).__name__}: {e})"
        if problem is not None:
            warnings.warn(f"token cache file {path} is {problem}; recomputing it", UserWarning, stacklevel=2)
            self.stats.recomputed_corrupt += 1
            return None
        return tokens

    @staticmethod
    def _read_checked(path: Path, key: CacheKey):
        import torch
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            names = list(f.keys())
            if names != [_TENSOR_NAME]:
                return None, f"not a token file (tensors {names})"
            tokens = f.get_tensor(_TENSOR_NAME)
        if meta.get("key") != key.digest:
            return None, "for another key (metadata key mismatch)"
        try:
            stored = json.loads(meta.get("payload", ""))
        except json.JSONDecodeError:
            return None, "missing its payload metadata"
        if stored != key.payload():
            return None, "for another key (payload mismatch)"
        if tokens.ndim != 2 or tokens.shape[0] != len(key.frame_indices):
            return None, f"of the wrong shape {tuple(tokens.shape)} for {len(key.frame_indices)} frames"
        if tokens.dtype != torch.float32:
            return None, f"of dtype {tokens.dtype}, expected float32"
        if not torch.isfinite(tokens).all():
            return None, "holding non-finite values"
        return tokens.contiguous(), None

    def save(self, key: CacheKey, tokens: torch.Tensor) -> Path:
        """Atomically write ``tokens`` ``[T, D]`` (stored as float32) for ``key``; returns the file path.

        Raises:
            ValueError: when ``tokens`` is not ``[len(frame_indices), D]`` or holds non-finite values.
        """
        import torch
        from safetensors.torch import save as st_save

        t = torch.as_tensor(tokens).detach().to("cpu", torch.float32).contiguous()
        if t.ndim != 2 or t.shape[0] != len(key.frame_indices):
            raise ValueError(
                f"tokens must be [{len(key.frame_indices)}, D] for {key.scene_id}, got {tuple(t.shape)}"
            )
        if not torch.isfinite(t).all():
            raise ValueError(f"refusing to cache non-finite tokens for {key.scene_id}")
        meta = {
            "key": key.digest,
            "payload": _canonical_json(key.payload()),
            "format": str(CACHE_FORMAT_VERSION),
        }
        path = self.path_for(key)
        atomic_write_bytes(path, st_save({_TENSOR_NAME: t}, metadata=meta))
        return path

    def get_or_compute(self, key: CacheKey, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Cached tokens for ``key``; on a miss (or an unusable file) call ``compute()``, store and return.

        Args:
            key: the cache key.
            compute: zero-argument function returning ``[T, D]`` tokens (only called on a miss).

        Returns:
            float32 ``[T, D]`` CPU tensor.
        """
        cached = self.load(key)
        if cached is not None:
            self.stats.hits += 1
            return cached
        self.stats.misses += 1
        tokens = compute()
        self.save(key, tokens)
        import torch

        return torch.as_tensor(tokens).detach().to("cpu", torch.float32).contiguous()


def encode_cached(
    cache: TokenCache,
    backend: PriorBackend,
    scene_id: str,
    frame_indices: Sequence[int],
    load_inputs: Callable[[], Mapping[str, Any]],
) -> torch.Tensor:
    """``backend.encode`` through the cache; inputs are loaded only on a miss.

    Args:
        cache: the token cache.
        backend: a prior backend.
        scene_id: scene identifier.
        frame_indices: the selected frames (the order of the returned rows).
        load_inputs: returns the keyword arguments of ``backend.encode`` for those frames (``frames``,
            ``poses_c2w``, ``intrinsics``, ``image_size_wh``); called only when the tokens are not cached.

    Returns:
        float32 ``[len(frame_indices), backend.token_dim]``.
    """
    key = CacheKey.for_backend(backend, scene_id, frame_indices)
    return cache.get_or_compute(key, lambda: backend.encode(**dict(load_inputs())))


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike, chunk_bytes: int = 1 << 22) -> str:
    """sha256 hex digest of a file, memoised per process by (real path, size, mtime).

    Checkpoints are gigabytes; hashing one takes seconds, so each is hashed once per process.

    Raises:
        FileNotFoundError: when the file does not exist.
    """
    p = Path(path).expanduser().resolve()
    st = p.stat()
    memo_key = (str(p), st.st_size, st.st_mtime_ns)
    if memo_key in _SHA_MEMO:
        return _SHA_MEMO[memo_key]
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_bytes), b""):
            h.update(chunk)
    _SHA_MEMO[memo_key] = h.hexdigest()
    return _SHA_MEMO[memo_key]
