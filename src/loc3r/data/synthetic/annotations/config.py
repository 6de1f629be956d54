"""Settings of the annotation generator: how many items, and the margins that keep answers unambiguous."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["AnnotationConfig"]


@dataclass(frozen=True)
class AnnotationConfig:
    """Knobs of ``generate_annotations``.

    Args:
        situations_per_scene: SQA3D situations (agent poses) sampled per scene.
        questions_per_situation: SQA3D questions asked per situation (fewer when not enough are unambiguous).
        scanqa_per_scene: ScanQA questions per scene (upper bound).
        vsi_per_type: VSI-Bench rows per question type per scene (upper bound).
        angle_margin_deg: no direction is stated when the bearing is within this of a decision boundary
            (e.g. 0 deg between left and right, 135 deg for VSI "back").
        distance_margin_m: minimum difference between two distances that a comparison relies on
            ("which is closer"), and between the nearest and the next entity for "the closest ...".
        facing_tol_deg: "facing X" is said only when X's centre is within this of the facing direction.
        side_tol_deg: "X on my left/right/behind" (situations) only within this of exactly 90/-90/180 deg.
        max_fact_distance_m: situation facts only mention entities at most this far (footprint distance).
        standing_clearance_m: a standing agent keeps this distance from walls and object footprints.
        vsi_rel_distance_gap_m: (small room, large room) minimum gap between option distances in VSI-Bench
            object_rel_distance (the benchmark uses 0.15 m / 0.30 m, rooms above 40 m^2 being large).
        vsi_min_count: object_counting only asks about categories with at least this many instances (VSI: 2).
        appearance_min_gap_frames: obj_appearance_order needs first appearances this many frames apart.
        max_tries: proposal attempts per requested item before giving up.
    """

    situations_per_scene: int = 8
    questions_per_situation: int = 3
    scanqa_per_scene: int = 20
    vsi_per_type: int = 2
    angle_margin_deg: float = 20.0
    distance_margin_m: float = 0.3
    facing_tol_deg: float = 12.0
    side_tol_deg: float = 25.0
    max_fact_distance_m: float = 4.0
    standing_clearance_m: float = 0.2
    vsi_rel_distance_gap_m: tuple[float, float] = (0.15, 0.30)
    vsi_min_count: int = 2
    appearance_min_gap_frames: int = 5
    max_tries: int = 60

    def __post_init__(self) -> None:
        """Validate ranges (raises ``ValueError`` naming the field)."""
        for name in ("situations_per_scene", "questions_per_situation", "scanqa_per_scene", "vsi_per_type"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.angle_margin_deg < 45:
            raise ValueError(f"angle_margin_deg must be in (0, 45), got {self.angle_margin_deg}")
        if not 0 < self.facing_tol_deg < 45 or not 0 < self.side_tol_deg < 45:
            raise ValueError("facing_tol_deg and side_tol_deg must be in (0, 45)")
        if self.distance_margin_m <= 0 or self.max_fact_distance_m <= 0 or self.standing_clearance_m < 0:
            raise ValueError("distance_margin_m and max_fact_distance_m must be > 0, "
                             "standing_clearance_m >= 0")
        if self.max_tries < 1:
            raise ValueError(f"max_tries must be >= 1, got {self.max_tries}")

    @property
    def angle_margin_rad(self) -> float:
        """``angle_margin_deg`` in radians."""
        return math.radians(self.angle_margin_deg)

    @classmethod
    def from_any(cls, cfg: Any) -> "AnnotationConfig":
        """Build from None, an ``AnnotationConfig``, a mapping of fields, or the generator's ``SynthConfig``.

        From a ``SynthConfig`` it takes ``situations_per_scene`` and ``questions_per_situation`` and then any
        fields given in ``cfg.extra["annotations"]``. Unknown keys raise ``ValueError``.
        """
        if cfg is None:
            return cls()
        if isinstance(cfg, cls):
            return cfg
        known = {f.name for f in dataclasses.fields(cls)}
        if isinstance(cfg, Mapping):
            values = dict(cfg)
        else:
            values = {k: getattr(cfg, k) for k in ("situations_per_scene", "questions_per_situation")
                      if hasattr(cfg, k)}
            extra = getattr(cfg, "extra", None) or {}
            values.update(dict(extra.get("annotations", {}) or {}))
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown annotation setting(s): {', '.join(unknown)}")
        if "vsi_rel_distance_gap_m" in values:
            values["vsi_rel_distance_gap_m"] = tuple(values["vsi_rel_distance_gap_m"])
        return cls(**values)
