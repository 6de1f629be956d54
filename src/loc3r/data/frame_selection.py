"""Which frames of a scan the model sees: uniform sampling and greedy maximum-coverage selection.

Both selectors are deterministic and return **original frame indices** (the ``.sens`` frame numbers, not
positions in a list), sorted in temporal order, so the first entry is the frame that anchors the BEV frame.

Uniform (the paper's "32 frames sampled uniformly", method.md §2.2 [P]; the exact rule is not stated [G]):
    Over the ``n`` valid frames (sorted), position ``i`` of ``k`` is ``floor(i * (n - 1) / (k - 1))`` in exact
    integer arithmetic. This is the rule LLaVA-Video (the base model) uses when it samples a video,
    ``np.linspace(0, n - 1, k).astype(int)``; the two agree for k = 16 and 32 and every n < 12000 (checked),
    while for some larger k float rounding makes linspace land one frame lower (e.g. n = 154, k = 64), so the
    integer form is the definition. It always includes the first and the last valid frame.
    ``anchor="centers"`` instead takes the centre of each of ``k`` equal segments, ``floor((i + 0.5) n / k)``.
    With ``n <= k`` every valid frame is returned (fewer than ``k``; callers see it from ``len(indices)`` and
    ``FrameSelection.num_available``).

Stratified random (training-time augmentation, ``DataArguments.frame_sampling="random"`` [G]; not in the paper):
    The first frame is always kept (it anchors the BEV frame, so per-token BEV targets and pose-prior tokens
    computed for the whole pool stay valid); the remaining ``n - 1`` frames are split into ``k - 1``
    contiguous segments (edges ``1 + floor(j (n - 1) / (k - 1))``) and one frame is drawn uniformly from each.
    The result keeps the temporal spread of the uniform rule (one frame per stretch of the video) while a
    model sees different views of a training scene each epoch.

Coverage (Video-3D LLM's ``max_coverage_sampling``, peers.md §1.1 [S]):
    Each candidate frame's valid depth is back-projected to world points and voxelised (``voxel_size``,
    metres, voxel ``floor(p / voxel_size)``). The universe is the union of all candidates' voxels. Greedy set
    cover: repeatedly pick the frame that adds the most not-yet-covered voxels; ties go to the lowest frame
    index. Selection stops after ``k`` frames, or earlier once the covered fraction reaches
    ``coverage_ratio`` (Video-3D LLM's ``mc-ratio90`` is ``coverage_ratio=0.9``). Once everything is covered
    and ``coverage_ratio`` is None, the remaining picks add nothing and so go to the lowest unused indices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from loc3r.geometry.camera import unproject_depth

__all__ = [
    "FrameSelection",
    "select_uniform",
    "select_stratified_random",
    "voxelize_points",
    "select_coverage",
    "select_coverage_from_depth",
]

_UNIFORM_ANCHORS = ("endpoints", "centers")


@dataclass(frozen=True)
class FrameSelection:
    """The outcome of a frame selection, saved as JSON next to the exported frames.

    Attributes:
        method: ``"uniform"`` or ``"coverage"``.
        k: number of frames requested.
        indices: selected original frame indices, ascending (may be fewer than ``k``).
        num_available: number of candidate (valid-pose) frames the selection chose from.
        params: the parameters that decide the result (anchor, voxel size, stride, coverage reached, ...).
    """

    method: str
    k: int
    indices: tuple[int, ...]
    num_available: int
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (indices as a list of ints)."""
        d = asdict(self)
        d["indices"] = [int(i) for i in self.indices]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FrameSelection":
        """Inverse of ``to_dict``."""
        return cls(
            method=str(d["method"]),
            k=int(d["k"]),
            indices=tuple(int(i) for i in d["indices"]),
            num_available=int(d["num_available"]),
            params=dict(d.get("params", {})),
        )


