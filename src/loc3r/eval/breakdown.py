"""Localization accuracy split by whether the true position lies in the first frame's view.

A model without a camera prior predicts in the first camera's gravity-aligned BEV frame
(``loc3r.geometry.frames.BevFrame``) and sees no camera motion: it can place the agent from the first frame
alone (monocular geometry and recognition) only when the true position lies inside that frame's horizontal field
of view; anywhere else it must also work out how the camera moved between frames (visual odometry). Splitting
the test situations this way separates "finds the named place in what it sees" from "knows where the other
frames were taken", and shows whether a model beats a constant where the task is solvable from one image.

In view means: the true position, in the first frame's BEV frame (x forward, y left, metres), has ``x > 0`` and
``|atan2(y, x)| <= half_fov``, with ``half_fov = atan((W / 2) / f_x)`` the half horizontal field of view of the
frames the model sees (the whole image width: the tiny preset and LLaVA-Video stretch frames, no crop).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from loc3r.data.schema import Record
from loc3r.utils.io import DataError

__all__ = ["half_fov_deg", "first_view_mask", "accuracy_by_view"]


def half_fov_deg(width_px: float, fx_px: float) -> float:
    """Half the horizontal field of view, degrees, of an image ``width_px`` wide with focal length ``fx_px``."""
    if not (width_px > 0 and fx_px > 0):
        raise ValueError(f"width and focal length must be > 0, got {width_px}, {fx_px}")
    return math.degrees(math.atan2(width_px / 2.0, fx_px))


def first_view_mask(records: Sequence[Record], cameras: Mapping[str, tuple[np.ndarray, np.ndarray]],
                    half_fov: float) -> dict[str, bool]:
    """``{record id: True when its true position lies in the first frame's horizontal view}``.

    Args:
        records: posed records in the SQA3D frame (origin at the raw mesh's bounding-box centre).
        cameras: scene id -> (``poses_c2w`` [T, 4, 4] raw ScanNet world, the first one the frame the model's
            BEV frame is anchored at; ``center_raw`` [3] the SQA3D origin), e.g.
            ``loc3r.eval.baselines.prepared_cameras``.
        half_fov: half horizontal field of view, degrees (``half_fov_deg``).

    Raises:
        DataError: a record without a pose, with a pose in another frame, or of a scene missing from
            ``cameras`` (the message names it).
    """
    from loc3r.geometry.frames import BevFrame

    out: dict[str, bool] = {}
    for r in records:
        if r.pose is None or r.pose.frame != "sqa3d":
            raise DataError(f"record {r.id!r}: needs an SQA3D-frame pose, got {r.pose!r}")
        if r.scene_id not in cameras:
            raise DataError(f"record {r.id!r}: no camera poses for scene {r.scene_id}")
        poses, center = cameras[r.scene_id]
        bev = BevFrame.from_first_pose(np.asarray(poses, np.float64)[0])
        x, y = bev.world_to_bev_xy(np.array([r.pose.x, r.pose.y]) + np.asarray(center, np.float64)[:2])
        out[r.id] = bool(x > 0 and abs(math.degrees(math.atan2(y, x))) <= half_fov)
    return out


def accuracy_by_view(per_sample: Sequence[Mapping[str, Any]], in_view: Mapping[str, bool],
                     threshold_m: float = 1.0, strict: bool = True) -> dict[str, float | int | None]:
    """Position accuracy (%) inside and outside the first frame's view.

    Args:
        per_sample: ``score_predictions(...)["per_sample"]`` of a localization benchmark (``id``, ``pos_err_m``).
        in_view: ``first_view_mask`` of the same records.
        threshold_m: the accuracy threshold, metres.
        strict: ``error < threshold`` (SQA3D) or ``<=``, as the benchmark's own metric.

    Returns:
        ``{"in_view": %, "out_of_view": %, "n_in_view": int, "n_out_of_view": int}`` (None for an empty side).

    Raises:
        DataError: a scored sample without an entry in ``in_view``.
    """
    hits: dict[bool, list[bool]] = {True: [], False: []}
    for s in per_sample:
        if s["id"] not in in_view:
            raise DataError(f"sample {s['id']!r} has no first-view entry")
        err = float(s["pos_err_m"])
        hits[bool(in_view[s["id"]])].append(err < threshold_m if strict else err <= threshold_m)

    def pct(v: list[bool]) -> float | None:
        return 100.0 * float(np.mean(v)) if v else None

    return {"in_view": pct(hits[True]), "out_of_view": pct(hits[False]),
            "n_in_view": len(hits[True]), "n_out_of_view": len(hits[False])}
