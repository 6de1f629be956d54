"""Room and furniture layout: ``sample_world`` draws a complete, valid ``World`` from a seeded generator.

Design:
  * Rooms are rectangles or L-shapes (a rectangle with one corner cut out), centred on the origin of the
    aligned frame (as axis-aligned ScanNet scenes are), with a 2.4-3 m ceiling, 1-2 doors and 0-3 windows.
  * A room type (ScanNet ``sceneType``) picks furniture *groups* the way real rooms arrange them: a bed with
    nightstands and lamps, a desk with its chair and monitor, a sofa facing a coffee table, a dining table
    with chairs, a TV on its stand, ... followed by single extras until the object count is reached.
  * Validity is checked on oriented footprints: every footprint lies inside the room, footprints never overlap
    (objects ``"on"`` others sit on the supporter's top instead), nothing blocks a door, and nothing taller
    than a window's sill stands in front of it. Since each object's parts stay inside its box, objects never
    interpenetrate.
  * ``axis_alignment`` is a random rotation about +Z and a shift, as in real scans (the raw frame is the
    scanner's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .catalogue import CATALOGUE, build_parts, sample_color, sample_size
from .world import Opening, Room, SceneObject, World

__all__ = [
    "ROOM_TYPES",
    "sample_world",
    "sample_room",
    "sample_axis_alignment",
    "free_space_mask",
    "distance_to_footprints",
    "distance_to_walls",
    "footprints_overlap",
]

# ScanNet sceneType strings, with the probability of each room type.
ROOM_TYPES: dict[str, float] = {
    "Bedroom / Hotel": 0.25,
    "Living room / Lounge": 0.25,
    "Office": 0.2,
    "Kitchen": 0.15,
    "Bathroom": 0.15,
}

_WALL_COLORS = [
    (222, 218, 208),
    (230, 226, 214),
    (206, 214, 222),
    (214, 222, 206),
    (236, 220, 206),
    (200, 200, 204),
]
_FLOORS = {
    "wood": [(150, 112, 76), (176, 136, 92), (120, 86, 58)],
    "tile": [(196, 196, 190), (170, 172, 176), (214, 206, 190)],
    "carpet": [(120, 120, 126), (140, 118, 100), (96, 110, 132)],
}

_GAP = 0.06  # minimum gap between two footprints, metres
_WALL_GAP = 0.02  # gap between an object's back and its wall
_DOOR_KEEP_OUT = 1.0  # free depth in front of a door, metres
_WINDOW_KEEP_OUT = 0.8


# --------------------------------------------------------------------------------------------- 2-D geometry
def _rect_corners(center_xy, size_xy, yaw) -> np.ndarray:
    """[4, 2] corners (counter-clockwise) of an oriented rectangle."""
    hx, hy = size_xy[0] / 2, size_xy[1] / 2
    local = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    c, s = math.cos(yaw), math.sin(yaw)
    return local @ np.array([[c, s], [-s, c]]) + np.asarray(center_xy, dtype=np.float64)


def footprints_overlap(a: np.ndarray, b: np.ndarray, gap: float = 0.0) -> bool:
    """Separating-axis test of two convex polygons [K, 2]: True when they overlap or are closer than ``gap``.

    ``gap`` is measured along the polygons' edge normals (exact for parallel rectangles, conservative
    otherwise).
    """
    for poly in (a, b):
        for i in range(len(poly)):
            e = poly[(i + 1) % len(poly)] - poly[i]
            n = np.array([-e[1], e[0]]) / (np.hypot(*e) + 1e-12)
            pa, pb = a @ n, b @ n
            if pa.max() + gap <= pb.min() or pb.max() + gap <= pa.min():
                return False
    return True


def _point_in_convex(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Strictly-inside test of points [N, 2] against a counter-clockwise convex polygon [K, 2]."""
    inside = np.ones(len(points), dtype=bool)
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        cross = (b[0] - a[0]) * (points[:, 1] - a[1]) - (b[1] - a[1]) * (points[:, 0] - a[0])
        inside &= cross > 1e-9
    return inside


def _rect_in_room(corners: np.ndarray, room: Room, margin: float = 0.0) -> bool:
    """True when an oriented rectangle lies inside the room polygon (with ``margin`` from every wall)."""
    if not np.all(room.contains(corners)):
        return False
    if np.any(_point_in_convex(np.asarray(room.polygon, dtype=np.float64), corners)):
        return False  # a reflex corner of an L-shaped room pokes into the rectangle
    if margin > 0 and np.min(distance_to_walls(room, corners)) < margin - 1e-9:
        return False
    return True


