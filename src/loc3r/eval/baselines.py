"""Trivial localization baselines for SQA3D-style situations (the floor and the headroom of the task).

Every baseline is a pure function of localization records (``Record`` with a situation and an SQA3D-frame
pose) that returns one ``Prediction`` per record, with a single ``pose_dataset`` guess in the **SQA3D frame**
(metres, origin at the raw mesh's bounding-box centre; ``heading`` = facing heading ``atan2(f_y, f_x)``,
radians), ready for ``loc3r.eval.score.score_predictions(..., "sqa3d-loc")``:

* ``training_mean``: the mean SQA3D-frame position of the training records (SQA3D's frame is scene-centred,
  so this is "somewhere near the middle of the room"), heading uniform in [-pi, pi) from a seeded generator.
* ``random_free_space``: position uniform over the scene's free floor (inside the room polygon, outside every
  object footprint), heading uniform. Needs the scene's geometry (``SceneGeometry``).
* ``rule_oracle``: reads the situation text with the synthetic generator's own vocabulary
  (``loc3r.data.synthetic.annotations.templates``): the position clause (sitting on A / standing in front of
  A / between A and B) gives the position, the orientation facts (facing X / X on my left / right / behind
  me, clock directions, "X is about N meters in front of me") give the heading (circular mean of what each
  fact implies). Objects are resolved by their referring name (category, or colour + category) among the
  scene's instances. An upper reference for what a text-only reader with perfect scene knowledge reaches.

Scene geometry: ``SceneGeometry`` holds the room polygon and the annotated instances (objects, doors,
windows) in the SQA3D frame. For the synthetic set, ``synthetic_scene_geometries(synth_root)`` re-creates
each scene's ``World`` from the settings recorded in ``manifest.json`` (``generate.scene_world``; generation
is deterministic) and takes the SQA3D origin from the manifest's ``center_raw``; no mesh is read.

Randomness: each record draws from ``SeedSequence([seed, record_index])``, so a prediction does not depend on
which other records are predicted with it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from loc3r.data.schema import Record
from loc3r.eval.predictions import PosePrediction, Prediction
from loc3r.geometry.rotations import wrap_angle
from loc3r.utils.io import DataError

__all__ = [
    "BASELINES",
    "SceneEntity",
    "SceneGeometry",
    "ParsedSituation",
    "scene_geometry_from_world",
    "synthetic_scene_geometries",
    "training_mean",
    "camera_path_centre",
    "prepared_cameras",
    "random_free_space",
    "sample_free_space",
    "parse_situation",
    "rule_pose",
    "rule_oracle",
    "points_in_polygon",
]

BASELINES = ("training_mean", "random_free_space", "rule_oracle")
BENCHMARK = "sqa3d-loc"
#: Where ``rule_pose`` puts an agent "in front of" an entity: this far from its front face (the generator
#: samples 0.35-0.6 m; the midpoint).
FRONT_GAP_M = 0.475
#: Beds are sat on near the foot end: this far back from the front edge (as the generator does).
BED_SIT_INSET_M = 0.3
_MAX_FREE_SPACE_TRIES = 10_000


# --------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class SceneEntity:
    """One annotated instance, SQA3D frame.

    Attributes:
        entity_id: instance id (ScanNet ``objectId``).
        category: label used in text (``"chair"``, ``"door"``).
        color_name: colour word, or None (doors / windows).
        kind: ``"object"``, ``"door"`` or ``"window"``.
        center_xy: [2] footprint centre, metres.
        footprint: [4, 2] corners of the oriented footprint (counter-clockwise), metres.
        front_heading: heading of the entity's front (objects: the side one sits on / faces it from;
            openings: into the room), radians.
        dims: (extent along the front direction, extent across, height), metres.
    """

    entity_id: int
    category: str
    color_name: str | None
    kind: str
    center_xy: np.ndarray
    footprint: np.ndarray
    front_heading: float
    dims: tuple[float, float, float]


@dataclass(frozen=True)
class SceneGeometry:
    """What the baselines know about a scene, SQA3D frame.

    Attributes:
        scene_id: ScanNet-style id.
        room_polygon: [P, 2] floor polygon, metres.
        entities: the annotated instances.
        obstacles: indices into ``entities`` of the instances whose footprint is not free floor (objects;
            doors and windows are holes in the wall).
    """

    scene_id: str
    room_polygon: np.ndarray
    entities: tuple[SceneEntity, ...]
    obstacles: tuple[int, ...] = field(default=())

    def by_id(self) -> dict[int, SceneEntity]:
        """``{entity_id: entity}``."""
        return {e.entity_id: e for e in self.entities}


def scene_geometry_from_world(world, center_raw: np.ndarray) -> SceneGeometry:
    """A synthetic ``World`` (aligned frame) -> ``SceneGeometry`` in the SQA3D frame.

    The SQA3D frame is the raw frame shifted by the raw mesh's bbox centre: ``p_sqa3d = (A^-1 p_aligned)_xy -
    c_xy`` and ``heading_sqa3d = heading_aligned - alignment_yaw(A)`` (A = ``world.axis_alignment``).

    Args:
        world: ``loc3r.data.synthetic.world.World``.
        center_raw: [3] bbox centre of the raw mesh vertices (the manifest's ``center_raw``).
    """
    from loc3r.data.synthetic.annotations.relations import scene_entities
    from loc3r.geometry.frames import aligned_to_raw_points, alignment_yaw

    A = np.asarray(world.axis_alignment, dtype=np.float64)
    c = np.asarray(center_raw, dtype=np.float64)[:2]
    dyaw = alignment_yaw(A)

    def to_sqa3d(xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        p = np.concatenate([xy, np.zeros((len(xy), 1))], axis=1)
        return aligned_to_raw_points(p, A)[:, :2] - c

    entities = []
    obstacles = []
    for k, e in enumerate(scene_entities(world)):
        entities.append(SceneEntity(
            entity_id=int(e.entity_id), category=e.category, color_name=e.color_name, kind=e.kind,
            center_xy=to_sqa3d(e.xy)[0], footprint=to_sqa3d(e.footprint),
            front_heading=float(wrap_angle(e.front_heading - dyaw)), dims=tuple(float(d) for d in e.dims)))
        if e.kind == "object":
            obstacles.append(k)
    return SceneGeometry(scene_id=world.scene_id, room_polygon=to_sqa3d(world.room.polygon),
                         entities=tuple(entities), obstacles=tuple(obstacles))


def synthetic_scene_geometries(synth_root: str | Path, scene_ids: Sequence[str] | None = None
                               ) -> dict[str, SceneGeometry]:
    """Geometry of the scenes of a generated synthetic set, re-created from its ``manifest.json``.

    Args:
        synth_root: the folder ``generate_synthetic`` wrote (with ``manifest.json``).
        scene_ids: scenes to load (default: all).

    Raises:
        DataError: no / unreadable manifest, or a requested scene missing from it.
    """
    from loc3r.data.synthetic.generate import read_set, scene_world

    path = Path(synth_root) / "manifest.json"
    cfg, scenes = read_set(synth_root)
    entries = {e["scene_id"]: e for e in scenes}
    wanted = list(entries) if scene_ids is None else list(dict.fromkeys(scene_ids))
    out = {}
    for sid in wanted:
        if sid not in entries:
            raise DataError(f"{path}: scene {sid} is not in the manifest")
        e = entries[sid]
        world = scene_world(cfg, int(e["index"]))
        if world.scene_id != sid:
            raise DataError(f"{path}: scene index {e['index']} re-creates {world.scene_id}, expected {sid}")
        out[sid] = scene_geometry_from_world(world, np.asarray(e["center_raw"], dtype=np.float64))
    return out


def points_in_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test.

    Args:
        xy: [..., 2] points.
        polygon: [P, 2] vertices (either orientation).

    Returns:
        [...] bool.
    """
    pts = np.asarray(xy, dtype=np.float64)
    x, y = pts[..., 0], pts[..., 1]
    inside = np.zeros(x.shape, dtype=bool)
    poly = np.asarray(polygon, dtype=np.float64)
    for i in range(len(poly)):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % len(poly)]
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = (x2 - x1) * (y - y1) / (y2 - y1) + x1
        inside ^= crosses & (x < x_at)
    return inside


