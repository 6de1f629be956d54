"""One ScanNet scene -- frames, poses, intrinsics, mesh and instances -- behind one API, whatever the layout.

``load_scene(path)`` detects the layout and returns a ``Scene``:

==========================  =========================================================================
layout (``Scene.layout``)   what ``path`` is
==========================  =========================================================================
``"raw"``                   a scan folder ``scans/<scene>/`` with ``<scene>.sens`` and ``<scene>.txt``
                            (required) and optionally ``_vh_clean_2.ply``, ``.aggregation.json``,
                            ``_vh_clean_2.0.010000.segs.json``; or the ``.sens`` file itself
``"sensreader_export"``     ScanNet python SensReader output (``color/ depth/ pose/ intrinsic/``)
``"posed_images"``          EmbodiedScan / Video-3D LLM ``posed_images/<scene>/`` (with depth)
``"mmdet3d_posed_images"``  mmdetection3d ``posed_images/<scene>/`` or its ``scannet_infos*.pkl`` (no depth;
                            frame ids are subset indices, ``Scene.frame_index_kind == "subset"``)
==========================  =========================================================================

Scene API (other modules code against this; all coordinates in the **raw** ScanNet world unless named
``aligned``; metres; camera poses are camera-to-world with OpenCV camera axes, x right, y down, z forward):

``Scene.scene_id: str``, ``Scene.root: Path``, ``Scene.layout: str``, ``Scene.frame_index_kind: str``
``Scene.meta: dict``                  parsed ``<scene>.txt`` (``{}`` when absent; see ``meta.py``)
``Scene.axis_alignment``              [4, 4] float64 A (``p_aligned = A @ p_raw``) or None (``scans_test``)
``Scene.frame_ids``                   [N] int64 ascending frame ids whose pose is a finite rigid transform
``Scene.num_invalid_poses: int``      frames dropped for a NaN/inf/non-rigid pose (``invalid_frame_ids``)
``Scene.K_color``, ``Scene.K_depth``  [3, 3] float64 intrinsics (``K_depth`` None without depth)
``Scene.has_depth: bool``
``Scene.poses(ids=None, aligned=False)``   [N, 4, 4] float64 ``T_world_from_cam`` without decoding images
``Scene.frames(ids, color=True, depth=None)``  list[Frame], decoding only those frames (depth=None: if any)
``Scene.frame(id)``                   one Frame
``Scene.mesh``                        lazy ``PlyMesh`` of ``_vh_clean_2.ply`` (raw frame)
``Scene.mesh_vertices``               lazy [V, 3] float32 mesh vertices (raw frame)
``Scene.mesh_bbox_center``            lazy [3] float64 ``(min + max) / 2`` of the raw vertices (SQA3D origin)
``Scene.instances``                   lazy list[Instance] (``instances.py``: object_id, label, points,
                                      centroid, bbox_min/max raw, bbox_min/max_aligned when A is known)

``Frame``: ``index`` (original frame index, or subset index for mmdet3d), ``color`` [H, W, 3] uint8 RGB or
None, ``depth_m`` [h, w] float32 metres (0 = invalid) or None, ``T_world_from_cam`` [4, 4] float64 (raw
world), ``K_color`` [3, 3], ``K_depth`` [3, 3] or None (float64). Colour and depth have different sizes and
intrinsics in ScanNet (1296x968 vs 640x480).

Constructing a ``Scene`` reads no image and no pose; the first access to ``frame_ids`` / ``poses`` indexes the
``.sens`` file (seeks only) or reads the pose text files. A Scene holds no open file and can be pickled.

Example::

    scene = load_scene("data/scannet/scans/scene0000_00")
    ids = scene.frame_ids[:: max(1, len(scene.frame_ids) // 32)]
    frames = scene.frames(ids)                     # decodes only these frames
    c2w_aligned = scene.poses(ids, aligned=True)   # A @ c2w_raw
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from loc3r.geometry.frames import bbox_center, check_axis_alignment
from loc3r.geometry.transforms import RigidTransformError, check_rigid
from loc3r.utils.io import DataError, safe_join

from .instances import Instance, load_instances
from .layouts import FolderLayout, open_layout, read_mmdet3d_infos
from .meta import axis_alignment_from_meta, read_scene_meta
from .ply import PlyMesh, read_ply
from .sens import SensReader

__all__ = [
    "Frame", "Scene", "FrameSource", "SensSource", "load_scene", "resolve_scene_dir", "rigid_pose_mask",
]

#: Tolerance of the pose rigidity check (``check_rigid``); ScanNet poses are float32 or 6-decimal text.
POSE_TOL = 1e-3


@dataclass(frozen=True, eq=False)
class Frame:
    """One RGB-D frame of a scene.

    Attributes:
        index: frame id (the original ``.sens`` frame index, except mmdetection3d subsets).
        color: [H, W, 3] uint8 RGB, or None when not decoded / not available.
        depth_m: [h, w] float32 depth in metres (0 = invalid), or None.
        T_world_from_cam: [4, 4] float64 camera-to-world pose, raw ScanNet world, OpenCV camera axes.
        K_color: [3, 3] float64 intrinsics of the colour image grid.
        K_depth: [3, 3] float64 intrinsics of the depth image grid, or None.
    """

    index: int
    color: np.ndarray | None
    depth_m: np.ndarray | None
    T_world_from_cam: np.ndarray
    K_color: np.ndarray
    K_depth: np.ndarray | None


class FrameSource(Protocol):
    """What a ``Scene`` needs from a layout (implemented by ``SensSource`` and ``layouts.FolderLayout``)."""

    kind: str
    name: str
    frame_index_kind: str

    @property
    def frame_ids(self) -> np.ndarray: ...  # [M] int64, all frames incl. invalid poses  # noqa: D102

    @property
    def poses(self) -> np.ndarray: ...  # [M, 4, 4] as stored  # noqa: D102

    @property
    def K_color(self) -> np.ndarray: ...  # noqa: D102

    @property
    def K_depth(self) -> np.ndarray | None: ...  # noqa: D102

    @property
    def has_depth(self) -> bool: ...  # noqa: D102

    def pose_location(self, fid: int) -> str: ...  # noqa: D102

    def read(  # noqa: D102
        self, fids: Sequence[int], color: bool = True, depth: bool = True
    ) -> list[tuple]: ...


class SensSource:
    """``FrameSource`` over a ``.sens`` file (frame ids = positions in the file; index built lazily)."""

    kind = "raw"
    frame_index_kind = "original"
    has_depth = True

    def __init__(self, path: str | os.PathLike, allow_truncated: bool = False) -> None:
        """Remember the file; nothing is read until ``reader`` is first used."""
        self.path = Path(path)
        self.name = str(self.path)
        self.allow_truncated = allow_truncated

    @cached_property
    def reader(self) -> SensReader:
        """The ``SensReader`` (header + frame index; built on first use)."""
        return SensReader(self.path, allow_truncated=self.allow_truncated)

    @property
    def frame_ids(self) -> np.ndarray:
        """[M] int64 ``0..M-1``."""
        return np.arange(self.reader.num_frames, dtype=np.int64)

    @property
    def poses(self) -> np.ndarray:
        """[M, 4, 4] float64 stored poses."""
        return self.reader.poses

    @property
    def K_color(self) -> np.ndarray:
        """[4, 4] colour intrinsics from the header."""
        return self.reader.intrinsic_color

    @property
    def K_depth(self) -> np.ndarray:
        """[4, 4] depth intrinsics from the header."""
        return self.reader.intrinsic_depth

    def pose_location(self, fid: int) -> str:
        """``"<file>: frame <fid>"``."""
        return f"{self.path}: frame {fid}"

    def read(self, fids: Sequence[int], color: bool = True, depth: bool = True) -> list[tuple]:
        """Decode the frames ``fids``: list of (color, depth_m)."""
        return [(f.color, f.depth_m) for f in self.reader.read_frames(fids, color=color, depth=depth)]


def rigid_pose_mask(poses: np.ndarray, tol: float = POSE_TOL) -> np.ndarray:
    """[M] bool: which poses [M, 4, 4] pass ``check_rigid(T, tol=tol)`` (same criteria, vectorised).

    Finite values; last row ``allclose`` to (0, 0, 0, 1) with ``atol=tol``; ``max |R R^T - I| <= tol``;
    ``det R >= 0``.
    """
    P = np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4)
    finite = np.isfinite(P).all(axis=(1, 2))
    Q = np.where(finite[:, None, None], P, 0.0)  # keep the arithmetic below warning-free
    last = (np.abs(Q[:, 3] - [0, 0, 0, 1]) <= tol + 1e-5 * np.abs(np.array([0, 0, 0, 1.0]))).all(axis=1)
    R = Q[:, :3, :3]
    ortho = np.abs(R @ np.swapaxes(R, 1, 2) - np.eye(3)).max(axis=(1, 2)) <= tol
    det_ok = np.linalg.det(R) >= 0
    return finite & last & ortho & det_ok


class Scene:
    """A ScanNet scene (see the module docstring for the full API).

    Args:
        scene_id: e.g. ``"scene0000_00"``.
        root: the folder the scene was loaded from.
        source: the frame source (``SensSource`` or ``FolderLayout``).
        meta: parsed ``<scene>.txt`` (or ``{}``).
        axis_alignment: [4, 4] A, or None.
        mesh_path, aggregation_path, segs_path: annotation files, or None when absent.
    """

    def __init__(
        self,
        scene_id: str,
        root: str | os.PathLike,
        source: FrameSource,
        *,
        meta: dict[str, Any] | None = None,
        axis_alignment: np.ndarray | None = None,
        mesh_path: Path | None = None,
        aggregation_path: Path | None = None,
        segs_path: Path | None = None,
    ) -> None:
        """Store the parts; nothing is read here."""
        self.scene_id = scene_id
        self.root = Path(root)
        self.source = source
        self.meta = dict(meta or {})
        self.axis_alignment = axis_alignment
        self.mesh_path = mesh_path
        self.aggregation_path = aggregation_path
        self.segs_path = segs_path

    def __repr__(self) -> str:
        """``Scene(id, layout, root)``."""
        return f"Scene({self.scene_id!r}, layout={self.layout!r}, root={str(self.root)!r})"

    # ------------------------------------------------------------------------------------------ frames
    @property
    def layout(self) -> str:
        """``"raw"``, ``"sensreader_export"``, ``"posed_images"`` or ``"mmdet3d_posed_images"``."""
        return self.source.kind

    @property
    def frame_index_kind(self) -> str:
        """``"original"`` (``.sens`` frame indices) or ``"subset"`` (mmdetection3d renumbering)."""
        return self.source.frame_index_kind

    @cached_property
    def _pose_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, int]]:
        """(valid ids, invalid ids, all poses [M, 4, 4], validity per row [M], id -> row)."""
        ids = np.asarray(self.source.frame_ids, dtype=np.int64)
        poses = np.asarray(self.source.poses, dtype=np.float64)
        ok = rigid_pose_mask(poses)
        row = {int(f): k for k, f in enumerate(ids)}
        valid = ids[ok]
        valid.setflags(write=False)
        return valid, ids[~ok], poses, ok, row

    @property
    def frame_ids(self) -> np.ndarray:
        """[N] int64 ids of the frames with a finite rigid pose, ascending (read-only)."""
        return self._pose_table[0]

    @property
    def invalid_frame_ids(self) -> np.ndarray:
        """[K] int64 ids of the frames dropped for a NaN/inf/non-rigid pose."""
        return self._pose_table[1]

    @property
    def num_invalid_poses(self) -> int:
        """How many frames were dropped for an invalid pose."""
        return len(self._pose_table[1])

    @property
    def num_frames(self) -> int:
        """Number of usable frames (``len(frame_ids)``)."""
        return len(self.frame_ids)

    def _rows(self, ids: Iterable[int]) -> list[int]:
        """Row of each requested id in the source's pose table; raise DataError for unknown or bad frames."""
        _, _, poses, ok, row = self._pose_table
        rows = []
        for fid in ids:
            k = row.get(int(fid))
            if k is None or int(fid) != fid:
                raise DataError(f"{self.source.name}: frame {fid} does not exist (scene {self.scene_id} has "
                                f"{len(row)} frames)")
            if not ok[k]:
                where = f"pose of {self.source.pose_location(int(fid))}"
                try:  # check_rigid names the problem (non-finite, not a rotation, ...)
                    check_rigid(poses[k], name=where, tol=POSE_TOL)
                    msg = f"{where}: not a rigid transform"
                except RigidTransformError as e:
                    msg = str(e)
                raise DataError(f"{msg}; frame {int(fid)} of scene {self.scene_id} is unusable")
            rows.append(k)
        return rows

    def poses(self, ids: Iterable[int] | None = None, aligned: bool = False) -> np.ndarray:
        """Camera-to-world poses without decoding any image.

        Args:
            ids: frame ids (default: ``frame_ids``).
            aligned: return ``A @ T`` (axis-aligned world) instead of the raw-world pose.

        Returns:
            [N, 4, 4] float64 ``T_world_from_cam``.

        Raises:
            DataError: unknown id, invalid pose for a requested id, or ``aligned`` without an axis alignment.
        """
        ids = self.frame_ids if ids is None else list(ids)
        out = self._pose_table[2][self._rows(ids)] if len(ids) else np.zeros((0, 4, 4))
        if aligned:
            if self.axis_alignment is None:
                raise DataError(f"scene {self.scene_id}: no axisAlignment known (scans_test scan?)")
            out = self.axis_alignment @ out
        return out

    @property
    def K_color(self) -> np.ndarray:
        """[3, 3] float64 colour intrinsics."""
        return np.asarray(self.source.K_color, dtype=np.float64)[:3, :3].copy()

    @property
    def K_depth(self) -> np.ndarray | None:
        """[3, 3] float64 depth intrinsics, or None without depth."""
        K = self.source.K_depth
        return None if K is None else np.asarray(K, dtype=np.float64)[:3, :3].copy()

    @property
    def has_depth(self) -> bool:
        """Whether depth images can be read."""
        return bool(self.source.has_depth)

    def frames(self, ids: Iterable[int], color: bool = True, depth: bool | None = None) -> list[Frame]:
        """Decode the requested frames only.

        Args:
            ids: frame ids (values of ``frame_ids``), in the order wanted.
            color: decode colour.
            depth: decode depth (None: when the layout has depth).

        Returns:
            list of ``Frame`` in request order.

        Raises:
            DataError: unknown id, invalid pose, undecodable image, depth of the wrong size (naming the file).
        """
        ids = [int(i) for i in ids]
        rows = self._rows(ids)
        want_depth = self.has_depth if depth is None else depth
        data = self.source.read(ids, color=color, depth=want_depth)
        poses = self._pose_table[2]
        Kc, Kd = self.K_color, self.K_depth
        return [
            Frame(index=fid, color=c, depth_m=d, T_world_from_cam=poses[k].copy(), K_color=Kc, K_depth=Kd)
            for fid, k, (c, d) in zip(ids, rows, data, strict=True)
        ]

    def frame(self, fid: int, color: bool = True, depth: bool | None = None) -> Frame:
        """One frame (see ``frames``)."""
        return self.frames([fid], color=color, depth=depth)[0]

    # ------------------------------------------------------------------------------------------ mesh
    def _need(self, path: Path | None, what: str) -> Path:
        if path is None or not path.is_file():
            raise FileNotFoundError(f"scene {self.scene_id}: {what} not found "
                                    f"({path if path is not None else 'no scan folder given'})")
        return path

    @cached_property
    def mesh(self) -> PlyMesh:
        """The ``_vh_clean_2.ply`` mesh (raw frame), read on first access."""
        return read_ply(self._need(self.mesh_path, "_vh_clean_2.ply mesh"))

    @property
    def mesh_vertices(self) -> np.ndarray:
        """[V, 3] float32 mesh vertices, raw frame, metres."""
        return self.mesh.vertices

    @cached_property
    def mesh_bbox_center(self) -> np.ndarray:
        """[3] float64 ``(min + max) / 2`` of the raw mesh vertices (the SQA3D frame origin)."""
        return bbox_center(self.mesh_vertices)

    @cached_property
    def instances(self) -> list[Instance]:
        """Annotated objects from ``.aggregation.json`` + ``segs.json`` (see ``instances.py``)."""
        agg = self._need(self.aggregation_path, ".aggregation.json")
        segs = self._need(self.segs_path, "_vh_clean_2.0.010000.segs.json")
        return load_instances(self.mesh_vertices, agg, segs, self.axis_alignment)


