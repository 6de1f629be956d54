"""``loc3r prepare scannet``: select frames per scan and export them with metadata (and optional BEV targets).

Run::

    loc3r prepare scannet --scans data/scannet/scans --out data/prepared/scannet --num-frames 32 --workers 8

Input: every scene folder directly under ``--scans`` (or the ``--scenes`` / ``--scene-list`` subset), in any
layout ``loc3r.data.scannet.scene.load_scene`` accepts (raw scan folder with ``.sens``, SensReader export,
EmbodiedScan ``posed_images``). Output, one folder per scene (the ScanNet python-SensReader layout, so the
result is itself loadable with ``load_scene``)::

    <out>/<scene>/color/<i>.jpg            colour of selected frame i (original index; .sens JPEG bytes copied
                                           unchanged, otherwise encoded at ``jpeg_quality``)
    <out>/<scene>/depth/<i>.png            16-bit PNG, depth in millimetres, 0 = invalid
    <out>/<scene>/pose/<i>.txt             4x4 camera-to-world, raw ScanNet world (np.savetxt fmt %f)
    <out>/<scene>/intrinsic/{intrinsic,extrinsic}_{color,depth}.txt   4x4 (%f); extrinsics are identity
    <out>/<scene>/<scene_id>.txt           the scan meta file (axisAlignment, ...), when the input has one
    <out>/<scene>/frame_selection.json     ``FrameSelection`` (method, k, indices, num_available, params)
    <out>/<scene>/scene.json               scene metadata (see ``prepare_scene``)
    <out>/<scene>/instances.json           objects: id, label, centroid, boxes (raw and aligned)
    <out>/<scene>/bev_targets.npz          optional per-token BEV targets (see ``loc3r.data.bev_targets``)
    <out>/<scene>/_done                    completion marker: config fingerprint + file sizes
    <out>/prepare_report.json              counts, failures (scene -> error), settings of the last run

Resumable and crash-safe: a scene is written into ``<out>/.partial/<scene>.<pid>`` and renamed into place
only when complete (``_done`` included), so the final folder never holds a half-written scene. A rerun skips
scenes whose ``_done`` fingerprint matches the current settings, redoes the others (a scene prepared with
different settings is replaced), and clears leftovers of killed runs. One run per output folder at a time
(enforced with a lock file). Bad scenes (missing or corrupt files, no valid pose, no depth) are skipped,
counted and listed in the report; the run fails (non-zero exit in the CLI) only when every attempted scene
failed. Outputs are deterministic: an interrupted-and-resumed run gives the same bytes as an uninterrupted
one.

BEV targets (``bev_targets=True``): for the selected frames, per-token BEV (x, y) on ``TokenGrid.llava_video
(image_size, patch_size, pool_stride)``, in the BEV frame of the first selected frame's pose (raw world; the
BEV coordinates are the same in the axis-aligned world). ``bev_color_mapping="intrinsics"`` maps depth pixels
into the original colour image through the two intrinsics; ``"registered"`` assumes equal fields of view.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from loc3r.constants import DEFAULT_NUM_FRAMES, SCANNET_DEPTH_SHIFT
from loc3r.data.bev_targets import TokenGrid, compute_bev_targets
from loc3r.data.frame_selection import FrameSelection, select_coverage_from_depth, select_uniform
from loc3r.geometry.frames import BevFrame
from loc3r.utils.io import DataError, atomic_write_json, safe_join

__all__ = [
    "PrepareConfig",
    "PrepareReport",
    "prepare_scannet",
    "prepare_scene",
    "list_scenes",
    "read_scene_list",
    "write_npz_deterministic",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
DONE_MARKER = "_done"
PARTIAL_DIR = ".partial"
REPORT_NAME = "prepare_report.json"
LOCK_NAME = ".prepare.lock"
#: Hidden test hook: seconds to sleep in the middle of writing each scene (lets a test kill a run mid-scene).
TEST_DELAY_ENV = "LOC3R_PREPARE_TEST_DELAY"

_SELECTIONS = ("uniform", "coverage")
_COLOR_MAPPINGS = ("intrinsics", "registered")


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of ``prepare_scannet``.

    Attributes:
        scans_dir: folder holding one sub-folder per scene.
        out_dir: output root (created).
        scenes: scene ids to prepare (default: every sub-folder of ``scans_dir`` not starting with ``.`` or
            ``_``).
        num_frames: frames per scene (the paper uses 32 [P]).
        selection: ``"uniform"`` (paper) or ``"coverage"`` (greedy max-coverage, Video-3D LLM).
        uniform_anchor: ``"endpoints"`` (LLaVA-Video's linspace) or ``"centers"`` (see ``select_uniform``).
        coverage_voxel_size: voxel edge in metres for ``"coverage"``.
        coverage_frame_stride: candidate frames for ``"coverage"`` are every n-th valid frame (Video-3D LLM
            chooses among EmbodiedScan's every-10th frames).
        coverage_pixel_stride: depth pixel subsampling when voxelising candidates.
        coverage_ratio: optional early stop of the greedy cover (``mc-ratio90`` = 0.9); None = always
            ``num_frames`` frames.
        bev_targets: also write ``bev_targets.npz``.
        image_size: model input size (square) of the token grid for BEV targets.
        patch_size: ViT patch size of the token grid.
        pool_stride: spatial pooling stride of the token grid.
        pool_mode: ``"bilinear"`` (LLaVA-Video) or ``"block"``.
        bev_color_mapping: ``"intrinsics"`` or ``"registered"`` (see ``loc3r.data.bev_targets``).
        bev_heights: also store the per-token mean world height ``z``.
        jpeg_quality: quality for colour frames that must be (re-)encoded.
        workers: parallel processes over scenes (1 = in this process).
        progress: show a tqdm progress bar (stderr).
    """

    scans_dir: Path
    out_dir: Path
    scenes: tuple[str, ...] | None = None
    num_frames: int = DEFAULT_NUM_FRAMES
    selection: str = "uniform"
    uniform_anchor: str = "endpoints"
    coverage_voxel_size: float = 0.1
    coverage_frame_stride: int = 10
    coverage_pixel_stride: int = 4
    coverage_ratio: float | None = None
    bev_targets: bool = False
    image_size: int = 384
    patch_size: int = 14
    pool_stride: int = 2
    pool_mode: str = "bilinear"
    bev_color_mapping: str = "intrinsics"
    bev_heights: bool = False
    jpeg_quality: int = 95
    workers: int = 1
    progress: bool = True

    def __post_init__(self) -> None:
        """Normalise paths and validate values (``ValueError`` naming the field)."""
        object.__setattr__(self, "scans_dir", Path(self.scans_dir))
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        if self.scenes is not None:
            object.__setattr__(self, "scenes", tuple(str(s) for s in self.scenes))
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.selection not in _SELECTIONS:
            raise ValueError(f"selection must be one of {_SELECTIONS}, got {self.selection!r}")
        if self.bev_color_mapping not in _COLOR_MAPPINGS:
            raise ValueError(
                f"bev_color_mapping must be one of {_COLOR_MAPPINGS}, got {self.bev_color_mapping!r}"
            )
        if self.coverage_frame_stride < 1 or self.coverage_pixel_stride < 1:
            raise ValueError("coverage_frame_stride and coverage_pixel_stride must be >= 1")
        if self.coverage_voxel_size <= 0:
            raise ValueError(f"coverage_voxel_size must be positive, got {self.coverage_voxel_size}")
        if self.coverage_ratio is not None and not 0 < self.coverage_ratio <= 1:
            raise ValueError(f"coverage_ratio must be in (0, 1], got {self.coverage_ratio}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        self.token_grid()  # validates image_size / patch_size / pool settings

    def token_grid(self) -> TokenGrid:
        """The token grid of the BEV targets."""
        return TokenGrid(
            input_hw=(self.image_size, self.image_size), patch_size=self.patch_size,
            pool_stride=self.pool_stride, pool_mode=self.pool_mode,
        )

    def output_settings(self) -> dict[str, Any]:
        """The settings that decide the output bytes (paths, scene list, workers and progress excluded)."""
        s = {
            "format_version": FORMAT_VERSION,
            "num_frames": self.num_frames,
            "selection": self.selection,
            "jpeg_quality": self.jpeg_quality,
            "bev_targets": self.bev_targets,
        }
        if self.selection == "uniform":
            s["uniform_anchor"] = self.uniform_anchor
        else:
            s.update(
                coverage_voxel_size=self.coverage_voxel_size,
                coverage_frame_stride=self.coverage_frame_stride,
                coverage_pixel_stride=self.coverage_pixel_stride,
                coverage_ratio=self.coverage_ratio,
            )
        if self.bev_targets:
            s.update(token_grid=self.token_grid().to_dict(), bev_color_mapping=self.bev_color_mapping,
                     bev_heights=self.bev_heights)
        return s

    def fingerprint(self) -> str:
        """sha256 (hex, 16 chars) of ``output_settings`` -- the key that decides whether a scene is redone."""
        blob = json.dumps(self.output_settings(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class PrepareReport:
    """What a ``prepare_scannet`` run did.

    Attributes:
        out_dir: the output root.
        prepared: scenes written by this run.
        skipped: scenes already complete with the same settings (left untouched).
        replaced: scenes that existed with other settings and were rewritten (also listed in ``prepared``).
        failed: scene id -> error message.
        elapsed_s: wall time of the run.
        settings: ``PrepareConfig.output_settings()``.
    """

    out_dir: str
    prepared: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def num_attempted(self) -> int:
        """Scenes this run tried to prepare (not the skipped ones)."""
        return len(self.prepared) + len(self.failed)

    @property
    def all_failed(self) -> bool:
        """True when at least one scene was attempted and none succeeded (the CLI exits non-zero)."""
        return self.num_attempted > 0 and not self.prepared

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with counts."""
        d = asdict(self)
        d["counts"] = {
            "prepared": len(self.prepared), "skipped": len(self.skipped), "replaced": len(self.replaced),
            "failed": len(self.failed),
        }
        return d

    def summary(self) -> str:
        """One line for humans."""
        return (f"prepared {len(self.prepared)}, already done {len(self.skipped)}, failed {len(self.failed)} "
                f"({self.elapsed_s:.1f} s) -> {self.out_dir}")


# ---------------------------------------------------------------------------------------------- scene list
def read_scene_list(path: str | os.PathLike) -> tuple[str, ...]:
    """Scene ids from a text file: one per line, blank lines and ``#`` comments ignored.

    Raises:
        FileNotFoundError: missing file.
    """
    ids = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        s = line.split("#", 1)[0].strip()
        if s:
            ids.append(s)
    return tuple(dict.fromkeys(ids))


def list_scenes(scans_dir: str | os.PathLike) -> tuple[str, ...]:
    """Names of the scene folders of ``scans_dir`` (sub-folders not starting with ``.``/``_``), sorted.

    Raises:
        FileNotFoundError: ``scans_dir`` is not a folder.
    """
    root = Path(scans_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"scans folder {root} does not exist")
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))))


def _check_scene_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or os.sep in name or name.startswith("."):
        raise ValueError(f"invalid scene name {name!r} (must be a plain folder name)")


# ---------------------------------------------------------------------------------------------- file writers
def _format_matrix(m: np.ndarray) -> str:
    """A 4x4 matrix exactly as ``np.savetxt(path, m, fmt='%f')`` writes it."""
    m = np.asarray(m, dtype=np.float64).reshape(4, 4)
    return "".join(" ".join(f"{x:f}" for x in row) + "\n" for row in m)


def _as_4x4(K: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = np.asarray(K, dtype=np.float64)[:3, :3]
    return out


def _encode_png16(depth_mm: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(depth_mm, dtype=np.uint16)).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def write_npz_deterministic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write a compressed ``.npz`` readable by ``np.load`` whose bytes depend only on the arrays.

    ``np.savez`` stamps the current time into the zip entries; here every entry gets the fixed date
    1980-01-01 so that reruns produce identical files.
    """
    with open(path, "wb") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(arrays[name]), allow_pickle=False)


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_json(path: Path, obj: Any) -> None:
    _write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


def _original_color_bytes(scene, fid: int) -> bytes | None:
    """The stored JPEG of a frame when the source keeps one (``.sens`` with JPEG, or a ``.jpg`` file)."""
    from loc3r.data.scannet.scene import SensSource

    src = scene.source
    if isinstance(src, SensSource):
        if src.reader.header.color_compression == "jpeg":
            return src.reader.read_color_blob(fid)
        return None
    color_path = getattr(src, "color_path", None)
    if color_path is not None:
        p = Path(color_path(fid))
        if p.suffix.lower() in (".jpg", ".jpeg"):
            return p.read_bytes()
    return None


# ---------------------------------------------------------------------------------------------- one scene
def _select(scene, cfg: PrepareConfig) -> FrameSelection:
    ids = np.asarray(scene.frame_ids, dtype=np.int64)
    if ids.size == 0:
        raise DataError(f"scene {scene.scene_id}: no frame with a valid camera pose")
    if cfg.selection == "uniform":
        sel = select_uniform(ids, cfg.num_frames, anchor=cfg.uniform_anchor)
        params = {"anchor": cfg.uniform_anchor}
    else:
        cand = ids[:: cfg.coverage_frame_stride]

        def depths():  # decode the candidates in small batches: only their voxel sets are kept
            for start in range(0, cand.size, 16):
                for f in scene.frames(cand[start : start + 16], color=False, depth=True):
                    yield f.depth_m

        sel, info = select_coverage_from_depth(
            depths(), scene.poses(cand), scene.K_depth, cfg.num_frames, voxel_size=cfg.coverage_voxel_size,
            frame_ids=cand, coverage_ratio=cfg.coverage_ratio, pixel_stride=cfg.coverage_pixel_stride,
        )
        params = {
            "voxel_size": cfg.coverage_voxel_size, "frame_stride": cfg.coverage_frame_stride,
            "pixel_stride": cfg.coverage_pixel_stride, "coverage_ratio": cfg.coverage_ratio,
            "num_candidates": int(cand.size), "num_voxels": info["num_voxels"],
            "coverage": round(info["coverage"], 6), "pick_order": info["order"],
        }
    return FrameSelection(method=cfg.selection, k=cfg.num_frames, indices=tuple(int(i) for i in sel),
                          num_available=int(ids.size), params=params)


def _instances_json(scene) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Instances as JSON rows, or (None, reason) when the scan has no annotation files."""
    if scene.mesh_path is None or scene.aggregation_path is None or scene.segs_path is None:
        return None, "no mesh / aggregation / segs files"
    A = scene.axis_alignment
    rows = []
    for inst in scene.instances:
        row = {
            "object_id": int(inst.object_id),
            "label": inst.label,
            "num_points": int(len(inst.points)),
            "centroid": np.round(inst.centroid, 6).tolist(),
            "bbox_raw": {"min": np.round(inst.bbox_min, 6).tolist(),
                         "max": np.round(inst.bbox_max, 6).tolist()},
            "centroid_aligned": None,
            "bbox_aligned": None,
        }
        if A is not None and inst.bbox_min_aligned is not None:
            row["centroid_aligned"] = np.round(A[:3, :3] @ inst.centroid + A[:3, 3], 6).tolist()
            row["bbox_aligned"] = {"min": np.round(inst.bbox_min_aligned, 6).tolist(),
                                   "max": np.round(inst.bbox_max_aligned, 6).tolist()}
        rows.append(row)
    return rows, None


def _test_delay() -> None:
    raw = os.environ.get(TEST_DELAY_ENV)
    if raw:
        time.sleep(float(raw))


def prepare_scene(
    scene_dir: str | os.PathLike, dest: str | os.PathLike, cfg: PrepareConfig
) -> dict[str, Any]:
    """Prepare one scene into the (new, empty) folder ``dest`` (no atomicity here; see ``prepare_scannet``).

    Args:
        scene_dir: the scene in any layout ``load_scene`` accepts.
        dest: output folder for this scene.
        cfg: settings.

    Returns:
        the scene metadata written to ``scene.json``.

    Raises:
        DataError, FileNotFoundError, OSError, ValueError: a bad scene (naming the file and the problem).
    """
    from loc3r.data.scannet.scene import load_scene

    dest = Path(dest)
    scene = load_scene(scene_dir)
    if not scene.has_depth:
        raise DataError(f"{scene_dir}: the {scene.layout} layout has no depth images")
    selection = _select(scene, cfg)
    frames = scene.frames(selection.indices, color=True, depth=True)
    color_hw = frames[0].color.shape[:2]
    depth_hw = frames[0].depth_m.shape
    for f in frames:
        if f.color.shape[:2] != color_hw or f.depth_m.shape != depth_hw:
            raise DataError(f"{scene_dir}: frame {f.index} has image sizes {f.color.shape[:2]} / "
                            f"{f.depth_m.shape}, frame {frames[0].index} has {color_hw} / {depth_hw}")
    for k, f in enumerate(frames):
        jpg = _original_color_bytes(scene, f.index)
        if jpg is None:
            jpg = _encode_jpeg(f.color, cfg.jpeg_quality)
        _write_bytes(dest / "color" / f"{f.index}.jpg", jpg)
        mm = np.clip(np.rint(np.nan_to_num(f.depth_m, nan=0.0, posinf=0.0) * SCANNET_DEPTH_SHIFT), 0, 65535)
        _write_bytes(dest / "depth" / f"{f.index}.png", _encode_png16(mm.astype(np.uint16)))
        _write_bytes(dest / "pose" / f"{f.index}.txt", _format_matrix(f.T_world_from_cam).encode())
        if k == len(frames) // 2:
            _test_delay()
    intr = dest / "intrinsic"
    _write_bytes(intr / "intrinsic_color.txt", _format_matrix(_as_4x4(scene.K_color)).encode())
    _write_bytes(intr / "intrinsic_depth.txt", _format_matrix(_as_4x4(scene.K_depth)).encode())
    _write_bytes(intr / "extrinsic_color.txt", _format_matrix(np.eye(4)).encode())
    _write_bytes(intr / "extrinsic_depth.txt", _format_matrix(np.eye(4)).encode())
    _write_json(dest / "frame_selection.json", selection.to_dict())
    if scene.meta:  # keep <scene>.txt (axisAlignment, sizes) so the export loads with its alignment
        from loc3r.data.scannet.meta import format_scene_meta

        _write_bytes(dest / f"{scene.scene_id}.txt", format_scene_meta(scene.meta).encode())

    instances, no_inst_reason = _instances_json(scene)
    if instances is not None:
        _write_json(dest / "instances.json", {"scene_id": scene.scene_id, "instances": instances})
    center = None
    if scene.mesh_path is not None:
        center = np.round(scene.mesh_bbox_center, 6).tolist()

    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "scene_id": scene.scene_id,
        "source_layout": scene.layout,
        "scene_type": scene.meta.get("sceneType"),
        "axis_alignment": None if scene.axis_alignment is None else np.asarray(scene.axis_alignment).tolist(),
        "mesh_bbox_center": center,
        "frame_selection": selection.to_dict(),
        "color_size": [int(color_hw[1]), int(color_hw[0])],
        "depth_size": [int(depth_hw[1]), int(depth_hw[0])],
        "depth_shift": SCANNET_DEPTH_SHIFT,
        "K_color": _as_4x4(scene.K_color).tolist(),
        "K_depth": _as_4x4(scene.K_depth).tolist(),
        "counts": {
            "frames_valid_pose": int(len(scene.frame_ids)),
            "frames_invalid_pose": int(scene.num_invalid_poses),
            "frames_selected": len(selection.indices),
            "instances": None if instances is None else len(instances),
        },
        "instances_missing": no_inst_reason,
        "bev_targets": None,
    }
    if cfg.bev_targets:
        grid = cfg.token_grid()
        poses = np.stack([f.T_world_from_cam for f in frames])
        bev = BevFrame.from_first_pose(poses[0])
        use_color = cfg.bev_color_mapping == "intrinsics"
        t = compute_bev_targets(
            [f.depth_m for f in frames], np.stack([f.K_depth for f in frames]), poses, bev, grid,
            K_color=scene.K_color if use_color else None, color_hw=tuple(color_hw) if use_color else None,
            with_height=cfg.bev_heights,
        )
        arrays = t.to_npz_dict()
        arrays.update(frame_ids=np.asarray(selection.indices, dtype=np.int64),
                      bev_origin_xy=np.asarray(bev.origin_xy, dtype=np.float64),
                      bev_heading0=np.asarray(bev.heading0, dtype=np.float64))
        write_npz_deterministic(dest / "bev_targets.npz", arrays)
        meta["bev_targets"] = {
            "file": "bev_targets.npz", "world": "raw", "origin_xy": np.asarray(bev.origin_xy).tolist(),
            "heading0": float(bev.heading0), "token_grid": grid.to_dict(),
            "color_mapping": cfg.bev_color_mapping,
            "token_hw": list(grid.token_hw), "valid_fraction": round(float(t.valid.mean()), 6),
        }
    _write_json(dest / "scene.json", meta)
    return meta


# ---------------------------------------------------------------------------------------------- orchestration
def _read_done(scene_out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((scene_out / DONE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _scene_state(out_dir: Path, name: str, fingerprint: str) -> str:
    """``"done"`` (same settings), ``"stale"`` (exists, other settings or no marker) or ``"missing"``."""
    p = out_dir / name
    if not p.exists():
        return "missing"
    done = _read_done(p)
    return "done" if done is not None and done.get("fingerprint") == fingerprint else "stale"


def _rmtree_quiet(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


def _run_one(name: str, cfg: PrepareConfig) -> tuple[str, str | None, bool]:
    """Worker: prepare ``name`` into a private temp folder and rename it into place.

    Returns:
        (name, error message or None, replaced_existing).
    """
    out_dir = cfg.out_dir
    partial = out_dir / PARTIAL_DIR
    tmp = partial / f"{name}.{os.getpid()}"
    _rmtree_quiet(tmp)
    try:
        scene_dir = safe_join(cfg.scans_dir, name)
        if not scene_dir.exists():
            raise FileNotFoundError(f"scene {name} not found under {cfg.scans_dir}")
        tmp.mkdir(parents=True)
        prepare_scene(scene_dir, tmp, cfg)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        done = {
            "scene": name,
            "fingerprint": cfg.fingerprint(),
            "settings": cfg.output_settings(),
            "files": {str(p.relative_to(tmp)): p.stat().st_size for p in files},
        }
        _write_json(tmp / DONE_MARKER, done)
        for p in [*files, tmp / DONE_MARKER]:  # make the data durable before the rename publishes it
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
        final = out_dir / name
        replaced = False
        if final.exists():
            # Finished meanwhile by another process (e.g. an orphaned worker of a killed run): keep that one.
            if _scene_state(out_dir, name, cfg.fingerprint()) == "done":
                _rmtree_quiet(tmp)
                return name, None, False
            old = partial / f"{name}.{os.getpid()}.old"
            _rmtree_quiet(old)
            os.rename(final, old)
            replaced = True
            os.rename(tmp, final)
            _rmtree_quiet(old)
        else:
            os.rename(tmp, final)
        return name, None, replaced
    except (KeyboardInterrupt, SystemExit):
        _rmtree_quiet(tmp)
        raise
    except Exception as e:  # a bad scene must never stop the batch
        _rmtree_quiet(tmp)
        msg = f"{type(e).__name__}: {e}"
        return name, msg, False


@contextlib.contextmanager
def _exclusive_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``<out>/.prepare.lock`` (flock) during a run; a concurrent second run gets ``RuntimeError``."""
    lock_path = out_dir / LOCK_NAME
    fh = open(lock_path, "a+")
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX: no locking
            yield
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise RuntimeError(f"another `loc3r prepare` run is using {out_dir} (lock {lock_path})") from e
        yield
    finally:
        fh.close()


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="prepare scannet", unit="scene", disable=not enabled, file=sys.stderr)


def prepare_scannet(cfg: PrepareConfig) -> PrepareReport:
    """Prepare every requested scene (see the module docstring for the layout and guarantees).

    Args:
        cfg: settings.

    Returns:
        ``PrepareReport`` (also written to ``<out>/prepare_report.json``).

    Raises:
        FileNotFoundError: ``scans_dir`` does not exist.
        ValueError: no scene to prepare, or an invalid scene name.
        RuntimeError: another run holds the output folder's lock.
    """
    t0 = time.monotonic()
    if not cfg.scans_dir.is_dir():
        raise FileNotFoundError(f"scans folder {cfg.scans_dir} does not exist")
    names = cfg.scenes if cfg.scenes is not None else list_scenes(cfg.scans_dir)
    if not names:
        raise ValueError(f"no scene to prepare under {cfg.scans_dir}")
    for n in names:
        _check_scene_name(n)
    names = list(dict.fromkeys(names))
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    report = PrepareReport(out_dir=str(cfg.out_dir), settings=cfg.output_settings())
    fp = cfg.fingerprint()
    with _exclusive_lock(cfg.out_dir):
        _rmtree_quiet(cfg.out_dir / PARTIAL_DIR)  # leftovers of killed runs (we hold the lock)
        todo, stale = [], set()
        for n in names:
            state = _scene_state(cfg.out_dir, n, fp)
            if state == "done":
                report.skipped.append(n)
            else:
                todo.append(n)
                if state == "stale":
                    stale.add(n)
        results: dict[str, tuple[str | None, bool]] = {}
        with _progress(len(todo), cfg.progress) as bar:
            if cfg.workers == 1 or len(todo) <= 1:
                for n in todo:
                    _, err, rep = _run_one(n, cfg)
                    results[n] = (err, rep)
                    bar.update(1)
            else:
                with ProcessPoolExecutor(max_workers=min(cfg.workers, len(todo))) as ex:
                    futures = {ex.submit(_run_one, n, cfg): n for n in todo}
                    for fut in as_completed(futures):
                        n = futures[fut]
                        try:
                            _, err, rep = fut.result()
                        except Exception as e:  # worker process died (e.g. out of memory)
                            err, rep = f"worker crashed: {type(e).__name__}: {e}", False
                        results[n] = (err, rep)
                        bar.update(1)
        for n in todo:  # report in input order
            err, rep = results[n]
            if err is None:
                report.prepared.append(n)
                if rep or n in stale:
                    report.replaced.append(n)
            else:
                report.failed[n] = err
                logger.warning("scene %s skipped: %s", n, err)
        _rmtree_quiet(cfg.out_dir / PARTIAL_DIR)
        report.elapsed_s = round(time.monotonic() - t0, 3)
        atomic_write_json(cfg.out_dir / REPORT_NAME, report.to_dict())
    return report
