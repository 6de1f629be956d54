"""A picture of a generated scene: bird's-eye map (objects, camera path, situations) plus a strip of frames.

The frames and poses are read back from the written ``.sens`` / ``<scene>.txt`` with the foundation's reader
(``loc3r.data.scannet.scene.load_scene``), and the situations from the written SQA3D localization file, so
the picture shows what is on disk, mapped into the scene's aligned frame with the exact frame conversions
(``loc3r.geometry.frames``). Requires matplotlib (Agg backend, no display).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from loc3r.geometry.frames import alignment_yaw, camera_heading, sqa3d_yaw_to_heading
from loc3r.geometry.rotations import quat_xyzw_to_yaw
from loc3r.utils.io import atomic_write_bytes

from .catalogue import COLORS
from .config import SynthConfig
from .world import World

__all__ = ["write_scene_preview", "load_situations", "draw_preview"]


def load_situations(out_dir: Path, scene_id: str, A: np.ndarray, center_raw: np.ndarray, limit: int = 6):
    """SQA3D situations of a scene from the written localization files, in the aligned frame.

    Returns:
        list of (xy [2], heading rad, situation text) in the scene's aligned frame.
    """
    found = []
    for path in sorted((out_dir / "annotations" / "sqa3d").glob("v1_balanced_localization_*_scannetv2.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for a in data.get("annotations", []):
            if a.get("scene_id") != scene_id:
                continue
            pos = np.array([a["position"]["x"], a["position"]["y"]]) + np.asarray(center_raw)[:2]
            r = a["rotation"]
            yaw = float(quat_xyzw_to_yaw(np.array([r["_x"], r["_y"], r["_z"], r["_w"]])))
            heading = float(sqa3d_yaw_to_heading(yaw)) + alignment_yaw(A)
            found.append((A[:2, :2] @ pos + A[:2, 3], heading, a.get("situation", "")))
            if len(found) >= limit:
                return found
    return found


def draw_preview(
    world: World,
    poses_aligned: np.ndarray,
    frames_rgb: list[np.ndarray],
    frames_depth: list[np.ndarray],
    frame_ids: list[int],
    situations: list[tuple[np.ndarray, float, str]] = (),
) -> bytes:
    """Render the preview figure and return PNG bytes.

    Args:
        world: the scene (aligned frame).
        poses_aligned: [T, 4, 4] camera-to-world poses, aligned frame.
        frames_rgb: a few colour frames, [H, W, 3] uint8.
        frames_depth: the same frames' depth, [h, w] metres.
        frame_ids: their frame indices (marked on the path).
        situations: (xy, heading, text) in the aligned frame, drawn as numbered red arrows.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    n = len(frames_rgb)
    fig = plt.figure(figsize=(3.0 * max(n, 4), 12.5), dpi=80)
    gs = fig.add_gridspec(3, max(n, 1), height_ratios=[3.2, 1, 1])
    ax = fig.add_subplot(gs[0, :])
    poly = np.asarray(world.room.polygon)
    ax.add_patch(Polygon(poly, closed=True, facecolor=(0.93, 0.93, 0.9), edgecolor="black", lw=2.5))
    walls = world.room.walls()
    for op in world.room.openings:
        a, b = walls[op.wall]
        e = (b - a) / np.linalg.norm(b - a)
        p0, p1 = a + e * (op.offset - op.width / 2), a + e * (op.offset + op.width / 2)
        ax.plot(
            [p0[0], p1[0]],
            [p0[1], p1[1]],
            color="saddlebrown" if op.kind == "door" else "deepskyblue",
            lw=7,
            solid_capstyle="butt",
            zorder=3,
        )
    for o in sorted(world.objects, key=lambda o: o.center[2] - o.size[2] / 2):  # supporters first
        rgb = np.asarray(COLORS.get(o.color_name, (128, 128, 128))) / 255.0
        ax.add_patch(
            Polygon(o.footprint(), closed=True, facecolor=(*rgb, 0.85), edgecolor="black", lw=1, zorder=4)
        )
        stacked = o.center[2] - o.size[2] / 2 > 0.05  # on another object: label below, to keep both readable
        ax.text(
            o.center[0],
            o.center[1] - (0.2 if stacked else 0.0),
            f"{o.object_id}:{o.category}",
            fontsize=7 if stacked else 8,
            ha="center",
            va="center",
            zorder=6,
            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75),
        )
    xy = poses_aligned[:, :2, 3]
    ax.plot(xy[:, 0], xy[:, 1], "-", color="tab:blue", lw=1.5, zorder=5, label="camera path")
    ax.plot(*xy[0], "o", color="tab:blue", ms=8, zorder=5)
    head = camera_heading(poses_aligned)
    step = max(1, len(xy) // 25)
    ax.quiver(
        xy[::step, 0],
        xy[::step, 1],
        np.cos(head[::step]),
        np.sin(head[::step]),
        color="tab:blue",
        scale=28,
        width=0.003,
        zorder=5,
    )
    for fid in frame_ids:
        ax.annotate(
            f"f{fid}",
            xy[fid],
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=8,
            color="tab:blue",
            zorder=7,
        )
    for k, (p, h, _text) in enumerate(situations):
        ax.arrow(
            p[0],
            p[1],
            0.45 * math.cos(h),
            0.45 * math.sin(h),
            width=0.05,
            color="red",
            zorder=8,
            length_includes_head=True,
        )
        ax.text(p[0], p[1], f"S{k}", color="darkred", fontsize=9, ha="right", va="top", zorder=8)
    ax.set_aspect("equal")
    pad = 0.3
    ax.set_xlim(poly[:, 0].min() - pad, poly[:, 0].max() + pad)
    ax.set_ylim(poly[:, 1].min() - pad, poly[:, 1].max() + pad)
    ax.set_xlabel("x (m, aligned frame)")
    ax.set_ylabel("y (m)")
    title = (
        f"{world.scene_id}  {world.scene_type}  {len(world.objects)} objects  "
        f"ceiling {world.room.height:.2f} m"
    )
    ax.set_title(title)
    lines = [f"S{k}: {t}" for k, (_, _, t) in enumerate(situations)]
    if lines:
        ax.text(
            1.01, 1.0, "\n".join(lines), transform=ax.transAxes, fontsize=8, va="top", ha="left", wrap=True
        )
    for k in range(n):
        a1 = fig.add_subplot(gs[1, k])
        a1.imshow(frames_rgb[k])
        a1.set_title(f"frame {frame_ids[k]}", fontsize=9)
        a1.axis("off")
        a2 = fig.add_subplot(gs[2, k])
        a2.imshow(np.where(frames_depth[k] > 0, frames_depth[k], np.nan), cmap="viridis", vmin=0, vmax=6)
        a2.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def write_scene_preview(cfg: SynthConfig, index: int, path: str | Path, num_frames: int = 6) -> Path:
    """Write ``path`` (PNG) for scene ``index`` of the set under ``cfg.out`` (read back from disk)."""
    from loc3r.data.scannet.scene import load_scene

    from .generate import scene_world

    out = Path(cfg.out)
    world = scene_world(cfg, index)
    scene = load_scene(out / "scans" / world.scene_id)
    ids = [int(i) for i in scene.frame_ids]
    pick = [ids[int(round(k))] for k in np.linspace(0, len(ids) - 1, num_frames)]
    frames = scene.frames(pick)
    poses = scene.poses(aligned=True)
    center_raw = scene.mesh_bbox_center
    situations = load_situations(out, world.scene_id, scene.axis_alignment, center_raw)
    png = draw_preview(world, poses, [f.color for f in frames], [f.depth_m for f in frames], pick, situations)
    path = Path(path)
    atomic_write_bytes(path, png)
    return path
