"""SQA3D-style situations: sample an agent pose in a synthetic world and describe it with true sentences.

A situation is a pose (position + facing heading, aligned frame) plus a situation text and two alternative
texts (other wordings of the same pose, as SQA3D has). Every text pins the pose down:

  * **position anchor** (one per situation):
      - ``sit_on``: sitting on a seat (chair, sofa, bed, toilet, ...); the agent is inside the seat's
        footprint (beds: near the foot end), facing the seat's front within ``SIT_HEADING_JITTER_DEG``;
      - ``in_front_of``: standing 0.35-0.6 m in front of an object or opening, facing it;
      - ``between``: standing near the midpoint of two floor-standing objects on opposite sides of the agent;
  * **orientation facts**: "facing X" (X's centre within ``facing_tol_deg`` of the facing direction),
    "X on my left / right" and "X behind me" (within ``side_tol_deg`` of exactly 90 / -90 / 180 degrees),
    "about N meters in front of me there is X" (footprint distance within 0.2 m of N, X straight ahead).
    ``sit_on`` and ``between`` texts always state at least one; for ``in_front_of`` the anchor is the
    facing fact.

Referents are always unambiguous (``templates.referring_names``): a category with one instance, or a colour
that is unique within its category. Entities whose footprint contains the agent (the seat it sits on) are
never used as facts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loc3r.geometry.rotations import wrap_angle

from ..world import World
from . import templates as T
from .config import AnnotationConfig
from .relations import (
    Entity,
    has_front,
    is_between,
    is_free,
    point_entity_distance,
    polygons_distance,
    relative_bearing,
    segment_hits_entity,
)

__all__ = [
    "SEAT_CATEGORIES",
    "Fact",
    "Situation",
    "sample_situations",
    "entities_containing",
]

SEAT_CATEGORIES = ("chair", "office chair", "armchair", "sofa", "couch", "bed", "toilet", "ottoman", "stool",
                   "bench")

SIT_HEADING_JITTER_DEG = 8.0
FACING_JITTER_DEG = 6.0
_KIND_WEIGHTS = {"sit_on": 0.4, "in_front_of": 0.35, "between": 0.25}
_BLOCKER_MIN_HEIGHT_M = 1.0


@dataclass(frozen=True)
class Fact:
    """One orientation fact about a pose.

    Attributes:
        relation: ``"facing"`` | ``"left"`` | ``"right"`` | ``"behind"`` | ``"distance_front"``.
        entity_id: the entity the fact is about.
        bearing_rad: the entity centre's bearing from the agent (+ = left).
        distance_m: horizontal distance from the agent to the entity's footprint.
        meters: for ``distance_front``, the stated whole number of metres.
    """

    relation: str
    entity_id: int
    bearing_rad: float
    distance_m: float
    meters: int | None = None


@dataclass(frozen=True)
class Situation:
    """A described agent pose (aligned frame).

    Attributes:
        position_xy: [2] agent position, metres.
        heading_rad: facing heading (yaw of the look direction).
        anchor: ``"sit_on"`` | ``"in_front_of"`` | ``"between"``.
        anchor_ids: entity ids of the anchor object(s).
        facts: facts stated in ``text``.
        text: the situation text.
        alternatives: two other texts describing the same pose.
    """

    position_xy: np.ndarray
    heading_rad: float
    anchor: str
    anchor_ids: tuple[int, ...]
    facts: tuple[Fact, ...]
    text: str
    alternatives: tuple[str, ...]


def entities_containing(entities: list[Entity], xy: np.ndarray) -> set[int]:
    """Ids of entities whose footprint contains the point (e.g. the seat the agent sits on)."""
    return {e.entity_id for e in entities if point_entity_distance(xy, e) == 0.0}


# --------------------------------------------------------------------------------------------- poses
def _local_to_aligned(e: Entity, along: float, across: float) -> np.ndarray:
    c, s = math.cos(e.front_heading), math.sin(e.front_heading)
    return e.xy + np.array([c * along - s * across, s * along + c * across])


def _sit_pose(e: Entity, rng: np.random.Generator):
    along_half, across_half = e.dims[0] / 2.0, e.dims[1] / 2.0
    if e.category == "bed":
        along = max(0.0, along_half - 0.3)
    else:
        along = float(rng.uniform(-0.05, 0.1)) * e.dims[0]
    lateral_room = max(0.0, min(0.4, across_half - 0.3))
    across = float(rng.uniform(-lateral_room, lateral_room))
    jitter = math.radians(float(rng.uniform(-SIT_HEADING_JITTER_DEG, SIT_HEADING_JITTER_DEG)))
    return _local_to_aligned(e, along, across), float(wrap_angle(e.front_heading + jitter))


def _front_pose(e: Entity, rng: np.random.Generator):
    gap = float(rng.uniform(0.35, 0.6))
    pos = _local_to_aligned(e, e.dims[0] / 2.0 + gap, float(rng.uniform(-0.1, 0.1)))
    to_e = e.xy - pos
    jitter = math.radians(float(rng.uniform(-FACING_JITTER_DEG, FACING_JITTER_DEG)))
    return pos, float(wrap_angle(math.atan2(to_e[1], to_e[0]) + jitter))


# --------------------------------------------------------------------------------------------- facts
def _line_of_sight(pos: np.ndarray, target: Entity, entities: list[Entity], skip: set[int]) -> bool:
    """No tall object (other than the target and ``skip``) stands between the agent and the target."""
    for e in entities:
        if e.entity_id == target.entity_id or e.entity_id in skip or e.kind != "object":
            continue
        if e.z_max >= _BLOCKER_MIN_HEIGHT_M and segment_hits_entity(pos, target.xy, e):
            return False
    return True


def _facts(pos: np.ndarray, heading: float, entities: list[Entity], names: dict[int, str],
           exclude: set[int], cfg: AnnotationConfig) -> dict[str, list[Fact]]:
    """All facts that hold for a pose, by relation."""
    out: dict[str, list[Fact]] = {"facing": [], "left": [], "right": [], "behind": [], "distance_front": []}
    facing_tol = math.radians(cfg.facing_tol_deg)
    side_tol = math.radians(cfg.side_tol_deg)
    for e in entities:
        if e.entity_id in exclude or e.entity_id not in names:
            continue
        d = point_entity_distance(pos, e)
        if d <= 0.0 or d > cfg.max_fact_distance_m:
            continue
        b = float(relative_bearing(pos, heading, e.xy))
        if abs(b) <= facing_tol and d >= 0.5 and _line_of_sight(pos, e, entities, exclude):
            out["facing"].append(Fact("facing", e.entity_id, b, d))
            n = int(round(d))
            if 1 <= n <= 4 and abs(d - n) <= 0.2:
                out["distance_front"].append(Fact("distance_front", e.entity_id, b, d, meters=n))
        if abs(b - math.pi / 2) <= side_tol:
            out["left"].append(Fact("left", e.entity_id, b, d))
        if abs(b + math.pi / 2) <= side_tol:
            out["right"].append(Fact("right", e.entity_id, b, d))
        if math.pi - abs(b) <= side_tol:
            out["behind"].append(Fact("behind", e.entity_id, b, d))
    return out


def _clock_ok(fact: Fact) -> bool:
    target = {"facing": 0.0, "left": math.pi / 2, "right": -math.pi / 2, "behind": math.pi}[fact.relation]
    diff = abs(float(wrap_angle(fact.bearing_rad - target)))
    return diff <= math.radians(T.CLOCK_TOL_DEG)


# --------------------------------------------------------------------------------------------- text
def _np(names: dict[int, str], eid: int) -> str:
    return f"the {names[eid]}"


def _position_clause(anchor: str, anchor_ents: list[Entity], names: dict[int, str], rng) -> str:
    if anchor == "sit_on":
        e = anchor_ents[0]
        options = T.SIT_CLAUSES_BY_CATEGORY.get(e.category, T.SIT_CLAUSES)
        return T.pick(rng, options).format(A=_np(names, e.entity_id))
    if anchor == "in_front_of":
        e = anchor_ents[0]
        options = T.FRONT_CLAUSES + T.FRONT_CLAUSES_BY_CATEGORY.get(e.category, ())
        return T.pick(rng, options).format(A=_np(names, e.entity_id))
    a, b = anchor_ents
    na, nb = _np(names, a.entity_id), _np(names, b.entity_id)
    if rng.random() < 0.5:
        na, nb = nb, na
    return T.pick(rng, T.BETWEEN_CLAUSES).format(A=na, B=nb)


def _use_clock(fact: Fact, rng, used: list[bool]) -> bool:
    """Whether to word this fact as a clock direction (at most once per sentence)."""
    if used[0] or not _clock_ok(fact) or rng.random() >= 0.25:
        return False
    used[0] = True
    return True


def _with_phrase(fact: Fact, names: dict[int, str], rng, clock_used: list[bool]) -> str:
    options = T.CLOCK_WITH_PHRASES if _use_clock(fact, rng, clock_used) else T.WITH_PHRASES
    return T.pick(rng, options[fact.relation]).format(X=_np(names, fact.entity_id))


def _statement(fact: Fact, names: dict[int, str], rng, clock_used: list[bool]) -> str:
    x = _np(names, fact.entity_id)
    if fact.relation == "distance_front":
        meters = "meter" if fact.meters == 1 else "meters"
        n = str(fact.meters) if rng.random() < 0.5 else T.number_word(fact.meters)
        return T.pick(rng, T.DISTANCE_CLAUSES).format(X=x, N=n, meters=meters)
    options = T.CLOCK_STATEMENT_CLAUSES if _use_clock(fact, rng, clock_used) else T.STATEMENT_CLAUSES
    return T.pick(rng, options[fact.relation]).format(X=x)


def _compose(clause: str, facts: list[Fact], names: dict[int, str], rng) -> str:
    """One sentence from a position clause and orientation facts, in one of three styles."""
    if not facts:
        return T.capitalize_first(clause) + "."
    has_distance = any(f.relation == "distance_front" for f in facts)
    clock_used = [False]
    style = int(rng.integers(3)) if not has_distance else 1 + int(rng.integers(2))
    if style == 0:  # "I am sitting on the bed facing the desk, with the window on my left."
        phrases = [_with_phrase(f, names, rng, clock_used) for f in facts]
        first_sep = " " if phrases[0].startswith(("facing", "looking")) else ", "
        text = clause + first_sep + ", ".join(phrases)
    elif style == 1:  # "I am sitting on the bed and the window is on my left."
        statements = [_statement(f, names, rng, clock_used) for f in facts]
        text = clause + (" and " + statements[0] if len(statements) == 1
                         else ", " + ", ".join(statements[:-1]) + " and " + statements[-1])
    else:  # "The window is on my left while I am sitting on the bed."
        statements = [_statement(f, names, rng, clock_used) for f in facts]
        text = " and ".join(statements) + " while " + clause
    return T.capitalize_first(text) + "."


def _choose_facts(facts: dict[str, list[Fact]], rng, k: int, avoid: set[tuple[str, int]] = frozenset()
                  ) -> list[Fact]:
    """Up to ``k`` facts about distinct entities, orientation ones first (at most one ``distance_front``)."""
    pool = [f for rel in ("facing", "left", "right", "behind") for f in facts[rel]]
    order = rng.permutation(len(pool))
    pool = [pool[i] for i in order]
    pool.sort(key=lambda f: (f.relation, f.entity_id) in avoid)  # stable: unused facts first
    chosen: list[Fact] = []
    used: set[int] = set()
    for f in pool:
        if len(chosen) >= k:
            break
        if f.entity_id not in used:
            chosen.append(f)
            used.add(f.entity_id)
    if facts["distance_front"] and len(chosen) < k + 1 and rng.random() < 0.3:
        f = facts["distance_front"][int(rng.integers(len(facts["distance_front"])))]
        if f.entity_id not in used:
            chosen.append(f)
    return chosen


def _describe(entities: list[Entity], names: dict[int, str], pos: np.ndarray, heading: float, anchor: str,
              anchor_ents: list[Entity], rng, cfg: AnnotationConfig) -> Situation | None:
    """The situation (main text + two alternatives) for a pose, or None when it cannot be pinned down."""
    anchor_ids = {e.entity_id for e in anchor_ents}
    exclude = anchor_ids | entities_containing(entities, pos)
    facts = _facts(pos, heading, entities, names, exclude, cfg)
    needs_orientation = anchor != "in_front_of"
    if needs_orientation and not any(facts[r] for r in ("facing", "left", "right", "behind")):
        return None
    texts: list[str] = []
    main_facts: list[Fact] = []
    used: set[tuple[str, int]] = set()
    for _ in range(12):
        if len(texts) == 3:
            break
        lo = 1 if needs_orientation else 0
        k = int(rng.integers(lo, 3))
        chosen = _choose_facts(facts, rng, k, used)
        if needs_orientation and not any(f.relation != "distance_front" for f in chosen):
            continue
        text = _compose(_position_clause(anchor, anchor_ents, names, rng), chosen, names, rng)
        if text in texts:
            continue
        if not texts:
            main_facts = chosen
        used.update((f.relation, f.entity_id) for f in chosen)
        texts.append(text)
    if len(texts) < 3:
        return None
    return Situation(position_xy=np.asarray(pos, dtype=np.float64), heading_rad=float(heading), anchor=anchor,
                     anchor_ids=tuple(e.entity_id for e in anchor_ents), facts=tuple(main_facts),
                     text=texts[0], alternatives=tuple(texts[1:]))


def _propose(world: World, entities: list[Entity], names: dict[int, str], kind: str, rng,
             cfg: AnnotationConfig):
    """A candidate (position, heading, anchor entities) for one anchor kind, or None."""
    named = [e for e in entities if e.entity_id in names]
    if kind == "sit_on":
        seats = [e for e in named if e.kind == "object" and e.category in SEAT_CATEGORIES]
        if not seats:
            return None
        e = seats[int(rng.integers(len(seats)))]
        pos, heading = _sit_pose(e, rng)
        if not bool(world.room.contains(pos)):
            return None
        return pos, heading, [e]
    if kind == "in_front_of":
        cands = [e for e in named if has_front(e)]
        if not cands:
            return None
        e = cands[int(rng.integers(len(cands)))]
        pos, heading = _front_pose(e, rng)
        if not is_free(world, entities, pos, cfg.standing_clearance_m):
            return None
        return pos, heading, [e]
    # between: two named objects on opposite sides, with room to stand in the middle.
    objs = [e for e in named if e.kind == "object" and e.z_min < 0.05]  # floor-standing objects only
    if len(objs) < 2:
        return None
    i, j = rng.choice(len(objs), size=2, replace=False)
    a, b = objs[int(i)], objs[int(j)]
    if a.category == b.category and a.color_name == b.color_name:
        return None
    center_dist = float(np.linalg.norm(a.xy - b.xy))
    if not 1.0 <= center_dist <= 4.0 or polygons_distance(a.footprint, b.footprint) < 0.7:
        return None
    pos = (a.xy + b.xy) / 2.0 + rng.uniform(-0.1, 0.1, size=2)
    if not is_between(pos, a.xy, b.xy) or not is_free(world, entities, pos, cfg.standing_clearance_m + 0.05):
        return None
    va, vb = a.xy - pos, b.xy - pos
    cos_ab = float(va @ vb) / (np.linalg.norm(va) * np.linalg.norm(vb))
    if cos_ab > math.cos(math.radians(140)):
        return None
    # Face another named entity (keeps the heading well defined), else stand across the a-b line.
    others = [e for e in named if e.entity_id not in (a.entity_id, b.entity_id)
              and point_entity_distance(pos, e) >= 1.0]
    if others and rng.random() < 0.7:
        t = others[int(rng.integers(len(others)))]
        to_t = t.xy - pos
        heading = math.atan2(to_t[1], to_t[0]) + math.radians(float(rng.uniform(-FACING_JITTER_DEG,
                                                                                  FACING_JITTER_DEG)))
    else:
        ab = b.xy - a.xy
        heading = math.atan2(ab[1], ab[0]) + (math.pi / 2 if rng.random() < 0.5 else -math.pi / 2)
        heading += math.radians(float(rng.uniform(-10, 10)))
    return pos, float(wrap_angle(heading)), [a, b]


def sample_situations(world: World, entities: list[Entity], rng: np.random.Generator, cfg: AnnotationConfig,
                      n: int | None = None) -> list[Situation]:
    """Sample up to ``n`` (default ``cfg.situations_per_scene``) distinct described poses.

    Two situations are distinct when their positions are at least 0.5 m apart or their headings differ by at
    least 30 degrees. Fewer are returned when the scene does not offer enough (e.g. no nameable objects).

    Args:
        world: the scene.
        entities: ``scene_entities(world)``.
        rng: the only source of randomness (same state -> same output).
        cfg: margins and counts.
        n: number of situations wanted.

    Returns:
        Situations in sampling order.
    """
    n = cfg.situations_per_scene if n is None else n
    if n <= 0:
        return []
    names = T.referring_names(entities)
    kinds = list(_KIND_WEIGHTS)
    weights = np.array([_KIND_WEIGHTS[k] for k in kinds])
    weights = weights / weights.sum()
    out: list[Situation] = []
    for _ in range(cfg.max_tries * max(n, 1)):
        if len(out) >= n:
            break
        kind = kinds[int(rng.choice(len(kinds), p=weights))]
        proposal = _propose(world, entities, names, kind, rng, cfg)
        if proposal is None:
            continue
        pos, heading, anchor_ents = proposal
        if any(np.linalg.norm(s.position_xy - pos) < 0.5
               and abs(float(wrap_angle(s.heading_rad - heading))) < math.radians(30) for s in out):
            continue
        sit = _describe(entities, names, pos, heading, kind, anchor_ents, rng, cfg)
        if sit is not None:
            out.append(sit)
    return out