def distance_to_walls(room: Room, xy: np.ndarray) -> np.ndarray:
    """Distance (m) from points [..., 2] to the nearest wall segment."""
    p = np.asarray(xy, dtype=np.float64)
    best = np.full(p.shape[:-1], np.inf)
    for a, b in room.walls():
        ab = b - a
        t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
        d = np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)
        best = np.minimum(best, d)
    return best


def distance_to_footprints(objects, xy: np.ndarray) -> np.ndarray:
    """Distance (m) from points [..., 2] to the nearest object footprint (0 inside, inf without objects)."""
    p = np.asarray(xy, dtype=np.float64)
    best = np.full(p.shape[:-1], np.inf)
    for o in objects:
        c, s = math.cos(o.yaw), math.sin(o.yaw)
        d = p - np.asarray(o.center[:2])
        lx, ly = c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]
        ex = np.maximum(np.abs(lx) - o.size[0] / 2, 0.0)
        ey = np.maximum(np.abs(ly) - o.size[1] / 2, 0.0)
        best = np.minimum(best, np.hypot(ex, ey))
    return best


def free_space_mask(world: World, xy: np.ndarray, clearance: float = 0.2) -> np.ndarray:
    """Where an agent may stand: inside the room, at least ``clearance`` from every wall and object footprint.

    Args:
        world: the scene.
        xy: [..., 2] points in the aligned frame, metres.
        clearance: minimum distance to walls and footprints, metres (0 = merely outside the footprints).

    Returns:
        bool [...].
    """
    p = np.asarray(xy, dtype=np.float64)
    ok = world.room.contains(p) & (distance_to_walls(world.room, p) >= clearance)
    d = distance_to_footprints(world.objects, p)
    return ok & ((d >= clearance) & (d > 0) if clearance > 0 else d > 0)


# --------------------------------------------------------------------------------------------- room
def sample_room(rng: np.random.Generator, cfg, room_type: str) -> Room:
    """Draw a rectangular or L-shaped room, centred on the origin, with doors and windows."""
    lo, hi = cfg.room_size_m
    if room_type == "Bathroom":  # bathrooms are small
        hi = lo + 0.35 * (hi - lo)
    w, d = (round(float(v), 2) for v in rng.uniform(lo, hi, size=2))
    height = round(float(rng.uniform(*cfg.ceiling_height_m)), 2)
    x0, y0, x1, y1 = -w / 2, -d / 2, w / 2, d / 2
    poly = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if room_type != "Bathroom" and min(w, d) >= 4.4 and rng.random() < cfg.l_shape_prob:
        cw = round(float(rng.uniform(0.3, 0.45) * w), 2)
        cd = round(float(rng.uniform(0.3, 0.45) * d), 2)
        poly = np.array([[x0, y0], [x1, y0], [x1, y1 - cd], [x1 - cw, y1 - cd], [x1 - cw, y1], [x0, y1]])
        k = int(rng.integers(4))  # which corner is cut: rotate the outline by k * 90 deg
        rot = np.array([[0.0, -1.0], [1.0, 0.0]])
        for _ in range(k):
            poly = poly @ rot.T
        poly = poly - (poly.min(0) + poly.max(0)) / 2
    poly = np.round(poly, 6) + 0.0
    if room_type in ("Bathroom", "Kitchen"):
        floor_material = "tile"
    else:
        floor_material = ["wood", "wood", "carpet"][int(rng.integers(3))]
    floors = _FLOORS[floor_material]
    wall_rgb = _WALL_COLORS[int(rng.integers(len(_WALL_COLORS)))]
    floor_rgb = floors[int(rng.integers(len(floors)))]
    openings = _sample_openings(rng, Room(polygon=poly, height=height), room_type)
    return Room(
        polygon=poly,
        height=height,
        openings=openings,
        wall_rgb=wall_rgb,
        floor_rgb=floor_rgb,
        floor_material=floor_material,
    )


