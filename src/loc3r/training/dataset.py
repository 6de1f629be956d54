"""Prepared scene + record -> one training sample (frames, prior tokens, per-token BEV and situation targets).

A *scene clip* is everything about a scene that does not depend on the question: the selected frames resized
to the model's input (uint8), the camera-to-world poses, the per-token BEV targets on the model's token grid
and the camera-prior tokens. ``SceneClipStore`` builds clips from ``loc3r prepare`` output and caches them (in
memory, LRU per loader process; optionally on disk, so decoding and BEV targets are computed once per run
setting):

* frames: ``load_prepared_scene(root, scene, num_frames)`` (a fixed uniform subset of the prepared selection
  that keeps the first prepared frame), resized to ``S x S`` exactly as ``Loc3RProcessor``'s
  ``FrameTransform`` resizes (so the processor's own resize becomes a no-op; ``resize_frames``);
* BEV frame of the clip: ``BevFrame`` of the first selected frame's camera pose (raw ScanNet world);
* BEV targets: the prepared ``bev_targets.npz`` rows of the selected frames when it was computed on this very
  token grid, otherwise ``compute_bev_targets`` from the prepared depth, poses and intrinsics (depth pixels
  mapped into the colour image through both intrinsics, as ``prepare`` does by default);
* prior tokens: ``loc3r.data.scene_inputs.prior_tokens`` through the on-disk ``TokenCache``.

The situation target of a record (``situation_target``) is its ground-truth pose in the clip's BEV frame
(``loc3r.data.scene_inputs.pose_to_bev``: SQA3D -> raw via the raw mesh's bounding-box centre; MSQA
``aligned`` -> raw via the inverse axis alignment), i.e. ``(x, y)`` metres and the facing heading in radians.
Records without a pose get ``has_pose=False`` (no L_sit) and keep their situation text, or get the
pseudo-situation when they have none (the processor inserts it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loc3r.data.bev_targets import TokenGrid, compute_bev_targets, egocentric_targets
from loc3r.data.scene_inputs import (
    SceneInputs,
    load_prepared_scene,
    pose_to_bev,
    question_text,
    safe_scene_name,
)
from loc3r.geometry.frames import BevFrame
from loc3r.utils.io import DataError, atomic_write, safe_join

if TYPE_CHECKING:  # pragma: no cover
    from loc3r.backends.base import PriorBackend
    from loc3r.backends.cache import TokenCache
    from loc3r.data.schema import Pose, Record

__all__ = [
    "CLIP_FORMAT_VERSION",
    "resize_frames",
    "token_grid_of",
    "SceneClip",
    "SceneClipStore",
    "situation_target",
    "make_sample",
]

logger = logging.getLogger(__name__)

#: Bumped whenever the content of a disk-cached clip changes meaning.
CLIP_FORMAT_VERSION = 1


def resize_frames(frames: np.ndarray, size: int, resample: str = "bicubic") -> np.ndarray:
    """RGB frames -> uint8 ``[T, 3, S, S]``, resized exactly like ``FrameTransform`` (antialiased, rounded).

    ``FrameTransform`` resizes to ``S x S`` without keeping the aspect ratio (``F.interpolate`` with
    ``antialias=True``, ``align_corners=False``), rounds and clamps to 0..255, then normalises; feeding it
    these frames therefore gives exactly the pixels it would give for the originals.

    Args:
        frames: uint8 ``[T, H, W, 3]``.
        size: S, pixels.
        resample: ``"bicubic"`` | ``"bilinear"``.
    """
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x.float(), size=(size, size), mode=resample, align_corners=False, antialias=True)
        x = x.round().clamp(0, 255).to(torch.uint8)
    return x.contiguous().numpy()


def token_grid_of(processor) -> TokenGrid:
    """The ``TokenGrid`` (resize / patch / pool geometry) of a ``Loc3RProcessor``, checked against its grid.

    Raises:
        ValueError: the grid geometry does not reproduce the processor's ``token_grid``.
    """
    spec = processor.token_grid_spec()
    grid = TokenGrid.llava_video(spec["image_size"], spec["patch_size"], spec["pool"])
    if tuple(grid.token_hw) != (spec["rows"], spec["cols"]):
        raise ValueError(
            f"token grid {grid.token_hw} of {spec} does not match the processor's "
            f"{(spec['rows'], spec['cols'])}"
        )
    return grid


@dataclass(frozen=True)
class SceneClip:
    """The question-independent inputs of a scene (see the module docstring).

    Attributes:
        scene_id: scene id.
        frame_ids: [T] original frame indices, temporal order.
        frames: uint8 [T, 3, S, S] frames resized to the model input.
        poses_c2w: float64 [T, 4, 4] camera-to-world poses, raw ScanNet world (OpenCV camera axes), metres.
        bev_xy: float32 [T, R, C, 2] per-token BEV (x, y) target, metres, BEV frame of frame 0.
        bev_valid: bool [T, R, C] tokens whose footprint holds valid depth.
        camera_tokens: float32 [T, D] prior tokens, or None without a camera prior.
        axis_alignment: float64 [4, 4] ScanNet axisAlignment, or None.
        scene_center_raw: float64 [3] raw-mesh bounding-box centre (SQA3D origin), or None.
        semantic_targets: int64 [T, R, C] per-token object category (``loc3r.data.semantic_targets``), or
            None when the store has no ``semantic_classes``.
        instance_ids: int64 [T, R, C] per-token object id (``instances.json`` ``object_id``, -1 = none), or
            None unless the store has ``instance_targets`` (grounding supervision).
    """

    scene_id: str
    frame_ids: tuple[int, ...]
    frames: np.ndarray
    poses_c2w: np.ndarray
    bev_xy: np.ndarray
    bev_valid: np.ndarray
    camera_tokens: np.ndarray | None = None
    axis_alignment: np.ndarray | None = None
    scene_center_raw: np.ndarray | None = None
    semantic_targets: np.ndarray | None = None
    instance_ids: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        """T."""
        return len(self.frame_ids)

    @property
    def bev_frame(self) -> BevFrame:
        """The clip's BEV frame (first frame's camera, raw world)."""
        return BevFrame.from_first_pose(self.poses_c2w[0])

    def take(self, positions: Sequence[int]) -> "SceneClip":
        """The clip restricted to frames at ``positions`` (indices into this clip, ascending, starting at 0).

        Position 0 must be kept: BEV targets and camera tokens are expressed in frame 0's BEV frame, so a
        subset that keeps it stays consistent without recomputation.

        Raises:
            ValueError: ``positions`` empty, not ascending, out of range or without 0.
        """
        pos = np.asarray(positions, dtype=np.int64)
        if pos.ndim != 1 or pos.size == 0 or pos[0] != 0 or np.any(np.diff(pos) <= 0) or pos[-1] >= self.num_frames:
            raise ValueError(
                f"scene {self.scene_id}: frame positions must be ascending, start at 0 and stay below "
                f"{self.num_frames}; got {pos.tolist()}"
            )
        def sub(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[pos]

        return replace(
            self,
            frame_ids=tuple(self.frame_ids[int(i)] for i in pos),
            frames=self.frames[pos],
            poses_c2w=self.poses_c2w[pos],
            bev_xy=self.bev_xy[pos],
            bev_valid=self.bev_valid[pos],
            camera_tokens=sub(self.camera_tokens),
            semantic_targets=sub(self.semantic_targets),
            instance_ids=sub(self.instance_ids),
        )

    def scene_inputs(self) -> SceneInputs:
        """A ``SceneInputs`` view of the clip (frames HWC) for the shared pose mapping."""
        return SceneInputs(
            scene_id=self.scene_id,
            frame_ids=self.frame_ids,
            frames=np.moveaxis(self.frames, 1, -1),
            poses_c2w=self.poses_c2w,
            axis_alignment=self.axis_alignment,
            scene_center_raw=self.scene_center_raw,
            source="prepared",
        )


def situation_target(pose: Pose, clip: SceneClip) -> tuple[np.ndarray, float]:
    """A ground-truth agent pose in the clip's BEV frame: ``(xy [2] metres float32, heading radians)``.

    Raises:
        DataError: the scene lacks what the pose's frame needs (mesh centre for SQA3D, alignment for MSQA).
    """
    xy, heading = pose_to_bev(pose, clip.scene_inputs())
    return np.asarray(xy, dtype=np.float32), float(heading)


def make_sample(record: Record, clip: SceneClip, situation: str | None, sample_id: str) -> dict[str, Any]:
    """One training sample (plain numpy / Python values; ``Loc3RCollator`` batches them).

    Args:
        record: the annotation record.
        clip: its scene clip.
        situation: the situation text to use (the record's, or one of its alternatives; None = pseudo).
        sample_id: id reported in logs and errors (``<source>/<record id>[#alt<k>]``).

    Returns:
        ``{"sample_id", "frames" uint8 [T,3,S,S], "camera_tokens" [T,D] | None, "bev_targets" [T,R,C,2],
        "bev_mask" [T,R,C], "situation", "question", "answer" (None: no language target), "pos_target" [2],
        "ori_target", "has_pose", "local_targets" [T,R,C,2] / "local_mask" [T,R,C] (the BEV targets in each
        frame's own BEV frame, ``loc3r.data.bev_targets.egocentric_targets``), "semantic_targets" [T,R,C] | None,
        "ground_pos_mask" / "ground_ori_mask"
        [T,R,C] bool | None (tokens of the object the situation places the agent at / faces: grounding
        records carry ``anchor_id`` / ``facing_id``, the clip its ``instance_ids``)}``.
    """
    has_pose = record.pose is not None and situation is not None
    if has_pose:
        xy, heading = situation_target(record.pose, clip)
    else:
        xy, heading = np.zeros(2, dtype=np.float32), 0.0
    local_xy, local_valid = egocentric_targets(clip.bev_xy, clip.bev_valid, clip.poses_c2w)
    return {
        "sample_id": sample_id,
        "frames": clip.frames,
        "camera_tokens": clip.camera_tokens,
        "bev_targets": clip.bev_xy,
        "bev_mask": clip.bev_valid,
        "local_targets": local_xy,
        "local_mask": local_valid,
        "situation": situation,
        "question": question_text(record),
        "answer": record.answers[0] if record.answers else None,
        "pos_target": xy,
        "ori_target": np.float32(heading),
        "has_pose": bool(has_pose),
        "semantic_targets": clip.semantic_targets,
        "ground_pos_mask": _referent_mask(clip, record.extra.get("anchor_id") if has_pose else None),
        "ground_ori_mask": _referent_mask(clip, record.extra.get("facing_id") if has_pose else None),
    }


def _referent_mask(clip: SceneClip, object_id: Any) -> np.ndarray | None:
    """bool [T, R, C]: the tokens that see object ``object_id`` (None without ids or without a referent)."""
    if clip.instance_ids is None or object_id is None:
        return None
    return clip.instance_ids == int(object_id)


class SceneClipStore:
    """Builds and caches ``SceneClip``s of the scenes under one prepared folder.

    Args:
        prepared_dir: ``loc3r prepare`` output (one sub-folder per scene).
        image_size: model input side S (the processor's ``frame_size``).
        grid: the model's token grid (``token_grid_of(processor)``).
        resample: the processor's resize filter.
        backend: camera-prior backend, or None (no camera tokens).
        token_cache: on-disk prior-token cache, or None.
        require_cached: with ``token_cache``, raise instead of running the backend on a miss.
        cache_dir: on-disk clip cache (frames + BEV targets), or None.
        memory_items: clips kept in memory (LRU, per process).
        semantic_classes: category vocabulary of per-token semantic targets (from the scene's
            ``instances.json``), or None for none.
        instance_targets: also label each token with the object id it sees (``SceneClip.instance_ids``).
    """

    def __init__(
        self,
        prepared_dir: str | Path,
        *,
        image_size: int,
        grid: TokenGrid,
        resample: str = "bicubic",
        backend: PriorBackend | None = None,
        token_cache: TokenCache | None = None,
        require_cached: bool = False,
        cache_dir: str | Path | None = None,
        memory_items: int = 32,
        semantic_classes: Sequence[str] | None = None,
        instance_targets: bool = False,
    ):
        if tuple(grid.input_hw) != (image_size, image_size):
            raise ValueError(f"token grid input {grid.input_hw} != model input {image_size}x{image_size}")
        self.prepared_dir = Path(prepared_dir)
        self.image_size = int(image_size)
        self.grid = grid
        self.resample = resample
        self.backend = backend if backend is not None and backend.token_dim > 0 else None
        self.token_cache = token_cache
        self.require_cached = bool(require_cached)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.memory_items = int(memory_items)
        self.semantic_classes = tuple(semantic_classes) if semantic_classes else None
        self.instance_targets = bool(instance_targets)
        self._memory: OrderedDict[tuple[str, int | None], SceneClip] = OrderedDict()
        self._meta: dict[str, dict[str, Any] | None] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # loader workers start with empty caches
        state = self.__dict__.copy()
        state["_memory"] = OrderedDict()
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ metadata
    def scene_meta(self, scene_id: str) -> dict[str, Any] | None:
        """``scene.json`` of a prepared scene, or None when the scene is not prepared (memoised).

        Raises:
            DataError: the file exists but is not valid JSON.
        """
        if scene_id not in self._meta:
            try:
                path = safe_join(self.prepared_dir, scene_id, "scene.json")
            except ValueError:
                self._meta[scene_id] = None
                return None
            if not path.is_file():
                self._meta[scene_id] = None
            else:
                try:
                    self._meta[scene_id] = json.loads(path.read_text(encoding="utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as e:
                    raise DataError(f"{path}: not valid JSON ({e})") from e
        return self._meta[scene_id]

    # ------------------------------------------------------------------------------------------ clips
    def get(self, scene_id: str, num_frames: int | None) -> SceneClip:
        """The clip of ``scene_id`` with (up to) ``num_frames`` frames (memory LRU -> disk cache -> build).

        ``num_frames=None`` is the whole prepared selection (the pool random frame sampling draws from).

        Raises:
            DataError: the scene is missing or broken (the message names the file), or (``require_cached``)
                its prior tokens are not cached.
        """
        num_frames = None if num_frames is None else int(num_frames)
        key = (scene_id, num_frames)
        with self._lock:
            clip = self._memory.get(key)
            if clip is not None:
                self._memory.move_to_end(key)
                return clip
        clip = self._load_or_build(scene_id, num_frames)
        if self.semantic_classes or self.instance_targets:
            clip = self._with_semantics(clip)
        if self.memory_items > 0:
            with self._lock:
                self._memory[key] = clip
                while len(self._memory) > self.memory_items:
                    self._memory.popitem(last=False)
        return clip

    def _clip_key(self, scene_id: str, num_frames: int | None) -> str:
        meta_path = safe_join(self.prepared_dir, scene_id, "scene.json")
        payload = {
            "format": CLIP_FORMAT_VERSION,
            "scene_json_sha256": hashlib.sha256(meta_path.read_bytes()).hexdigest(),
            "num_frames": num_frames,
            "image_size": self.image_size,
            "resample": self.resample,
            "grid": self.grid.to_dict(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]

    def _load_or_build(self, scene_id: str, num_frames: int | None) -> SceneClip:
        if self.scene_meta(scene_id) is None:
            raise DataError(
                f"{self.prepared_dir / scene_id}: prepared scene not found (run `loc3r prepare scannet`)"
            )
        path = None
        if self.cache_dir is not None:
            path = safe_join(
                self.cache_dir,
                "clips",
                safe_scene_name(scene_id),
                f"{self._clip_key(scene_id, num_frames)}.npz",
            )
            clip = self._read_cached(path, scene_id)
            if clip is not None:
                return self._with_tokens(clip)
        clip = self._build(scene_id, num_frames)
        if path is not None:
            self._write_cached(path, clip)
        return self._with_tokens(clip)

    def _build(self, scene_id: str, num_frames: int | None) -> SceneClip:
        scene = load_prepared_scene(self.prepared_dir, scene_id, num_frames)
        frames = resize_frames(scene.frames, self.image_size, self.resample)
        bev_xy, bev_valid = self._bev_targets(scene)
        return SceneClip(
            scene_id=scene_id,
            frame_ids=scene.frame_ids,
            frames=frames,
            poses_c2w=scene.poses_c2w,
            bev_xy=bev_xy,
            bev_valid=bev_valid,
            axis_alignment=scene.axis_alignment,
            scene_center_raw=scene.scene_center_raw,
        )

    def _bev_targets(self, scene: SceneInputs) -> tuple[np.ndarray, np.ndarray]:
        """Per-token targets of the scene's frames: the prepared npz rows if on this grid, else computed."""
        meta = self.scene_meta(scene.scene_id) or {}
        bev = scene.bev_frame
        info = meta.get("bev_targets") or {}
        npz_path = self.prepared_dir / scene.scene_id / str(info.get("file", "bev_targets.npz"))
        if info and info.get("token_grid") == self.grid.to_dict() and npz_path.is_file():
            try:
                with np.load(npz_path, allow_pickle=False) as z:
                    ids = [int(i) for i in z["frame_ids"]]
                    same_frame = (
                        np.allclose(z["bev_origin_xy"], bev.origin_xy, atol=1e-6)
                        and abs(float(z["bev_heading0"]) - bev.heading0) < 1e-9
                    )
                    if same_frame and set(scene.frame_ids) <= set(ids):
                        rows = [ids.index(i) for i in scene.frame_ids]
                        return z["xy"][rows].astype(np.float32), z["valid"][rows].astype(bool)
            except (OSError, KeyError, ValueError) as e:
                raise DataError(f"{npz_path}: unreadable BEV targets ({e})") from e
        depths = [self._read_depth(scene.scene_id, i, meta) for i in scene.frame_ids]
        try:
            K_depth = np.asarray(meta["K_depth"], dtype=np.float64)
            K_color = np.asarray(meta["K_color"], dtype=np.float64)
            w, h = (int(v) for v in meta["color_size"])
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(
                f"{self.prepared_dir / scene.scene_id / 'scene.json'}: missing intrinsics ({e})"
            ) from e
        t = compute_bev_targets(
            depths, K_depth, scene.poses_c2w, bev, self.grid, K_color=K_color, color_hw=(h, w)
        )
        return t.xy.astype(np.float32), t.valid.astype(bool)

    def _read_depth(self, scene_id: str, frame_id: int, meta: dict[str, Any]) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        path = safe_join(self.prepared_dir, scene_id, "depth", f"{frame_id}.png")
        try:
            with Image.open(path) as im:
                mm = np.asarray(im, dtype=np.uint16)
        except FileNotFoundError:
            raise DataError(f"{path}: depth image not found") from None
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path}: unreadable depth image ({e})") from e
        return mm.astype(np.float64) / float(meta.get("depth_shift", 1000.0))

    def _with_semantics(self, clip: SceneClip) -> SceneClip:
        """The clip with per-token category targets and/or object ids from the scene's ``instances.json``."""
        from loc3r.data.semantic_targets import token_categories, token_instances

        path = safe_join(self.prepared_dir, clip.scene_id, "instances.json")
        try:
            instances = json.loads(path.read_text(encoding="utf-8"))["instances"]
        except FileNotFoundError:
            raise DataError(f"{path}: not found (semantic targets need the scene's instances)") from None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path}: unreadable instances ({e})") from e
        labels = ids = None
        if self.semantic_classes:
            labels = token_categories(
                clip.bev_xy, clip.bev_valid, clip.bev_frame, instances, self.semantic_classes, clip.axis_alignment
            )
        if self.instance_targets:
            ids = token_instances(clip.bev_xy, clip.bev_valid, clip.bev_frame, instances, clip.axis_alignment)
        return replace(clip, semantic_targets=labels, instance_ids=ids)

    def _with_tokens(self, clip: SceneClip) -> SceneClip:
        """The clip with its prior tokens (token cache first; inputs are only loaded on a miss)."""
        if self.backend is None:
            return clip
        from loc3r.backends.cache import CacheKey, encode_cached

        backend, name = self.backend, safe_scene_name(clip.scene_id)
        if self.require_cached and self.token_cache is not None:
            if self.token_cache.load(CacheKey.for_backend(backend, name, clip.frame_ids)) is None:
                raise DataError(
                    f"scene {clip.scene_id}: no cached {backend.name!r} prior tokens for frames "
                    f"{list(clip.frame_ids)} in {self.token_cache.root} (data.prior.require_cached is set; "
                    "precompute them with loc3r.backends.encode_cached, docs/backends.md)"
                )
        if backend.needs_poses and clip.poses_c2w is None:  # pragma: no cover - prepared scenes have poses
            raise DataError(f"scene {clip.scene_id}: the {backend.name!r} prior needs camera poses")

        def inputs() -> dict[str, Any]:
            if backend.needs_pixels:  # full-resolution pixels; the backend does its own preprocessing
                scene = load_prepared_scene(self.prepared_dir, clip.scene_id, clip.num_frames)
                return {
                    "frames": scene.frames,
                    "poses_c2w": scene.poses_c2w,
                    "intrinsics": scene.intrinsics,
                    "image_size_wh": scene.image_size_wh,
                }
            meta = self.scene_meta(clip.scene_id) or {}
            try:
                K = np.asarray(meta["K_color"], dtype=np.float64)[:3, :3]
                w, h = (int(v) for v in meta["color_size"])
            except (KeyError, TypeError, ValueError) as e:
                raise DataError(
                    f"{self.prepared_dir / clip.scene_id}/scene.json: no colour intrinsics ({e})"
                ) from e
            return {"frames": None, "poses_c2w": clip.poses_c2w, "intrinsics": K, "image_size_wh": (w, h)}

        if self.token_cache is not None:
            tokens = encode_cached(self.token_cache, backend, name, clip.frame_ids, inputs)
        else:
            tokens = backend.encode(**inputs())
        return replace(clip, camera_tokens=tokens.numpy().astype(np.float32))

    @staticmethod
    def _read_cached(path: Path, scene_id: str) -> SceneClip | None:
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                return SceneClip(
                    scene_id=scene_id,
                    frame_ids=tuple(int(i) for i in z["frame_ids"]),
                    frames=z["frames"],
                    poses_c2w=z["poses_c2w"],
                    bev_xy=z["bev_xy"],
                    bev_valid=z["bev_valid"],
                    axis_alignment=z["axis_alignment"] if "axis_alignment" in z else None,
                    scene_center_raw=z["scene_center_raw"] if "scene_center_raw" in z else None,
                )
        except Exception as e:  # a truncated / foreign file is rebuilt, never trusted
            logger.warning("clip cache file %s is unusable (%s); rebuilding it", path, e)
            return None

    @staticmethod
    def _write_cached(path: Path, clip: SceneClip) -> None:
        arrays = {
            "frame_ids": np.asarray(clip.frame_ids, dtype=np.int64),
            "frames": clip.frames,
            "poses_c2w": clip.poses_c2w,
            "bev_xy": clip.bev_xy,
            "bev_valid": clip.bev_valid,
        }
        if clip.axis_alignment is not None:
            arrays["axis_alignment"] = clip.axis_alignment
        if clip.scene_center_raw is not None:
            arrays["scene_center_raw"] = clip.scene_center_raw
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays)
