"""Write a synthetic scene in ScanNet's raw scan layout, through the project's own ScanNet writers.

``scans/<scene>/`` receives exactly the files a real ScanNet v2 scan has and the foundation's readers use:

* ``<scene>.sens``: JPEG colour + zlib depth (uint16 mm) + camera-to-world poses in the **raw** frame
  (``c2w_raw = A^-1 @ c2w_aligned``), OpenCV axes, deterministic timestamps (30 fps, microseconds).
* ``<scene>.txt``: scan meta with a non-identity ``axisAlignment`` A (``p_aligned = A @ p_raw``), the
  nominal intrinsics, frame counts and ``sceneType``.
* ``<scene>_vh_clean_2.ply``: the binary mesh in the raw frame (x y z float, r g b a uchar, faces).
* ``<scene>_vh_clean_2.0.010000.segs.json``: per-vertex segment ids.
* ``<scene>.aggregation.json``: one ``segGroup`` per object (``objectId`` = ``SceneObject.object_id``, label =
  its category), then one per door/window (``objectId`` = ``opening_object_id`` = ``len(objects) + k``, label
  ``"door"`` / ``"window"``, as ScanNet annotates them), listing the segments of its vertices. Walls and floor
  are unannotated structure (like ScanNet's unlabelled vertices).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from loc3r.data.scannet.instances import SegGroup, write_aggregation, write_segs
from loc3r.data.scannet.meta import write_scene_meta
from loc3r.data.scannet.ply import write_ply
from loc3r.data.scannet.sens import write_sens
from loc3r.geometry.transforms import invert_rigid

from .mesh import Mesh, mesh_vertices_raw
from .world import World, opening_object_id

__all__ = ["scene_file_names", "encode_jpeg", "depth_to_mm", "raw_poses", "scene_meta", "write_scannet_scene"]

SENSOR_NAME = "loc3r-synthetic"
FRAME_PERIOD_US = 33333  # 30 fps


def scene_file_names(scene_id: str) -> list[str]:
    """The five files of a raw scan folder, in the order they are written."""
    return [
        f"{scene_id}.txt",
        f"{scene_id}_vh_clean_2.ply",
        f"{scene_id}_vh_clean_2.0.010000.segs.json",
        f"{scene_id}.aggregation.json",
        f"{scene_id}.sens",
    ]


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an [H, W, 3] uint8 image with fixed encoder settings (4:2:0, baseline, not optimised)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(
        buf, format="JPEG", quality=int(quality), subsampling=2, optimize=False, progressive=False
    )
    return buf.getvalue()


def depth_to_mm(depth_m: np.ndarray) -> np.ndarray:
    """Metres -> uint16 millimetres (rounded; 0 where invalid or beyond 65.535 m)."""
    d = np.asarray(depth_m, dtype=np.float64)
    mm = np.rint(np.where(np.isfinite(d) & (d > 0), d, 0.0) * 1000.0)
    return np.where(mm > 65535, 0, mm).astype(np.uint16)


def raw_poses(c2w_aligned: np.ndarray, axis_alignment: np.ndarray) -> np.ndarray:
    """Camera-to-world poses in the raw frame: ``A^-1 @ c2w_aligned`` ([T, 4, 4])."""
    return invert_rigid(axis_alignment) @ np.asarray(c2w_aligned, dtype=np.float64)


def scene_meta(
    world: World,
    num_frames: int,
    K_color: np.ndarray,
    K_depth: np.ndarray,
    color_size: tuple[int, int],
    depth_size: tuple[int, int],
) -> dict:
    """The ``<scene>.txt`` key/values (ScanNet's keys; colour and depth share the viewpoint)."""
    return {
        "axisAlignment": np.asarray(world.axis_alignment, dtype=np.float64).reshape(-1),
        "colorHeight": int(color_size[1]),
        "colorToDepthExtrinsics": np.eye(4).reshape(-1),
        "colorWidth": int(color_size[0]),
        "depthHeight": int(depth_size[1]),
        "depthWidth": int(depth_size[0]),
        "fx_color": float(K_color[0, 0]),
        "fx_depth": float(K_depth[0, 0]),
        "fy_color": float(K_color[1, 1]),
        "fy_depth": float(K_depth[1, 1]),
        "mx_color": float(K_color[0, 2]),
        "mx_depth": float(K_depth[0, 2]),
        "my_color": float(K_color[1, 2]),
        "my_depth": float(K_depth[1, 2]),
        "numColorFrames": int(num_frames),
        "numDepthFrames": int(num_frames),
        "numIMUmeasurements": 0,
        "sceneType": world.scene_type,
    }


def object_seg_groups(world: World, mesh: Mesh) -> list[SegGroup]:
    """One ``SegGroup`` per instance: the objects, then the doors and windows (ids ``opening_object_id``).

    Each group lists the sorted segment ids of the instance's vertices (``mesh.vertex_object_id``).
    """
    instances = [(o.object_id, o.category) for o in world.objects]
    instances += [(opening_object_id(world, k), op.kind) for k, op in enumerate(world.room.openings)]
    groups = []
    for oid, label in instances:
        segs = np.unique(mesh.vertex_segment[mesh.vertex_object_id == oid])
        groups.append(SegGroup(object_id=oid, label=label, segments=tuple(int(s) for s in segs)))
    return groups


def write_scannet_scene(
    scan_dir: str | Path,
    world: World,
    mesh: Mesh,
    c2w_aligned: np.ndarray,
    colors: Sequence[bytes | np.ndarray],
    depths_mm: Sequence[np.ndarray],
    K_color: np.ndarray,
    K_depth: np.ndarray,
    color_size: tuple[int, int],
    depth_size: tuple[int, int],
    jpeg_quality: int = 90,
) -> list[Path]:
    """Write the five raw-scan files of one scene (each atomically); the ``.sens`` last.

    Args:
        scan_dir: ``<out>/scans/<scene_id>`` (created).
        world: the scene (its ``axis_alignment`` maps raw to aligned).
        mesh: ``build_mesh(world)`` (aligned frame; written in the raw frame).
        c2w_aligned: [T, 4, 4] camera-to-world poses, aligned frame, OpenCV axes.
        colors: T JPEG-encoded frames (or [H, W, 3] uint8 arrays); may be a lazy sequence, read in order.
        depths_mm: T uint16 depth maps in millimetres; may be lazy.
        K_color: 3x3 intrinsics of the colour images.
        K_depth: 3x3 intrinsics of the depth images.
        color_size: colour (width, height) in pixels.
        depth_size: depth (width, height) in pixels.
        jpeg_quality: used only for frames given as arrays.

    Returns:
        The written paths, in ``scene_file_names`` order.
    """
    scan_dir = Path(scan_dir)
    scan_dir.mkdir(parents=True, exist_ok=True)
    sid = world.scene_id
    names = scene_file_names(sid)
    n = len(c2w_aligned)
    write_scene_meta(scan_dir / names[0], scene_meta(world, n, K_color, K_depth, color_size, depth_size))
    write_ply(scan_dir / names[1], mesh_vertices_raw(mesh, world.axis_alignment), mesh.colors, mesh.faces)
    write_segs(
        scan_dir / names[2],
        sid,
        mesh.vertex_segment,
        params={"generator": "loc3r.synthetic", "segment_tile_m": 0.5},
    )
    write_aggregation(
        scan_dir / names[3], sid, object_seg_groups(world, mesh), segments_file=f"scannet.{names[2]}"
    )
    write_sens(
        scan_dir / names[4],
        colors,
        depths_mm,
        raw_poses(c2w_aligned, world.axis_alignment),
        K_color,
        K_depth,
        sensor_name=SENSOR_NAME,
        depth_shift=1000.0,
        timestamps=np.arange(n, dtype=np.uint64) * FRAME_PERIOD_US,
        jpeg_quality=jpeg_quality,
        color_size=tuple(color_size),
        depth_size=tuple(depth_size),
    )
    return [scan_dir / name for name in names]