# ---------------------------------------------------------------------------------------------- loading
def resolve_scene_dir(data_root: str | os.PathLike, scene_id: str) -> Path:
    """Find ``scene_id`` under a data root.

    Looks at ``<root>/<id>``, ``<root>/scans/<id>``, ``<root>/scans_test/<id>``, ``<root>/posed_images/<id>``.

    Raises:
        FileNotFoundError: none exists (the message lists where it looked).
    """
    tried = []
    for sub in ((), ("scans",), ("scans_test",), ("posed_images",)):
        p = safe_join(data_root, *sub, scene_id)
        if p.is_dir():
            return p
        tried.append(str(p))
    raise FileNotFoundError(f"scene {scene_id} not found; looked in: {', '.join(tried)}")


def _find_sens(folder: Path) -> Path | None:
    own = folder / f"{folder.name}.sens"
    if own.is_file():
        return own
    found = sorted(folder.glob("*.sens"))
    if len(found) > 1:
        raise DataError(f"{folder}: several .sens files ({', '.join(p.name for p in found)}); pass the file")
    return found[0] if found else None


def _validated_alignment(A: Any, source: str) -> np.ndarray:
    try:
        A = np.asarray(A, dtype=np.float64).reshape(4, 4)
        return check_axis_alignment(A, name=f"{source}: axis alignment")
    except ValueError as e:
        raise DataError(str(e)) from e


