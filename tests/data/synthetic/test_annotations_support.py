"""Shared helpers for the annotation tests: hand-built worlds and an *independent* geometry implementation.

Nothing here calls the predicates of ``loc3r.data.synthetic.annotations``: rectangles, distances, bearings
and the SQA3D pose convention are re-implemented from their definitions (scipy for quaternions,
numpy.linalg.inv for the axis alignment) so that the tests compare two implementations.

(Collected by pytest but holds no tests; imported as ``S`` by the ``test_annotations_*`` modules.)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from loc3r.data.synthetic.world import Opening, Room, SceneObject, World

OPENING_DEPTH = 0.1  # thickness the annotation module gives doors/windows (documented convention)


# --------------------------------------------------------------------------------------------- worlds
def _obj(i, cat, color, xy, size, yaw, wall=None, z0=0.0):
    return SceneObject(object_id=i, category=cat, color_name=color, center=(xy[0], xy[1], z0 + size[2] / 2),
                       size=size, yaw=yaw, against_wall=wall)


def _alignment(yaw_deg: float, t: tuple[float, float, float]) -> np.ndarray:
    A = np.eye(4)
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    A[:2, :2] = [[c, -s], [s, c]]
    A[:3, 3] = t
    return A


def bedroom_world(scene_id: str = "scene9100_00", align_yaw_deg: float = 27.0, jitter: float = 0.0,
                  seed: int = 0) -> World:
    """A 6 x 4.5 m bedroom/office: bed, nightstand + lamp, desk + monitor, two chairs, wardrobe, sofa, trash
    can, a window above the desk and a door. ``jitter`` moves the free-standing objects randomly (metres)."""
    r = np.random.default_rng(seed)

    def j(xy):
        return (xy[0] + float(r.uniform(-jitter, jitter)), xy[1] + float(r.uniform(-jitter, jitter)))

    h = math.pi / 2
    objects = [
        _obj(0, "bed", "blue", (1.0, 2.8), (2.0, 1.4, 1.0), 0.0, wall=3),
        _obj(1, "nightstand", "brown", (0.2, 3.85), (0.4, 0.45, 0.55), 0.0, wall=3),
        _obj(2, "desk", "white", (3.0, 0.35), (0.7, 1.3, 0.75), h, wall=0),
        _obj(3, "chair", "red", (3.0, 1.0), (0.5, 0.45, 0.9), -h),
        _obj(4, "chair", "green", j((4.6, 2.4)), (0.5, 0.45, 0.9), math.pi + float(r.uniform(-0.5, 0.5))),
        _obj(5, "wardrobe", "brown", (5.7, 3.6), (0.6, 1.2, 2.0), math.pi, wall=1),
        _obj(6, "trash can", "gray", (5.8, 0.2), (0.3, 0.3, 0.5), h, wall=0),
        _obj(7, "lamp", "yellow", (0.2, 3.85), (0.25, 0.25, 0.45), 0.0, z0=0.55),
        _obj(8, "monitor", "black", (3.0, 0.2), (0.2, 0.55, 0.45), h, z0=0.75),
        _obj(9, "sofa", "gray", (5.55, 1.6), (0.9, 1.8, 0.8), math.pi, wall=1),
        _obj(10, "plant", "green", j((2.4, 4.2)), (0.4, 0.4, 1.0), 0.0),
    ]
    polygon = np.array([[0.0, 0.0], [6.0, 0.0], [6.0, 4.5], [0.0, 4.5]])
    openings = (Opening("window", 0, 3.0, 1.2, 0.9, 2.0), Opening("door", 2, 2.6, 0.9, 0.0, 2.1))
    room = Room(polygon=polygon, height=2.8, openings=openings)
    return World(scene_id=scene_id, room=room, objects=tuple(objects),
                 axis_alignment=_alignment(align_yaw_deg, (-2.9, -2.1, 0.04)), scene_type="Bedroom / Hotel")


def living_world(scene_id: str = "scene9101_00") -> World:
    """An L-shaped living room: sofa, armchair, coffee table, tv on its stand, bookshelf, dining table."""
    h = math.pi / 2
    polygon = np.array([[0.0, 0.0], [7.0, 0.0], [7.0, 3.0], [4.0, 3.0], [4.0, 5.0], [0.0, 5.0]])
    objects = [
        _obj(0, "sofa", "red", (0.45, 2.5), (0.9, 2.0, 0.8), 0.0, wall=5),
        _obj(1, "coffee table", "brown", (1.8, 2.5), (0.6, 1.1, 0.45), 0.0),
        _obj(2, "tv stand", "black", (3.75, 2.5), (0.45, 1.4, 0.5), math.pi, wall=3),
        _obj(3, "tv", "black", (3.8, 2.5), (0.2, 1.1, 0.7), math.pi, z0=0.5),
        _obj(4, "armchair", "blue", (1.5, 4.3), (0.85, 0.85, 0.85), -h),
        _obj(5, "bookshelf", "white", (0.2, 0.9), (0.35, 1.0, 1.9), 0.0, wall=5),
        _obj(6, "table", "white", (5.5, 1.5), (0.9, 1.4, 0.75), 0.0),
        _obj(7, "chair", "black", (4.75, 1.5), (0.5, 0.45, 0.9), 0.0),
        _obj(8, "chair", "white", (6.25, 1.5), (0.5, 0.45, 0.9), math.pi),
        _obj(9, "chair", "black", (5.5, 0.6), (0.5, 0.45, 0.9), h),
        _obj(10, "lamp", "white", (3.75, 4.75), (0.35, 0.35, 1.6), 0.0),
    ]
    openings = (Opening("window", 0, 5.5, 1.4, 0.9, 2.1), Opening("door", 4, 2.0, 0.9, 0.0, 2.1),
                Opening("window", 5, 2.5, 1.0, 1.0, 2.0))
    room = Room(polygon=polygon, height=2.7, openings=openings)
    return World(scene_id=scene_id, room=room, objects=tuple(objects),
                 axis_alignment=_alignment(-61.0, (1.3, -4.0, 0.0)), scene_type="Living room / Lounge")


def raw_center(world: World) -> np.ndarray:
    """A stand-in for the raw mesh bbox centre: bbox of the room's floor/ceiling corners in the raw frame."""
    poly = np.asarray(world.room.polygon)
    floor = np.c_[poly, np.zeros(len(poly))]
    pts = np.concatenate([floor, floor + [0.0, 0.0, world.room.height]])
    A_inv = np.linalg.inv(world.axis_alignment)
    raw = pts @ A_inv[:3, :3].T + A_inv[:3, 3]
    return (raw.min(0) + raw.max(0)) / 2


