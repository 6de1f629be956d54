"""Bird's-eye-view pictures of a Loc3R prediction (matplotlib, written as PNG).

``plot_bev_map`` draws, in the first-frame BEV frame (metres; x = the first camera's horizontal viewing
direction, y = 90 deg to its left, so the axes are drawn with equal scale and y up):

* the **cognitive map**: the layout head's predicted BEV position of every vision token, one dot per token,
  coloured by the frame it comes from (colour bar = frame index);
* optionally the ground-truth token positions (``bev_targets.npz`` of a prepared scene) as light grey dots,
  and labelled object centres (``instances.json``);
* the **camera path** when poses are known: camera centres joined in temporal order, with short ticks in each
  camera's viewing direction, coloured like the tokens of that frame;
* the **predicted pose** (blue): an arrow from the predicted position in the predicted facing direction, with
  the 1σ and 2σ ellipses of the per-axis σ (axis-aligned in the BEV frame, as the head predicts σ_x, σ_y);
* the **ground-truth pose** (green) when known, and the prediction's position error in the legend.

Blue = prediction, green = ground truth, as in the paper's figures. Colours come from the ``viridis`` map.
The figure is built on a private ``Figure`` (no pyplot global state) and written atomically.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from loc3r.utils.io import atomic_write_bytes

__all__ = ["PRED_COLOR", "GT_COLOR", "plot_bev_map"]

PRED_COLOR = "#1f5fd6"
GT_COLOR = "#1a9e3a"
_GT_TOKENS_COLOR = "#b9b9b9"


def _finite_rows(xy: np.ndarray) -> np.ndarray:
    return np.all(np.isfinite(xy), axis=-1)


def plot_bev_map(
    path: str | Path,
    *,
    token_xy: np.ndarray | None = None,
    camera_xy: np.ndarray | None = None,
    camera_heading: np.ndarray | None = None,
    pred_xy: np.ndarray | None = None,
    pred_sigma: np.ndarray | None = None,
    pred_heading: float | None = None,
    gt_xy: np.ndarray | None = None,
    gt_heading: float | None = None,
    gt_token_xy: np.ndarray | None = None,
    objects: Sequence[tuple[str, np.ndarray]] = (),
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Draw the BEV map (module docstring) and write it as a PNG.

    Args:
        path: output ``.png`` (written atomically; parent folders are created).
        token_xy: [T, R, C, 2] (or [T, N, 2]) predicted BEV position of every vision token, metres.
        camera_xy: [T, 2] camera centres in the BEV frame, metres (poses known), or None.
        camera_heading: [T] camera viewing headings in the BEV frame, radians, or None.
        pred_xy: [2] predicted agent position, metres.
        pred_sigma: [2] predicted per-axis σ (σ_x, σ_y), metres.
        pred_heading: predicted facing heading, radians (from the BEV x axis, counter-clockwise).
        gt_xy: [2] ground-truth position, metres, or None.
        gt_heading: ground-truth facing heading, radians, or None.
        gt_token_xy: [N, 2] ground-truth token positions (valid ones), metres, or None.
        objects: (label, [2] BEV centre in metres) of known objects, drawn as labelled crosses.
        title: figure title.
        dpi: resolution.

    Returns:
        The written path.

    Raises:
        ValueError: badly shaped inputs.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Ellipse

    fig = Figure(figsize=(7.2, 6.2), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    cmap = colormaps["viridis"]
    extent: list[np.ndarray] = []

    num_frames = None
    if token_xy is not None:
        tok = np.asarray(token_xy, dtype=np.float64)
        if tok.ndim < 3 or tok.shape[-1] != 2:
            raise ValueError(f"token_xy must be [T, ..., 2], got shape {tok.shape}")
        num_frames = tok.shape[0]
    if camera_xy is not None:
        cam = np.asarray(camera_xy, dtype=np.float64)
        if cam.ndim != 2 or cam.shape[1] != 2:
            raise ValueError(f"camera_xy must be [T, 2], got shape {cam.shape}")
        if num_frames is not None and cam.shape[0] != num_frames:
            raise ValueError(f"camera_xy has {cam.shape[0]} frames, token_xy {num_frames}")
        num_frames = cam.shape[0]
    norm = Normalize(vmin=0, vmax=max((num_frames or 1) - 1, 1))

    if gt_token_xy is not None:
        g = np.asarray(gt_token_xy, dtype=np.float64).reshape(-1, 2)
        g = g[_finite_rows(g)]
        if len(g):
            ax.scatter(
                g[:, 0],
                g[:, 1],
                s=2,
                c=_GT_TOKENS_COLOR,
                alpha=0.5,
                linewidths=0,
                label="GT token positions",
                zorder=1,
            )
            extent.append(g)

    if token_xy is not None:
        flat = tok.reshape(tok.shape[0], -1, 2)
        frame_of = np.repeat(np.arange(flat.shape[0]), flat.shape[1])
        pts = flat.reshape(-1, 2)
        ok = _finite_rows(pts)
        ax.scatter(
            pts[ok, 0],
            pts[ok, 1],
            s=9,
            c=frame_of[ok],
            cmap=cmap,
            norm=norm,
            alpha=0.75,
            linewidths=0,
            label="cognitive map (predicted token BEV)",
            zorder=2,
        )
        extent.append(pts[ok])

    if camera_xy is not None:
        ax.plot(cam[:, 0], cam[:, 1], "-", color="0.35", lw=1.0, zorder=3, label="camera path")
        ax.scatter(
            cam[:, 0],
            cam[:, 1],
            s=22,
            c=np.arange(len(cam)),
            cmap=cmap,
            norm=norm,
            edgecolors="k",
            linewidths=0.5,
            zorder=4,
        )
        if camera_heading is not None:
            hd = np.asarray(camera_heading, dtype=np.float64).reshape(-1)
            span = float(np.ptp(cam, axis=0).max()) if len(cam) > 1 else 1.0
            tick = 0.06 * max(span, 1.0)
            for t, (c, h) in enumerate(zip(cam, hd, strict=True)):
                ax.plot(
                    [c[0], c[0] + tick * math.cos(h)],
                    [c[1], c[1] + tick * math.sin(h)],
                    "-",
                    color=cmap(norm(t)),
                    lw=1.2,
                    zorder=4,
                )
        ax.scatter(
            [cam[0, 0]],
            [cam[0, 1]],
            s=70,
            marker="s",
            facecolors="none",
            edgecolors="k",
            lw=1.2,
            zorder=5,
            label="first frame (BEV origin)",
        )
        extent.append(cam)

    if objects:
        centres = np.array([np.asarray(c, dtype=np.float64).reshape(2) for _, c in objects])
        ax.scatter(
            centres[:, 0],
            centres[:, 1],
            s=28,
            marker="x",
            c="0.25",
            linewidths=1.0,
            zorder=3,
            label="objects",
        )
        for (label, _), c in zip(objects, centres, strict=True):
            ax.annotate(
                label,
                (c[0], c[1]),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=6.5,
                color="0.2",
                zorder=3,
            )
        extent.append(centres)

    def _arrow(xy, heading, color, label, length):
        ax.annotate(
            "",
            xy=(xy[0] + length * math.cos(heading), xy[1] + length * math.sin(heading)),
            xytext=(xy[0], xy[1]),
            zorder=7,
            arrowprops={"arrowstyle": "-|>", "color": color, "lw": 2.2, "mutation_scale": 16},
        )
        ax.scatter(
            [xy[0]], [xy[1]], s=55, color=color, edgecolors="white", linewidths=1.0, zorder=8, label=label
        )

    all_pts = np.concatenate(extent) if extent else np.zeros((0, 2))
    span = float(np.ptp(all_pts, axis=0).max()) if len(all_pts) > 1 else 1.0
    arrow_len = 0.12 * max(span, 1.0)
    if pred_xy is not None:
        p = np.asarray(pred_xy, dtype=np.float64).reshape(2)
        if pred_sigma is not None:
            s = np.asarray(pred_sigma, dtype=np.float64).reshape(2)
            for k, alpha in ((1, 0.22), (2, 0.10)):
                ax.add_patch(
                    Ellipse(
                        (p[0], p[1]),
                        2 * k * s[0],
                        2 * k * s[1],
                        facecolor=PRED_COLOR,
                        alpha=alpha,
                        edgecolor=PRED_COLOR,
                        lw=1.0,
                        zorder=6,
                        label=f"{k}σ (σx={s[0]:.2f} m, σy={s[1]:.2f} m)",
                    )
                )
            extent.append(np.array([p - 2 * s, p + 2 * s]))
        label = "predicted pose"
        if gt_xy is not None:
            err = float(np.hypot(*(p - np.asarray(gt_xy, dtype=np.float64).reshape(2))))
            label += f" (error {err:.2f} m"
            if pred_heading is not None and gt_heading is not None:
                d = abs((pred_heading - gt_heading + math.pi) % (2 * math.pi) - math.pi)
                label += f", {math.degrees(d):.0f}°"
            label += ")"
        _arrow(p, pred_heading if pred_heading is not None else 0.0, PRED_COLOR, label, arrow_len)
        extent.append(p[None])
    if gt_xy is not None:
        g = np.asarray(gt_xy, dtype=np.float64).reshape(2)
        _arrow(g, gt_heading if gt_heading is not None else 0.0, GT_COLOR, "ground-truth pose", arrow_len)
        extent.append(g[None])

    if extent:
        pts = np.concatenate(extent)
        lo, hi = pts.min(0), pts.max(0)
        pad = 0.08 * max(float((hi - lo).max()), 1.0)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
        ratio = (hi[1] - lo[1] + 2 * pad) / (hi[0] - lo[0] + 2 * pad)
        fig.set_size_inches(7.2, float(np.clip(5.6 * ratio + 1.4, 3.6, 9.0)))  # fit the map's aspect
    ax.set_aspect("equal", adjustable="box")
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.set_xlabel("x (m, BEV: first camera's viewing direction)")
    ax.set_ylabel("y (m, BEV: 90° left of it)")
    if title:
        ax.set_title(title, fontsize=10)
    if num_frames:
        from matplotlib.ticker import MaxNLocator
        from mpl_toolkits.axes_grid1 import make_axes_locatable

        cax = make_axes_locatable(ax).append_axes("right", size="4%", pad=0.12)  # as tall as the map
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, label="frame")
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    ax.legend(loc="best", fontsize=7, framealpha=0.85)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    out = Path(path)
    atomic_write_bytes(out, buf.getvalue())
    return out
