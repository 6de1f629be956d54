"""Language-based localization metrics (SQA3D protocol) and the BEV -> dataset-frame mapping of predictions.

Metric (official ``SQA3D/utils/localization_metric.py``, ``data_formats.md`` §2.3):

* position error = distance in the **xy plane** (z ignored), metres;
* rotation error = ``d = |yaw_pred - yaw_gt|``, ``min(d, 2 pi - d)``, in **degrees**, where yaw is the z
  component of the quaternion's rotation vector (for the pure-yaw SQA3D quaternions: ``2 atan2(q_z, q_w)``);
* up to 3 guesses per sample; the minimum position error and the minimum rotation error are taken
  **independently** over the guesses;
* ``Acc@0.5m = mean(pos_err < 0.5)``, ``Acc@1.0m``, ``Acc@15deg = mean(rot_err < 15)``, ``Acc@30deg``, with a
  **strict** ``<``. (``method.md`` §6 cites View2Cap's / SIG3D's evaluation, which uses ``<=``; the SQA3D
  reference uses ``<``. ``strict=True`` is the default; ``strict=False`` gives the ``<=`` variant.)

Both errors are invariant to a common rotation about +Z plus translation of prediction and ground truth, and
the yaw difference is the same whether one compares SQA3D's quaternion yaws or facing headings (they differ by
pi for both). ``bev_to_dataset`` maps predictions made in the paper's first-frame BEV frame to the dataset
frame with the first selected frame's camera pose (rotation + translation, no scale; ``method.md`` §2.6).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from loc3r.geometry.frames import (
    BevFrame,
    aligned_to_raw_points,
    alignment_yaw,
    check_axis_alignment,
    raw_to_aligned_points,
    raw_to_sqa3d,
)
from loc3r.geometry.rotations import wrap_angle

__all__ = [
    "MAX_GUESSES",
    "POSITION_THRESHOLDS_M",
    "ROTATION_THRESHOLDS_DEG",
    "DATASET_FRAMES",
    "rotvec_yaw",
    "position_error",
    "rotation_error_deg",
    "min_errors",
    "localization_accuracy",
    "sqa3d_localization_metric",
    "bev_to_dataset",
]

MAX_GUESSES = 3
POSITION_THRESHOLDS_M = (0.5, 1.0)
ROTATION_THRESHOLDS_DEG = (15.0, 30.0)
#: Frames a prediction can be compared in (see ``loc3r.geometry.frames``).
DATASET_FRAMES = ("sqa3d", "raw", "aligned", "bev")


def rotvec_yaw(q_xyzw: np.ndarray) -> np.ndarray:
    """Z component of the rotation vector of quaternions [..., 4] (xyzw), radians in [-pi, pi].

    This is the quantity SQA3D's metric compares (``Rotation.from_quat(q).as_rotvec()[-1]``); for a pure yaw
    it equals ``2 atan2(q_z, q_w)`` wrapped.
    """
    from scipy.spatial.transform import Rotation

    q = np.asarray(q_xyzw, dtype=np.float64)
    return Rotation.from_quat(q.reshape(-1, 4)).as_rotvec()[:, 2].reshape(q.shape[:-1])


def position_error(pred_xy: np.ndarray, gt_xy: np.ndarray) -> np.ndarray:
    """Distance in the xy plane (metres) between positions [..., >=2] (z is ignored); broadcasts."""
    p = np.asarray(pred_xy, dtype=np.float64)[..., :2]
    g = np.asarray(gt_xy, dtype=np.float64)[..., :2]
    return np.sqrt(((p - g) ** 2).sum(-1))


def rotation_error_deg(pred_yaw: np.ndarray, gt_yaw: np.ndarray) -> np.ndarray:
    """SQA3D's yaw difference in degrees, in [0, 180]: ``d = |a - b|`` then ``min(d, 2 pi - d)``.

    The inputs are wrapped to [-pi, pi) first (the reference's rotation-vector yaws already lie in [-pi, pi],
    so this changes nothing for them and makes arbitrary radians safe). Broadcasts.
    """
    d = np.abs(wrap_angle(pred_yaw) - wrap_angle(gt_yaw))
    return np.degrees(np.minimum(d, 2.0 * np.pi - d))


def min_errors(
    pred_xy: Sequence[np.ndarray], pred_yaw: Sequence[np.ndarray], gt_xy: np.ndarray, gt_yaw: np.ndarray,
    max_guesses: int = MAX_GUESSES,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample minimum position and rotation errors over each sample's guesses (taken independently).

    Args:
        pred_xy: N arrays [K_i, >=2] of guessed positions (metres); K_i = 0 means no prediction.
        pred_yaw: N arrays [K_i] of guessed yaws (radians, same convention as ``gt_yaw``).
        gt_xy: [N, >=2] ground-truth positions (metres).
        gt_yaw: [N] ground-truth yaws (radians).
        max_guesses: most guesses allowed per sample (3 in SQA3D).

    Returns:
        ``(pos_err [N] metres, rot_err [N] degrees)``; ``inf`` for a sample without a guess.

    Raises:
        ValueError: lengths disagree, or a sample has more than ``max_guesses`` guesses.
    """
    gt_xy = np.asarray(gt_xy, dtype=np.float64)
    gt_yaw = np.asarray(gt_yaw, dtype=np.float64).reshape(-1)
    n = len(gt_yaw)
    if not (len(pred_xy) == len(pred_yaw) == len(gt_xy) == n):
        raise ValueError(f"length mismatch: {len(pred_xy)} position and {len(pred_yaw)} rotation predictions "
                         f"for {len(gt_xy)} / {n} ground-truth poses")
    pos = np.full(n, np.inf)
    rot = np.full(n, np.inf)
    for i in range(n):
        p = np.asarray(pred_xy[i], dtype=np.float64)
        p = p.reshape(0, 2) if p.size == 0 else np.atleast_2d(p)
        r = np.asarray(pred_yaw[i], dtype=np.float64).reshape(-1)
        if len(p) > max_guesses or len(r) > max_guesses:
            raise ValueError(f"sample {i}: {max(len(p), len(r))} guesses, at most {max_guesses} are allowed")
        if len(p):
            pos[i] = position_error(p, gt_xy[i]).min()
        if len(r):
            rot[i] = rotation_error_deg(r, gt_yaw[i]).min()
    return pos, rot


