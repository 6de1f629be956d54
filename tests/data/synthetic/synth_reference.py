"""Slow, independent reference geometry for the synthetic-scene tests (scalar ray casting, surface distances).

Written directly from the ``World`` description (objects' parts, room polygon), not from the renderer's or the
mesh builder's code, so the tests compare two implementations.
"""

from __future__ import annotations

import math

import numpy as np

from loc3r.data.synthetic.world import World


def part_frame(obj, part):
    """(centre [3] in the aligned frame, yaw) of one part of an object."""
    c, s = math.cos(obj.yaw), math.sin(obj.yaw)
    lx, ly, lz = part.center
    base_z = obj.center[2] - obj.size[2] / 2
    return np.array([obj.center[0] + c * lx - s * ly, obj.center[1] + s * lx + c * ly, base_z + lz]), obj.yaw


def _to_local(p, center, yaw):
    c, s = math.cos(yaw), math.sin(yaw)
    q = np.asarray(p, dtype=np.float64) - center
    return np.array([c * q[0] + s * q[1], -s * q[0] + c * q[1], q[2]])


def ray_box(o, d, center, size, yaw):
    """Entry distance of the ray o + t d into an oriented box (None if missed), by clipping t in a loop."""
    lo_, ld = _to_local(o, center, yaw), _to_local(np.asarray(o) + d, center, yaw) - _to_local(o, center, yaw)
    t0, t1 = -math.inf, math.inf
    for k in range(3):
        h = size[k] / 2
        if abs(ld[k]) < 1e-12:
            if abs(lo_[k]) > h:
                return None
            continue
        a, b = (-h - lo_[k]) / ld[k], (h - lo_[k]) / ld[k]
        t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
    if t1 < t0 or t0 <= 0:
        return None
    return t0


def ray_cylinder(o, d, center, diameter, height):
    """First hit of the ray on a vertical capped cylinder (None if missed)."""
    r, hz = diameter / 2, height / 2
    best = None
    ox, oy, oz = o[0] - center[0], o[1] - center[1], o[2] - center[2]
    a = d[0] ** 2 + d[1] ** 2
    b = 2 * (ox * d[0] + oy * d[1])
    c = ox * ox + oy * oy - r * r
    disc = b * b - 4 * a * c
    if a > 1e-12 and disc >= 0:
        for t in ((-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)):
            if t > 0 and abs(oz + t * d[2]) <= hz:
                best = t if best is None else min(best, t)
    if abs(d[2]) > 1e-12:
        for zc in (hz, -hz):
            t = (zc - oz) / d[2]
            if t > 0 and (ox + t * d[0]) ** 2 + (oy + t * d[1]) ** 2 <= r * r:
                best = t if best is None else min(best, t)
    return best


def ray_room(world: World, o, d):
    """Distance to the room's floor, ceiling or walls (the room is closed, so it always hits)."""
    best = math.inf
    if d[2] < 0:
        best = min(best, -o[2] / d[2])
    if d[2] > 0:
        best = min(best, (world.room.height - o[2]) / d[2])
    for a, b in world.room.walls():
        e = b - a
        # solve o + t d = a + s e in the plane: [d_xy, -e] [t, s]^T = a - o
        m = np.array([[d[0], -e[0]], [d[1], -e[1]]])
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        t, s = np.linalg.solve(m, a - np.asarray(o[:2]))
        if t > 1e-9 and -1e-9 <= s <= 1 + 1e-9:
            best = min(best, t)
    return best


def first_hit(world: World, o, d):
    """(t, object id or -1) of the first surface along o + t d, for a world whose room has no openings."""
    t_best, obj_best = ray_room(world, o, d), -1
    for obj in world.objects:
        for part in obj.parts:
            c, yaw = part_frame(obj, part)
            t = (
                ray_box(o, d, c, part.size, yaw)
                if part.kind == "box"
                else ray_cylinder(o, d, c, part.size[0], part.size[2])
            )
            if t is not None and t < t_best:
                t_best, obj_best = t, obj.object_id
    return t_best, obj_best


def surface_distance(world: World, pts: np.ndarray, opening_depth: float = 0.13) -> np.ndarray:
    """Distance (m) from points [N, 3] (aligned frame) to the nearest surface of the world.

    Surfaces: floor, ceiling, walls, every object part; door/window panels are accepted as lying up to
    ``opening_depth`` in front of their wall within the opening's extent (the reference does not model them).
    """
    p = np.asarray(pts, dtype=np.float64)
    best = np.minimum(np.abs(p[:, 2]), np.abs(p[:, 2] - world.room.height))
    walls = world.room.walls()
    for i, (a, b) in enumerate(walls):
        e = (b - a) / np.linalg.norm(b - a)
        n = np.array([-e[1], e[0]])
        s = (p[:, :2] - a) @ e
        off = (p[:, :2] - a) @ n
        length = np.linalg.norm(b - a)
        along = np.clip(s, 0, length)
        d = np.hypot(off, s - along)
        for op in world.room.openings:
            if op.wall != i:
                continue
            inside = (
                (np.abs(s - op.offset) <= op.width / 2 + 0.06)
                & (p[:, 2] >= op.z_min - 0.05)
                & (p[:, 2] <= op.z_max + 0.06)
                & (off >= -1e-3)
                & (off <= opening_depth)
            )
            d = np.where(inside, 0.0, d)
        best = np.minimum(best, d)
    for obj in world.objects:
        for part in obj.parts:
            c, yaw = part_frame(obj, part)
            cc, ss = math.cos(yaw), math.sin(yaw)
            q = p - c
            lx, ly, lz = cc * q[:, 0] + ss * q[:, 1], -ss * q[:, 0] + cc * q[:, 1], q[:, 2]
            if part.kind == "box":
                h = np.asarray(part.size) / 2
                loc = np.abs(np.stack([lx, ly, lz], -1)) - h
                outside = np.linalg.norm(np.maximum(loc, 0), axis=1)
                inside = np.minimum(loc.max(axis=1), 0)
                d = np.abs(outside + inside)
            else:
                r, hz = part.size[0] / 2, part.size[2] / 2
                dr, dz = np.hypot(lx, ly) - r, np.abs(lz) - hz
                outside = np.hypot(np.maximum(dr, 0), np.maximum(dz, 0))
                d = np.abs(outside + np.minimum(np.maximum(dr, dz), 0))
            best = np.minimum(best, d)
    return best
