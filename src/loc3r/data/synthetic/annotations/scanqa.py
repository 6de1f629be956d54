"""ScanQA-format questions for synthetic scenes: colours, counts, locations, "what is next to / under / on".

Item format (``data_formats.md`` §3, key order as stored)::

    {"answers": [...2 answers...], "object_ids": [...], "object_names": [...], "question": "...",
     "question_id": "<split>-scene<NNNN>-<k>", "scene_id": "sceneNNNN_NN"}

``object_ids`` / ``object_names`` list the target and every object the question or answer refers to, sorted by
id (ScanNet aggregation ``objectId``s; doors/windows use ``relations.opening_object_id``).

Relations (aligned frame; each is asked only when exactly one entity satisfies it and no other entity comes
within ``distance_margin_m`` of satisfying it):
  * ``next_to(X, R)``: footprints at most ``NEXT_TO_GAP_M`` apart (stacked pairs excluded);
  * ``on_top(X, R)``: X rests on R (``relations.is_on_top_of``);
  * ``under_window(X, W)``: X stands against W's wall, below its sill, within its width;
  * ``in_front(X, R)``: X's centre within 30 deg of R's front axis and footprints at most 1 m apart;
  * ``between(X, A, B)`` and ``corner(X)``: used only in "where" answers.
Answers follow ScanQA's style: two short reference answers (the second a variant without article).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from loc3r.utils.io import atomic_write_json

from ..world import World
from . import templates as T
from .config import AnnotationConfig
from .relations import (
    Entity,
    has_front,
    in_corner,
    is_between,
    is_in_front_of,
    is_on_top_of,
    is_under_window,
    polygons_distance,
    segment_hits_entity,
)
from .sqa3d import scene_number

__all__ = ["NEXT_TO_GAP_M", "scanqa_items", "write_scanqa_file"]

NEXT_TO_GAP_M = 0.5
_IN_FRONT_GAP_M = 1.0
_IN_FRONT_ANGLE_RAD = math.radians(30)


def _stacked(a: Entity, b: Entity) -> bool:
    return is_on_top_of(a, b) or is_on_top_of(b, a)


def _relation_tests(world: World, entities: list[Entity], cfg: AnnotationConfig
                    ) -> dict[str, tuple[Callable, Callable]]:
    """relation -> (strict test(x, ref), relaxed test(x, ref)).

    The relaxed test detects near-misses: a relation is only used when no second entity comes within
    ``distance_margin_m`` (or 15 deg) of satisfying it.
    """
    m = cfg.distance_margin_m
    room = world.room
    gap_cache: dict[tuple[int, int], float] = {}

    def gap(x, r):
        key = (min(x.entity_id, r.entity_id), max(x.entity_id, r.entity_id))
        if key not in gap_cache:
            gap_cache[key] = polygons_distance(x.footprint, r.footprint)
        return gap_cache[key]

    def next_to(x, r, slack=0.0):
        return not _stacked(x, r) and gap(x, r) <= NEXT_TO_GAP_M + slack

    def on_top(x, r, slack=0.0):
        return is_on_top_of(x, r, tol_m=0.05 + slack)

    def under_window(x, w, slack=0.0):
        return is_under_window(x, w, room, wall_gap_m=0.35 + slack)

    def in_front(x, r, slack=0.0, angle_slack=0.0):
        if _stacked(x, r) or x.kind != "object" or not has_front(r):
            return False
        if not is_in_front_of(x, r, _IN_FRONT_GAP_M + slack, _IN_FRONT_ANGLE_RAD + angle_slack):
            return False
        # Nothing else stands between them (e.g. a chair is not "in front of the window" behind a desk).
        skip = {x.entity_id, r.entity_id}
        skip |= {e.entity_id for e in entities if _stacked(e, x) or _stacked(e, r)}
        return not any(segment_hits_entity(x.xy, r.xy, e) for e in entities
                       if e.kind == "object" and e.entity_id not in skip)

    return {
        "next_to": (next_to, lambda x, r: next_to(x, r, m)),
        "on_top": (on_top, lambda x, r: on_top(x, r, 0.1)),
        "under_window": (under_window, lambda x, r: under_window(x, r, m)),
        "in_front": (in_front, lambda x, r: in_front(x, r, m, math.radians(15))),
    }


def _unique_subject(rel: str, ref: Entity, pool: list[Entity], tests) -> Entity | None:
    """The single entity of ``pool`` in relation ``rel`` to ``ref``, when no other one nearly is."""
    strict, relaxed = tests[rel]
    hits = [x for x in pool if x.entity_id != ref.entity_id and strict(x, ref)]
    near = [x for x in pool if x.entity_id != ref.entity_id and relaxed(x, ref)]
    if len(hits) == 1 and len(near) == 1:
        return hits[0]
    return None


def _where_answers(x: Entity, entities: list[Entity], names: dict[int, str], world: World, tests
                   ) -> tuple[list[str], list[int]] | None:
    """Two reference answers for "where is X" and the ids they mention, from the first relation that holds."""
    others = [e for e in entities if e.entity_id != x.entity_id]
    for r in others:  # on top of a named object
        if r.entity_id in names and tests["on_top"][0](x, r):
            n = names[r.entity_id]
            return [f"on the {n}", f"on top of {n}"], [r.entity_id]
    for w in others:
        if w.kind == "window" and w.entity_id in names and tests["under_window"][0](x, w):
            return ["under the window", "below window"], [w.entity_id]
    for r in others:
        if r.entity_id in names and tests["in_front"][0](x, r):
            n = names[r.entity_id]
            return [f"in front of the {n}", f"in front of {n}"], [r.entity_id]
    gaps = sorted(((polygons_distance(x.footprint, r.footprint), r.entity_id, r) for r in others
                   if not _stacked(x, r)), key=lambda t: (t[0], t[1]))
    if gaps and gaps[0][0] <= NEXT_TO_GAP_M and gaps[0][2].entity_id in names:
        n = names[gaps[0][1]]
        return [f"next to the {n}", f"beside {n}"], [gaps[0][1]]
    named_objs = [r for r in others if r.entity_id in names and r.kind == "object"]
    for i, a in enumerate(named_objs):
        for b in named_objs[i + 1:]:
            if (is_between(x.xy, a.xy, b.xy, max_offset_m=0.3, t_range=(0.3, 0.7))
                    and polygons_distance(x.footprint, a.footprint) <= 1.0
                    and polygons_distance(x.footprint, b.footprint) <= 1.0):
                na, nb = names[a.entity_id], names[b.entity_id]
                answers = [f"between the {na} and the {nb}", f"between {nb} and {na}"]
                return answers, [a.entity_id, b.entity_id]
    if x.kind == "object" and in_corner(x, world.room):
        return ["in the corner of the room", "in corner"], []
    return None


def _item(answers: list[str], ids: list[int], entities_by_id: dict[int, Entity], question: str, qid: str,
          scene_id: str) -> dict:
    """One item in ScanQA's key order, object ids sorted and named by category."""
    ids = sorted(set(ids))
    return {"answers": list(answers), "object_ids": ids,
            "object_names": [entities_by_id[i].category for i in ids], "question": question,
            "question_id": qid, "scene_id": scene_id}