def load_scene(
    path: str | os.PathLike,
    *,
    scene_id: str | None = None,
    scan_dir: str | os.PathLike | None = None,
    axis_alignment: np.ndarray | None = None,
    allow_truncated: bool = False,
) -> Scene:
    """Open a ScanNet scene in any supported layout (detected from the files present; nothing is decoded).

    Args:
        path: a raw scan folder, a ``.sens`` file, a SensReader export folder, a ``posed_images/<scene>``
            folder, or an mmdetection3d ``scannet_infos*.pkl``.
        scene_id: scene id (default: the ``.sens`` stem, the folder name, or the pickle's only scene).
        scan_dir: folder holding ``<scene>.txt`` / ``_vh_clean_2.ply`` / ``.aggregation.json`` /
            ``.segs.json`` when ``path`` is an export (default: ``path`` itself, or the ``.sens`` file's
            folder).
        axis_alignment: [4, 4] A overriding the one in ``<scene>.txt`` / the info pickle (e.g. from
            ``meta.load_axis_alignment_json``).
        allow_truncated: for ``.sens`` files, keep the complete frames of a truncated file.

    Returns:
        ``Scene``.

    Raises:
        FileNotFoundError: missing path, unknown layout, or a raw scan folder without ``<scene>.txt``.
        DataError: malformed files (naming the file).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no ScanNet scene at {p}")
    info_A = None
    source: FrameSource
    if p.is_file() and p.suffix == ".pkl":
        source, info = read_mmdet3d_infos(p, scene_id=scene_id)
        scene_id = scene_id or str(info.get("point_cloud", {}).get("lidar_idx", "")) or p.stem
        info_A = (info.get("annos") or {}).get("axis_align_matrix")
        root, ann_dir = p.parent, Path(scan_dir) if scan_dir is not None else None
    else:
        sens = p if (p.is_file() and p.suffix == ".sens") else (_find_sens(p) if p.is_dir() else None)
        if sens is not None:
            root = sens.parent
            scene_id = scene_id or sens.stem
            source = SensSource(sens, allow_truncated=allow_truncated)
            ann_dir = Path(scan_dir) if scan_dir is not None else root
            if not (ann_dir / f"{scene_id}.txt").is_file():
                raise FileNotFoundError(f"{ann_dir / (scene_id + '.txt')}: scan meta file missing (required "
                                        f"next to {sens.name})")
        elif p.is_dir():
            root = p
            source = open_layout(p)
            scene_id = scene_id or p.name
            ann_dir = Path(scan_dir) if scan_dir is not None else p
        else:
            raise FileNotFoundError(f"{p}: not a ScanNet scene (expected a folder, a .sens or an info .pkl)")

    def opt(name: str) -> Path | None:
        if ann_dir is None:
            return None
        q = ann_dir / name
        return q if q.is_file() else None

    meta_path = opt(f"{scene_id}.txt")
    meta = read_scene_meta(meta_path) if meta_path is not None else {}
    if axis_alignment is not None:
        A = _validated_alignment(axis_alignment, "axis_alignment argument")
    elif "axisAlignment" in meta:
        A = axis_alignment_from_meta(meta, source=str(meta_path))
    elif info_A is not None:
        A = _validated_alignment(info_A, source.name)
    else:
        A = None
    if isinstance(source, FolderLayout) and "depthWidth" in meta and "depthHeight" in meta:
        source.expected_depth_size = (int(meta["depthWidth"]), int(meta["depthHeight"]))
    return Scene(
        scene_id, root, source, meta=meta, axis_alignment=A,
        mesh_path=opt(f"{scene_id}_vh_clean_2.ply"),
        aggregation_path=opt(f"{scene_id}.aggregation.json"),
        segs_path=opt(f"{scene_id}_vh_clean_2.0.010000.segs.json"),
    )
