"""``generate_synthetic(cfg)``: the embedded dataset, in ScanNet's raw layout with benchmark annotations.

Output tree (``cfg.out``)::

    scans/<scene>/{<scene>.sens, <scene>.txt, <scene>_vh_clean_2.ply, <scene>.aggregation.json,
                   <scene>_vh_clean_2.0.010000.segs.json}
    annotations/sqa3d/v1_balanced_{questions,sqa_annotations,localization}_<split>_scannetv2.json,
    answer_dict.json annotations/scanqa/ScanQA_v1.0_<split>.json annotations/vsibench/vsibench_<split>.json
    splits/{train,val,test}.txt manifest.json        (seed, settings, splits, counts, sha256 of every other
    file) preview/<scene>.png  (only with ``cfg.preview``; not part of the manifest)

Determinism: scene ``i`` draws from ``SeedSequence([seed, i, stream])`` (0 layout, 1 trajectory, 2 + frame
render noise, 3 annotations), JPEG/zlib/JSON settings are fixed and nothing reads the clock, so the same
settings give the same bytes (on the same library versions), independent of ``workers`` and of resuming.

Resuming: ``manifest.json`` is rewritten after every scene. A rerun with the same settings skips every scene
whose files are present with the recorded checksums and regenerates the rest; annotations and splits are
always rebuilt (cheap). Different settings in an existing folder are refused unless ``cfg.force``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np

from loc3r import __version__
from loc3r.geometry.frames import bbox_center
from loc3r.utils.io import DataError, atomic_write_json, atomic_write_text

from .config import SynthConfig
from .layout import sample_world
from .mesh import build_mesh, mesh_vertices_raw
from .render import SceneRenderer
from .trajectory import sample_trajectory
from .world import World
from .writer import depth_to_mm, encode_jpeg, scene_file_names, write_scannet_scene

__all__ = [
    "SynthConfig", "generate_synthetic", "assign_splits", "scene_world", "scene_poses", "read_set", "SPLITS",
]

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
MANIFEST_FORMAT = "loc3r-synthetic-scannet"
MANIFEST_VERSION = 1
_ANNOTATION_MODULE = "loc3r.data.synthetic.annotations"


# --------------------------------------------------------------------------------------------- per scene
def scene_world(cfg: SynthConfig, index: int) -> World:
    """The world of scene ``index`` (deterministic; cheap to recompute)."""
    return sample_world(cfg.rng(index, 0), cfg.scene_id(index), cfg)


def scene_poses(cfg: SynthConfig, index: int, world: World) -> np.ndarray:
    """[T, 4, 4] camera-to-world poses (aligned frame) of scene ``index``."""
    return sample_trajectory(
        world, cfg.rng(index, 1), cfg.frames_per_scene, cfg.camera_height_m, cfg.camera_clearance_m
    )


def frame_rng(cfg: SynthConfig, index: int, frame: int) -> np.random.Generator:
    """Render-noise generator of one frame (independent of the order frames are rendered in)."""
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, index, 2, frame]))


class _FrameStream:
    """Renders frames on demand (in order) for the ``.sens`` writer and records first appearances.

    ``colors[i]`` and ``depths[i]`` render frame ``i`` once (the last frame is cached), so a scene is streamed
    to disk without holding its frames in memory.
    """

    def __init__(
        self,
        cfg: SynthConfig,
        index: int,
        world: World,
        poses: np.ndarray,
        on_frame: Callable[[], None] | None = None,
    ) -> None:
        self.cfg, self.index, self.world, self.poses = cfg, index, world, poses
        self.renderer = SceneRenderer(world)
        self.on_frame = on_frame
        self.same_camera = (cfg.color_width, cfg.color_height) == (cfg.depth_width, cfg.depth_height)
        self.first_seen: dict[int, int] = {}
        self._cache: tuple[int, bytes, np.ndarray] | None = None
        self._min_pixels = max(1, int(0.002 * cfg.depth_width * cfg.depth_height))

    def __len__(self) -> int:
        return len(self.poses)

    def frame(self, i: int) -> tuple[bytes, np.ndarray]:
        if self._cache is not None and self._cache[0] == i:
            return self._cache[1], self._cache[2]
        cfg = self.cfg
        rng = frame_rng(cfg, self.index, i)
        d = self.renderer.render(
            self.poses[i], cfg.depth_intrinsics(), cfg.depth_width, cfg.depth_height, rng
        )
        rgb = (
            d.rgb
            if self.same_camera
            else self.renderer.render(
                self.poses[i], cfg.color_intrinsics(), cfg.color_width, cfg.color_height, rng
            ).rgb
        )
        jpeg = encode_jpeg(rgb, cfg.jpeg_quality)
        depth = depth_to_mm(d.depth)
        self._record(i, d.instance)
        self._cache = (i, jpeg, depth)
        if self.on_frame is not None:
            self.on_frame()
        return jpeg, depth

    def _record(self, i: int, instance: np.ndarray) -> None:
        """Note frame ``i`` as the first appearance of every instance (objects, doors, windows) it shows."""
        n_inst = len(self.world.objects) + len(self.world.room.openings)
        counts = np.bincount(instance[instance >= 0], minlength=n_inst)
        for e in np.flatnonzero(counts >= self._min_pixels):
            self.first_seen.setdefault(int(e), i)


class _View:
    def __init__(self, stream: _FrameStream, part: int) -> None:
        self.stream, self.part = stream, part

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, i: int):
        return self.stream.frame(int(i))[self.part]


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generate_scene(
    cfg: SynthConfig, index: int, split: str, on_frame: Callable[[], None] | None = None
) -> dict:
    """Generate and write one scene; returns its manifest entry (checksums relative to ``cfg.out``)."""
    out = Path(cfg.out)
    world = scene_world(cfg, index)
    poses = scene_poses(cfg, index, world)
    mesh = build_mesh(world, cfg.mesh_resolution_m)
    stream = _FrameStream(cfg, index, world, poses, on_frame)
    scan_dir = out / "scans" / world.scene_id
    paths = write_scannet_scene(
        scan_dir,
        world,
        mesh,
        poses,
        _View(stream, 0),
        _View(stream, 1),
        cfg.color_intrinsics(),
        cfg.depth_intrinsics(),
        (cfg.color_width, cfg.color_height),
        (cfg.depth_width, cfg.depth_height),
        cfg.jpeg_quality,
    )
    counts: dict[str, int] = {}
    for o in world.objects:
        counts[o.category] = counts.get(o.category, 0) + 1
    return {
        "scene_id": world.scene_id,
        "index": index,
        "split": split,
        "scene_type": world.scene_type,
        "num_frames": len(poses),
        "num_objects": len(world.objects),
        "num_openings": len(world.room.openings),
        "num_vertices": int(len(mesh.vertices_aligned)),
        "object_counts": dict(sorted(counts.items())),
        "center_raw": [
            round(float(v), 6) for v in bbox_center(mesh_vertices_raw(mesh, world.axis_alignment))
        ],
        "first_seen": {str(k): v for k, v in sorted(stream.first_seen.items())},
        "files": {p.relative_to(out).as_posix(): sha256_file(p) for p in paths},
        "complete": True,
    }


def _worker_cfg_dict(cfg: SynthConfig) -> dict[str, Any]:
    """The settings a worker process rebuilds its ``SynthConfig`` from (no progress bar, no nested pool)."""
    return {**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}, "progress": False, "workers": 1}


def _generate_scene_job(args: tuple) -> dict:  # top-level so worker processes can pickle it
    cfg_dict, index, split = args
    return generate_scene(SynthConfig(**cfg_dict), index, split)


# --------------------------------------------------------------------------------------------- whole set
def assign_splits(num_scenes: int, seed: int, val_fraction: float, test_fraction: float) -> list[str]:
    """Split of every scene index (shuffled by ``seed``).

    Counts are ``round(N * fraction)``, raised to 1 for val when N >= 2 and for test when N >= 3 (for a
    fraction > 0), always leaving at least one training scene.
    """
    n = num_scenes
    n_val = round(n * val_fraction)
    n_test = round(n * test_fraction)
    if val_fraction > 0 and n >= 2:
        n_val = max(1, n_val)
    if test_fraction > 0 and n >= 3:
        n_test = max(1, n_test)
    while n_val + n_test > n - 1 and (n_val or n_test):
        if n_test >= n_val and n_test:
            n_test -= 1
        else:
            n_val -= 1
    order = np.random.default_rng(np.random.SeedSequence([seed, 999_999])).permutation(n)
    splits = ["train"] * n
    for k, idx in enumerate(order):
        if k < n_test:
            splits[int(idx)] = "test"
        elif k < n_test + n_val:
            splits[int(idx)] = "val"
    return splits


def _entry_is_complete(out: Path, entry: dict | None) -> bool:
    if not entry or not entry.get("complete") or not entry.get("files"):
        return False
    for rel, digest in entry["files"].items():
        p = out / rel
        if not p.is_file() or sha256_file(p) != digest:
            return False
    return True


def _load_manifest(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: unreadable manifest ({e}); remove it or use --force") from e
    if not isinstance(m, dict) or m.get("format") != MANIFEST_FORMAT:
        raise DataError(f"{path}: not a loc3r synthetic-set manifest; use another --out")
    return m


def _manifest(
    cfg: SynthConfig,
    entries: dict[int, dict],
    splits: list[str],
    complete: bool,
    annotation_files: dict[str, str] | None = None,
    annotation_counts: dict[str, int] | None = None,
    split_files: dict[str, str] | None = None,
) -> dict:
    scenes = [entries[i] for i in sorted(entries)]
    by_split = {s: [cfg.scene_id(i) for i in range(cfg.num_scenes) if splits[i] == s] for s in SPLITS}
    counts = {
        "scenes": len(scenes),
        "frames": sum(e["num_frames"] for e in scenes),
        "objects": sum(e["num_objects"] for e in scenes),
        "splits": {s: len(v) for s, v in by_split.items()},
    }
    if annotation_counts is not None:
        counts["annotations"] = annotation_counts
    files = {}
    for e in scenes:
        files.update(e["files"])
    files.update(annotation_files or {})
    files.update(split_files or {})
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "generator": f"loc3r {__version__}",
        "seed": cfg.seed,
        "config": cfg.recorded(),
        "complete": complete,
        "counts": counts,
        "splits": by_split,
        "scenes": scenes,
        "files": dict(sorted(files.items())),
    }


def _annotation_entry_point():
    """``generate_annotations`` and the writers, or None while the annotations package does not exist yet."""
    try:
        from . import annotations as ann
    except ModuleNotFoundError as e:
        if e.name != _ANNOTATION_MODULE:
            raise
        logger.warning("%s is not available: no annotations written", _ANNOTATION_MODULE)
        return None
    return ann


def _scene_annotations(cfg: SynthConfig, index: int, entry: dict, split: str) -> dict[str, list]:
    """One scene's annotation rows (``generate_annotations`` on its re-created world; the caller has checked
    that the annotations package exists)."""
    from . import annotations as ann

    return ann.generate_annotations(
        scene_world(cfg, index),
        cfg.rng(index, 3),
        cfg,
        split=split,
        center_raw=np.asarray(entry["center_raw"]),
        first_seen={int(k): int(v) for k, v in entry["first_seen"].items()},
    )


def _annotation_job(args: tuple) -> dict[str, list]:  # top-level so worker processes can pickle it
    cfg_dict, index, entry, split = args
    return _scene_annotations(SynthConfig(**cfg_dict), index, entry, split)


def _write_annotations(cfg: SynthConfig, entries: dict[int, dict], splits: list[str]):
    """Generate every scene's annotations and write one file per benchmark and split."""
    ann = _annotation_entry_point()
    if ann is None or not cfg.annotations:
        return {}, None
    out = Path(cfg.out)
    root = out / "annotations"
    per_split: dict[str, dict[str, list]] = {}
    jobs = [(i, entries[i], splits[i]) for i in sorted(entries)]
    if cfg.workers > 1 and len(jobs) > 1:  # ~1 s per scene: in parallel, merged in scene order (deterministic)
        import concurrent.futures as cf
        import multiprocessing as mp

        cfg_dict = _worker_cfg_dict(cfg)
        with cf.ProcessPoolExecutor(
            max_workers=min(cfg.workers, len(jobs)), mp_context=mp.get_context("spawn")
        ) as pool:
            results = pool.map(_annotation_job, [(cfg_dict, *job) for job in jobs], chunksize=8)
            all_items = list(results)
    else:
        all_items = [_scene_annotations(cfg, *job) for job in jobs]
    for (i, _, _), items in zip(jobs, all_items):
        bucket = per_split.setdefault(splits[i], {})
        for key, rows in items.items():
            bucket.setdefault(key, []).extend(rows)
    paths: list[Path] = []
    counts: dict[str, int] = {}
    all_annotations = []
    for split in SPLITS:
        if split not in per_split:
            continue
        b = per_split[split]
        paths += ann.write_sqa3d_files(
            root / "sqa3d",
            split,
            b.get("sqa3d_questions", []),
            b.get("sqa3d_annotations", []),
            b.get("sqa3d_localization", []),
        )
        paths.append(
            ann.write_scanqa_file(root / "scanqa" / f"ScanQA_v1.0_{split}.json", b.get("scanqa", []))
        )
        paths.append(
            ann.write_vsibench_file(root / "vsibench" / f"vsibench_{split}.json", b.get("vsibench", []))
        )
        all_annotations += b.get("sqa3d_annotations", [])
        for key, rows in b.items():
            counts[key] = counts.get(key, 0) + len(rows)
    answer_dict = root / "sqa3d" / "answer_dict.json"
    atomic_write_json(answer_dict, ann.build_answer_dict(all_annotations), indent=None)
    paths.append(answer_dict)
    files = {Path(p).relative_to(out).as_posix(): sha256_file(p) for p in paths}
    return files, dict(sorted(counts.items()))