# --------------------------------------------------------------------------------------------- helpers
def _check_records(records: Sequence[Record]) -> None:
    for r in records:
        if r.pose is not None and r.pose.frame != "sqa3d":
            raise DataError(f"record {r.id!r}: the baselines predict in the SQA3D frame, the ground truth is "
                            f"in {r.pose.frame!r}")


def _prediction(record: Record, x: float, y: float, heading: float, baseline: str, **extra) -> Prediction:
    pose = PosePrediction(x=float(x), y=float(y), heading=float(wrap_angle(heading)), frame="sqa3d")
    return Prediction(id=record.id, benchmark=BENCHMARK, pose_dataset=(pose,),
                      extra={"baseline": baseline, **extra})


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def _geometry(scenes: Mapping[str, SceneGeometry], record: Record) -> SceneGeometry:
    if record.scene_id not in scenes:
        raise DataError(f"record {record.id!r}: no geometry for scene {record.scene_id}")
    return scenes[record.scene_id]


# --------------------------------------------------------------------------------------------- baselines
def training_mean(records: Sequence[Record], train_records: Sequence[Record], seed: int = 0
                  ) -> list[Prediction]:
    """Mean training position, uniform heading.

    Args:
        records: records to predict.
        train_records: training records with SQA3D-frame poses (those without a pose are ignored).
        seed: heading generator seed.

    Raises:
        DataError: no posed training record, or a pose in another frame.
    """
    _check_records(records)
    _check_records(train_records)
    xy = np.array([[r.pose.x, r.pose.y] for r in train_records if r.pose is not None], dtype=np.float64)
    if not len(xy):
        raise DataError("training_mean: no training record has a pose")
    mx, my = xy.mean(axis=0)
    return [_prediction(r, mx, my, _rng(seed, i).uniform(-math.pi, math.pi), "training_mean")
            for i, r in enumerate(records)]


