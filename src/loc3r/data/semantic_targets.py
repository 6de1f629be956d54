"""Per-token object-category targets: which object each vision token looks at (an optional auxiliary loss).

A stock VLM's vision tower (SigLIP in LLaVA-Video) arrives knowing what objects look like; the tiny model's
random one does not, and the language loss alone teaches it too slowly for a CPU budget (issue 7). This module
gives each pooled vision token the category of the object it sees, so a linear head on the LLM's hidden state
can supervise it densely (``Loc3RConfig.semantic_classes`` / ``lambda_sem``; off by default and in the paper's
recipes [G]).

Label of a token: its layout target (the mean BEV (x, y) of the 3-D points in its footprint,
``loc3r.data.bev_targets``) is taken back to the scene's world frame and tested against the instances' floor
footprints (``instances.json`` ``bbox_aligned`` through ``axisAlignment`` when the scene has one, else
``bbox_raw``), grown by ``margin_m``. The smallest containing footprint wins; its label's index in
``classes`` plus 1 is the target (0 = no listed object: floor, walls, unlisted categories); tokens without a
valid layout target get ``ignore_index``. An approximation by design: a token is labelled from its mean
position, so a token straddling an object edge takes the label of where its mean falls.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from loc3r.geometry.frames import BevFrame

__all__ = ["footprints_of_instances", "token_categories", "token_instances", "IGNORE_INDEX"]

IGNORE_INDEX = -100


def footprints_of_instances(instances: Sequence[dict[str, Any]], classes: Sequence[str],
                            axis_alignment: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floor footprints of the instances whose label is in ``classes``.

    Args:
        instances: ``instances.json`` entries (``label``, ``bbox_aligned`` and/or ``bbox_raw`` with ``min`` /
            ``max`` [3] metres).
        classes: the category vocabulary (target = index + 1).
        axis_alignment: [4, 4] raw -> aligned transform, or None (then raw boxes are used).

    Returns:
        ``(lo [K, 2], hi [K, 2], class_index [K])``: boxes in the aligned frame when ``axis_alignment`` is
        given, else in the raw world frame.
    """
    lo, hi, cls, _ = _footprints(instances, classes, axis_alignment)
    return lo, hi, cls


def _footprints(instances: Sequence[dict[str, Any]], classes: Sequence[str] | None,
                axis_alignment: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``footprints_of_instances`` plus the object ids; ``classes=None`` keeps every labelled instance."""
    index = None if classes is None else {c: i + 1 for i, c in enumerate(classes)}
    key = "bbox_aligned" if axis_alignment is not None else "bbox_raw"
    lo, hi, cls, ids = [], [], [], []
    for inst in instances:
        label = inst.get("label")
        box = inst.get(key)
        if not box or (index is not None and label not in index):
            continue
        lo.append(np.asarray(box["min"], dtype=np.float64)[:2])
        hi.append(np.asarray(box["max"], dtype=np.float64)[:2])
        cls.append(0 if index is None else index[label])
        ids.append(int(inst.get("object_id", -1)))
    if not cls:
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.stack(lo), np.stack(hi), np.asarray(cls, dtype=np.int64), np.asarray(ids, dtype=np.int64)


def _smallest_containing(bev_xy: np.ndarray, bev_valid: np.ndarray, bev: BevFrame, lo: np.ndarray,
                         hi: np.ndarray, axis_alignment: np.ndarray | None,
                         margin_m: float) -> tuple[np.ndarray, np.ndarray]:
    """For the valid tokens: ``(index of the smallest footprint containing the token's target [N], any [N])``."""
    world = bev.bev_to_world_xy(bev_xy[bev_valid])  # [N, 2] raw world
    if axis_alignment is not None:
        A = np.asarray(axis_alignment, dtype=np.float64)
        world = world @ A[:2, :2].T + A[:2, 3]  # a rotation about +Z: x, y do not depend on z
    inside = np.all((world[:, None, :] >= lo[None] - margin_m) & (world[:, None, :] <= hi[None] + margin_m),
                    axis=-1)  # [N, K]
    area = np.prod(hi - lo + 2 * margin_m, axis=-1)  # [K]
    return np.where(inside, area[None, :], np.inf).argmin(axis=1), inside.any(axis=1)


def token_categories(bev_xy: np.ndarray, bev_valid: np.ndarray, bev: BevFrame,
                     instances: Sequence[dict[str, Any]], classes: Sequence[str],
                     axis_alignment: np.ndarray | None = None, margin_m: float = 0.05,
                     ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Category target of every vision token.

    Args:
        bev_xy: [T, R, C, 2] per-token layout target, metres, in ``bev`` (the clip's first-frame BEV frame,
            anchored in the raw world).
        bev_valid: [T, R, C] bool, tokens with a valid layout target.
        bev: the clip's BEV frame.
        instances: the scene's ``instances.json`` entries.
        classes: category vocabulary (target = index + 1; 0 = none of them).
        axis_alignment: [4, 4] the scene's raw -> aligned transform, or None.
        margin_m: footprints are grown by this much on every side.
        ignore_index: target of tokens without a valid layout target.

    Returns:
        int64 [T, R, C] targets.
    """
    xy = np.asarray(bev_xy, dtype=np.float64)
    valid = np.asarray(bev_valid, dtype=bool)
    out = np.full(valid.shape, ignore_index, dtype=np.int64)
    out[valid] = 0
    lo, hi, cls = footprints_of_instances(instances, classes, axis_alignment)
    if not len(cls) or not valid.any():
        return out
    best, hit = _smallest_containing(xy, valid, bev, lo, hi, axis_alignment, margin_m)
    out[valid] = np.where(hit, cls[best], 0)
    return out


def token_instances(bev_xy: np.ndarray, bev_valid: np.ndarray, bev: BevFrame,
                    instances: Sequence[dict[str, Any]], axis_alignment: np.ndarray | None = None,
                    margin_m: float = 0.05) -> np.ndarray:
    """Object id (``instances.json`` ``object_id``) each vision token looks at, by the same footprint rule.

    Args: as ``token_categories`` (every labelled instance counts, whatever its category).

    Returns:
        int64 [T, R, C]: the object id, or -1 (no object, or no valid layout target).
    """
    xy = np.asarray(bev_xy, dtype=np.float64)
    valid = np.asarray(bev_valid, dtype=bool)
    out = np.full(valid.shape, -1, dtype=np.int64)
    lo, hi, _, ids = _footprints(instances, None, axis_alignment)
    if not len(ids) or not valid.any():
        return out
    best, hit = _smallest_containing(xy, valid, bev, lo, hi, axis_alignment, margin_m)
    out[valid] = np.where(hit, ids[best], -1)
    return out