# --------------------------------------------------------------------------------------------- independent
# geometry
@dataclass
class Rect:
    """An entity as the tests see it: oriented rectangle (aligned frame) + vertical extent."""

    eid: int
    category: str
    color: str | None
    kind: str
    cx: float
    cy: float
    hx: float  # half extent along the front axis
    hy: float
    yaw: float  # front heading
    z0: float
    z1: float
    wall: int | None

    @property
    def c(self) -> np.ndarray:
        return np.array([self.cx, self.cy])

    def local(self, p):
        d = np.asarray(p, float)[..., :2] - self.c
        cs, sn = math.cos(self.yaw), math.sin(self.yaw)
        return np.stack([d[..., 0] * cs + d[..., 1] * sn, -d[..., 0] * sn + d[..., 1] * cs], -1)

    def dist(self, p) -> np.ndarray:
        """Point(s)-to-rectangle horizontal distance (0 inside)."""
        q = np.abs(self.local(p))
        return np.hypot(np.maximum(q[..., 0] - self.hx, 0), np.maximum(q[..., 1] - self.hy, 0))

    def boundary(self, step=0.005) -> np.ndarray:
        cs, sn = math.cos(self.yaw), math.sin(self.yaw)
        pts = []
        corners = [(1, 1), (-1, 1), (-1, -1), (1, -1)]
        for k in range(4):
            a = np.array([corners[k][0] * self.hx, corners[k][1] * self.hy])
            b = np.array([corners[(k + 1) % 4][0] * self.hx, corners[(k + 1) % 4][1] * self.hy])
            n = max(2, int(np.linalg.norm(b - a) / step) + 1)
            pts.append(a + np.linspace(0, 1, n)[:, None] * (b - a))
        loc = np.concatenate(pts)
        return np.stack([loc[:, 0] * cs - loc[:, 1] * sn, loc[:, 0] * sn + loc[:, 1] * cs], -1) + self.c


