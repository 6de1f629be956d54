"""Geometric predicates over a synthetic ``World``: the single place where "left of", "between", "closest"
etc. are decided for every generated annotation.

Frames and conventions:
  * Everything here works in the scene's **aligned** frame (metres, +Z up, floor at z = 0), the frame of
    ``loc3r.data.synthetic.world``. Poses are mapped into the SQA3D frame only when written
    (``annotations.sqa3d``).
  * An agent pose is a position ``(x, y)`` and a facing *heading* (yaw of the direction it looks, radians).
  * A *bearing* is the angle of a target as seen by the agent, relative to its heading, in [-pi, pi):
    0 = straight ahead, +pi/2 = directly left (counter-clockwise seen from above, the SQA3D convention),
    -pi/2 = directly right, +-pi = directly behind.
  * Every labelling function takes a ``margin_rad`` and returns ``None`` when the bearing lies within the
    margin of a decision boundary, so that only unambiguous facts are ever stated.

Doors and windows (``Opening``) become entities too: a thin box on the wall line (``OPENING_DEPTH_M`` thick),
with ids ``len(world.objects) + k`` for the k-th opening (``world.opening_object_id``, re-exported here), the
ids the written mesh, aggregation and instance maps use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loc3r.geometry.rotations import wrap_angle

from ..world import Opening, Room, World, opening_object_id

__all__ = [
    "OPENING_DEPTH_M",
    "Entity",
    "opening_object_id",
    "opening_center_xy",
    "scene_entities",
    "relative_bearing",
    "side_label",
    "front_back_label",
    "sector_label",
    "quadrant_label",
    "left_right_back_label",
    "point_polygon_distance",
    "polygons_distance",
    "box_distance",
    "point_entity_distance",
    "segment_hits_entity",
    "is_between",
    "is_free",
    "is_on_top_of",
    "is_under_window",
    "is_in_front_of",
    "in_corner",
    "has_front",
    "FRONT_CATEGORIES",
    "NO_FRONT_CATEGORIES",
    "floor_area",
]

# Thickness given to a door/window entity (it is a hole in the wall; this only makes it a proper box).
OPENING_DEPTH_M = 0.1
# Objects whose front is meaningful even when they do not stand against a wall.
FRONT_CATEGORIES = ("tv", "monitor", "whiteboard", "refrigerator", "stove", "sink", "toilet")
# Round or symmetric objects: "in front of" them is not well defined.
NO_FRONT_CATEGORIES = ("plant", "trash can", "lamp", "round table", "ottoman", "table", "coffee table")


@dataclass(frozen=True)
class Entity:
    """Anything a question can refer to: an object or an opening, with its geometry in the aligned frame.

    Attributes:
        entity_id: ScanNet-style ``objectId`` (objects: ``SceneObject.object_id``; openings:
            ``opening_object_id``).
        category: label used in text (``"bed"``, ``"window"``).
        color_name: colour word, or None when unknown (openings).
        kind: ``"object"``, ``"door"`` or ``"window"``.
        center: [3] centre of the bounding box, aligned frame, metres.
        footprint: [4, 2] counter-clockwise corners of the oriented footprint, aligned frame, metres.
        z_min, z_max: vertical extent, metres above the floor.
        front_heading: heading of the entity's front direction (objects: local +x; openings: into the room).
        dims: (extent along front, extent across, height), metres.
        against_wall: wall index the entity's back touches (openings: their wall), or None.
    """

    entity_id: int
    category: str
    color_name: str | None
    kind: str
    center: np.ndarray
    footprint: np.ndarray
    z_min: float
    z_max: float
    front_heading: float
    dims: tuple[float, float, float]
    against_wall: int | None

    @property
    def xy(self) -> np.ndarray:
        """[2] centre (x, y), aligned frame."""
        return self.center[:2]

    @property
    def longest_dim_m(self) -> float:
        """Longest edge of the oriented bounding box, metres (VSI-Bench object size)."""
        return float(max(self.dims))


def opening_center_xy(room: Room, opening: Opening) -> np.ndarray:
    """[2] centre of an opening on its wall line, aligned frame."""
    start, end = room.walls()[opening.wall]
    u = (end - start) / np.linalg.norm(end - start)
    return start + u * opening.offset


def _wall_inward_normal(room: Room, wall: int) -> np.ndarray:
    """Unit normal of a wall pointing into the room (left of the wall direction for a CCW polygon)."""
    start, end = room.walls()[wall]
    u = (end - start) / np.linalg.norm(end - start)
    n = np.array([-u[1], u[0]])
    # Robust to a clockwise polygon: flip if a point just off the wall's midpoint along n is outside.
    mid = (start + end) / 2.0
    if not bool(room.contains(mid + 0.01 * n)):
        n = -n
    return n


def _rect_footprint(center_xy: np.ndarray, heading: float, along: float, across: float) -> np.ndarray:
    """[4, 2] CCW corners of a rectangle with local +x at ``heading``."""
    hx, hy = along / 2.0, across / 2.0
    local = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    c, s = math.cos(heading), math.sin(heading)
    return local @ np.array([[c, -s], [s, c]]).T + center_xy


def scene_entities(world: World) -> list[Entity]:
    """All objects, then all openings of ``world``, as ``Entity`` (ordered by entity id)."""
    out: list[Entity] = []
    for obj in world.objects:
        lo, hi = obj.bbox_aligned()
        out.append(Entity(
            entity_id=int(obj.object_id), category=obj.category, color_name=obj.color_name or None,
            kind="object", center=np.asarray(obj.center, dtype=np.float64), footprint=obj.footprint(),
            z_min=float(lo[2]), z_max=float(hi[2]), front_heading=float(wrap_angle(obj.yaw)),
            dims=(float(obj.size[0]), float(obj.size[1]), float(obj.size[2])), against_wall=obj.against_wall,
        ))
    for k, op in enumerate(world.room.openings):
        c = opening_center_xy(world.room, op)
        n = _wall_inward_normal(world.room, op.wall)
        heading = math.atan2(n[1], n[0])
        out.append(Entity(
            entity_id=opening_object_id(world, k), category=op.kind, color_name=None, kind=op.kind,
            center=np.array([c[0], c[1], (op.z_min + op.z_max) / 2.0]),
            footprint=_rect_footprint(c, heading, OPENING_DEPTH_M, op.width),
            z_min=float(op.z_min), z_max=float(op.z_max), front_heading=heading,
            dims=(OPENING_DEPTH_M, float(op.width), float(op.z_max - op.z_min)), against_wall=op.wall,
        ))
    return out


# --------------------------------------------------------------------------------------------- directions
def relative_bearing(pos_xy: np.ndarray, heading_rad: float, target_xy: np.ndarray) -> np.ndarray:
    """Bearing of target(s) seen from an agent, radians in [-pi, pi) (+ = to the agent's left).

    Args:
        pos_xy: [2] agent position.
        heading_rad: agent facing heading.
        target_xy: [..., 2] target positions (same frame).

    Returns:
        [...] bearing(s).
    """
    d = np.asarray(target_xy, dtype=np.float64)[..., :2] - np.asarray(pos_xy, dtype=np.float64)[:2]
    return wrap_angle(np.arctan2(d[..., 1], d[..., 0]) - heading_rad)


def side_label(bearing_rad: float, margin_rad: float) -> str | None:
    """``"left"`` (bearing in (0, pi)) or ``"right"``; None within ``margin_rad`` of straight ahead/behind."""
    a = abs(float(bearing_rad))
    if a < margin_rad or a > math.pi - margin_rad:
        return None
    return "left" if bearing_rad > 0 else "right"


def front_back_label(bearing_rad: float, margin_rad: float) -> str | None:
    """``"front"`` (|bearing| < 90 deg) or ``"behind"``; None within ``margin_rad`` of the sideways line."""
    a = abs(float(bearing_rad))
    if abs(a - math.pi / 2) < margin_rad:
        return None
    return "front" if a < math.pi / 2 else "behind"


def sector_label(bearing_rad: float, margin_rad: float) -> str | None:
    """Four 90-degree sectors centred on the body axes; None within ``margin_rad`` of a sector boundary.

    ``front`` (|b| < 45 deg), ``left`` (45..135), ``behind`` (> 135), ``right`` (-135..-45).
    """
    a = abs(float(bearing_rad))
    if abs(a - math.pi / 4) < margin_rad or abs(a - 3 * math.pi / 4) < margin_rad:
        return None
    if a < math.pi / 4:
        return "front"
    if a > 3 * math.pi / 4:
        return "behind"
    return "left" if bearing_rad > 0 else "right"


def quadrant_label(bearing_rad: float, margin_rad: float) -> str | None:
    """VSI-Bench hard relative direction (quadrants); None within ``margin_rad`` of 0, +-90 or 180 deg.

    ``front-left`` (0..90 deg), ``back-left`` (90..180), ``front-right`` (0..-90), ``back-right``.
    """
    b = float(bearing_rad)
    a = abs(b)
    if a < margin_rad or a > math.pi - margin_rad or abs(a - math.pi / 2) < margin_rad:
        return None
    fb = "front" if a < math.pi / 2 else "back"
    return f"{fb}-{'left' if b > 0 else 'right'}"


def left_right_back_label(bearing_rad: float, margin_rad: float) -> str | None:
    """VSI-Bench medium relative direction: ``left`` / ``right`` / ``back``.

    ``back`` when |bearing| >= 135 deg ("would have to turn at least 135 degrees to face it"), else the side;
    None within ``margin_rad`` of 135 deg or of 0 deg.
    """
    b = float(bearing_rad)
    a = abs(b)
    if abs(a - 3 * math.pi / 4) < margin_rad:
        return None
    if a >= 3 * math.pi / 4:
        return "back"
    if a < margin_rad:
        return None
    return "left" if b > 0 else "right"


# --------------------------------------------------------------------------------------------- distances
def _segment_point_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    denom = float(ab @ ab)
    t = 0.0 if denom < 1e-18 else min(1.0, max(0.0, float((p - a) @ ab) / denom))
    return float(np.linalg.norm(p - (a + t * ab)))


def _points_edges_distance(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """[N, K] distances from points [N, 2] to the K edges of a closed polygon [K, 2]."""
    a = poly
    ab = np.roll(poly, -1, axis=0) - a
    denom = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-18)
    ap = points[:, None, :] - a[None, :, :]
    t = np.clip(np.einsum("nkj,kj->nk", ap, ab) / denom, 0.0, 1.0)
    return np.linalg.norm(ap - t[..., None] * ab[None], axis=-1)


def _inside_convex_many(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """[N] whether points [N, 2] lie inside (or on) a convex polygon given in either orientation."""
    a = poly
    e = np.roll(poly, -1, axis=0) - a
    d = points[:, None, :] - a[None, :, :]
    cross = e[None, :, 0] * d[..., 1] - e[None, :, 1] * d[..., 0]
    return np.all(cross >= -1e-12, axis=1) | np.all(cross <= 1e-12, axis=1)


def _inside_convex(p: np.ndarray, poly: np.ndarray) -> bool:
    """Point inside (or on) a convex polygon given in either orientation."""
    pts = np.asarray(p, dtype=np.float64)[None, :2]
    return bool(_inside_convex_many(pts, np.asarray(poly, dtype=np.float64))[0])


def point_polygon_distance(xy: np.ndarray, poly: np.ndarray) -> float:
    """Horizontal distance from a point [2] to a convex polygon [K, 2] (0 inside), metres."""
    p = np.asarray(xy, dtype=np.float64)[None, :2]
    poly = np.asarray(poly, dtype=np.float64)
    if _inside_convex_many(p, poly)[0]:
        return 0.0
    return float(_points_edges_distance(p, poly).min())


def _separated(pa: np.ndarray, pb: np.ndarray) -> bool:
    """Separating-axis test for two convex polygons (edge normals of both)."""
    for poly in (pa, pb):
        e = np.roll(poly, -1, axis=0) - poly
        axes = np.stack([-e[:, 1], e[:, 0]], axis=1)  # [K, 2]
        ra, rb = pa @ axes.T, pb @ axes.T  # [Na, K], [Nb, K]
        if np.any((ra.max(0) < rb.min(0) - 1e-12) | (rb.max(0) < ra.min(0) - 1e-12)):
            return True
    return False


def polygons_distance(pa: np.ndarray, pb: np.ndarray) -> float:
    """Distance between two convex polygons [K, 2] (0 when they overlap), metres."""
    pa, pb = np.asarray(pa, dtype=np.float64), np.asarray(pb, dtype=np.float64)
    if not _separated(pa, pb):
        return 0.0
    # Disjoint convex polygons: the closest pair involves a vertex of one and an edge of the other.
    return float(min(_points_edges_distance(pa, pb).min(), _points_edges_distance(pb, pa).min()))


def box_distance(a: Entity, b: Entity) -> float:
    """Closest-point distance between two entities' boxes (vertical prisms over their footprints), metres.

    The boxes are products (footprint x [z_min, z_max]), so the distance is the hypotenuse of the horizontal
    footprint distance and the vertical gap (VSI-Bench: "measuring from the closest point of each object").
    """
    dz = max(0.0, a.z_min - b.z_max, b.z_min - a.z_max)
    return float(math.hypot(polygons_distance(a.footprint, b.footprint), dz))


def point_entity_distance(xy: np.ndarray, e: Entity) -> float:
    """Horizontal distance from a standing agent at ``xy`` to an entity's footprint, metres."""
    return point_polygon_distance(xy, e.footprint)


def segment_hits_entity(p: np.ndarray, q: np.ndarray, e: Entity, clearance: float = 0.0) -> bool:
    """Whether the horizontal segment p-q passes within ``clearance`` of entity ``e``'s footprint."""
    p, q = np.asarray(p, dtype=np.float64)[:2], np.asarray(q, dtype=np.float64)[:2]
    fp = e.footprint
    if _inside_convex(p, fp) or _inside_convex(q, fp):
        return True
    seg = np.stack([p, q])
    # Segment vs convex polygon: they touch if the segment crosses an edge, else use vertex-edge distances.
    for i in range(len(fp)):
        if _segments_intersect(p, q, fp[i], fp[(i + 1) % len(fp)]):
            return True
    if clearance <= 0.0:
        return False
    d = min(_points_edges_distance(fp, seg).min(), _points_edges_distance(seg, fp).min())
    return bool(d < clearance)


def _segments_intersect(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


# --------------------------------------------------------------------------------------------- relations
def is_between(p_xy: np.ndarray, a_xy: np.ndarray, b_xy: np.ndarray, max_offset_m: float = 0.35,
               t_range: tuple[float, float] = (0.3, 0.7)) -> bool:
    """Whether ``p`` lies between ``a`` and ``b`` (all [2], metres).

    True when the projection of ``p`` on a-b falls within ``t_range`` (fractions of the segment) and ``p`` is
    at most ``max_offset_m`` from the line.
    """
    p, a, b = (np.asarray(v, dtype=np.float64)[:2] for v in (p_xy, a_xy, b_xy))
    ab = b - a
    n2 = float(ab @ ab)
    if n2 < 1e-12:
        return False
    t = float((p - a) @ ab) / n2
    off = abs(float(ab[0] * (p - a)[1] - ab[1] * (p - a)[0])) / math.sqrt(n2)
    return t_range[0] <= t <= t_range[1] and off <= max_offset_m


def _wall_distance(room: Room, xy: np.ndarray) -> float:
    return min(_segment_point_distance(xy, s, e) for s, e in room.walls())


def is_free(world: World, entities: list[Entity], xy: np.ndarray, clearance: float = 0.2) -> bool:
    """Whether a person can stand at ``xy`` ([2], aligned frame).

    Inside the room, at least ``clearance`` metres from every wall and from every object footprint (openings
    are holes in the wall and do not block). When the scene sampler's ``free_space_mask`` is importable, it
    must agree too (both definitions hold).
    """
    p = np.asarray(xy, dtype=np.float64)[:2]
    if not bool(world.room.contains(p)) or _wall_distance(world.room, p) < clearance:
        return False
    if any(point_entity_distance(p, e) < clearance for e in entities if e.kind == "object"):
        return False
    mask_fn = _layout_free_space_mask()
    if mask_fn is not None:
        return bool(np.asarray(mask_fn(world, p[None, :], clearance=clearance)).reshape(-1)[0])
    return True


def _layout_free_space_mask():
    """The scene sampler's ``free_space_mask`` when that module is present, else None."""
    try:
        from ..layout import free_space_mask
    except ImportError:
        return None
    return free_space_mask


def is_on_top_of(a: Entity, b: Entity, tol_m: float = 0.05) -> bool:
    """``a`` rests on ``b``: a's bottom is at b's top (within ``tol_m``), a's centre over b's footprint."""
    return (a.entity_id != b.entity_id and abs(a.z_min - b.z_max) <= tol_m
            and point_polygon_distance(a.xy, b.footprint) == 0.0)


def is_under_window(e: Entity, window: Entity, room: Room, wall_gap_m: float = 0.35) -> bool:
    """``e`` stands below ``window``.

    Its footprint comes within ``wall_gap_m`` of the window's wall, its centre lies within the window's width
    along the wall, and its top is below the window's sill.
    """
    if window.kind != "window" or e.kind != "object" or window.against_wall is None:
        return False
    start, end = room.walls()[window.against_wall]
    u = (end - start) / np.linalg.norm(end - start)
    along = abs(float((e.xy - window.xy) @ u))
    wall_gap = min(_segment_point_distance(v, start, end) for v in e.footprint)
    return along <= window.dims[1] / 2.0 and wall_gap <= wall_gap_m and e.z_max <= window.z_min + 0.02


def is_in_front_of(a: Entity, ref: Entity, max_gap_m: float = 1.0,
                   max_angle_rad: float = math.radians(30)) -> bool:
    """``a`` is in front of ``ref``.

    ``a``'s centre lies within ``max_angle_rad`` of ref's front axis (seen from ref's centre) and the two
    footprints are at most ``max_gap_m`` apart.
    """
    b = float(relative_bearing(ref.xy, ref.front_heading, a.xy))
    return abs(b) <= max_angle_rad and polygons_distance(a.footprint, ref.footprint) <= max_gap_m


def has_front(e: Entity) -> bool:
    """Whether "in front of ``e``" is well defined.

    True for openings and for objects against a wall or with a screen/door-like front (``FRONT_CATEGORIES``);
    never for round or symmetric ones (``NO_FRONT_CATEGORIES``).
    """
    if e.kind != "object":
        return True
    if e.category in NO_FRONT_CATEGORIES:
        return False
    return e.against_wall is not None or e.category in FRONT_CATEGORIES


def in_corner(e: Entity, room: Room, max_gap_m: float = 0.3) -> bool:
    """``e`` is within ``max_gap_m`` of both walls at a convex corner of the room."""
    poly = np.asarray(room.polygon, dtype=np.float64)
    n = len(poly)
    area2 = sum(poly[i, 0] * poly[(i + 1) % n, 1] - poly[(i + 1) % n, 0] * poly[i, 1] for i in range(n))
    for i in range(n):
        prev, cur, nxt = poly[i - 1], poly[i], poly[(i + 1) % n]
        cross = (cur[0] - prev[0]) * (nxt[1] - cur[1]) - (cur[1] - prev[1]) * (nxt[0] - cur[0])
        if cross * area2 <= 0:  # reflex corner (L-shaped rooms)
            continue
        d1 = min(_segment_point_distance(v, prev, cur) for v in e.footprint)
        d2 = min(_segment_point_distance(v, cur, nxt) for v in e.footprint)
        if d1 <= max_gap_m and d2 <= max_gap_m:
            return True
    return False


def floor_area(polygon: np.ndarray) -> float:
    """Area of a simple polygon [K, 2] (shoelace), square metres."""
    p = np.asarray(polygon, dtype=np.float64)
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)

