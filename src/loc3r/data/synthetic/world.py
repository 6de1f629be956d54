"""The synthetic world's scene description (the single source of truth for rendering and annotations).

Frames: every coordinate here is in the scene's **aligned** frame (metres, +Z up, floor at z = 0, walls
parallel to the axes). The ScanNet-format writer stores a *raw* frame that differs by the scene's
``axis_alignment`` A (``p_aligned = A @ p_raw``), as real scans do; SQA3D poses live in the SQA3D frame
(raw axes, origin at the raw mesh's bounding-box centre) — see ``loc3r.geometry.frames``.

Instance ids: objects are numbered ``0 .. len(objects) - 1``; doors and windows are annotated instances
too (as in ScanNet, labels ``"door"`` / ``"window"``), numbered after the objects: the k-th opening of
``room.openings`` has id ``len(objects) + k`` (``opening_object_id``). The mesh, the renderer's instance
maps, the aggregation file and the annotations all use these ids.

Objects: an object's local frame has its origin at the footprint centre on its base (z = its bottom), local
+x is the object's *front* (the side a person faces it from / sits on), rotated by ``yaw`` about +Z.
``size`` = (extent along local x, extent along local y, height).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Part", "SceneObject", "Opening", "Room", "World", "opening_object_id"]


@dataclass(frozen=True)
class Part:
    """A primitive of an object, in the object's local frame.

    Attributes:
        kind: ``"box"`` or ``"cylinder"`` (vertical axis; ``size[0]`` = ``size[1]`` = diameter).
        center: (x, y, z) of the primitive's centre in the object's local frame, metres.
        size: (sx, sy, sz) extents, metres.
        rgb: colour, 0-255.
    """

    kind: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class SceneObject:
    """One object instance.

    Attributes:
        object_id: 0-indexed instance id (= ScanNet aggregation ``objectId``).
        category: ScanNet-style label (``"bed"``, ``"chair"``, ...).
        color_name: dominant colour word used in text (``"red"``).
        center: (x, y, z) centre of the object's bounding box, aligned frame, metres.
        size: (along local x, along local y, height), metres.
        yaw: rotation of the local frame about +Z, radians (local +x = front).
        parts: primitives composing the object (local frame).
        against_wall: index of the wall the object's back touches, or None.
    """

    object_id: int
    category: str
    color_name: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    parts: tuple[Part, ...] = ()
    against_wall: int | None = None

    @property
    def front(self) -> np.ndarray:
        """Unit vector (x, y) of the object's front direction, aligned frame."""
        return np.array([np.cos(self.yaw), np.sin(self.yaw)])

    def footprint(self) -> np.ndarray:
        """[4, 2] corners of the object's oriented footprint (counter-clockwise), aligned frame."""
        hx, hy = self.size[0] / 2, self.size[1] / 2
        local = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        rot = np.array([[c, -s], [s, c]])
        return local @ rot.T + np.asarray(self.center[:2])

    def bbox_aligned(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned (min, max) [3] of the oriented box, aligned frame."""
        fp = self.footprint()
        z0 = self.center[2] - self.size[2] / 2
        return (np.array([*fp.min(0), z0]), np.array([*fp.max(0), z0 + self.size[2]]))


@dataclass(frozen=True)
class Opening:
    """A door or window in a wall (an annotated instance with id ``opening_object_id(world, k)``).

    Attributes:
        kind: ``"door"`` or ``"window"``.
        wall: index i of the wall from ``polygon[i]`` to ``polygon[i+1]``.
        offset: distance (m) along the wall from ``polygon[i]`` to the opening's centre.
        width: metres.
        z_min, z_max: vertical extent, metres above the floor.
    """

    kind: str
    wall: int
    offset: float
    width: float
    z_min: float
    z_max: float


@dataclass(frozen=True)
class Room:
    """A room: floor polygon (counter-clockwise, aligned frame), ceiling height, doors and windows.

    ``wall_rgb`` / ``floor_rgb`` / ``ceiling_rgb`` (0-255) and ``floor_material`` only affect appearance.
    """

    polygon: np.ndarray
    height: float
    openings: tuple[Opening, ...] = ()
    # Surface appearance (used by the mesh builder and the renderer); additive, with neutral defaults.
    wall_rgb: tuple[int, int, int] = (222, 218, 208)
    floor_rgb: tuple[int, int, int] = (150, 112, 76)
    ceiling_rgb: tuple[int, int, int] = (240, 240, 236)
    floor_material: str = "wood"  # "wood" (planks) | "tile" | "carpet"

    def walls(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Wall segments (start, end) [2] each, in polygon order."""
        p = np.asarray(self.polygon, dtype=np.float64)
        return [(p[i], p[(i + 1) % len(p)]) for i in range(len(p))]

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """Point-in-polygon test for points [..., 2] (even-odd rule)."""
        pts = np.asarray(xy, dtype=np.float64)
        x, y = pts[..., 0], pts[..., 1]
        inside = np.zeros(x.shape, dtype=bool)
        poly = np.asarray(self.polygon, dtype=np.float64)
        for i in range(len(poly)):
            (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % len(poly)]
            cond = (y1 > y) != (y2 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                xin = (x2 - x1) * (y - y1) / (y2 - y1) + x1
            inside ^= cond & (x < xin)
        return inside


@dataclass(frozen=True)
class World:
    """A complete synthetic scene.

    Attributes:
        scene_id: ScanNet-style id (``scene9000_00``); synthetic ids start at 9000 to never collide with ScanNet.
        room: the room.
        objects: object instances (``objects[i].object_id == i``).
        axis_alignment: [4, 4] A with ``p_aligned = A @ p_raw`` (a +Z rotation and a shift, non-identity).
        scene_type: ScanNet ``sceneType`` string (``"Bedroom / Hotel"``, ``"Office"``, ...).
    """

    scene_id: str
    room: Room
    objects: tuple[SceneObject, ...]
    axis_alignment: np.ndarray = field(default_factory=lambda: np.eye(4))
    scene_type: str = "Apartment"

    def by_category(self, category: str) -> list[SceneObject]:
        """Objects of one category."""
        return [o for o in self.objects if o.category == category]


def opening_object_id(world: World, index: int) -> int:
    """Instance id (aggregation ``objectId``) of the ``index``-th opening of ``world.room``.

    Openings are numbered after the objects: ``len(world.objects) + index``.
    """
    return len(world.objects) + int(index)