def _sample_openings(rng: np.random.Generator, room: Room, room_type: str) -> tuple[Opening, ...]:
    walls = room.walls()
    lengths = np.array([np.linalg.norm(b - a) for a, b in walls])
    taken: dict[int, list[tuple[float, float]]] = {i: [] for i in range(len(walls))}
    out: list[Opening] = []

    def place(kind: str, width: float, z0: float, z1: float) -> None:
        cands = [i for i in range(len(walls)) if lengths[i] >= width + 0.6]
        for _ in range(30):
            if not cands:
                return
            i = cands[int(rng.integers(len(cands)))]
            off = float(rng.uniform(width / 2 + 0.3, lengths[i] - width / 2 - 0.3))
            if all(abs(off - o) >= (width + w) / 2 + 0.3 for o, w in taken[i]):
                taken[i].append((off, width))
                out.append(Opening(kind, i, round(off, 3), round(width, 3), round(z0, 3), round(z1, 3)))
                return

    n_doors = 1 if room_type == "Bathroom" or rng.random() < 0.7 else 2
    for _ in range(n_doors):
        place(
            "door", float(rng.uniform(0.8, 0.95)), 0.0, float(min(rng.uniform(2.0, 2.1), room.height - 0.15))
        )
    n_win = int(rng.integers(0, 2)) if room_type == "Bathroom" else int(rng.integers(0, 4))
    for _ in range(n_win):
        z0 = float(rng.uniform(0.8, 1.0))
        z1 = float(min(rng.uniform(1.9, 2.2), room.height - 0.2))
        place("window", float(rng.uniform(0.7, 1.6)), z0, z1)
    return tuple(out)


def sample_axis_alignment(rng: np.random.Generator) -> np.ndarray:
    """A = rotation about +Z by a random yaw plus a shift (``p_aligned = A @ p_raw``), as in real scans.

    The shift puts the raw frame's origin a few metres away from the room (ScanNet's raw origin is where the
    scanner started), and a few centimetres off in z.
    """
    yaw = float(rng.uniform(-math.pi, math.pi))
    c, s = math.cos(yaw), math.sin(yaw)
    A = np.eye(4)
    A[:2, :2] = [[c, -s], [s, c]]
    A[:3, 3] = [rng.uniform(-6.0, -1.0), rng.uniform(-6.0, -1.0), rng.uniform(-0.15, 0.15)]
    return np.round(A, 6) + 0.0


# --------------------------------------------------------------------------------------------- placement
@dataclass
class _Placed:
    key: str
    center_xy: np.ndarray
    yaw: float
    size: tuple[float, float, float]
    z0: float
    wall: int | None
    corners: np.ndarray
    on: int | None = None  # index of the supporter


