"""The scene as primitives (for the renderer) and as a coloured triangle mesh (for ``_vh_clean_2.ply``).

``scene_primitives`` is the single geometric description both outputs are made from: oriented boxes and
vertical cylinders (object parts, door and window panels) plus the room's walls, floor and ceiling.
``build_mesh`` triangulates them at a target vertex spacing so that, like a real ScanNet mesh, the vertices
sample the surfaces densely (pipelines that use mesh vertices as a point cloud see a usable cloud). Segments
(ScanNet's over-segmentation) are tiles of at most ~0.5 m of one primitive face, so every segment belongs to
one object (doors and windows are objects too: id ``len(world.objects) + k`` for ``room.openings[k]``, see
``world.opening_object_id``; only walls, floor and ceiling are structure).

Like real ScanNet reconstructions the mesh has no ceiling by default (scanners rarely see it); the renderer
does draw it. All coordinates here are in the aligned frame; ``mesh_vertices_raw`` maps them to the raw frame
that the ``.ply`` stores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loc3r.geometry.frames import aligned_to_raw_points, bbox_center

from .texture import material_id, texture_factor
from .world import World, opening_object_id

__all__ = [
    "Primitives",
    "Mesh",
    "scene_primitives",
    "rectilinear_cells",
    "build_mesh",
    "mesh_vertices_raw",
    "raw_mesh_bbox_center",
]

_SEGMENT_TILE_M = 0.5
_DOOR_COLORS = [(150, 106, 66), (232, 230, 222), (120, 84, 54)]
_FRAME_RGB = (236, 236, 232)
_GLASS_RGB = (168, 196, 226)
_MATERIAL_OF_CATEGORY = {
    "sofa": "carpet",
    "armchair": "carpet",
    "ottoman": "carpet",
    "bed": "carpet",
    "tv": "glass",
    "monitor": "glass",
}


@dataclass(frozen=True)
class Primitives:
    """All surfaces of a scene, aligned frame (metres).

    Attributes:
        box_center: [B, 3] box centres.
        box_half: [B, 3] half extents along the box's local axes.
        box_yaw: [B] rotation of the local axes about +Z, radians.
        box_rgb: [B, 3] uint8 albedo.
        box_object: [B] int32 instance id (objects' ids; door/window panels: ``opening_object_id``).
        box_material: [B] int32 material id (``texture.MATERIALS``).
        box_opening: [B] int32 index into ``room.openings`` of a door/window panel, -1 for object parts.
        cyl_center: [C, 3] cylinder centres (axis is vertical).
        cyl_radius: [C] radii.
        cyl_half_h: [C] half heights.
        cyl_rgb: [C, 3] uint8; cyl_object: [C] int32; cyl_material: [C] int32.
        polygon: [K, 2] room outline (counter-clockwise); height: ceiling height.
        wall_rgb, floor_rgb, ceiling_rgb: [3] uint8; floor_material: int material id.
    """

    box_center: np.ndarray
    box_half: np.ndarray
    box_yaw: np.ndarray
    box_rgb: np.ndarray
    box_object: np.ndarray
    box_material: np.ndarray
    box_opening: np.ndarray
    cyl_center: np.ndarray
    cyl_radius: np.ndarray
    cyl_half_h: np.ndarray
    cyl_rgb: np.ndarray
    cyl_object: np.ndarray
    cyl_material: np.ndarray
    polygon: np.ndarray
    height: float
    wall_rgb: np.ndarray
    floor_rgb: np.ndarray
    ceiling_rgb: np.ndarray
    floor_material: int


@dataclass(frozen=True)
class Mesh:
    """Triangle mesh of a scene (aligned frame).

    Attributes:
        vertices_aligned: [N, 3] float32, metres.
        colors: [N, 3] uint8.
        faces: [F, 3] int32 (counter-clockwise seen from outside / from inside the room).
        vertex_object_id: [N] int32 instance id (objects, then doors/windows as ``opening_object_id``), -1
            for structure (walls, floor, ceiling).
        vertex_segment: [N] int32 segment id (0..S-1); each segment belongs to exactly one object or to
        structure.
    """

    vertices_aligned: np.ndarray
    colors: np.ndarray
    faces: np.ndarray
    vertex_object_id: np.ndarray
    vertex_segment: np.ndarray


# --------------------------------------------------------------------------------------------- primitives
def _opening_boxes(world: World) -> list[tuple]:
    """Door and window panels: (center, half, yaw, rgb, material, opening index) boxes a few cm off a wall."""
    walls = world.room.walls()
    out = []
    for k, op in enumerate(world.room.openings):
        a, b = walls[op.wall]
        e = (b - a) / np.linalg.norm(b - a)
        n = np.array([-e[1], e[0]])

        def add(a, e, n, s, z0, z1, width, depth, rgb, mat="plain", k=k):
            c = a + e * s + n * (depth / 2)
            out.append(
                (
                    (c[0], c[1], (z0 + z1) / 2),
                    (depth / 2, width / 2, (z1 - z0) / 2),
                    math.atan2(n[1], n[0]),
                    rgb,
                    mat,
                    k,
                )
            )

        s0, s1 = op.offset - op.width / 2, op.offset + op.width / 2
        t = 0.05  # frame thickness
        if op.kind == "door":
            rgb = _DOOR_COLORS[(op.wall + k) % len(_DOOR_COLORS)]
            add(a, e, n, op.offset, op.z_min, op.z_max - 0.005, op.width - 2 * t, 0.03, rgb)  # leaf
            for s in (s0 + t / 2, s1 - t / 2):  # jambs
                add(a, e, n, s, op.z_min, op.z_max, t, 0.05, _FRAME_RGB)
            add(a, e, n, op.offset, op.z_max, op.z_max + t, op.width, 0.05, _FRAME_RGB)  # head
            add(a, e, n, s1 - t - 0.09, 0.98, 1.02, 0.1, 0.08, (170, 170, 176))  # handle
        else:
            add(a, e, n, op.offset, op.z_min, op.z_max, op.width - 2 * t, 0.015, _GLASS_RGB, "glass")  # pane
            for s in (s0 + t / 2, s1 - t / 2):
                add(a, e, n, s, op.z_min, op.z_max, t, 0.04, _FRAME_RGB)
            add(a, e, n, op.offset, op.z_max - t, op.z_max, op.width - 2 * t, 0.04, _FRAME_RGB)
            add(a, e, n, op.offset, op.z_min - 0.04, op.z_min, op.width + 0.1, 0.12, _FRAME_RGB)  # sill
            if op.width > 1.0:
                add(a, e, n, op.offset, op.z_min, op.z_max - t, 0.04, 0.03, _FRAME_RGB)  # mullion
    return out


def scene_primitives(world: World) -> Primitives:
    """Flatten a world into arrays of boxes and cylinders (aligned frame) plus the room's structure."""
    boxes: list[tuple] = []
    cyls: list[tuple] = []
    for o in world.objects:
        c, s = math.cos(o.yaw), math.sin(o.yaw)
        base = np.array([o.center[0], o.center[1], o.center[2] - o.size[2] / 2])
        mat = material_id(_MATERIAL_OF_CATEGORY.get(o.category, "plain"))
        for p in o.parts:
            lx, ly, lz = p.center
            world_c = base + np.array([c * lx - s * ly, s * lx + c * ly, lz])
            part_mat = mat if mat != material_id("glass") or p.rgb[0] < 60 else material_id("plain")
            if p.kind == "box":
                boxes.append((world_c, np.asarray(p.size) / 2, o.yaw, p.rgb, o.object_id, part_mat, -1))
            elif p.kind == "cylinder":
                cyls.append((world_c, p.size[0] / 2, p.size[2] / 2, p.rgb, o.object_id, part_mat))
            else:
                raise ValueError(
                    f"{world.scene_id}: object {o.object_id} has a part of unknown kind {p.kind!r}"
                )
    for center, half, yaw, rgb, mat, k in _opening_boxes(world):
        oid = opening_object_id(world, k)
        boxes.append((np.asarray(center), np.asarray(half), yaw, rgb, oid, material_id(mat), k))

    def col(items, i, dtype, width=None):
        if not items:
            return np.zeros((0,) if width is None else (0, width), dtype=dtype)
        return np.asarray([it[i] for it in items], dtype=dtype)

    room = world.room
    return Primitives(
        box_center=col(boxes, 0, np.float64, 3),
        box_half=col(boxes, 1, np.float64, 3),
        box_yaw=col(boxes, 2, np.float64),
        box_rgb=col(boxes, 3, np.uint8, 3),
        box_object=col(boxes, 4, np.int32),
        box_material=col(boxes, 5, np.int32),
        box_opening=col(boxes, 6, np.int32),
        cyl_center=col(cyls, 0, np.float64, 3),
        cyl_radius=col(cyls, 1, np.float64),
        cyl_half_h=col(cyls, 2, np.float64),
        cyl_rgb=col(cyls, 3, np.uint8, 3),
        cyl_object=col(cyls, 4, np.int32),
        cyl_material=col(cyls, 5, np.int32),
        polygon=np.asarray(room.polygon, dtype=np.float64),
        height=float(room.height),
        wall_rgb=np.asarray(room.wall_rgb, dtype=np.uint8),
        floor_rgb=np.asarray(room.floor_rgb, dtype=np.uint8),
        ceiling_rgb=np.asarray(room.ceiling_rgb, dtype=np.uint8),
        floor_material=material_id(room.floor_material),
    )


def rectilinear_cells(polygon: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Split a rectilinear polygon into rectangles (x0, y0, x1, y1) on the grid of its vertex coordinates."""
    xs = np.unique(polygon[:, 0])
    ys = np.unique(polygon[:, 1])
    from .world import Room

    room = Room(polygon=polygon, height=1.0)
    cells = []
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            c = np.array([(xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2])
            if room.contains(c):
                cells.append((xs[i], ys[j], xs[i + 1], ys[j + 1]))
    return cells


# --------------------------------------------------------------------------------------------- texture coords
# Surface (u, v) conventions shared with the renderer, so mesh vertex colours sample the same texture as
# pixels: floor (x, y); ceiling (y, x); wall i (z, distance from polygon[i]); cylinder side (angle * r, z -
# z_centre);
#   cylinder caps (x - x_c, y - y_c); box face with outward normal sign * local axis: local coordinates
#   (p[ia] + half[ia], p[ib] + half[ib]) + box_uv_offset(salt), with (ia, ib) = BOX_FACE_UV[(axis, sign)]
#   chosen so that axis_ia x axis_ib is the outward normal.
BOX_FACE_UV: dict[tuple[int, int], tuple[int, int]] = {
    (0, 1): (1, 2),
    (0, -1): (2, 1),
    (1, 1): (2, 0),
    (1, -1): (0, 2),
    (2, 1): (0, 1),
    (2, -1): (1, 0),
}


def box_uv_offset(salt) -> tuple:
    """Per-box texture offset (decorrelates boxes of the same size)."""
    return (0.37 * salt % 1.0, 0.61 * salt % 1.0)


# --------------------------------------------------------------------------------------------- mesh
class _MeshBuilder:
    def __init__(self, res: float) -> None:
        self.res = res
        self.v: list[np.ndarray] = []
        self.uv: list[np.ndarray] = []
        self.f: list[np.ndarray] = []
        self.rgb: list[np.ndarray] = []
        self.mat: list[np.ndarray] = []
        self.salt: list[np.ndarray] = []
        self.obj: list[np.ndarray] = []
        self.seg: list[np.ndarray] = []
        self.n = 0
        self.n_seg = 0

    def _push(self, v, uv, faces, seg, rgb, obj, mat, salt):
        k = len(v)
        self.v.append(v)
        self.uv.append(uv)
        self.f.append(faces + self.n)
        self.seg.append(seg + self.n_seg)
        self.n_seg += int(seg.max()) + 1
        self.rgb.append(np.broadcast_to(np.asarray(rgb, dtype=np.float32), (k, 3)))
        self.obj.append(np.full(k, obj, dtype=np.int32))
        self.mat.append(np.full(k, mat, dtype=np.int32))
        self.salt.append(np.full(k, salt, dtype=np.int64))
        self.n += k

    def grid(self, origin, ea, eb, uv0, rgb, obj, mat, salt):
        """A planar quad origin + [0,1]ea + [0,1]eb (normal ea x eb), subdivided to the target spacing."""
        la, lb = float(np.linalg.norm(ea)), float(np.linalg.norm(eb))
        na, nb = max(1, math.ceil(la / self.res)), max(1, math.ceil(lb / self.res))
        ta, tb = np.linspace(0, 1, na + 1), np.linspace(0, 1, nb + 1)
        A, B = np.meshgrid(ta, tb, indexing="ij")
        v = origin + A[..., None] * ea + B[..., None] * eb
        uv = np.stack([uv0[0] + A * la, uv0[1] + B * lb], axis=-1)
        idx = np.arange((na + 1) * (nb + 1)).reshape(na + 1, nb + 1)
        v00, v10, v11, v01 = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
        faces = np.concatenate(
            [np.stack([v00, v10, v11], -1).reshape(-1, 3), np.stack([v00, v11, v01], -1).reshape(-1, 3)]
        )
        ka = max(1, math.ceil(la / _SEGMENT_TILE_M))
        kb = max(1, math.ceil(lb / _SEGMENT_TILE_M))
        seg = np.minimum((A * ka).astype(int), ka - 1) * kb + np.minimum((B * kb).astype(int), kb - 1)
        self._push(v.reshape(-1, 3), uv.reshape(-1, 2), faces, seg.reshape(-1), rgb, obj, mat, salt)

    def box(self, center, half, yaw, rgb, obj, mat, salt):
        c, s = math.cos(yaw), math.sin(yaw)
        axes = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # local X, Y, Z in the aligned frame
        lo = center - half @ axes
        uv0 = box_uv_offset(salt)
        for (axis, sign), (ia, ib) in BOX_FACE_UV.items():
            origin = lo + (2 * half[axis] * axes[axis] if sign > 0 else 0.0)
            self.grid(origin, 2 * half[ia] * axes[ia], 2 * half[ib] * axes[ib], uv0, rgb, obj, mat, salt)

    def cylinder(self, center, radius, half_h, rgb, obj, mat, salt):
        n = max(16, math.ceil(2 * math.pi * radius / self.res))
        nh = max(1, math.ceil(2 * half_h / self.res))
        th = np.linspace(0, 2 * math.pi, n + 1)
        zz = np.linspace(-half_h, half_h, nh + 1)
        T, Zg = np.meshgrid(th, zz, indexing="ij")
        v = np.stack([center[0] + radius * np.cos(T), center[1] + radius * np.sin(T), center[2] + Zg], -1)
        uv = np.stack([T * radius, Zg], -1)
        idx = np.arange((n + 1) * (nh + 1)).reshape(n + 1, nh + 1)
        v00, v10, v11, v01 = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
        faces = np.concatenate(
            [np.stack([v00, v10, v11], -1).reshape(-1, 3), np.stack([v00, v11, v01], -1).reshape(-1, 3)]
        )
        ks = max(1, math.ceil(2 * math.pi * radius / _SEGMENT_TILE_M))
        seg = np.minimum((T / (2 * math.pi) * ks).astype(int), ks - 1)
        self._push(v.reshape(-1, 3), uv.reshape(-1, 2), faces, seg.reshape(-1), rgb, obj, mat, salt)
        ring = th[:-1]
        for sign in (1.0, -1.0):  # caps as fans
            cz = center[2] + sign * half_h
            rv = np.stack(
                [center[0] + radius * np.cos(ring), center[1] + radius * np.sin(ring), np.full(n, cz)], -1
            )
            v = np.concatenate([[[center[0], center[1], cz]], rv])
            uv = v[:, :2] - center[:2]
            k = np.arange(n)
            fan = np.stack([np.zeros(n, int), 1 + k, 1 + (k + 1) % n], -1)
            if sign < 0:
                fan = fan[:, [0, 2, 1]]
            self._push(v, uv, fan, np.zeros(n + 1, int), rgb, obj, mat, salt)

    def finish(self) -> Mesh:
        v = np.concatenate(self.v)
        uv = np.concatenate(self.uv)
        rgb = np.concatenate(self.rgb)
        tex = texture_factor(uv[:, 0], uv[:, 1], np.concatenate(self.mat), np.concatenate(self.salt))
        colors = np.clip(np.rint(rgb * tex[:, None]), 0, 255).astype(np.uint8)
        return Mesh(
            vertices_aligned=v.astype(np.float32),
            colors=colors,
            faces=np.concatenate(self.f).astype(np.int32),
            vertex_object_id=np.concatenate(self.obj),
            vertex_segment=np.concatenate(self.seg).astype(np.int32),
        )


def build_mesh(world: World, resolution_m: float = 0.1, include_ceiling: bool = False) -> Mesh:
    """Triangulate the scene (aligned frame).

    Args:
        world: the scene.
        resolution_m: target vertex spacing, metres (cylinders get at least 16 sides).
        include_ceiling: also mesh the ceiling (real ScanNet meshes mostly lack it).

    Returns:
        ``Mesh`` with per-vertex colour (albedo times the procedural texture), object id and segment id.
    """
    prim = scene_primitives(world)
    mb = _MeshBuilder(resolution_m)
    wall_mat, h = material_id("wall"), prim.height
    poly = prim.polygon
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        a3 = np.array([a[0], a[1], 0.0])
        eb = np.array([b[0] - a[0], b[1] - a[1], 0.0])
        mb.grid(a3, np.array([0.0, 0.0, h]), eb, (0.0, 0.0), prim.wall_rgb, -1, wall_mat, 1000 + i)
    for x0, y0, x1, y1 in rectilinear_cells(poly):
        mb.grid(
            np.array([x0, y0, 0.0]),
            np.array([x1 - x0, 0, 0.0]),
            np.array([0, y1 - y0, 0.0]),
            (x0, y0),
            prim.floor_rgb,
            -1,
            prim.floor_material,
            0,
        )
        if include_ceiling:
            mb.grid(
                np.array([x0, y0, h]),
                np.array([0, y1 - y0, 0.0]),
                np.array([x1 - x0, 0, 0.0]),
                (y0, x0),
                prim.ceiling_rgb,
                -1,
                wall_mat,
                999,
            )
    for k in range(len(prim.box_center)):
        mb.box(
            prim.box_center[k],
            prim.box_half[k],
            prim.box_yaw[k],
            prim.box_rgb[k],
            int(prim.box_object[k]),
            int(prim.box_material[k]),
            k,
        )
    for k in range(len(prim.cyl_center)):
        mb.cylinder(
            prim.cyl_center[k],
            prim.cyl_radius[k],
            prim.cyl_half_h[k],
            prim.cyl_rgb[k],
            int(prim.cyl_object[k]),
            int(prim.cyl_material[k]),
            500 + k,
        )
    return mb.finish()


def mesh_vertices_raw(mesh: Mesh, axis_alignment: np.ndarray) -> np.ndarray:
    """Mesh vertices in the raw frame, float32 [N, 3] (exactly what ``_vh_clean_2.ply`` stores)."""
    return aligned_to_raw_points(mesh.vertices_aligned.astype(np.float64), axis_alignment).astype(np.float32)


def raw_mesh_bbox_center(world: World, resolution_m: float = 0.1) -> np.ndarray:
    """[3] bounding-box centre of the written mesh's raw-frame vertices: the SQA3D frame origin.

    Equals ``loc3r.geometry.frames.bbox_center`` of the vertices of ``<scene>_vh_clean_2.ply``. The mesh's
    vertex extremes are the room's corners (floor and wall tops), so the value does not depend on
    ``resolution_m``.
    """
    mesh = build_mesh(world, resolution_m)
    return bbox_center(mesh_vertices_raw(mesh, world.axis_alignment))