def localization_accuracy(
    pos_err: np.ndarray,
    rot_err_deg: np.ndarray,
    strict: bool = True,
    pos_thresholds: Sequence[float] = POSITION_THRESHOLDS_M,
    rot_thresholds: Sequence[float] = ROTATION_THRESHOLDS_DEG,
) -> dict[str, float | None]:
    """Accuracies (percent) and median errors from per-sample errors.

    Args:
        pos_err: [N] position errors, metres (``inf`` = no prediction, counted as a miss).
        rot_err_deg: [N] rotation errors, degrees (``inf`` = no prediction).
        strict: ``error < threshold`` (SQA3D, default) or ``error <= threshold`` (View2Cap / SIG3D).
        pos_thresholds: metres, reported as ``Acc@{t}m``.
        rot_thresholds: degrees, reported as ``Acc@{t:g}deg``.

    Returns:
        ``{"Acc@0.5m": pct, "Acc@1.0m": pct, "Acc@15deg": pct, "Acc@30deg": pct, "median_pos_err_m": m,
        "median_rot_err_deg": deg}``; a median is None when it is infinite (more than half the samples without
        a prediction); everything is None for N = 0.
    """
    pos = np.asarray(pos_err, dtype=np.float64).reshape(-1)
    rot = np.asarray(rot_err_deg, dtype=np.float64).reshape(-1)
    cmp = np.less if strict else np.less_equal
    out: dict[str, float | None] = {}
    for t in pos_thresholds:
        out[f"Acc@{float(t)}m"] = 100.0 * float(cmp(pos, t).mean()) if len(pos) else None
    for t in rot_thresholds:
        out[f"Acc@{float(t):g}deg"] = 100.0 * float(cmp(rot, t).mean()) if len(rot) else None

    def _median(x: np.ndarray) -> float | None:
        if not len(x):
            return None
        m = float(np.median(x))
        return m if np.isfinite(m) else None

    out["median_pos_err_m"] = _median(pos)
    out["median_rot_err_deg"] = _median(rot)
    return out


def sqa3d_localization_metric(
    gt_pos: np.ndarray,
    gt_rot_xyzw: np.ndarray,
    pred_pos: Sequence[np.ndarray],
    pred_rot_xyzw: Sequence[np.ndarray],
    strict: bool = True,
) -> dict[str, float | None]:
    """The SQA3D localization metric with the reference's inputs (positions and xyzw quaternions).

    Args:
        gt_pos: [N, 3] ground-truth positions (metres, SQA3D frame; z ignored).
        gt_rot_xyzw: [N, 4] ground-truth quaternions, **xyzw** (build them by key from ``_x, _y, _z, _w``).
        pred_pos: N arrays [K_i <= 3, 3] of guessed positions.
        pred_rot_xyzw: N arrays [K_i <= 3, 4] of guessed quaternions (xyzw).
        strict: see ``localization_accuracy``.

    Returns:
        As ``localization_accuracy``.
    """
    gt_yaw = rotvec_yaw(np.asarray(gt_rot_xyzw, dtype=np.float64))
    pred_yaw = [rotvec_yaw(np.asarray(r, dtype=np.float64).reshape(-1, 4)) for r in pred_rot_xyzw]
    pos, rot = min_errors(list(pred_pos), pred_yaw, gt_pos, gt_yaw)
    return localization_accuracy(pos, rot, strict=strict)


