"""Procedural surface textures shared by the mesh builder (vertex colours) and the renderer (pixels).

A texture is a brightness factor as a function of a surface's own 2-D coordinates (u, v) in metres (for
instance (x, y) on the floor, (distance along the wall, z) on a wall), so it is consistent across views and
frames and gives image features something to hold on to. It uses an integer hash of grid cells (uint32
arithmetic, no floating-point transcendental functions), so it is exactly reproducible.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MATERIALS", "material_id", "hash01", "texture_factor"]

MATERIALS = ("plain", "wall", "wood", "tile", "carpet", "glass")


def material_id(name: str) -> int:
    """Integer id of a material name (``MATERIALS`` order)."""
    return MATERIALS.index(name)


def _as_u32(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a = a.astype(np.int64)
    return a.astype(np.int64, copy=False).astype(np.uint32)


def hash01(ix: np.ndarray, iy: np.ndarray, salt: np.ndarray | int = 0) -> np.ndarray:
    """Deterministic pseudo-random values in [0, 1) for integer cells (ix, iy) (any broadcastable shapes)."""
    with np.errstate(over="ignore"):
        h = _as_u32(ix) * np.uint32(374761393) + _as_u32(iy) * np.uint32(668265263)
        h += _as_u32(salt) * np.uint32(2246822519)
        h ^= h >> np.uint32(13)
        h *= np.uint32(1274126177)
        h ^= h >> np.uint32(16)
    return h.astype(np.float32) * np.float32(1.0 / 4294967296.0)


def _cell_noise(u: np.ndarray, v: np.ndarray, su: float, sv: float, salt) -> np.ndarray:
    return hash01(np.floor(u * np.float32(1.0 / su)), np.floor(v * np.float32(1.0 / sv)), salt) - np.float32(
        0.5
    )


def texture_factor(
    u: np.ndarray, v: np.ndarray, material: np.ndarray | int, salt: np.ndarray | int = 0
) -> np.ndarray:
    """Brightness factor (about 0.6-1.15) of surface points.

    Args:
        u: [...] first surface coordinate, metres (float32 or float64).
        v: [...] second surface coordinate, metres.
        material: [...] or scalar material id (``MATERIALS``).
        salt: [...] or scalar integer that decorrelates surfaces (e.g. a primitive index).

    Returns:
        float32 [...] factor to multiply the albedo with.
    """
    u = np.asarray(u, dtype=np.float32)
    shape = u.shape
    u = u.ravel()
    v = np.asarray(v, dtype=np.float32).ravel()
    mat = np.broadcast_to(np.asarray(material), shape).ravel()
    salt = np.broadcast_to(np.asarray(salt, dtype=np.int64), shape).ravel()
    out = np.ones(u.shape, dtype=np.float32)
    for mid in np.unique(mat) if mat.size < 64 else range(len(MATERIALS)):
        idx = np.flatnonzero(mat == mid)
        if len(idx) == 0:
            continue
        uu, vv, ss = u[idx], v[idx], salt[idx]
        out[idx] = _material_factor(int(mid), uu, vv, ss)
    return out.reshape(shape)


def _material_factor(mid: int, uu: np.ndarray, vv: np.ndarray, ss: np.ndarray) -> np.ndarray:
    f32 = np.float32
    if mid == 0:  # plain: two octaves of cell noise
        return (
            1
            + f32(0.07) * _cell_noise(uu, vv, 0.2, 0.2, ss)
            + f32(0.06) * _cell_noise(uu, vv, 0.03, 0.03, ss + 7)
        )
    if mid == 1:  # wall: faint
        return (
            1
            + f32(0.04) * _cell_noise(uu, vv, 0.6, 0.6, ss)
            + f32(0.05) * _cell_noise(uu, vv, 0.04, 0.04, ss + 3)
        )
    if mid == 2:  # wood planks 0.14 m x 1.2 m, staggered, with seams and grain
        row = np.floor(vv * f32(1 / 0.14))
        us = uu + hash01(row, 0, ss) * f32(1.2)
        col = np.floor(us * f32(1 / 1.2))
        f = (
            f32(0.86)
            + f32(0.28) * hash01(col, row, ss + 1)
            + f32(0.06) * _cell_noise(us, vv, 0.25, 0.012, ss + 2)
        )
        seam = ((vv * f32(1 / 0.14) - row) < 0.05) | ((us * f32(1 / 1.2) - col) < 0.006)
        return np.where(seam, f32(0.62), f)
    if mid == 3:  # tiles 0.3 m with grout lines
        tu, tv = np.floor(uu * f32(1 / 0.3)), np.floor(vv * f32(1 / 0.3))
        grout = ((uu * f32(1 / 0.3) - tu) < 0.035) | ((vv * f32(1 / 0.3) - tv) < 0.035)
        f = f32(0.95) + f32(0.1) * hash01(tu, tv, ss) + f32(0.03) * _cell_noise(uu, vv, 0.02, 0.02, ss + 5)
        return np.where(grout, f32(0.7), f)
    if mid == 4:  # carpet / fabric: fine, strong noise
        return (
            1
            + f32(0.14) * _cell_noise(uu, vv, 0.012, 0.012, ss)
            + f32(0.06) * _cell_noise(uu, vv, 0.3, 0.3, ss + 9)
        )
    if mid == 5:  # glass / screens: nearly uniform
        return 1 + f32(0.02) * _cell_noise(uu, vv, 0.1, 0.1, ss)
    raise ValueError(f"unknown material id {mid}")