def scanqa_items(world: World, entities: list[Entity], rng: np.random.Generator, cfg: AnnotationConfig,
                 split: str = "train", n: int | None = None) -> list[dict]:
    """Up to ``n`` (default ``cfg.scanqa_per_scene``) ScanQA items for one scene, balanced over families.

    Args:
        world: the scene.
        entities: ``scene_entities(world)``.
        rng: randomness (templates and selection).
        cfg: margins and counts.
        split: split name used in ``question_id`` (``train``, ``val``, ...).
        n: number wanted.

    Returns:
        Items in ScanQA's exact format; ``question_id`` = ``<split>-scene<NNNN>-<k>`` with ``k`` starting at
        ``10000 * scan`` for ``sceneNNNN_<scan>`` (real ScanQA ids drop the scan index).
    """
    n = cfg.scanqa_per_scene if n is None else n
    if n <= 0:
        return []
    names = T.referring_names(entities)
    by_id = {e.entity_id: e for e in entities}
    tests = _relation_tests(world, entities, cfg)
    cands: dict[str, list[tuple[str, list[str], list[int]]]] = {}

    def add(family, question, answers, ids):
        cands.setdefault(family, []).append((question, answers, ids))

    by_cat: dict[str, list[Entity]] = {}
    for e in entities:
        by_cat.setdefault(e.category, []).append(e)

    for cat in sorted(by_cat):
        group = by_cat[cat]
        cats = T.pluralize(cat)
        q = T.pick(rng, T.SCANQA_COUNT).format(cats=cats)
        count = len(group)
        add("count" if count > 1 else "count_one", q, [str(count), f"{count} {cat if count == 1 else cats}"],
            [e.entity_id for e in group])
        if len(group) == 1 and group[0].color_name:
            add("color", T.pick(rng, T.SCANQA_COLOR).format(X=f"the {cat}"), [group[0].color_name] * 2,
                [group[0].entity_id])
    # Colours of non-unique categories, disambiguated by a relation to a named reference.
    for cat in sorted(by_cat):
        group = by_cat[cat]
        if len(group) < 2:
            continue
        for ref in entities:
            if ref.category == cat or ref.entity_id not in names:
                continue
            for rel, phrase in (("next_to", "next to"), ("in_front", "in front of"), ("on_top", "on")):
                x = _unique_subject(rel, ref, group, tests)
                if x is not None and x.color_name:
                    q = T.pick(rng, T.SCANQA_COLOR).format(X=f"the {cat} {phrase} the {names[ref.entity_id]}")
                    add("color_rel", q, [x.color_name] * 2, [x.entity_id, ref.entity_id])
    # Where is X (X named).
    for x in entities:
        if x.entity_id not in names:
            continue
        where = _where_answers(x, entities, names, world, tests)
        if where is not None:
            answers, ids = where
            q = T.pick(rng, T.SCANQA_WHERE).format(X=f"the {names[x.entity_id]}")
            add("where", q, answers, [x.entity_id, *ids])
    # What is next to / under / on / in front of R (R named).
    for ref in entities:
        if ref.entity_id not in names:
            continue
        for rel in ("next_to", "under_window", "on_top", "in_front"):
            if (rel == "under_window") != (ref.kind == "window"):
                continue
            x = _unique_subject(rel, ref, entities, tests)
            if x is None:
                continue
            q = T.pick(rng, T.SCANQA_WHAT_REL[rel]).format(R=f"the {names[ref.entity_id]}")
            second = f"{x.color_name} {x.category}" if x.color_name else x.category
            add("what_rel", q, [x.category, second], [x.entity_id, ref.entity_id])

    families = sorted(cands)
    order = [families[i] for i in rng.permutation(len(families))]
    for fam in order:
        perm = rng.permutation(len(cands[fam]))
        cands[fam] = [cands[fam][i] for i in perm]
    num, sub = scene_number(world.scene_id)
    out: list[dict] = []
    seen: set[str] = set()
    while len(out) < n and any(cands[f] for f in order):
        for fam in order:
            if len(out) >= n:
                break
            while cands[fam]:
                q, answers, ids = cands[fam].pop()
                if q in seen:
                    continue
                seen.add(q)
                qid = f"{split}-scene{num:04d}-{10000 * sub + len(out)}"
                out.append(_item(answers, ids, by_id, q, qid, world.scene_id))
                break
    return out


def write_scanqa_file(path: str | Path, items: Sequence[dict]) -> Path:
    """Write ``ScanQA_v1.0_<split>.json`` (a JSON list of items) atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, list(items))
    return path
