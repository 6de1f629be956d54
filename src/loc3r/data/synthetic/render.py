"""A vectorised numpy ray caster: RGB, depth and instance ids of a synthetic scene from a pinhole camera.

Why ray casting over analytic primitives (rather than rasterising the triangle mesh): a scene is a few dozen
boxes and cylinders inside a closed room, so every ray hits something and each primitive's exact intersection
is ~25 elementwise array operations. Each primitive is tested only against the rays inside its projected
bounding rectangle (all rays when it straddles the camera plane), so the work is about (image size) x (depth
complexity), with a Python loop over primitives only (not over triangles or pixels). Depth is exact (no
tessellation error), and a triangle rasteriser in numpy would need per-triangle loops and near-plane clipping.

Conventions: poses are camera-to-world in the scene's **aligned** frame, OpenCV camera axes (x right, y down,
z forward). Pixel (u, v) is the integer column / row, its ray is ``K^-1 (u, v, 1)``, and the returned depth is
the distance along the optical axis (ScanNet depth), metres. Instance ids are the objects' ids and, for doors
and windows, ``world.opening_object_id`` (= ``len(objects) + k``), the ids of the written aggregation; -1 for
structure (walls, floor, ceiling).

Shading: albedo x procedural texture x (ambient + a directional light from above + a camera-mounted light),
with a mild falloff with distance and a little Gaussian sensor noise drawn from the caller's generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loc3r.geometry.camera import intrinsics_3x3
from loc3r.geometry.transforms import check_rigid

from .mesh import Primitives, box_uv_offset, scene_primitives
from .texture import material_id, texture_factor
from .world import World

__all__ = ["RenderOutput", "SceneRenderer", "render_view"]

_NEAR = 0.05
_FLOOR, _CEIL, _WALL0 = 0, 1, 2
_PRIM0 = 64  # hit ids >= _PRIM0 are primitives: boxes first, then cylinders
# the 12 edges of a box whose 8 corners are ordered by (sx, sy, sz) in {-1, 1}^3 (binary 4*x + 2*y + z)
_EDGES = np.array([(i, i ^ bit) for i in range(8) for bit in (1, 2, 4) if i < i ^ bit])
_LIGHT = np.array([0.3, 0.5, 1.0]) / np.linalg.norm([0.3, 0.5, 1.0])


@dataclass(frozen=True)
class RenderOutput:
    """One rendered view.

    Attributes:
        rgb: [H, W, 3] uint8.
        depth: [H, W] float32, metres along the optical axis (0 where nothing was hit).
        instance: [H, W] int32 instance id (objects, then doors/windows as ``opening_object_id``); -1
            structure (walls, floor, ceiling), -2 nothing hit.
        opening: [H, W] int32 index into ``world.room.openings`` where a door/window is seen, -1 elsewhere.
    """

    rgb: np.ndarray
    depth: np.ndarray
    instance: np.ndarray
    opening: np.ndarray


class SceneRenderer:
    """Renders one world from any number of viewpoints (precomputes its primitives once)."""

    def __init__(self, world: World, noise_std: float = 1.5) -> None:
        """Args: world: the scene; noise_std: sensor noise (0-255 units) added when a generator is passed."""
        self.world = world
        self.prim: Primitives = scene_primitives(world)
        self.noise_std = float(noise_std)
        p = self.prim
        nb = len(p.box_center)
        self._n_box = nb
        # 8 corners of every primitive's oriented bounding box, for screen-space culling.
        signs = np.array(
            [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64
        )
        c, s = np.cos(p.box_yaw), np.sin(p.box_yaw)
        local = signs[None] * p.box_half[:, None, :]
        bx = c[:, None] * local[..., 0] - s[:, None] * local[..., 1]
        by = s[:, None] * local[..., 0] + c[:, None] * local[..., 1]
        box_corners = np.stack([bx, by, local[..., 2]], -1) + p.box_center[:, None, :]
        cyl_half = np.stack([p.cyl_radius, p.cyl_radius, p.cyl_half_h], -1)
        cyl_corners = signs[None] * cyl_half[:, None, :] + p.cyl_center[:, None, :]
        self._corners = (
            np.concatenate([box_corners, cyl_corners]) if nb + len(p.cyl_center) else np.zeros((0, 8, 3))
        )
        self._object = np.concatenate([p.box_object, p.cyl_object]).astype(np.int32)
        self._opening = np.concatenate([p.box_opening, np.full(len(p.cyl_object), -1)]).astype(np.int32)
        self._rgb = np.concatenate([p.box_rgb, p.cyl_rgb]).astype(np.float32)
        self._material = np.concatenate([p.box_material, p.cyl_material]).astype(np.int32)
        self._salt = np.concatenate([np.arange(nb), 500 + np.arange(len(p.cyl_center))]).astype(np.int64)
        poly = p.polygon
        self._walls = [(poly[i], poly[(i + 1) % len(poly)]) for i in range(len(poly))]
        # float32 per-box table for shading: cx, cy, cz, hx, hy, hz, cos, sin, u offset, v offset
        off_u, off_v = box_uv_offset(np.arange(nb, dtype=np.float64))
        self._box_table = (
            np.concatenate(
                [
                    p.box_center.T,
                    p.box_half.T,
                    np.cos(p.box_yaw)[None],
                    np.sin(p.box_yaw)[None],
                    np.asarray(off_u)[None],
                    np.asarray(off_v)[None],
                ]
            )
            .astype(np.float32)
            .reshape(10, nb)
        )
        self._luts = None

    # ------------------------------------------------------------------------------------------ public
    def render(
        self,
        T_world_from_cam: np.ndarray,
        K: np.ndarray,
        width: int,
        height: int,
        rng: np.random.Generator | None = None,
    ) -> RenderOutput:
        """Render a view.

        Args:
            T_world_from_cam: [4, 4] camera-to-world pose, aligned frame, OpenCV axes.
            K: 3x3 or 4x4 intrinsics for a ``width`` x ``height`` image.
            width: image width, pixels.
            height: image height, pixels.
            rng: generator for the sensor noise (``None``: no noise).

        Returns:
            ``RenderOutput`` (rgb, depth, instance, opening).
        """
        T = check_rigid(T_world_from_cam, name="camera pose")
        t, hit, d, o = self.cast(T, K, width, height)
        rgb = self._shade(t, hit, d, o, rng)
        depth = np.where(np.isfinite(t), t, 0.0).astype(np.float32)
        inst = np.full(hit.shape, -2, dtype=np.int32)
        inst[(hit >= 0) & (hit < _PRIM0)] = -1
        m = hit >= _PRIM0
        prim = hit[m] - _PRIM0
        inst[m] = self._object[prim]
        opening = np.full(hit.shape, -1, dtype=np.int32)
        opening[m] = self._opening[prim]
        return RenderOutput(rgb=rgb, depth=depth, instance=inst, opening=opening)

    def cast(self, T: np.ndarray, K: np.ndarray, width: int, height: int):
        """Intersect every pixel's ray with the scene.

        Returns:
            t: [H, W] float32 ray parameter of the first hit (= depth along the optical axis; inf if none);
            hit: [H, W] int32 surface id (0 floor, 1 ceiling, 2+i wall i, 64+k primitive k, -1 none);
            d: [H, W, 3] float32 world ray directions (camera z component 1); o: [3] camera centre.
        """
        K3 = intrinsics_3x3(K)
        fx, fy, cx, cy = K3[0, 0], K3[1, 1], K3[0, 2], K3[1, 2]
        u = ((np.arange(width) - cx) / fx).astype(np.float32)
        v = ((np.arange(height) - cy) / fy).astype(np.float32)
        R = T[:3, :3].astype(np.float32)
        o = T[:3, 3].astype(np.float64)
        # d = R @ (u, v, 1) for every pixel, as three [H, W] planes
        d = [R[i, 0] * u[None, :] + R[i, 1] * v[:, None] + R[i, 2] for i in range(3)]
        dx, dy, dz = d
        t, hit = self._cast_structure(o, dx, dy, dz)
        self._cast_primitives(T, K3, width, height, o, dx, dy, dz, t, hit)
        return t, hit, np.stack(d, -1), o

    # ------------------------------------------------------------------------------------------ structure
    def _cast_structure(self, o, dx, dy, dz):
        h = self.prim.height
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dz < 0, np.float32(-o[2]) / dz, np.float32(h - o[2]) / dz).astype(np.float32)
        t[~np.isfinite(t) | (t <= 0)] = np.inf
        hit = np.where(dz < 0, _FLOOR, _CEIL).astype(np.int32)
        for i, (a, b) in enumerate(self._walls):
            length = float(np.hypot(*(b - a)))
            ex, ey = (b - a) / length
            nx, ny = -ey, ex  # inward normal
            dist = nx * (o[0] - a[0]) + ny * (o[1] - a[1])  # > 0 inside
            denom = np.float32(nx) * dx + np.float32(ny) * dy
            with np.errstate(divide="ignore", invalid="ignore"):
                tw = np.float32(-dist) / denom
            s = np.float32(ex * (o[0] - a[0]) + ey * (o[1] - a[1])) + tw * (
                np.float32(ex) * dx + np.float32(ey) * dy
            )
            m = (denom < 0) & (tw < t) & (s >= 0) & (s <= length)
            t[m] = tw[m]
            hit[m] = _WALL0 + i
        return t, hit

    # ------------------------------------------------------------------------------------------ primitives
    def _rects(self, T, K3, width, height):
        """Screen rectangles (v0, v1, u0, u1) per primitive, or None when it cannot be seen.

        The rectangle bounds the projection of the part of the primitive's bounding box in front of the near
        plane (its corners there plus the points where its edges cross the plane), so objects beside or behind
        the camera do not force a full-image test.
        """
        n = len(self._corners)
        if n == 0:
            return []
        pc = (self._corners - T[:3, 3]) @ T[:3, :3]  # [n, 8, 3] camera frame
        a, b = pc[:, _EDGES[:, 0]], pc[:, _EDGES[:, 1]]  # [n, 12, 3]
        za, zb = a[..., 2], b[..., 2]
        cross = (za - _NEAR) * (zb - _NEAR) < 0
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(cross, (_NEAR - za) / (zb - za), 0.0)
        ep = a + f[..., None] * (b - a)
        cand = np.concatenate([pc, ep], axis=1)  # [n, 20, 3]
        ok = np.concatenate([pc[..., 2] >= _NEAR, cross], axis=1)
        z = np.where(ok, cand[..., 2], 1.0)
        uu = K3[0, 0] * cand[..., 0] / z + K3[0, 2]
        vv = K3[1, 1] * cand[..., 1] / z + K3[1, 2]
        umin = np.where(ok, uu, np.inf).min(1)
        umax = np.where(ok, uu, -np.inf).max(1)
        vmin = np.where(ok, vv, np.inf).min(1)
        vmax = np.where(ok, vv, -np.inf).max(1)
        out = []
        for k in range(n):
            if not ok[k].any():
                out.append(None)
                continue
            u0 = max(0, int(math.floor(max(umin[k], -1.0))))
            u1 = min(width, int(math.ceil(min(umax[k], width + 1.0))) + 1)
            v0 = max(0, int(math.floor(max(vmin[k], -1.0))))
            v1 = min(height, int(math.ceil(min(vmax[k], height + 1.0))) + 1)
            out.append((v0, v1, u0, u1) if u0 < u1 and v0 < v1 else None)
        return out

    def _cast_primitives(self, T, K3, width, height, o, dx, dy, dz, t, hit):
        p = self.prim
        rects = self._rects(T, K3, width, height)
        for k, rect in enumerate(rects):
            if rect is None:
                continue
            v0, v1, u0, u1 = rect
            sl = (slice(v0, v1), slice(u0, u1))
            rx, ry, rz = dx[sl], dy[sl], dz[sl]
            if k < self._n_box:
                th = _box_hit(o, rx, ry, rz, p.box_center[k], p.box_half[k], p.box_yaw[k])
            else:
                j = k - self._n_box
                th = _cylinder_hit(o, rx, ry, rz, p.cyl_center[j], p.cyl_radius[j], p.cyl_half_h[j])
            tv = t[sl]
            m = th < tv
            if m.any():
                tv[m] = th[m]
                hit[sl][m] = _PRIM0 + k

    # ------------------------------------------------------------------------------------------ shading
    def _surface_luts(self):
        """Per-surface-id tables: albedo [M, 3], material, salt, normal [M, 3] and linear (u, v) maps.

        ``u = U[:3] . p + U[3]``, ``v = V[:3] . p + V[3]`` for the structure (primitives: per pixel).
        """
        if self._luts is not None:
            return self._luts
        p = self.prim
        nw = len(self._walls)
        n_struct = _WALL0 + nw
        m = _PRIM0 + len(self._object)
        albedo = np.zeros((m, 3), np.float32)
        material = np.zeros(m, np.int32)
        salt = np.zeros(m, np.int64)
        normal = np.zeros((m, 3), np.float32)
        U = np.zeros((m, 4), np.float32)
        V = np.zeros((m, 4), np.float32)
        albedo[_FLOOR], material[_FLOOR], normal[_FLOOR] = p.floor_rgb, p.floor_material, (0, 0, 1)
        U[_FLOOR, 0] = V[_FLOOR, 1] = 1
        albedo[_CEIL], material[_CEIL], salt[_CEIL], normal[_CEIL] = (
            p.ceiling_rgb,
            material_id("wall"),
            999,
            (0, 0, -1),
        )
        U[_CEIL, 1] = V[_CEIL, 0] = 1
        for i, (a, b) in enumerate(self._walls):
            e = (b - a) / np.hypot(*(b - a))
            k = _WALL0 + i
            albedo[k], material[k], salt[k], normal[k] = (
                p.wall_rgb,
                material_id("wall"),
                1000 + i,
                (-e[1], e[0], 0),
            )
            U[k, 2] = 1
            V[k] = (e[0], e[1], 0.0, -(a[0] * e[0] + a[1] * e[1]))
        albedo[n_struct:_PRIM0] = 0
        albedo[_PRIM0:] = self._rgb
        material[_PRIM0:] = self._material
        salt[_PRIM0:] = self._salt
        self._luts = (albedo, material, salt, normal, U, V)
        return self._luts

    def _noise_tile(self, height: int, width: int) -> np.ndarray:
        """A fixed [H + 64, W + 64, 3] float32 sensor-noise field; frames use random windows of it."""
        key = (height, width)
        if getattr(self, "_noise_key", None) != key:
            g = np.random.default_rng(12345)
            self._noise = g.standard_normal((height + 64, width + 64, 3), dtype=np.float32) * np.float32(
                self.noise_std
            )
            self._noise_key = key
        return self._noise

    def _shade(self, t, hit, d, o, rng):
        hgt, wid = t.shape
        albedo_l, material_l, salt_l, normal_l, U, V = self._surface_luts()
        valid = np.isfinite(t).ravel()
        tt = np.where(valid, t.ravel(), np.float32(0)).astype(np.float32)
        h = np.where(valid, hit.ravel(), _FLOOR).astype(np.intp)
        dx, dy, dz = (np.ascontiguousarray(d[..., i]).ravel() for i in range(3))
        px = np.float32(o[0]) + dx * tt  # hit points, aligned frame (planes)
        py = np.float32(o[1]) + dy * tt
        pz = np.float32(o[2]) + dz * tt
        nx, ny, nz = normal_l[:, 0][h], normal_l[:, 1][h], normal_l[:, 2][h]
        # structure (u, v): u is one coordinate, v a linear function (see _surface_luts)
        uu = np.where(h == _FLOOR, px, np.where(h == _CEIL, py, pz))
        vv = V[:, 0][h] * px + V[:, 1][h] * py + V[:, 3][h]

        nb = self._n_box
        idx = np.flatnonzero((h >= _PRIM0) & (h < _PRIM0 + nb))
        if len(idx):
            k = h[idx] - _PRIM0
            bt = self._box_table  # [10, B]: cx, cy, cz, hx, hy, hz, cos, sin, off_u, off_v
            qx = px[idx] - bt[0][k]
            qy = py[idx] - bt[1][k]
            lz = pz[idx] - bt[2][k]
            hx, hy, hz = bt[3][k], bt[4][k], bt[5][k]
            c, s = bt[6][k], bt[7][k]
            lx = c * qx + s * qy
            ly = c * qy - s * qx
            rx, ry, rz = np.abs(lx) / hx, np.abs(ly) / hy, np.abs(lz) / hz
            on_x = (rx >= ry) & (rx >= rz)
            on_y = ~on_x & (ry >= rz)
            on_z = ~on_x & ~on_y
            sgn = np.where(on_x, np.sign(lx), np.where(on_y, np.sign(ly), np.sign(lz)))
            nlx = np.where(on_x, sgn, np.float32(0))
            nly = np.where(on_y, sgn, np.float32(0))
            nx[idx] = c * nlx - s * nly
            ny[idx] = s * nlx + c * nly
            nz[idx] = np.where(on_z, sgn, np.float32(0))
            ax_, ay_, az_ = lx + hx, ly + hy, lz + hz  # coordinates from the box's low corner
            pos = sgn > 0  # (u, v) axes per face: see mesh.BOX_FACE_UV
            u_face = np.where(
                on_x,
                np.where(pos, ay_, az_),
                np.where(on_y, np.where(pos, az_, ax_), np.where(pos, ax_, ay_)),
            )
            v_face = np.where(
                on_x,
                np.where(pos, az_, ay_),
                np.where(on_y, np.where(pos, ax_, az_), np.where(pos, ay_, ax_)),
            )
            uu[idx] = u_face + bt[8][k]
            vv[idx] = v_face + bt[9][k]
        idx = np.flatnonzero(h >= _PRIM0 + nb)
        if len(idx):
            p = self.prim
            j = h[idx] - _PRIM0 - nb
            qx = px[idx] - p.cyl_center[j, 0]
            qy = py[idx] - p.cyl_center[j, 1]
            qz = pz[idx] - p.cyl_center[j, 2]
            rad, hh = p.cyl_radius[j], p.cyl_half_h[j]
            rr = np.maximum(np.hypot(qx, qy), 1e-9)
            cap = np.abs(np.abs(qz) - hh) < np.abs(rr - rad)  # on a cap plane rather than on the side
            nx[idx] = np.where(cap, 0.0, qx / rr)
            ny[idx] = np.where(cap, 0.0, qy / rr)
            nz[idx] = np.where(cap, np.sign(qz), 0.0)
            uu[idx] = np.where(cap, qx, np.mod(np.arctan2(qy, qx), 2 * math.pi) * rad)
            vv[idx] = np.where(cap, qy, qz)
        tex = texture_factor(uu, vv, material_l[h], salt_l[h])
        inv_len = np.float32(1) / np.sqrt(dx * dx + dy * dy + dz * dz)
        L = _LIGHT.astype(np.float32)
        lam = np.maximum(nx * L[0] + ny * L[1] + nz * L[2], np.float32(0))
        head = np.abs(nx * dx + ny * dy + nz * dz) * inv_len
        falloff = np.clip(np.float32(1.08) - np.float32(0.035) * tt, np.float32(0.75), np.float32(1.08))
        light = (np.float32(0.42) + np.float32(0.33) * lam + np.float32(0.3) * head) * falloff * tex
        light[~valid] = 0
        img = np.empty((hgt * wid, 3), dtype=np.float32)
        for ch in range(3):
            img[:, ch] = albedo_l[:, ch][h] * light
        img = img.reshape(hgt, wid, 3)
        if rng is not None and self.noise_std > 0:
            tile = self._noise_tile(hgt, wid)
            oy, ox = (int(v) for v in rng.integers(0, 64, size=2))
            img += tile[oy : oy + hgt, ox : ox + wid]
        np.rint(img, out=img)
        np.clip(img, 0, 255, out=img)
        return img.astype(np.uint8)


# --------------------------------------------------------------------------------------------- intersections
def _box_hit(o, dx, dy, dz, center, half, yaw):
    """Ray parameter of the entry point into an oriented box (inf where missed or the camera is inside)."""
    c, s = math.cos(yaw), math.sin(yaw)
    qx, qy, qz = o[0] - center[0], o[1] - center[1], o[2] - center[2]
    ox, oy = c * qx + s * qy, -s * qx + c * qy
    lx = np.float32(c) * dx + np.float32(s) * dy
    ly = np.float32(-s) * dx + np.float32(c) * dy
    tmin = np.full(dx.shape, -np.inf, dtype=np.float32)
    tmax = np.full(dx.shape, np.inf, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for oo, dd, h in ((ox, lx, half[0]), (oy, ly, half[1]), (qz, dz, half[2])):
            inv = np.float32(1.0) / dd
            t1 = np.float32(-h - oo) * inv
            t2 = np.float32(h - oo) * inv
            np.maximum(tmin, np.minimum(t1, t2), out=tmin)
            np.minimum(tmax, np.maximum(t1, t2), out=tmax)
    ok = (tmax >= tmin) & (tmin > 0)
    return np.where(ok, tmin, np.float32(np.inf))


def _cylinder_hit(o, dx, dy, dz, center, radius, half_h):
    """Ray parameter of the first hit on a vertical capped cylinder (inf where missed)."""
    qx, qy, qz = o[0] - center[0], o[1] - center[1], o[2] - center[2]
    a = dx * dx + dy * dy
    b = np.float32(2 * qx) * dx + np.float32(2 * qy) * dy
    cc = np.float32(qx * qx + qy * qy - radius * radius)
    disc = b * b - np.float32(4) * a * cc
    out = np.full(dx.shape, np.inf, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        ts = (-b - np.sqrt(np.maximum(disc, 0))) / (np.float32(2) * a)
        zs = np.float32(qz) + ts * dz
        side = (disc >= 0) & (ts > 0) & (np.abs(zs) <= half_h)
        out[side] = ts[side]
        for zc in (half_h, -half_h):
            tc = np.float32(zc - qz) / dz
            px = np.float32(qx) + tc * dx
            py = np.float32(qy) + tc * dy
            cap = (tc > 0) & (px * px + py * py <= radius * radius) & (tc < out)
            out[cap] = tc[cap]
    return out


def render_view(
    world: World,
    T_world_from_cam: np.ndarray,
    K: np.ndarray,
    width: int,
    height: int,
    rng: np.random.Generator | None = None,
) -> RenderOutput:
    """Convenience wrapper: render one view of ``world`` (builds a ``SceneRenderer`` each call)."""
    return SceneRenderer(world).render(T_world_from_cam, K, width, height, rng)