def _write_splits(cfg: SynthConfig, splits: list[str]) -> dict[str, str]:
    out = Path(cfg.out)
    files = {}
    for s in SPLITS:
        p = out / "splits" / f"{s}.txt"
        ids = [cfg.scene_id(i) for i in range(cfg.num_scenes) if splits[i] == s]
        atomic_write_text(p, "".join(f"{sid}\n" for sid in ids))
        files[p.relative_to(out).as_posix()] = sha256_file(p)
    return files


def generate_synthetic(cfg: SynthConfig) -> dict:
    """Generate (or complete) a synthetic ScanNet-format dataset under ``cfg.out``.

    Args:
        cfg: settings; ``cfg.out`` is required.

    Returns:
        The manifest (also written to ``cfg.out / "manifest.json"``).

    Raises:
        ValueError: ``cfg.out`` missing.
        DataError: the folder holds a set generated with different settings (and ``cfg.force`` is off).
    """
    if cfg.out is None:
        raise ValueError("SynthConfig.out (the output folder) is required")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    old = _load_manifest(manifest_path)
    if old is not None and old.get("config") != cfg.recorded() and not cfg.force:
        raise DataError(
            f"{out} holds a synthetic set made with different settings (see {manifest_path}); "
            "use another --out or --force"
        )
    splits = assign_splits(cfg.num_scenes, cfg.seed, cfg.val_fraction, cfg.test_fraction)
    old_entries = {} if (old is None or cfg.force) else {e["scene_id"]: e for e in old.get("scenes", [])}

    entries: dict[int, dict] = {}
    todo = []
    for i in range(cfg.num_scenes):
        e = old_entries.get(cfg.scene_id(i))
        if e is not None and e.get("split") == splits[i] and _entry_is_complete(out, e):
            entries[i] = e
        else:
            todo.append(i)

    from tqdm import tqdm

    total = cfg.frames_per_scene * len(todo)
    with tqdm(total=total, unit="frame", desc="loc3r synth", disable=not cfg.progress or total == 0) as bar:
        if cfg.workers > 1 and len(todo) > 1:
            import concurrent.futures as cf
            import multiprocessing as mp

            cfg_dict = _worker_cfg_dict(cfg)
            with cf.ProcessPoolExecutor(
                max_workers=min(cfg.workers, len(todo)), mp_context=mp.get_context("spawn")
            ) as pool:
                futures = {pool.submit(_generate_scene_job, (cfg_dict, i, splits[i])): i for i in todo}
                for fut in cf.as_completed(futures):
                    i = futures[fut]
                    entries[i] = fut.result()
                    bar.update(entries[i]["num_frames"])
                    atomic_write_json(manifest_path, _manifest(cfg, entries, splits, complete=False))
        else:
            for i in todo:
                entries[i] = generate_scene(cfg, i, splits[i], on_frame=lambda: bar.update(1))
                atomic_write_json(manifest_path, _manifest(cfg, entries, splits, complete=False))

    annotation_files, annotation_counts = _write_annotations(cfg, entries, splits)
    split_files = _write_splits(cfg, splits)
    manifest = _manifest(cfg, entries, splits, True, annotation_files, annotation_counts, split_files)
    atomic_write_json(manifest_path, manifest)
    if cfg.preview:
        from .preview import write_scene_preview

        for i in sorted(entries):
            write_scene_preview(cfg, i, out / "preview" / f"{cfg.scene_id(i)}.png")
    return manifest