def rects(world: World) -> list[Rect]:
    out = []
    for o in world.objects:
        out.append(Rect(o.object_id, o.category, o.color_name, "object", o.center[0], o.center[1],
                        o.size[0] / 2, o.size[1] / 2, o.yaw, o.center[2] - o.size[2] / 2,
                        o.center[2] + o.size[2] / 2, o.against_wall))
    poly = np.asarray(world.room.polygon, float)
    for k, op in enumerate(world.room.openings):
        a, b = poly[op.wall], poly[(op.wall + 1) % len(poly)]
        u = (b - a) / np.linalg.norm(b - a)
        c = a + u * op.offset
        inward = np.array([-u[1], u[0]])  # CCW polygons: interior on the left of each wall
        out.append(Rect(len(world.objects) + k, op.kind, None, op.kind, c[0], c[1], OPENING_DEPTH / 2,
                        op.width / 2, math.atan2(inward[1], inward[0]), op.z_min, op.z_max, op.wall))
    return out


def rect_gap(a: Rect, b: Rect) -> float:
    """Horizontal distance between two rectangles (sampled boundaries, <= 3 mm error)."""
    return float(min(b.dist(a.boundary()).min(), a.dist(b.boundary()).min()))


def box_gap(a: Rect, b: Rect) -> float:
    dz = max(0.0, a.z0 - b.z1, b.z0 - a.z1)
    return math.hypot(rect_gap(a, b), dz)


def ang(v1, v2) -> float:
    """Unsigned angle between two 2-D vectors, degrees."""
    v1, v2 = np.asarray(v1, float), np.asarray(v2, float)
    c = float(v1 @ v2) / (np.linalg.norm(v1) * np.linalg.norm(v2))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def signed_bearing_deg(forward, v) -> float:
    """Signed angle from ``forward`` to ``v`` (counter-clockwise positive), degrees in (-180, 180]."""
    cross = forward[0] * v[1] - forward[1] * v[0]
    return math.degrees(math.atan2(cross, forward[0] * v[0] + forward[1] * v[1]))


def names(rs: list[Rect]) -> dict[int, str]:
    """Unambiguous names: the category if unique, else '<colour> <category>' if that colour is unique."""
    out = {}
    for r in rs:
        same = [s for s in rs if s.category == r.category]
        if len(same) == 1:
            out[r.eid] = r.category
        elif r.color and sum(s.color == r.color for s in same) == 1:
            out[r.eid] = f"{r.color} {r.category}"
    return out


class SqaFrame:
    """Maps aligned-frame geometry into the SQA3D frame of a scene (independently of loc3r.geometry)."""

    def __init__(self, world: World, center_raw: np.ndarray):
        self.A_inv = np.linalg.inv(np.asarray(world.axis_alignment, float))
        self.c = np.asarray(center_raw, float)

    def point(self, xy_aligned) -> np.ndarray:
        p = np.array([xy_aligned[0], xy_aligned[1], 0.0])
        raw = self.A_inv[:3, :3] @ p + self.A_inv[:3, 3]
        return raw[:2] - self.c[:2]

    def rect(self, r: Rect) -> Rect:
        c = self.point(r.c)
        yaw_raw = r.yaw + math.atan2(self.A_inv[1, 0], self.A_inv[0, 0])
        return Rect(r.eid, r.category, r.color, r.kind, c[0], c[1], r.hx, r.hy, yaw_raw, r.z0, r.z1, r.wall)