def _sorted_unique_ids(frame_ids: Sequence[int] | np.ndarray) -> np.ndarray:
    ids = np.asarray(frame_ids)
    if ids.ndim != 1:
        raise ValueError(f"frame_ids must be 1-D, got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"frame_ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    s = np.sort(ids)
    if s.size > 1 and np.any(s[1:] == s[:-1]):
        raise ValueError("frame_ids contains duplicates")
    return s


def _candidates_for(frame_ids: Sequence[int] | np.ndarray, k: int) -> np.ndarray:
    """Sorted unique ids to pick ``k`` from (``ValueError`` for ``k < 1`` or no frames)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ids = _sorted_unique_ids(frame_ids)
    if ids.size == 0:
        raise ValueError("no frames to select from")
    return ids


def select_uniform(frame_ids: Sequence[int] | np.ndarray, k: int, anchor: str = "endpoints") -> np.ndarray:
    """Pick ``k`` uniformly spaced frames among the available ones.

    Args:
        frame_ids: [N] original indices of the available (valid-pose) frames, any order, no duplicates.
        k: number of frames wanted (>= 1).
        anchor: ``"endpoints"`` (default; ``np.linspace(0, N - 1, k).astype(int)`` over the sorted ids, first
            and last frame included, as LLaVA-Video samples videos) or ``"centers"`` (segment centres,
            ``floor((i + 0.5) N / k)``).

    Returns:
        [min(k, N)] int64 original frame indices, ascending. With ``N <= k`` all frames are returned.

    Raises:
        ValueError: ``k < 1``, unknown ``anchor``, empty or malformed ``frame_ids``.
    """
    if anchor not in _UNIFORM_ANCHORS:
        raise ValueError(f"anchor must be one of {_UNIFORM_ANCHORS}, got {anchor!r}")
    ids = _candidates_for(frame_ids, k)
    n = ids.size
    if n <= k:
        return ids.copy()
    i = np.arange(k, dtype=np.int64)
    if anchor == "endpoints":
        # Integer form of np.linspace(0, n - 1, k).astype(int) (which gives [0] for k = 1).
        pos = (i * (n - 1)) // (k - 1) if k > 1 else np.zeros(1, dtype=np.int64)
    else:
        pos = ((2 * i + 1) * n) // (2 * k)
    return ids[pos]


def select_stratified_random(frame_ids: Sequence[int] | np.ndarray, k: int,
                             rng: np.random.Generator) -> np.ndarray:
    """Pick ``k`` frames: the first one, then one drawn uniformly from each of ``k - 1`` equal stretches.

    Args:
        frame_ids: [N] original indices of the available frames, any order, no duplicates.
        k: number of frames wanted (>= 1).
        rng: the only randomness.

    Returns:
        [min(k, N)] int64 original frame indices, ascending; the first (smallest) id is always included.
        With ``N <= k`` all frames are returned.

    Raises:
        ValueError: ``k < 1``, empty or malformed ``frame_ids``.
    """
    ids = _candidates_for(frame_ids, k)
    n = ids.size
    if n <= k:
        return ids.copy()
    if k == 1:
        return ids[:1].copy()
    j = np.arange(k, dtype=np.int64)
    edges = 1 + (j * (n - 1)) // (k - 1)  # [k]: segment s = [edges[s], edges[s + 1]), s < k - 1
    pos = [0] + [int(rng.integers(edges[s], edges[s + 1])) for s in range(k - 1)]
    return ids[np.asarray(pos, dtype=np.int64)]


def voxelize_points(points: np.ndarray, voxel_size: float) -> np.ndarray:
    """Unique integer voxels ``floor(p / voxel_size)`` of points [N, 3] -> [M, 3] int64, sorted."""
    if voxel_size <= 0:
        raise ValueError(f"voxel_size must be positive, got {voxel_size}")
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    p = p[np.all(np.isfinite(p), axis=1)]
    if p.size == 0:
        return np.zeros((0, 3), dtype=np.int64)
    return np.unique(np.floor(p / voxel_size).astype(np.int64), axis=0)


def _greedy_cover(
    voxel_sets: list[np.ndarray], ids: np.ndarray, k: int, coverage_ratio: float | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Greedy set cover over per-frame voxel sets ([M_f, 3] int64), see ``select_coverage``."""
    num_frames = len(voxel_sets)
    # Process candidates in ascending frame-index order so argmax's first-maximum rule = lowest index wins.
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    vox = [voxel_sets[j] for j in order]
    sizes = np.array([len(v) for v in vox], dtype=np.int64)
    if sizes.sum() == 0:
        all_vox = np.zeros(0, dtype=np.int64)
        num_voxels = 0
    else:
        _, all_vox = np.unique(np.concatenate(vox, axis=0), axis=0, return_inverse=True)
        all_vox = all_vox.reshape(-1)
        num_voxels = int(all_vox.max()) + 1
    owner = np.repeat(np.arange(num_frames), sizes)  # candidate slot of each (frame, voxel) entry
    starts = np.concatenate([[0], np.cumsum(sizes)])
    covered = np.zeros(num_voxels, dtype=bool)
    chosen = np.zeros(num_frames, dtype=bool)
    picks: list[int] = []
    gains_out: list[int] = []
    n_covered = 0
    for _ in range(min(k, num_frames)):
        if coverage_ratio is not None and num_voxels > 0 and n_covered >= coverage_ratio * num_voxels:
            break
        new = ~covered[all_vox]
        gains = np.bincount(owner[new], minlength=num_frames).astype(np.int64)
        gains[chosen] = -1
        j = int(np.argmax(gains))
        chosen[j] = True
        covered[all_vox[starts[j] : starts[j + 1]]] = True
        picks.append(j)
        gains_out.append(int(gains[j]))
        n_covered += int(gains[j])
    sel = np.sort(ids[picks])
    info = {
        "order": [int(ids[j]) for j in picks],
        "gains": gains_out,
        "num_voxels": num_voxels,
        "coverage": float(n_covered / num_voxels) if num_voxels else 1.0,
    }
    return sel, info


def _check_coverage_args(k: int, coverage_ratio: float | None, voxel_size: float) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if coverage_ratio is not None and not 0 < coverage_ratio <= 1:
        raise ValueError(f"coverage_ratio must be in (0, 1], got {coverage_ratio}")
    if voxel_size <= 0:
        raise ValueError(f"voxel_size must be positive, got {voxel_size}")


def _candidate_ids(frame_ids: Sequence[int] | np.ndarray | None, num_frames: int) -> np.ndarray:
    if num_frames == 0:
        raise ValueError("no frames to select from")
    ids = np.arange(num_frames) if frame_ids is None else np.asarray(frame_ids)
    ids = ids.astype(np.int64)
    if ids.shape != (num_frames,):
        raise ValueError(f"frame_ids has shape {ids.shape}, expected ({num_frames},)")
    if np.unique(ids).size != num_frames:
        raise ValueError("frame_ids contains duplicates")
    return ids


def select_coverage(
    points_per_frame: Sequence[np.ndarray],
    k: int,
    voxel_size: float = 0.1,
    frame_ids: Sequence[int] | np.ndarray | None = None,
    coverage_ratio: float | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Greedy maximum-coverage frame selection over world-space voxels.

    Args:
        points_per_frame: F arrays [N_f, 3] of world points (metres) seen by each candidate frame (any world
            frame, as long as it is the same for all). Non-finite points are ignored.
        k: maximum number of frames (>= 1).
        voxel_size: voxel edge, metres.
        frame_ids: [F] original frame indices of the candidates (default ``0..F-1``). Ties are broken towards
            the lowest frame index.
        coverage_ratio: optional early stop once ``covered / total`` voxels >= this value (0 < r <= 1).

    Returns:
        (indices, info): ``indices`` [<= k] int64 selected original frame indices, ascending; ``info`` with
        ``order`` (frame indices in pick order), ``gains`` (new voxels per pick), ``num_voxels`` (universe
        size) and ``coverage`` (fraction covered by the selection).

    Raises:
        ValueError: bad ``k``, ``voxel_size``, ``coverage_ratio``, no candidates or mismatched ``frame_ids``.
    """
    _check_coverage_args(k, coverage_ratio, voxel_size)
    ids = _candidate_ids(frame_ids, len(points_per_frame))
    vox = [voxelize_points(p, voxel_size) for p in points_per_frame]
    return _greedy_cover(vox, ids, k, coverage_ratio)


def select_coverage_from_depth(
    depths_m: Iterable[np.ndarray],
    poses: np.ndarray,
    K_depth: np.ndarray,
    k: int,
    voxel_size: float = 0.1,
    frame_ids: Sequence[int] | np.ndarray | None = None,
    coverage_ratio: float | None = None,
    pixel_stride: int = 1,
    max_depth_m: float | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Greedy maximum-coverage selection from depth maps and camera poses (see ``select_coverage``).

    Depth maps are consumed one at a time and only their voxel sets are kept, so ``depths_m`` may be a
    generator that decodes frames lazily (a ScanNet scan has thousands).

    Args:
        depths_m: F depth maps [h, w] in metres (0 / non-finite = invalid), any iterable.
        poses: [F, 4, 4] camera-to-world poses (OpenCV camera), one per depth map.
        K_depth: 3x3 / 4x4 depth intrinsics, shared, or [F, 3, 3] per frame.
        k, voxel_size, frame_ids, coverage_ratio: as in ``select_coverage``.
        pixel_stride: use every ``pixel_stride``-th pixel in each direction (the kept pixels are unprojected
            with their true pixel coordinates).
        max_depth_m: ignore depth beyond this range (None: keep all).

    Returns:
        As ``select_coverage``.

    Raises:
        ValueError: as ``select_coverage``, or a depth count that differs from the number of poses.
    """
    _check_coverage_args(k, coverage_ratio, voxel_size)
    if pixel_stride < 1:
        raise ValueError(f"pixel_stride must be >= 1, got {pixel_stride}")
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise ValueError(f"poses must be [F, 4, 4], got {poses.shape}")
    ids = _candidate_ids(frame_ids, len(poses))
    K = np.asarray(K_depth, dtype=np.float64)
    vox = []
    for f, d in enumerate(depths_m):
        if f >= len(poses):
            raise ValueError(f"more depth maps than poses ({len(poses)})")
        Kf = K[f] if K.ndim == 3 else K
        pts, valid = unproject_depth(d, Kf, poses[f])
        pts = pts[::pixel_stride, ::pixel_stride]
        valid = valid[::pixel_stride, ::pixel_stride]
        if max_depth_m is not None:
            valid &= np.asarray(d, dtype=np.float64)[::pixel_stride, ::pixel_stride] <= max_depth_m
        vox.append(voxelize_points(pts[valid], voxel_size))
    if len(vox) != len(poses):
        raise ValueError(f"got {len(vox)} depth maps for {len(poses)} poses")
    return _greedy_cover(vox, ids, k, coverage_ratio)
