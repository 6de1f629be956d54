"""ScanNet object instances from ``<scene>.aggregation.json`` + ``<scene>_vh_clean_2.0.010000.segs.json``.

* ``segs.json``: ``{"params": {...}, "sceneId": ..., "segIndices": [segment id per mesh vertex]}`` -- one
  entry per vertex of ``_vh_clean_2.ply``.
* ``aggregation.json``: ``{"sceneId", "appId", "segGroups": [{"id", "objectId", "segments", "label"}],
  "segmentsFile"}``. ``objectId`` is 0-indexed and is the id ScanQA / ScanRefer ``object_ids`` refer to
  (votenet-style preprocessing stores ``objectId + 1`` so that 0 = unannotated; we keep the raw ``objectId``).

An instance's vertices are all mesh vertices whose segment is in its ``segments``. ScanNet has a few segments
claimed by two objects; each instance keeps all of its own vertices (no overwrite order is imposed).
Instances with no vertex (segments absent from the mesh) are skipped with a warning.

Boxes are axis-aligned boxes of the instance's vertices: ``bbox_min/max`` in the raw frame and, when the
scene's ``axisAlignment`` A is known, ``bbox_min/max_aligned`` of the *transformed vertices* (votenet), which
is tighter than transforming the raw box.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from loc3r.geometry.transforms import apply_rigid
from loc3r.utils.io import DataError, atomic_write_json

__all__ = [
    "Instance",
    "SegGroup",
    "read_segs",
    "read_aggregation",
    "build_instances",
    "load_instances",
    "write_segs",
    "write_aggregation",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Instance:
    """One annotated object of a ScanNet scene.

    Attributes:
        object_id: aggregation ``objectId`` (0-indexed; = ScanQA/ScanRefer object id).
        label: raw ScanNet category label (e.g. ``"couch"``).
        vertex_indices: [K] int64 indices into the ``_vh_clean_2.ply`` vertices.
        points: [K, 3] float32 vertex positions, raw world frame, metres.
        centroid: [3] float64 mean of ``points`` (raw frame).
        bbox_min, bbox_max: [3] float64 axis-aligned box corners in the raw frame.
        bbox_min_aligned, bbox_max_aligned: [3] float64 box of the aligned points, or None when A is unknown.
    """

    object_id: int
    label: str
    vertex_indices: np.ndarray
    points: np.ndarray
    centroid: np.ndarray
    bbox_min: np.ndarray
    bbox_max: np.ndarray
    bbox_min_aligned: np.ndarray | None = None
    bbox_max_aligned: np.ndarray | None = None

    @property
    def bbox_center(self) -> np.ndarray:
        """[3] centre of the raw-frame box, ``(min + max) / 2``."""
        return (self.bbox_min + self.bbox_max) / 2.0

    @property
    def bbox_size(self) -> np.ndarray:
        """[3] extents of the raw-frame box, metres."""
        return self.bbox_max - self.bbox_min


@dataclass(frozen=True)
class SegGroup:
    """One ``segGroups`` entry of an aggregation file."""

    object_id: int
    label: str
    segments: tuple[int, ...]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON: {e}") from e


def read_segs(path: str | os.PathLike) -> np.ndarray:
    """[N] int64 segment id per mesh vertex from a ``*.segs.json`` file."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or "segIndices" not in data:
        raise DataError(f"{path}: no 'segIndices' list")
    try:
        return np.asarray(data["segIndices"], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: segIndices is not a list of integers: {e}") from e


def read_aggregation(path: str | os.PathLike) -> list[SegGroup]:
    """The ``segGroups`` of an ``*.aggregation.json`` file, in file order."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("segGroups"), list):
        raise DataError(f"{path}: no 'segGroups' list")
    groups = []
    for k, g in enumerate(data["segGroups"]):
        try:
            oid = g["objectId"] if "objectId" in g else g["id"]
            groups.append(SegGroup(int(oid), str(g["label"]), tuple(int(s) for s in g["segments"])))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{path}: segGroups[{k}] is malformed ({e!r})") from e
    return groups


def build_instances(
    vertices: np.ndarray,
    seg_indices: np.ndarray,
    groups: Sequence[SegGroup],
    axis_alignment: np.ndarray | None = None,
    source: str = "scene",
) -> list[Instance]:
    """Group mesh vertices into object instances.

    Args:
        vertices: [N, 3] mesh vertices, raw frame.
        seg_indices: [N] segment id per vertex.
        groups: aggregation segment groups.
        axis_alignment: optional [4, 4] A (``p_aligned = A @ p_raw``) for the aligned boxes.
        source: name used in messages (e.g. the aggregation path).

    Returns:
        list of ``Instance`` in aggregation order (empty instances skipped).

    Raises:
        DataError: ``seg_indices`` length differs from the vertex count.
    """
    vertices = np.asarray(vertices)
    seg_indices = np.asarray(seg_indices, dtype=np.int64)
    if len(seg_indices) != len(vertices):
        raise DataError(
            f"{source}: segIndices has {len(seg_indices)} entries but the mesh has {len(vertices)} vertices"
        )
    # Vertices sorted by segment id -> each segment is a contiguous slice (one argsort, no per-vertex loop).
    order = np.argsort(seg_indices, kind="stable")
    sorted_ids = seg_indices[order]
    uniq, starts, counts = np.unique(sorted_ids, return_index=True, return_counts=True)
    slot = {int(s): (int(a), int(a + c)) for s, a, c in zip(uniq, starts, counts, strict=True)}
    out = []
    for g in groups:
        parts = [order[slot[s][0]:slot[s][1]] for s in dict.fromkeys(g.segments) if s in slot]
        idx = np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        if idx.size == 0:
            logger.warning("%s: object %d (%s) has no mesh vertex; skipped", source, g.object_id, g.label)
            continue
        pts = vertices[idx].astype(np.float32)
        p64 = pts.astype(np.float64)
        amin = amax = None
        if axis_alignment is not None:
            pa = apply_rigid(axis_alignment, p64)
            amin, amax = pa.min(axis=0), pa.max(axis=0)
        out.append(
            Instance(
                object_id=g.object_id,
                label=g.label,
                vertex_indices=idx.astype(np.int64),
                points=pts,
                centroid=p64.mean(axis=0),
                bbox_min=p64.min(axis=0),
                bbox_max=p64.max(axis=0),
                bbox_min_aligned=amin,
                bbox_max_aligned=amax,
            )
        )
    return out


def load_instances(
    vertices: np.ndarray,
    aggregation_path: str | os.PathLike,
    segs_path: str | os.PathLike,
    axis_alignment: np.ndarray | None = None,
) -> list[Instance]:
    """Read the aggregation and segs files and build the instances (see ``build_instances``)."""
    return build_instances(
        vertices, read_segs(segs_path), read_aggregation(aggregation_path), axis_alignment,
        source=str(aggregation_path),
    )


def write_segs(path: str | os.PathLike, scene_id: str, seg_indices: Iterable[int],
               params: dict[str, Any] | None = None) -> None:
    """Write a ``*_vh_clean_2.0.010000.segs.json`` file (``segIndices``: segment id per vertex)."""
    data = {
        "params": dict(params) if params is not None else {},
        "sceneId": scene_id,
        "segIndices": [int(s) for s in seg_indices],
    }
    atomic_write_json(path, data, indent=None)


def write_aggregation(
    path: str | os.PathLike,
    scene_id: str,
    groups: Sequence[SegGroup],
    app_id: str = "loc3r.synthetic",
    segments_file: str | None = None,
) -> None:
    """Atomically write a ``<scene>.aggregation.json`` file.

    Args:
        path: output file.
        scene_id: e.g. ``"scene0000_00"`` (stored as ``"scannet.<scene_id>"``, as ScanNet does).
        groups: the objects; ``id`` is written equal to ``objectId``.
        app_id: annotation tool name.
        segments_file: value of ``segmentsFile`` (default ``scannet.<scene>_vh_clean_2.0.010000.segs.json``).
    """
    data = {
        "sceneId": f"scannet.{scene_id}",
        "appId": app_id,
        "segGroups": [
            {"id": g.object_id, "objectId": g.object_id, "segments": [int(s) for s in g.segments],
             "label": g.label}
            for g in groups
        ],
        "segmentsFile": segments_file or f"scannet.{scene_id}_vh_clean_2.0.010000.segs.json",
    }
    atomic_write_json(path, data, indent=None)