def sqa_pose(annotation: dict) -> tuple[np.ndarray, np.ndarray]:
    """(position [2], forward [2]) from a stored SQA3D pose, with forward = R(q) (-1, 0, 0)."""
    rot = annotation["rotation"]
    q = [rot["_x"], rot["_y"], rot["_z"], rot["_w"]]
    fwd = Rotation.from_quat(q).apply([-1.0, 0.0, 0.0])
    pos = annotation["position"]
    return np.array([pos["x"], pos["y"]]), fwd[:2] / np.linalg.norm(fwd[:2])


def np_regex(nm: dict[int, str]) -> str:
    """Regex alternation of 'the <name>' for all names, longest first."""
    alts = sorted(set(nm.values()), key=len, reverse=True)
    return "the (?:" + "|".join(re.escape(a) for a in alts) + ")"


def name_to_rect(nm: dict[int, str], rs: list[Rect], phrase: str) -> Rect:
    name = phrase[len("the "):] if phrase.startswith("the ") else phrase
    ids = [i for i, n in nm.items() if n == name]
    assert len(ids) == 1, f"{phrase!r} does not name exactly one entity"
    return next(r for r in rs if r.eid == ids[0])


WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def plural(cat: str) -> str:
    head, _, last = cat.rpartition(" ")
    irregular = {"shelf": "shelves", "bookshelf": "bookshelves"}
    if last in irregular:
        p = irregular[last]
    elif last.endswith(("s", "x", "ch", "sh")):
        p = last + "es"
    else:
        p = last + "s"
    return f"{head} {p}" if head else p


def load_support():  # pragma: no cover - trivial
    """This module (for symmetry with the loader used by the test modules)."""
    import sys

    return sys.modules[__name__]


# --------------------------------------------------------------------------------------------- phrase tables
# The meaning of every phrase the generator may use, written down independently of its templates.
SIDE_PHRASES = {
    "left": ["on my left side", "on my left", "to my left", "at my left hand side"],
    "right": ["on my right side", "on my right", "to my right", "at my right hand side"],
    "front": ["in front of me", "ahead of me"],
    "behind": ["behind me", "at my back"],
}
ACTIVITIES = {
    "exit the room": "door", "open the window": "window", "lie down on the bed": "bed",
    "wash my hands": "sink", "turn on the tv": "tv", "get a cold drink from the refrigerator": "refrigerator",
    "use the toilet": "toilet", "get a book from the bookshelf": "bookshelf",
}
SIT_VERBS = ["sitting on the edge of", "sit on the side of", "have just sat down on", "sitting on",
             "seated on", "sit on", "relaxing on", "relaxing in", "sitting in"]
FRONT_VERBS = ["standing just in front of", "standing in front of", "stand in front of", "looking out of",
               "about to open", "washing my hands at", "opening", "picking a book from", "writing on",
               "cooking at", "preparing food at"]
BETWEEN_VERBS = ["standing in the space between", "standing between", "in between", "stand between"]
NUMBERS = {w: i for i, w in enumerate(WORDS)}