def bev_to_dataset(
    xy_bev: np.ndarray,
    heading_bev: np.ndarray,
    first_frame_pose: np.ndarray,
    target_frame: str,
    world_frame: str = "raw",
    axis_alignment: np.ndarray | None = None,
    scene_center_raw: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Map poses from the first-frame BEV frame to a dataset frame (rotation about +Z + translation).

    BEV -> world uses ``BevFrame.from_first_pose(first_frame_pose)`` (origin = first camera centre's xy, x
    axis = its horizontal viewing direction). World -> target: ``raw <-> aligned`` through ``axis_alignment``
    A (``p_al = A [p_raw, 1]``, headings shift by A's yaw); ``raw -> sqa3d`` subtracts the raw mesh's
    bounding-box centre (``sqa3d`` keeps the raw axes).

    Args:
        xy_bev: [..., 2] positions in the BEV frame, metres.
        heading_bev: [...] facing headings in the BEV frame, radians (direction the agent looks).
        first_frame_pose: [4, 4] camera-to-world pose of the first selected frame, in ``world_frame``.
        target_frame: ``"sqa3d" | "raw" | "aligned" | "bev"``.
        world_frame: frame of ``first_frame_pose``: ``"raw"`` (ScanNet ``.sens`` poses) or ``"aligned"``.
        axis_alignment: [4, 4] ScanNet ``axisAlignment``; needed when exactly one of world / target is
            aligned.
        scene_center_raw: [3] bounding-box centre of the raw ``_vh_clean_2.ply`` vertices; needed for
            ``sqa3d``.

    Returns:
        ``(xy [..., 2] metres, heading [...] radians)`` in ``target_frame``. Headings stay *facing* headings;
        for the SQA3D quaternion yaw use ``loc3r.geometry.frames.heading_to_sqa3d_yaw`` (``heading - pi``).

    Raises:
        ValueError: unknown frame, or a transform the mapping needs is missing / invalid.
    """
    xy = np.asarray(xy_bev, dtype=np.float64)
    heading = np.asarray(heading_bev, dtype=np.float64)
    if target_frame not in DATASET_FRAMES:
        raise ValueError(f"unknown target frame {target_frame!r} (known: {', '.join(DATASET_FRAMES)})")
    if target_frame == "bev":
        return xy[..., :2].copy(), wrap_angle(heading)
    if world_frame not in ("raw", "aligned"):
        raise ValueError(f"first-frame pose frame must be 'raw' or 'aligned', got {world_frame!r}")
    bev = BevFrame.from_first_pose(np.asarray(first_frame_pose, dtype=np.float64))
    xy_w, head_w = bev.bev_to_world_xy(xy), bev.bev_to_world_heading(heading)
    if target_frame == world_frame:
        return xy_w, head_w
    if target_frame == "aligned" or world_frame == "aligned":
        if axis_alignment is None:
            raise ValueError(f"mapping {world_frame} -> {target_frame} needs the scene's axis_alignment")
        A = check_axis_alignment(axis_alignment)
        pts = np.concatenate([xy_w, np.zeros(xy_w.shape[:-1] + (1,))], axis=-1)
        if world_frame == "aligned":  # aligned -> raw
            xy_w = aligned_to_raw_points(pts, A)[..., :2]
            head_w = wrap_angle(head_w - alignment_yaw(A))
        else:  # raw -> aligned (target)
            return raw_to_aligned_points(pts, A)[..., :2], wrap_angle(head_w + alignment_yaw(A))
    if target_frame == "raw":
        return xy_w, head_w
    # target sqa3d: raw axes, origin at the raw mesh's bounding-box centre.
    if scene_center_raw is None:
        raise ValueError("mapping to the SQA3D frame needs scene_center_raw (bbox centre of the raw mesh)")
    c = np.asarray(scene_center_raw, dtype=np.float64).reshape(-1)
    if c.shape[0] < 2 or not np.all(np.isfinite(c)):
        raise ValueError(f"scene_center_raw must be a finite [3] vector, got {c.tolist()}")
    return raw_to_sqa3d(xy_w, head_w, c)[0], head_w