def read_set(synth_root: str | Path) -> tuple[SynthConfig, list[dict[str, Any]]]:
    """The settings and per-scene entries of a generated set, from its ``manifest.json``.

    Worlds are then re-created with ``scene_world(cfg, entry["index"])``.

    Raises:
        DataError: no / unreadable manifest, or one without ``config`` / ``scenes`` (the message names it).
    """
    path = Path(synth_root) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot read the synthetic set's manifest ({e})") from e
    if not isinstance(manifest, dict) or "config" not in manifest or "scenes" not in manifest:
        raise DataError(f"{path}: not a loc3r synthetic-set manifest (no 'config' / 'scenes')")
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in manifest["config"].items()}
    return SynthConfig(**fields, progress=False), list(manifest["scenes"])


def scene_entry(manifest: dict[str, Any], scene_id: str) -> dict[str, Any]:
    """The manifest entry of one scene (``KeyError`` naming it when absent)."""
    for e in manifest.get("scenes", []):
        if e["scene_id"] == scene_id:
            return e
    raise KeyError(f"scene {scene_id} is not in the manifest")


def expected_scene_files(scene_id: str) -> list[str]:
    """Relative paths (under ``scans/<scene>``) every generated scene has."""
    return [f"scans/{scene_id}/{name}" for name in scene_file_names(scene_id)]