def _fact_patterns(NP: str) -> dict[str, list[str]]:
    X = f"(?P<x>{NP})"
    return {
        "facing": [rf"facing {X}", rf"looking at {X}", rf"looking towards {X}", rf"with {X} in front of me",
                   rf"with {X} ahead of me", rf"{X} is in front of me", rf"{X} is straight ahead of me"],
        "clock_facing": [rf"with {X} in my twelve o'clock direction",
                         rf"{X} is in my twelve o'clock direction"],
        "left": [rf"with {X} (?:on|to) my left(?: side)?", rf"with {X} at my left hand side",
                 rf"{X} is (?:on|to) my left(?: side)?", rf"{X} is at my left hand side"],
        "clock_left": [rf"with {X} in my nine o'clock direction", rf"{X} is in my nine o'clock direction"],
        "right": [rf"with {X} (?:on|to) my right(?: side)?", rf"with {X} at my right hand side",
                  rf"{X} is (?:on|to) my right(?: side)?", rf"{X} is at my right hand side"],
        "clock_right": [rf"with {X} in my three o'clock direction", rf"{X} is in my three o'clock direction"],
        "behind": [rf"with {X} behind me", rf"with {X} at my back", rf"with my back to {X}",
                   rf"my back is to {X}", rf"{X} is behind me", rf"{X} is at my back"],
        "clock_behind": [rf"with {X} in my six o'clock direction", rf"{X} is in my six o'clock direction"],
        "distance": [rf"about (?P<n>\w+) meters? in front of me there is {X}",
                     rf"{X} is about (?P<n>\w+) meters? in front of me",
                     rf"{X} is roughly (?P<n>\w+) meters? ahead of me"],
    }


def parse_situation(text: str, nm: dict[int, str]) -> dict:
    """Anchor and facts of a situation text; asserts that nothing in the text is left unparsed."""
    NP = np_regex(nm)
    t = text.lower().rstrip(".")
    NPl = NP.lower()
    found: dict = {"anchor": None, "anchor_np": [], "facts": []}
    spans = []
    anchors = [("sit_on", SIT_VERBS, False), ("in_front_of", FRONT_VERBS, False),
               ("between", BETWEEN_VERBS, True)]
    for kind, verbs, two in anchors:
        alt = "|".join(re.escape(v) for v in verbs)
        if two:
            pat = rf"(?:{alt}) (?P<a>{NPl}) and (?P<b>{NPl})"
        else:
            pat = rf"(?:{alt}) (?P<a>{NPl})(?: watching it)?"
        for mt in re.finditer(pat, t):
            assert found["anchor"] is None, f"two position anchors in {text!r}"
            found["anchor"] = kind
            found["anchor_np"] = [mt.group("a")] + ([mt.group("b")] if two else [])
            spans.append(mt.span())
    assert found["anchor"] is not None, f"no position anchor in {text!r}"
    masked = t
    for a, b in spans:
        masked = masked[:a] + " " * (b - a) + masked[b:]
    for rel, pats in _fact_patterns(NPl).items():
        for pat in pats:
            for mt in re.finditer(pat, masked):
                n = mt.groupdict().get("n")
                found["facts"].append((rel, mt.group("x"), None if n is None else (NUMBERS.get(n) or int(n))))
                a, b = mt.span()
                masked = masked[:a] + " " * (b - a) + masked[b:]
    leftover = set(re.sub(r"[^a-z' ]", " ", masked).split())
    assert leftover <= {"i", "am", "and", "while"}, f"unparsed words {sorted(leftover)} in {text!r}"
    return found


# --------------------------------------------------------------------------------------------- checks
@dataclass
class SceneCheck:
    """A world with its independent geometry, in the aligned and the SQA3D frame."""

    world: World
    center: np.ndarray

    def __post_init__(self):
        self.rs = rects(self.world)
        self.nm = names(self.rs)
        self.frame = SqaFrame(self.world, self.center)
        self.rs_sqa = [self.frame.rect(r) for r in self.rs]
        self.by_id = {r.eid: r for r in self.rs}

    def sqa_rect(self, phrase: str) -> Rect:
        return self.frame.rect(name_to_rect(self.nm, self.rs, phrase))