@dataclass
class _Layout:
    room: Room
    rng: np.random.Generator
    placed: list[_Placed] = field(default_factory=list)
    keep_out: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (rectangle, max allowed height)
    allowed: frozenset[str] | None = None  # catalogue keys that may be placed (None: all)

    def __post_init__(self) -> None:
        for op in self.room.openings:
            a, b = self.room.walls()[op.wall]
            e = (b - a) / np.linalg.norm(b - a)
            n = np.array([-e[1], e[0]])
            depth = _DOOR_KEEP_OUT if op.kind == "door" else _WINDOW_KEEP_OUT
            c = a + e * op.offset + n * depth / 2
            rect = _rect_corners(
                c, (depth, op.width + (0.2 if op.kind == "door" else 0.0)), math.atan2(n[1], n[0])
            )
            self.keep_out.append((rect, -1.0 if op.kind == "door" else op.z_min - 0.05))

    def valid(self, corners: np.ndarray, height: float, z0: float, wall_margin: float) -> bool:
        if z0 + height > self.room.height - 0.1:
            return False
        if not _rect_in_room(corners, self.room, wall_margin):
            return False
        for rect, max_h in self.keep_out:
            if z0 + height > max_h and footprints_overlap(corners, rect):
                return False
        return not any(p.on is None and footprints_overlap(corners, p.corners, _GAP) for p in self.placed)

    def add(self, key, center_xy, yaw, size, z0=0.0, wall=None, wall_margin=0.0, on=None) -> int | None:
        if self.allowed is not None and key not in self.allowed:
            return None
        corners = _rect_corners(center_xy, size[:2], yaw)
        if on is None and not self.valid(corners, size[2], z0, wall_margin):
            return None
        self.placed.append(
            _Placed(key, np.asarray(center_xy, dtype=np.float64), float(yaw), size, z0, wall, corners, on)
        )
        return len(self.placed) - 1

    # ---- placement strategies
    def against_wall(self, key: str, size=None, corner: bool = False, tries: int = 40) -> int | None:
        """Back against a wall, front facing into the room."""
        rng = self.rng
        size = size or sample_size(key, rng)
        walls = self.room.walls()
        sx, sy, sz = size
        e_cat = CATALOGUE[key]
        for _ in range(tries):
            i = int(rng.integers(len(walls)))
            a, b = walls[i]
            length = float(np.linalg.norm(b - a))
            if length < sy + 0.1:
                continue
            e = (b - a) / length
            n = np.array([-e[1], e[0]])  # inward normal (polygon is counter-clockwise)
            if corner:
                s = sy / 2 + 0.03 if rng.random() < 0.5 else length - sy / 2 - 0.03
            else:
                s = float(rng.uniform(sy / 2 + 0.03, length - sy / 2 - 0.03))
            center = a + e * s + n * (sx / 2 + _WALL_GAP)
            z0 = float(rng.uniform(*e_cat.mount_z)) if e_cat.placement == "mounted" else 0.0
            idx = self.add(key, center, math.atan2(n[1], n[0]), size, z0=z0, wall=i)
            if idx is not None:
                return idx
        return None

    def free(self, key: str, size=None, wall_margin: float = 0.5, tries: int = 40) -> int | None:
        """Anywhere in the room, roughly aligned with the walls, away from the walls."""
        rng = self.rng
        size = size or sample_size(key, rng)
        lo, hi = np.asarray(self.room.polygon).min(0), np.asarray(self.room.polygon).max(0)
        for _ in range(tries):
            c = rng.uniform(lo, hi)
            yaw = float(rng.integers(4)) * math.pi / 2 + float(rng.normal(0.0, 0.05))
            idx = self.add(key, c, yaw, size, wall_margin=wall_margin)
            if idx is not None:
                return idx
        return None

    def facing(
        self,
        key: str,
        target: int,
        offset_local: tuple[float, float],
        size=None,
        look_at_local: tuple[float, float] = (0.0, 0.0),
    ) -> int | None:
        """Place ``key`` at ``offset_local`` (target's local frame, from its centre), facing a point.

        The object's front points towards ``look_at_local`` (target's local frame; default its centre).
        """
        t = self.placed[target]
        size = size or sample_size(key, self.rng)
        c, s = math.cos(t.yaw), math.sin(t.yaw)
        rot = np.array([[c, -s], [s, c]])
        center = t.center_xy + rot @ np.asarray(offset_local, dtype=np.float64)
        to_target = t.center_xy + rot @ np.asarray(look_at_local, dtype=np.float64) - center
        yaw = math.atan2(to_target[1], to_target[0])
        return self.add(key, center, yaw, size)

    def on_top(self, key: str, support: int, back: bool = False) -> int | None:
        """On the supporter's top surface (same orientation), centred or pushed to its back edge."""
        sup = self.placed[support]
        size = sample_size(key, self.rng)
        if size[0] > sup.size[0] - 0.04 or size[1] > sup.size[1] - 0.04:
            return None
        top = sup.z0 + sup.size[2]
        if top + size[2] > self.room.height - 0.1:
            return None
        ox = -(sup.size[0] / 2 - size[0] / 2 - 0.04) if back else 0.0
        c, s = math.cos(sup.yaw), math.sin(sup.yaw)
        center = sup.center_xy + np.array([c * ox, s * ox])
        return self.add(key, center, sup.yaw, size, z0=top, on=support)

    def beside(self, key: str, anchor: int, side: int, size=None) -> int | None:
        """Next to ``anchor`` along its local y axis (``side`` = +1 / -1), backs flush on the same wall."""
        a = self.placed[anchor]
        size = size or sample_size(key, self.rng)
        c, s = math.cos(a.yaw), math.sin(a.yaw)
        oy = side * (a.size[1] / 2 + 0.08 + size[1] / 2)
        ox = -a.size[0] / 2 + size[0] / 2  # align the backs
        center = a.center_xy + np.array([c * ox - s * oy, s * ox + c * oy])
        return self.add(key, center, a.yaw, size, wall=a.wall)


# --------------------------------------------------------------------------------------------- groups
def _bed_group(L: _Layout) -> None:
    bed = L.against_wall("bed")
    if bed is None:
        return
    for side in (1, -1):
        if L.rng.random() < 0.8:
            ns = L.beside("nightstand", bed, side)
            if ns is not None and L.rng.random() < 0.6:
                L.on_top("table lamp", ns)


def _desk_group(L: _Layout, chair: str, top: str | None) -> None:
    desk = L.against_wall("desk")
    if desk is None:
        return
    d = L.placed[desk]
    size = sample_size(chair, L.rng)
    L.facing(chair, desk, (d.size[0] / 2 + 0.12 + size[0] / 2, float(L.rng.uniform(-0.2, 0.2))), size=size)
    if top is not None:
        L.on_top(top, desk, back=True)


