"""VSI-Bench-format question rows for synthetic scenes (official question texts, ``data_formats.md`` §4).

Row format: ``{"id": int, "dataset": "synthetic", "scene_name": <scene_id>, "question_type": str,
"question": str, "ground_truth": str, "options": list[str] | None}``; multiple-choice options read
``"A. left"`` and the ground truth is the letter.

How each ground truth is computed (aligned frame, entities from ``relations.scene_entities``), following the
benchmark's construction rules (thinking-in-space paper, App. B.1):
  * ``object_counting``: number of instances; only categories with >= ``vsi_min_count`` instances.
  * ``object_abs_distance``: closest-point distance between the two boxes (as the official question says),
    metres, 1 decimal.
  * ``object_size_estimation``: longest edge of the oriented box, centimetres, integer.
  * ``room_size_estimation``: floor-polygon area, square metres, 1 decimal.
  * ``object_rel_distance``: the option category with the smallest closest-point distance to the primary
    object (minimum over its instances); option distances differ pairwise by at least 0.15 m (0.30 m in
    rooms above 40 m^2).
  * ``object_rel_direction_{easy,medium,hard}``: agent at the centre of the positioning object, facing the
    centre of the orienting object; direction of the querying object's centre (easy: left/right of the line
    of sight, medium: left/right/back with back = at least 135 deg, hard: quadrants); never within
    ``angle_margin_deg`` of a boundary.
  * ``route_planning``: start at an object's centre facing another; straight legs to waypoint objects; each
    turn (left 45..135 deg, right, back > 135 deg) must clear the boundaries by the angle margin, no leg may
    go straight on, and no leg may cross another object's footprint.
  * ``obj_appearance_order``: needs ``first_seen`` (object id -> first frame index it is visible in); a
    category appears at the first frame of any of its instances; the four categories' frames differ by at
    least ``appearance_min_gap_frames``.
All objects named in a question are *unique* categories in the scene (as in VSI-Bench).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from loc3r.geometry.rotations import wrap_angle
from loc3r.utils.io import atomic_write_json

from ..world import World
from . import templates as T
from .config import AnnotationConfig
from .relations import (
    Entity,
    box_distance,
    floor_area,
    left_right_back_label,
    quadrant_label,
    relative_bearing,
    sector_label,
    segment_hits_entity,
    side_label,
)
from .sqa3d import scene_number

__all__ = ["VSI_DATASET", "VSI_QUESTION_TYPES", "vsibench_rows", "write_vsibench_file"]

VSI_DATASET = "synthetic"
VSI_QUESTION_TYPES = (
    "object_counting",
    "object_abs_distance",
    "object_size_estimation",
    "room_size_estimation",
    "object_rel_distance",
    "object_rel_direction_easy",
    "object_rel_direction_medium",
    "object_rel_direction_hard",
    "route_planning",
    "obj_appearance_order",
)
_LETTERS = "ABCDEFGH"
_TURN_TEXT = {"left": "Turn Left", "right": "Turn Right", "behind": "Turn Back"}


def _options(choices: list[str], correct: str) -> tuple[list[str], str]:
    """``["A. x", ...]`` and the letter of ``correct`` (choices already in their final order)."""
    return [f"{_LETTERS[i]}. {c}" for i, c in enumerate(choices)], _LETTERS[choices.index(correct)]


def _shuffled(rng: np.random.Generator, items: Sequence) -> list:
    return [items[i] for i in rng.permutation(len(items))]


def _heading(a: np.ndarray, b: np.ndarray) -> float:
    d = np.asarray(b) - np.asarray(a)
    return math.atan2(float(d[1]), float(d[0]))


class _Builder:
    """Collects candidate rows per question type for one scene."""

    def __init__(self, world: World, entities: list[Entity], rng: np.random.Generator, cfg: AnnotationConfig):
        self.world, self.entities, self.rng, self.cfg = world, entities, rng, cfg
        self.by_cat: dict[str, list[Entity]] = {}
        for e in entities:
            self.by_cat.setdefault(e.category, []).append(e)
        self.unique = [g[0] for _, g in sorted(self.by_cat.items()) if len(g) == 1]
        self.area = floor_area(world.room.polygon)
        self.m = cfg.angle_margin_rad

    def _tries(self) -> int:
        return self.cfg.max_tries * max(1, self.cfg.vsi_per_type)

    def _draw(self, pool: list, k: int) -> list | None:
        if len(pool) < k:
            return None
        return [pool[int(i)] for i in self.rng.choice(len(pool), size=k, replace=False)]

    # ----------------------------------------------------------------------------------------- numerical
    def counting(self) -> list[tuple[str, str, None]]:
        rows = []
        for cat, group in sorted(self.by_cat.items()):
            if len(group) >= self.cfg.vsi_min_count:
                rows.append((T.VSI_COUNTING.format(category=cat), str(len(group)), None))
        return _shuffled(self.rng, rows)

    def abs_distance(self) -> list:
        rows, seen = [], set()
        for _ in range(self._tries()):
            if len(rows) >= self.cfg.vsi_per_type:
                break
            pair = self._draw(self.unique, 2)
            if pair is None:
                break
            a, b = pair
            key = tuple(sorted((a.entity_id, b.entity_id)))
            d = box_distance(a, b)
            if key in seen or d < 0.2:
                continue
            seen.add(key)
            q = T.VSI_ABS_DISTANCE.format(object_1=a.category, object_2=b.category)
            rows.append((q, f"{d:.1f}", None))
        return rows

    def size(self) -> list:
        rows = [(T.VSI_OBJECT_SIZE.format(category=e.category), str(int(round(e.longest_dim_m * 100))), None)
                for e in self.unique]
        return _shuffled(self.rng, rows)

    def room_size(self) -> list:
        return [(T.VSI_ROOM_SIZE, f"{self.area:.1f}", None)]

    # ----------------------------------------------------------------------------------------- multiple
    # choice
    def rel_distance(self) -> list:
        gap = self.cfg.vsi_rel_distance_gap_m[1 if self.area > 40.0 else 0]
        rows, seen = [], set()
        cats = sorted(self.by_cat)
        for _ in range(self._tries()):
            if len(rows) >= self.cfg.vsi_per_type:
                break
            if not self.unique:
                break
            primary = self.unique[int(self.rng.integers(len(self.unique)))]
            choices = self._draw([c for c in cats if c != primary.category], 4)
            if choices is None:
                break
            key = (primary.category, tuple(sorted(choices)))
            if key in seen:
                continue
            seen.add(key)
            dists = [min(box_distance(primary, e) for e in self.by_cat[c]) for c in choices]
            ds = sorted(dists)
            if min(b - a for a, b in zip(ds, ds[1:])) < gap:
                continue
            correct = choices[int(np.argmin(dists))]
            q = T.VSI_REL_DISTANCE.format(choice_a=choices[0], choice_b=choices[1], choice_c=choices[2],
                                          choice_d=choices[3], category=primary.category)
            options, letter = _options(choices, correct)
            rows.append((q, letter, options))
        return rows

    def rel_direction(self, level: str) -> list:
        template = {"easy": T.VSI_REL_DIRECTION_EASY, "medium": T.VSI_REL_DIRECTION_MEDIUM,
                    "hard": T.VSI_REL_DIRECTION_HARD}[level]
        labels = {"easy": ["left", "right"], "medium": ["left", "right", "back"],
                  "hard": ["front-left", "front-right", "back-left", "back-right"]}[level]
        rows, seen = [], set()
        for _ in range(self._tries()):
            if len(rows) >= self.cfg.vsi_per_type:
                break
            trio = self._draw(self.unique, 3)
            if trio is None:
                break
            p, o, q = trio
            key = (p.entity_id, o.entity_id, q.entity_id)
            if key in seen:
                continue
            seen.add(key)
            if (np.linalg.norm(o.xy - p.xy) < 1.0 or np.linalg.norm(q.xy - p.xy) < 0.8
                    or np.linalg.norm(q.xy - o.xy) < 0.5):
                continue
            b = float(relative_bearing(p.xy, _heading(p.xy, o.xy), q.xy))
            if level == "easy":
                label = side_label(b, self.m)
            elif level == "medium":
                label = left_right_back_label(b, self.m)
            else:
                label = quadrant_label(b, self.m)
            if label is None:
                continue
            text = template.format(positioning=p.category, orienting=o.category, querying=q.category)
            options, letter = _options(_shuffled(self.rng, labels), label)
            rows.append((text, letter, options))
        return rows

    def _leg_clear(self, a: Entity, b: Entity, skip: set[int]) -> bool:
        return not any(segment_hits_entity(a.xy, b.xy, e) for e in self.entities
                       if e.kind == "object" and e.entity_id not in skip)

    def _turn(self, heading_from: float, heading_to: float) -> str | None:
        label = sector_label(float(wrap_angle(heading_to - heading_from)), self.m)
        return None if label in (None, "front") else _TURN_TEXT[label]

    def route(self) -> list:
        rows, seen = [], set()
        combos = [f"{a}, {b}" for a, b in itertools.product(_TURN_TEXT.values(), repeat=2)]
        for _ in range(self._tries()):
            if len(rows) >= self.cfg.vsi_per_type:
                break
            two_turns = bool(self.rng.random() < 0.5)
            pick = self._draw(self.unique, 4 if two_turns else 3)
            if pick is None:
                break
            if two_turns:
                s, f, w, e = pick
            else:
                s, w, e = pick
                f = w
            key = (s.entity_id, f.entity_id, w.entity_id, e.entity_id)
            if key in seen:
                continue
            seen.add(key)
            if min(np.linalg.norm(s.xy - f.xy), np.linalg.norm(s.xy - w.xy), np.linalg.norm(w.xy - e.xy),
                   np.linalg.norm(s.xy - e.xy)) < 1.0:
                continue
            ends = {s.entity_id, w.entity_id, e.entity_id}
            if not (self._leg_clear(s, w, ends) and self._leg_clear(w, e, ends)):
                continue
            h_sf, h_sw, h_we = _heading(s.xy, f.xy), _heading(s.xy, w.xy), _heading(w.xy, e.xy)
            turn2 = self._turn(h_sw, h_we)
            if turn2 is None:
                continue
            if two_turns:
                turn1 = self._turn(h_sf, h_sw)
                if turn1 is None:
                    continue
                actions = (f"1. [please fill in] 2. Go forward until the {w.category} 3. [please fill in] "
                           f"4. Go forward until the {e.category}.")
                correct = f"{turn1}, {turn2}"
                wrong = _shuffled(self.rng, [c for c in combos if c != correct])[:3]
                choices = _shuffled(self.rng, [correct, *wrong])
            else:
                actions = (f"1. Go forward until the {w.category} 2. [please fill in] "
                           f"3. Go forward until the {e.category}.")
                correct = turn2
                choices = _shuffled(self.rng, list(_TURN_TEXT.values()))
            q = T.VSI_ROUTE_PLAN.format(start=s.category, facing=f.category, end=e.category, actions=actions)
            options, letter = _options(choices, correct)
            rows.append((q, letter, options))
        return rows

    def appearance_order(self, first_seen: Mapping[int, int] | None) -> list:
        if not first_seen:
            return []
        first: dict[str, int] = {}
        for cat, group in self.by_cat.items():
            frames = [int(first_seen[e.entity_id]) for e in group if e.entity_id in first_seen]
            if frames:
                first[cat] = min(frames)
        cats = sorted(first)
        rows, seen = [], set()
        for _ in range(self._tries()):
            if len(rows) >= self.cfg.vsi_per_type:
                break
            four = self._draw(cats, 4)
            if four is None:
                break
            key = tuple(sorted(four))
            if key in seen:
                continue
            seen.add(key)
            frames = sorted(first[c] for c in four)
            if min(b - a for a, b in zip(frames, frames[1:])) < self.cfg.appearance_min_gap_frames:
                continue
            correct_order = sorted(four, key=lambda c: first[c])
            perms = [list(p) for p in itertools.permutations(correct_order)][1:]
            wrong = [perms[int(i)] for i in self.rng.choice(len(perms), size=3, replace=False)]
            choices = _shuffled(self.rng, [", ".join(correct_order)] + [", ".join(p) for p in wrong])
            q = T.VSI_APPEARANCE_ORDER.format(choice_a=four[0], choice_b=four[1], choice_c=four[2],
                                              choice_d=four[3])
            options, letter = _options(choices, ", ".join(correct_order))
            rows.append((q, letter, options))
        return rows


def vsibench_rows(world: World, entities: list[Entity], rng: np.random.Generator, cfg: AnnotationConfig,
                  first_seen: Mapping[int, int] | None = None) -> list[dict]:
    """VSI-Bench rows for one scene: up to ``cfg.vsi_per_type`` per question type.

    Args:
        world: the scene.
        entities: ``scene_entities(world)``.
        rng: randomness.
        cfg: margins and counts.
        first_seen: object id -> index of the first video frame showing it; without it
            ``obj_appearance_order`` is skipped.

    Returns:
        Rows in VSI-Bench's format; ``id`` = ``(scene_number * 100 + scan) * 10000 + k``.
    """
    b = _Builder(world, entities, rng, cfg)
    per_type = {
        "object_counting": b.counting,
        "object_abs_distance": b.abs_distance,
        "object_size_estimation": b.size,
        "room_size_estimation": b.room_size,
        "object_rel_distance": b.rel_distance,
        "object_rel_direction_easy": lambda: b.rel_direction("easy"),
        "object_rel_direction_medium": lambda: b.rel_direction("medium"),
        "object_rel_direction_hard": lambda: b.rel_direction("hard"),
        "route_planning": b.route,
        "obj_appearance_order": lambda: b.appearance_order(first_seen),
    }
    num, sub = scene_number(world.scene_id)
    base = (num * 100 + sub) * 10000
    rows: list[dict] = []
    for qtype in VSI_QUESTION_TYPES:
        for question, gt, options in per_type[qtype]()[: cfg.vsi_per_type]:
            rows.append({"id": base + len(rows), "dataset": VSI_DATASET, "scene_name": world.scene_id,
                         "question_type": qtype, "question": question, "ground_truth": gt,
                         "options": options})
    return rows


def write_vsibench_file(path: str | Path, rows: Sequence[dict]) -> Path:
    """Write the rows as ``.json`` (a list of row objects) or ``.jsonl``, atomically; returns the path.

    (The real release is a Parquet file; ``loc3r.data.sources.vsibench`` reads all three.)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        import json

        from loc3r.utils.io import atomic_write_text

        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".json":
        atomic_write_json(path, list(rows))
    else:
        raise ValueError(f"{path}: VSI-Bench rows are written as .json or .jsonl")
    return path