def check_situation_text(sc: SceneCheck, text: str, ann: dict, stats: dict | None = None) -> dict:
    """Every phrase of a situation text agrees with the stored SQA3D pose (forward R(q)(-1,0,0), left +90)."""
    p, f = sqa_pose(ann)
    left = np.array([-f[1], f[0]])
    parsed = parse_situation(text, sc.nm)
    anchors = [sc.sqa_rect(a) for a in parsed["anchor_np"]]
    if parsed["anchor"] == "sit_on":
        assert anchors[0].dist(p) < 1e-6, f"{text!r}: not inside the {anchors[0].category}"
    elif parsed["anchor"] == "in_front_of":
        a = anchors[0]
        assert 0.25 <= float(a.dist(p)) <= 0.75, f"{text!r}: {float(a.dist(p)):.2f} m from the {a.category}"
        assert ang(f, a.c - p) < 20, f"{text!r}: not facing the {a.category}"
        front = np.array([math.cos(a.yaw), math.sin(a.yaw)])
        assert float((p - a.c) @ front) > a.hx, f"{text!r}: not on the front side of the {a.category}"
    else:
        a, b = anchors
        assert ang(a.c - p, b.c - p) > 130, f"{text!r}: not between"
        assert np.linalg.norm(p - (a.c + b.c) / 2) < 0.6, f"{text!r}: far from the middle"
    for rel, phrase, n in parsed["facts"]:
        x = sc.sqa_rect(phrase)
        v = x.c - p
        if rel in ("facing", "clock_facing"):
            got = ang(f, v)
        elif rel in ("left", "clock_left"):
            got = ang(left, v)
        elif rel in ("right", "clock_right"):
            got = ang(-left, v)
        elif rel in ("behind", "clock_behind"):
            got = ang(-f, v)
        else:
            got = ang(f, v)
            d = float(x.dist(p))
            assert abs(d - n) <= 0.25, f"{text!r}: {x.category} is {d:.2f} m away"
        limit = 20 if rel.startswith("clock") or rel in ("facing", "distance") else 40
        assert got < limit, f"{text!r}: {rel} {phrase} is off by {got:.1f} deg"
        if stats is not None:
            stats[rel] = stats.get(rel, 0) + 1
    return parsed


def _half(side: str, b: float) -> bool:
    return {"left": b > 0, "right": b < 0, "front": abs(b) < 90, "behind": abs(b) > 90}[side]


def _side_of(phrase: str) -> str:
    for side, phrases in SIDE_PHRASES.items():
        if phrase in phrases:
            return side
    raise AssertionError(f"unknown side phrase {phrase!r}")