def _sofa_group(L: _Layout) -> None:
    sofa = L.against_wall("sofa")
    if sofa is None:
        return
    s = L.placed[sofa]
    ct_size = sample_size("coffee table", L.rng)
    ct = L.facing("coffee table", sofa, (s.size[0] / 2 + 0.4 + ct_size[0] / 2, 0.0), size=ct_size)
    if ct is None:
        return
    c = L.placed[ct]
    for side in (1, -1):
        if L.rng.random() < 0.4:
            a_size = sample_size("armchair", L.rng)
            L.facing("armchair", ct, (0.0, side * (c.size[1] / 2 + 0.35 + a_size[0] / 2)), size=a_size)


def _dining_group(L: _Layout, n_max: int = 4) -> None:
    key = "round table" if L.rng.random() < 0.3 else "table"
    table = L.free(key, wall_margin=0.8)
    if table is None:
        return
    t = L.placed[table]
    slots = [(t.size[0] / 2, 0.0), (-t.size[0] / 2, 0.0)]
    if t.size[1] > 1.3 and key == "table":
        slots += [(x, s * t.size[1] / 2) for x in (-0.22, 0.22) for s in (1, -1)]
    else:
        slots += [(0.0, t.size[1] / 2), (0.0, -t.size[1] / 2)]
    order = L.rng.permutation(len(slots))
    n = int(L.rng.integers(2, n_max + 1))
    for k in order[:n]:
        sx, sy = slots[k]
        size = sample_size("chair", L.rng)
        norm = math.hypot(sx, sy) if abs(sx) < 1e-9 or abs(sy) < 1e-9 else None
        if norm is None:  # side chairs at x = +-0.22: push out along y only, face the table's side
            L.facing(
                "chair",
                table,
                (sx, sy + math.copysign(0.1 + size[0] / 2, sy)),
                size=size,
                look_at_local=(sx, 0.0),
            )
        else:
            ux, uy = sx / norm, sy / norm
            L.facing(
                "chair", table, (sx + ux * (0.1 + size[0] / 2), sy + uy * (0.1 + size[0] / 2)), size=size
            )


def _tv_group(L: _Layout) -> None:
    stand = L.against_wall("tv stand")
    if stand is not None:
        L.on_top("tv", stand)


def _single(key: str):
    def run(L: _Layout) -> None:
        placement = CATALOGUE[key].placement
        if placement in ("wall", "mounted"):
            L.against_wall(key)
        elif placement == "corner":
            L.against_wall(key, corner=True)
        else:
            L.free(key)

    return run


def _dresser_group(L: _Layout) -> None:
    dresser = L.against_wall("dresser")
    if dresser is not None and L.rng.random() < 0.4:
        L.on_top("tv", dresser)


# (group, probability) per room type; then extras fill up to the drawn object count.
_TEMPLATES = {
    "Bedroom / Hotel": [
        (_bed_group, 1.0),
        (_single("wardrobe"), 0.6),
        (_dresser_group, 0.5),
        (lambda L: _desk_group(L, "chair", "table lamp"), 0.5),
        (_single("armchair"), 0.25),
        (_single("plant"), 0.4),
        (_single("trash can"), 0.5),
        (_single("floor lamp"), 0.3),
    ],
    "Living room / Lounge": [
        (_sofa_group, 1.0),
        (_tv_group, 0.8),
        (_single("bookshelf"), 0.5),
        (_single("plant"), 0.6),
        (_single("floor lamp"), 0.5),
        (_dining_group, 0.4),
        (_single("cabinet"), 0.4),
        (_single("ottoman"), 0.3),
    ],
    "Office": [
        (lambda L: _desk_group(L, "office chair", "monitor"), 1.0),
        (lambda L: _desk_group(L, "office chair", "monitor"), 0.7),
        (lambda L: _desk_group(L, "office chair", "monitor"), 0.4),
        (_single("bookshelf"), 0.6),
        (_single("cabinet"), 0.6),
        (_single("whiteboard"), 0.5),
        (_dining_group, 0.4),
        (_single("plant"), 0.5),
        (_single("trash can"), 0.7),
    ],
    "Kitchen": [
        (_single("kitchen counter"), 1.0),
        (_single("refrigerator"), 0.9),
        (_single("stove"), 0.8),
        (_single("kitchen counter"), 0.5),
        (_single("sink"), 0.6),
        (_dining_group, 0.7),
        (_single("trash can"), 0.8),
        (_single("cabinet"), 0.5),
    ],
    "Bathroom": [
        (_single("toilet"), 1.0),
        (_single("sink"), 1.0),
        (_single("bathtub"), 0.8),
        (_single("trash can"), 0.8),
        (_single("cabinet"), 0.6),
    ],
}

