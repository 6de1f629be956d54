"""Typed, frozen records shared by the whole data layer.

``Record`` is the unified annotation record every benchmark reader produces (and ``loc3r data convert`` writes
as JSONL). ``Pose`` is an agent pose in a named dataset frame (see ``loc3r.geometry.frames``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Pose", "Record", "REQUIRED_RECORD_FIELDS"]


@dataclass(frozen=True)
class Pose:
    """An agent pose in a dataset frame.

    Attributes:
        x, y, z: position in metres, in ``frame``.
        yaw: radians, in the *source dataset's own* rotation convention: for ``frame="sqa3d"`` it is SQA3D's
            quaternion yaw ``2 atan2(q_z, q_w)`` (the quantity the official metric compares; the agent faces
            ``(-cos yaw, -sin yaw)``); for ``frame="aligned"`` (MSQA) and ``"bev"`` it is the facing heading.
        forward: [fx, fy] unit facing direction in ``frame`` (always the direction the agent looks).
        frame: ``"sqa3d"`` | ``"aligned"`` | ``"raw"`` | ``"bev"``.
    """

    x: float
    y: float
    yaw: float
    forward: tuple[float, float]
    frame: str = "sqa3d"
    z: float = 0.0

    @property
    def heading(self) -> float:
        """Facing heading ``atan2(fy, fx)`` in radians (frame-independent convention)."""
        return math.atan2(self.forward[1], self.forward[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["forward"] = list(self.forward)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Pose":
        """Inverse of ``to_dict``."""
        return cls(x=float(d["x"]), y=float(d["y"]), yaw=float(d["yaw"]), forward=tuple(d["forward"]),
                   frame=d.get("frame", "sqa3d"), z=float(d.get("z", 0.0)))


REQUIRED_RECORD_FIELDS = ("id", "source", "task", "scene_id", "question", "answers")


@dataclass(frozen=True)
class Record:
    """One benchmark sample in the unified format.

    Attributes:
        id: unique id within the source (string; SQA3D integer ids are stringified).
        source: ``sqa3d`` | ``scanqa`` | ``vsibench`` | ``msqa`` | ``beacon3d`` | ``synthetic`` | ...
        task: question type / task name (e.g. VSI-Bench ``object_counting``, Beacon3D tag, SQA3D first word).
        scene_id: ScanNet-style scene id (``scene0011_00``).
        question: question text.
        answers: list of acceptable answers (VSI-Bench multiple choice: the option letter).
        situation: situation text, or None when the sample has none.
        alternative_situations: other descriptions of the same pose (SQA3D).
        options: multiple-choice options (``["A. left", ...]``) or None.
        pose: agent pose or None.
        extra: source-specific fields kept verbatim (object ids, answer types, ...).
    """

    id: str
    source: str
    task: str
    scene_id: str
    question: str
    answers: list[str]
    situation: str | None = None
    alternative_situations: list[str] = field(default_factory=list)
    options: list[str] | None = None
    pose: Pose | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (pose as a nested dict or None)."""
        d = asdict(self)
        d["pose"] = None if self.pose is None else self.pose.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "record") -> "Record":
        """Build from a dict; a missing required field raises ``ValueError`` naming ``where`` and the field."""
        missing = [k for k in REQUIRED_RECORD_FIELDS if k not in d]
        if missing:
            raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
        pose = d.get("pose")
        return cls(
            id=str(d["id"]), source=d["source"], task=d["task"], scene_id=d["scene_id"], question=d["question"],
            answers=list(d["answers"]), situation=d.get("situation"),
            alternative_situations=list(d.get("alternative_situations") or []), options=d.get("options"),
            pose=None if pose is None else Pose.from_dict(pose), extra=dict(d.get("extra") or {}),
        )