def sample_free_space(geometry: SceneGeometry, rng: np.random.Generator) -> np.ndarray:
    """One point [2] uniform over the free floor (inside the room, outside every obstacle footprint).

    Raises:
        DataError: no free point found (a degenerate scene).
    """
    poly = np.asarray(geometry.room_polygon, dtype=np.float64)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    blocked = [geometry.entities[k].footprint for k in geometry.obstacles]
    for _ in range(_MAX_FREE_SPACE_TRIES // 100):
        cand = rng.uniform(lo, hi, size=(100, 2))
        ok = points_in_polygon(cand, poly)
        for fp in blocked:
            ok &= ~points_in_polygon(cand, fp)
        hits = np.flatnonzero(ok)
        if len(hits):
            return cand[hits[0]]
    raise DataError(f"scene {geometry.scene_id}: no free floor found in {_MAX_FREE_SPACE_TRIES} samples")


def camera_path_centre(records: Sequence[Record], cameras: Mapping[str, tuple[np.ndarray, np.ndarray]],
                       seed: int = 0) -> list[Prediction]:
    """Centroid of the scene's camera positions, uniform heading.

    What a model given the camera poses (the camera prior) can know about "the middle of the room" without
    reading the situation.

    Args:
        records: records to predict (SQA3D frame).
        cameras: scene id -> (``poses_c2w`` [T, 4, 4] raw ScanNet world, ``center_raw`` [3] the SQA3D origin =
            raw mesh bounding-box centre), e.g. from ``prepared_cameras``.
        seed: heading generator seed.

    Raises:
        DataError: a record's scene is missing from ``cameras``.
    """
    _check_records(records)
    out = []
    for i, r in enumerate(records):
        if r.scene_id not in cameras:
            raise DataError(f"record {r.id!r}: no camera poses for scene {r.scene_id}")
        poses, center = cameras[r.scene_id]
        xy = np.asarray(poses, dtype=np.float64)[:, :2, 3].mean(axis=0) - np.asarray(center, np.float64)[:2]
        heading = _rng(seed, i).uniform(-math.pi, math.pi)
        out.append(_prediction(r, xy[0], xy[1], heading, "camera_path_centre"))
    return out


def first_frame_mean(records: Sequence[Record], train_records: Sequence[Record],
                     cameras: Mapping[str, tuple[np.ndarray, np.ndarray]], seed: int = 0) -> list[Prediction]:
    """Mean training position in the first-frame BEV frame, uniform heading.

    The best constant a model can give in the frame it predicts in (the first camera's gravity-aligned frame,
    ``loc3r.geometry.frames.BevFrame``) when it knows nothing about the room: a model without a camera prior
    that ignores its inputs scores this, not ``training_mean``, whose SQA3D frame is centred on the room (the
    mesh's bounding-box centre) and so knows where the room's middle is. Each training position is mapped into
    its scene's first-frame frame, averaged, and the average is mapped back with each test scene's first pose
    (as predictions are: rotation and translation, no scale).

    Args:
        records: records to predict (SQA3D frame).
        train_records: training records with SQA3D-frame poses (those without a pose are ignored).
        cameras: scene id -> (``poses_c2w`` [T, 4, 4] raw ScanNet world, the first one anchoring the BEV frame;
            ``center_raw`` [3] the SQA3D origin), covering the scenes of both, e.g. from ``prepared_cameras``.
        seed: heading generator seed.

    Raises:
        DataError: no posed training record, a pose in another frame, or a scene missing from ``cameras``.
    """
    from loc3r.geometry.frames import BevFrame

    _check_records(records)
    _check_records(train_records)

    def frame(r: Record) -> tuple[BevFrame, np.ndarray]:
        if r.scene_id not in cameras:
            raise DataError(f"record {r.id!r}: no camera poses for scene {r.scene_id}")
        poses, center = cameras[r.scene_id]
        return BevFrame.from_first_pose(np.asarray(poses, np.float64)[0]), np.asarray(center, np.float64)[:2]

    bev_xy = []
    for r in train_records:
        if r.pose is None:
            continue
        bev, center = frame(r)
        bev_xy.append(bev.world_to_bev_xy(np.array([r.pose.x, r.pose.y]) + center))
    if not bev_xy:
        raise DataError("first_frame_mean: no training record has a pose")
    mean_bev = np.mean(bev_xy, axis=0)
    out = []
    for i, r in enumerate(records):
        bev, center = frame(r)
        xy = bev.bev_to_world_xy(mean_bev) - center
        out.append(_prediction(r, xy[0], xy[1], _rng(seed, i).uniform(-math.pi, math.pi), "first_frame_mean"))
    return out


def prepared_cameras(prepared_dir: str | Path, scene_ids: Sequence[str], num_frames: int | None = None
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{scene id: (poses_c2w of the prepared frames, raw mesh bbox centre)}`` for ``camera_path_centre``.

    ``num_frames``: the uniform subset a model sees (None: the whole prepared selection).

    Raises:
        DataError: a scene without poses or without a mesh centre (the message names it).
    """
    from loc3r.data.scene_inputs import load_prepared_scene

    out = {}
    for sid in dict.fromkeys(scene_ids):
        scene = load_prepared_scene(prepared_dir, sid, num_frames)
        if scene.poses_c2w is None or scene.scene_center_raw is None:
            raise DataError(f"{Path(prepared_dir) / sid}: no camera poses or no mesh centre")
        out[sid] = (scene.poses_c2w, scene.scene_center_raw)
    return out


def random_free_space(records: Sequence[Record], scenes: Mapping[str, SceneGeometry], seed: int = 0
                      ) -> list[Prediction]:
    """Position uniform over the scene's free floor, heading uniform.

    Args:
        records: records to predict.
        scenes: ``{scene_id: SceneGeometry}`` (SQA3D frame) covering the records' scenes.
        seed: generator seed.
    """
    _check_records(records)
    out = []
    for i, r in enumerate(records):
        rng = _rng(seed, i)
        xy = sample_free_space(_geometry(scenes, r), rng)
        out.append(_prediction(r, xy[0], xy[1], rng.uniform(-math.pi, math.pi), "random_free_space"))
    return out


# --------------------------------------------------------------------------------------------- rule oracle
@dataclass(frozen=True)
class ParsedSituation:
    """What ``parse_situation`` read from a situation text.

    Attributes:
        anchor: ``"sit_on"`` | ``"in_front_of"`` | ``"between"`` | None (no position clause recognised).
        anchor_ids: entity ids of the anchor object(s).
        facts: ``(relation, entity_id)`` with relation ``"facing"`` | ``"left"`` | ``"right"`` | ``"behind"``
            (``"distance_front"`` statements count as ``"facing"``), in text order, without duplicates.
    """

    anchor: str | None
    anchor_ids: tuple[int, ...]
    facts: tuple[tuple[str, int], ...]


def _template_regex(template: str, names_alt: str) -> re.Pattern:
    """A template with ``{A}``/``{B}``/``{X}`` (noun phrases), ``{N}``, ``{meters}`` -> a compiled regex."""
    parts = re.split(r"(\{[A-Za-z]+\})", template.lower())
    out = []
    for p in parts:
        if p in ("{a}", "{b}", "{x}"):
            out.append(rf"the (?P<{p[1]}>{names_alt})\b")
        elif p == "{n}":
            out.append(r"\w+")
        elif p == "{meters}":
            out.append(r"meters?")
        else:
            out.append(re.escape(p))
    return re.compile("".join(out))


def _templates():
    """``[(kind, relation, template)]``: position clauses (kind ``"anchor"``) and facts (kind ``"fact"``)."""
    from loc3r.data.synthetic.annotations import templates as T

    rows = []
    for t in T.SIT_CLAUSES + tuple(t for ts in T.SIT_CLAUSES_BY_CATEGORY.values() for t in ts):
        rows.append(("anchor", "sit_on", t))
    for t in T.FRONT_CLAUSES + tuple(t for ts in T.FRONT_CLAUSES_BY_CATEGORY.values() for t in ts):
        rows.append(("anchor", "in_front_of", t))
    for t in T.BETWEEN_CLAUSES:
        rows.append(("anchor", "between", t))
    for table in (T.WITH_PHRASES, T.CLOCK_WITH_PHRASES, T.STATEMENT_CLAUSES, T.CLOCK_STATEMENT_CLAUSES):
        for rel, ts in table.items():
            rows += [("fact", rel, t) for t in ts]
    rows += [("fact", "facing", t) for t in T.DISTANCE_CLAUSES]
    return list(dict.fromkeys(rows))


def parse_situation(text: str, names: Mapping[int, str]) -> ParsedSituation:
    """Read a synthetic situation text with the generator's templates.

    Args:
        text: the situation (any case).
        names: ``{entity_id: referring name}`` of the scene (``templates.referring_names``), e.g.
            ``{3: "bed", 5: "red chair"}``.

    Returns:
        ``ParsedSituation`` (the first position clause found by text position; facts in text order).
    """
    by_name = {n.lower(): eid for eid, n in names.items()}
    if not by_name:
        return ParsedSituation(None, (), ())
    names_alt = "|".join(re.escape(n) for n in sorted(by_name, key=len, reverse=True))
    low = text.lower()
    anchors: list[tuple[int, int, str, tuple[int, ...]]] = []
    facts: list[tuple[int, str, int]] = []
    for kind, rel, template in _templates():
        for m in _template_regex(template, names_alt).finditer(low):
            ids = tuple(by_name[m.group(g)] for g in ("a", "b", "x") if g in m.groupdict())
            if kind == "anchor":
                anchors.append((m.start(), m.start() - m.end(), rel, ids))
            else:
                facts.append((m.start(), rel, ids[0]))
    anchor, anchor_ids = None, ()
    if anchors:
        # the longest match at the earliest position (e.g. "standing just in front of" over "standing")
        anchors.sort()
        _, _, anchor, anchor_ids = anchors[0]
    seen, ordered = set(), []
    for _, rel, eid in sorted(facts):
        if (rel, eid) not in seen and eid not in anchor_ids:
            seen.add((rel, eid))
            ordered.append((rel, eid))
    return ParsedSituation(anchor, tuple(anchor_ids), tuple(ordered))


_FACT_OFFSET = {"facing": 0.0, "left": -math.pi / 2, "right": math.pi / 2, "behind": math.pi}


def rule_pose(parsed: ParsedSituation, entities: Mapping[int, SceneEntity]
              ) -> tuple[np.ndarray, float] | None:
    """The pose a parsed situation implies, or None without a position clause.

    Position: sitting on A -> A's footprint centre (beds: ``BED_SIT_INSET_M`` behind the front edge, where the
    generator seats the agent); in front of A -> ``FRONT_GAP_M`` in front of A's front face; between A and B
    -> the midpoint of their centres. Heading: each fact about X implies ``bearing(X) + offset`` (facing 0,
    X on the left -90 deg, right +90 deg, behind 180 deg); their circular mean. Without facts: a seat's
    front direction, or towards the object stood in front of; ``between`` without facts: perpendicular to
    A-B (an arbitrary one of the two).

    Args:
        parsed: ``parse_situation`` output.
        entities: ``{entity_id: SceneEntity}`` (SQA3D frame).

    Returns:
        ``(position [2], heading)`` in the entities' frame.
    """
    if parsed.anchor is None:
        return None
    ents = [entities[i] for i in parsed.anchor_ids]
    a = ents[0]
    front = np.array([math.cos(a.front_heading), math.sin(a.front_heading)])
    if parsed.anchor == "sit_on":
        along = max(0.0, a.dims[0] / 2 - BED_SIT_INSET_M) if a.category == "bed" else 0.0
        pos = a.center_xy + along * front
        default = a.front_heading
    elif parsed.anchor == "in_front_of":
        pos = a.center_xy + (a.dims[0] / 2 + FRONT_GAP_M) * front
        default = math.atan2(*(a.center_xy - pos)[::-1])
    else:
        b = ents[1]
        pos = (a.center_xy + b.center_xy) / 2
        d = b.center_xy - a.center_xy
        default = math.atan2(d[1], d[0]) + math.pi / 2
    pos = np.asarray(pos, dtype=np.float64)
    guesses = []
    for rel, eid in parsed.facts:
        d = entities[eid].center_xy - pos
        guesses.append(math.atan2(d[1], d[0]) + _FACT_OFFSET[rel])
    if not guesses:
        return pos, float(wrap_angle(default))
    heading = math.atan2(float(np.mean(np.sin(guesses))), float(np.mean(np.cos(guesses))))
    return pos, float(wrap_angle(heading))


def _scene_names(geometry: SceneGeometry) -> dict[int, str]:
    from loc3r.data.synthetic.annotations.templates import referring_names

    return referring_names(geometry.entities)


def rule_oracle(records: Sequence[Record], scenes: Mapping[str, SceneGeometry]) -> list[Prediction]:
    """The pose the situation text states, read with the synthetic templates (see ``rule_pose``).

    A text whose position clause is not recognised gets the scene's origin (the SQA3D frame's centre) facing
    +x, flagged ``extra["rule"] = "fallback"`` (``"parsed"`` otherwise).

    Args:
        records: records with a ``situation``.
        scenes: ``{scene_id: SceneGeometry}`` covering the records' scenes.
    """
    _check_records(records)
    names_cache: dict[str, dict[int, str]] = {}
    out = []
    for r in records:
        g = _geometry(scenes, r)
        if g.scene_id not in names_cache:
            names_cache[g.scene_id] = _scene_names(g)
        parsed = parse_situation(r.situation or "", names_cache[g.scene_id])
        pose = rule_pose(parsed, g.by_id())
        if pose is None:
            out.append(_prediction(r, 0.0, 0.0, 0.0, "rule_oracle", rule="fallback"))
        else:
            out.append(_prediction(r, pose[0][0], pose[0][1], pose[1], "rule_oracle", rule="parsed",
                                   anchor=parsed.anchor, facts=len(parsed.facts)))
    return out