_EXTRAS = {
    "Bedroom / Hotel": [
        "plant",
        "trash can",
        "bookshelf",
        "cabinet",
        "ottoman",
        "floor lamp",
        "chair",
        "armchair",
    ],
    "Living room / Lounge": [
        "plant",
        "armchair",
        "ottoman",
        "floor lamp",
        "bookshelf",
        "trash can",
        "chair",
        "cabinet",
    ],
    "Office": ["plant", "trash can", "bookshelf", "cabinet", "chair", "floor lamp", "refrigerator", "sofa"],
    "Kitchen": ["plant", "trash can", "cabinet", "chair", "bookshelf"],
    "Bathroom": ["trash can", "plant", "cabinet"],
}


def _materialize(L: _Layout) -> tuple[SceneObject, ...]:
    objs = []
    for i, p in enumerate(L.placed):
        name, rgb = sample_color(p.key, L.rng)
        parts = build_parts(p.key, p.size, rgb, L.rng)
        center = (
            round(float(p.center_xy[0]), 4),
            round(float(p.center_xy[1]), 4),
            round(p.z0 + p.size[2] / 2, 4),
        )
        objs.append(
            SceneObject(
                object_id=i,
                category=CATALOGUE[p.key].label,
                color_name=name,
                center=center,
                size=tuple(float(v) for v in p.size),
                yaw=float(p.yaw),
                parts=parts,
                against_wall=p.wall,
            )
        )
    return tuple(objs)


def sample_world(rng: np.random.Generator, scene_id: str, cfg=None) -> World:
    """Draw a complete scene: room, furniture and the raw frame's axis alignment.

    Deterministic for a given generator state. Retries with a fresh room when the drawn furniture cannot reach
    the minimum object count.

    Args:
        rng: random generator (e.g. ``SynthConfig.rng(i, 0)``).
        scene_id: ScanNet-style id, e.g. ``scene9000_00``.
        cfg: a ``SynthConfig`` (its ``room_size_m``, ``ceiling_height_m``, ``num_objects``, ``l_shape_prob``,
            ``object_categories``); ``None`` uses the defaults.

    Returns:
        A ``World`` whose objects are numbered 0..n-1 in placement order.

    Raises:
        ValueError: 50 rooms in a row could not hold ``cfg.num_objects[0]`` objects (settings too tight).
    """
    if cfg is None:
        from .config import SynthConfig

        cfg = SynthConfig()
    types = list(ROOM_TYPES)
    probs = np.array([ROOM_TYPES[t] for t in types])
    n_min, n_max = cfg.num_objects
    allowed = frozenset(cfg.object_categories) if cfg.object_categories else None
    for _attempt in range(50):
        room_type = types[int(rng.choice(len(types), p=probs / probs.sum()))]
        room = sample_room(rng, cfg, room_type)
        area = _polygon_area(np.asarray(room.polygon))
        cap = max(n_min, min(n_max, int(area / 1.6)))
        target = int(rng.integers(n_min, cap + 1))
        L = _Layout(room, rng, allowed=allowed)
        for group, p in _TEMPLATES[room_type]:
            if len(L.placed) >= target:
                break
            if rng.random() < p:
                group(L)
        extras = [k for k in _EXTRAS[room_type] if allowed is None or k in allowed]
        for _ in range(60):
            if allowed is not None:  # a restricted world: extras add categories the room lacks, no repeats
                extras = [k for k in extras if all(p.key != k for p in L.placed)]
            if len(L.placed) >= target or not extras:
                break
            _single(extras[int(rng.integers(len(extras)))])(L)
        del L.placed[n_max:]
        if len(L.placed) >= n_min and all(p.on is None or p.on < len(L.placed) for p in L.placed):
            return World(
                scene_id=scene_id,
                room=room,
                objects=_materialize(L),
                axis_alignment=sample_axis_alignment(rng),
                scene_type=room_type,
            )
    raise ValueError(
        f"{scene_id}: could not place {n_min} objects in 50 rooms; lower num_objects or enlarge rooms"
    )


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