def sqa_answer(sc: SceneCheck, question: str, ann: dict) -> str:
    """Re-derive an SQA3D answer from the stored pose and the geometry (raises if the question is unknown)."""
    p, f = sqa_pose(ann)
    ents = [r for r in sc.rs_sqa if float(r.dist(p)) > 0]  # the seat I am on is not "around" me
    bearing = {r.eid: signed_bearing_deg(f, r.c - p) for r in ents}
    NP = np_regex(sc.nm)
    sides = "|".join(re.escape(s) for v in SIDE_PHRASES.values() for s in v)
    cat_by_plural = {plural(r.category): r.category for r in sc.rs}
    q = question

    what_starts = ("What is directly", "What is the closest object", "What object is", "What is the nearest")
    if q.startswith(what_starts):
        side = ("left" if "left" in q else "right" if "right" in q else
                "behind" if ("behind" in q or "back" in q) else "front")
        members = [r for r in ents if _half(side, bearing[r.eid]) and float(r.dist(p)) <= 4.0]
        near = min(members, key=lambda r: float(r.dist(p)))
        centre = {"front": 0, "left": 90, "right": -90, "behind": 180}[side]
        assert abs((bearing[near.eid] - centre + 180) % 360 - 180) < 45, f"{q}: nearest not in the sector"
        return near.category
    m = re.fullmatch(rf"(?:How many (?P<a>[a-z ]+?) (?:are|can I find)|"
                     rf"What is the number of (?P<b>[a-z ]+?)) (?P<side>{sides})\?", q)
    if m:
        cat = cat_by_plural[m.group("a") or m.group("b")]
        side = _side_of(m.group("side"))
        return WORDS[sum(1 for r in ents if r.category == cat and _half(side, bearing[r.eid]))]
    m = re.fullmatch(rf"What (?:color is|is the color of) the (?P<cat>[a-z ]+?) (?P<side>{sides})\?", q)
    if m:
        side = _side_of(m.group("side"))
        hits = [r for r in ents if r.category == m.group("cat") and _half(side, bearing[r.eid])]
        assert len(hits) == 1, q
        return hits[0].color
    m = re.fullmatch(rf"(?:Which way should I turn to face|Which direction should I turn to look at|"
                     rf"If I want to face) (?P<x>{NP})(?:, which way should I turn)?\?", q)
    if m:
        b = bearing[sc.sqa_rect(m.group("x")).eid]
        assert abs(b) > 45, f"{q}: no turn needed ({b:.1f} deg)"
        return "around" if abs(b) > 135 else ("left" if b > 0 else "right")
    m = re.fullmatch(rf"(?:Which direction should I go if I want to reach|"
                     rf"Which direction should I walk to get to|"
                     rf"Which way should I go to get to) (?P<x>{NP})\?", q)
    m2 = re.fullmatch(r"Which direction should I go if I want to (?P<act>.+)\?", q)
    if m or m2:
        if m:
            b = bearing[sc.sqa_rect(m.group("x")).eid]
        else:
            cat = ACTIVITIES[m2.group("act")]
            (target,) = [r for r in ents if r.category == cat]
            b = bearing[target.eid]
        return ("forward" if abs(b) < 45 else "backward" if abs(b) > 135 else "left" if b > 0 else "right")
    m = re.fullmatch(rf"(?:Which is closer to me, (?P<a>{NP}) or (?P<b>{NP})|"
                     rf"Is (?P<c>{NP}) or (?P<d>{NP}) nearer to me|"
                     rf"Which one is nearer to me: (?P<e>{NP}) or (?P<f>{NP}))\?", q)
    if m:
        g = [v for v in m.groups() if v]
        x, y = sc.sqa_rect(g[0]), sc.sqa_rect(g[1])
        closer = g[0] if float(x.dist(p)) < float(y.dist(p)) else g[1]
        return closer[len("the "):]
    m = re.fullmatch(rf"Is (?P<x>{NP}) (?:on my left or right|to my left or to my right|"
                     rf"on my left side or on my right side)\?", q)
    if m:
        return "left" if bearing[sc.sqa_rect(m.group("x")).eid] > 0 else "right"
    m = re.fullmatch(rf"Is (?P<x>{NP}) (?:in front of me or behind me|ahead of me or at my back)\?", q)
    if m:
        return "front" if abs(bearing[sc.sqa_rect(m.group("x")).eid]) < 90 else "behind"
    raise AssertionError(f"question not understood by the test: {q!r}")


def oracle_pose(sc: SceneCheck, text: str) -> tuple[np.ndarray, np.ndarray]:
    """A rule-based localizer (SQA3D frame): anchor -> position, first orientation fact -> facing."""
    parsed = parse_situation(text, sc.nm)
    anchors = [sc.sqa_rect(a) for a in parsed["anchor_np"]]
    if parsed["anchor"] == "sit_on":
        pos = anchors[0].c
    elif parsed["anchor"] == "in_front_of":
        a = anchors[0]
        pos = a.c + (a.hx + 0.47) * np.array([math.cos(a.yaw), math.sin(a.yaw)])
    else:
        pos = (anchors[0].c + anchors[1].c) / 2
    fwd = None
    if parsed["anchor"] == "in_front_of":
        fwd = anchors[0].c - pos
    for rel, phrase, _ in parsed["facts"]:
        if fwd is not None:
            break
        v = sc.sqa_rect(phrase).c - pos
        rot = {"facing": 0, "distance": 0, "left": -90, "right": 90, "behind": 180}[rel.replace("clock_", "")]
        c, s = math.cos(math.radians(rot)), math.sin(math.radians(rot))
        fwd = np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])
    assert fwd is not None, f"{text!r} does not say which way I face"
    return pos, fwd / np.linalg.norm(fwd)
