"""A scan-like handheld camera walk through a synthetic room.

How a walk is made:
  1. The free floor (inside the room, ``clearance`` from walls and object footprints) is rasterised on a 10 cm
     grid and its largest connected part kept.
  2. Waypoints cover it: the walk starts near a door (where a scan usually starts) and visits farthest-point
     samples of the free floor, in nearest-neighbour order.
  3. Consecutive waypoints are joined by shortest paths on the grid whose cost grows near obstacles (so the
     operator walks through the open middle), then the polyline is smoothed and resampled with a slowly
     varying walking speed. Smoothing is undone step by step wherever it would leave the free space.
  4. The camera looks around the way a scanning operator does: it turns towards a sequence of objects (a new
     target every ~12 frames, blended smoothly, objects not yet seen preferred) with a +-12 deg sway and at
     most 20 deg of turn between frames; the pitch follows the target's elevation (clipped to -50..-3 deg:
     looking slightly down, as scans do), roll stays within +-3 deg and the height within the configured band
     (default 1.3-1.7 m).

Poses are camera-to-world in the aligned frame with OpenCV axes (x right, y down, z forward).
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from scipy import ndimage

from .layout import free_space_mask
from .world import World

__all__ = ["free_grid", "sample_trajectory", "look_rotation"]

_CELL = 0.1
_MAX_TURN_DEG = 20.0  # largest change of heading between consecutive frames


def free_grid(world: World, clearance: float, cell: float = _CELL):
    """Rasterise the free floor.

    Returns:
        (mask [nx, ny] bool of the largest connected free region, xs [nx] cell-centre x, ys [ny] cell-centre
        y).
    """
    poly = np.asarray(world.room.polygon)
    lo, hi = poly.min(0), poly.max(0)
    xs = np.arange(lo[0] + cell / 2, hi[0], cell)
    ys = np.arange(lo[1] + cell / 2, hi[1], cell)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    free = free_space_mask(world, np.stack([X, Y], -1), clearance=clearance)
    lab, n = ndimage.label(free, structure=np.ones((3, 3)))
    if n == 0:
        return free, xs, ys
    sizes = ndimage.sum(free, lab, index=np.arange(1, n + 1))
    return lab == (1 + int(np.argmax(sizes))), xs, ys


def _shortest_path(cost: np.ndarray, free: np.ndarray, start: tuple[int, int], goal: tuple[int, int]):
    """Dijkstra on the 8-connected grid (step length x mean cell cost); returns the list of cells."""
    nx, ny = free.shape
    dist = np.full(free.shape, np.inf)
    prev = -np.ones(free.shape + (2,), dtype=np.int64)
    dist[start] = 0.0
    heap = [(0.0, start)]
    steps = [(dx, dy, math.hypot(dx, dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
    while heap:
        dcur, (i, j) = heapq.heappop(heap)
        if (i, j) == goal:
            break
        if dcur > dist[i, j]:
            continue
        for dx, dy, ln in steps:
            a, b = i + dx, j + dy
            if 0 <= a < nx and 0 <= b < ny and free[a, b]:
                nd = dcur + ln * 0.5 * (cost[i, j] + cost[a, b])
                if nd < dist[a, b]:
                    dist[a, b] = nd
                    prev[a, b] = (i, j)
                    heapq.heappush(heap, (nd, (a, b)))
    if not np.isfinite(dist[goal]):
        raise RuntimeError("no path between waypoints in the free space")
    path = [goal]
    while path[-1] != start:
        path.append(tuple(prev[path[-1]]))
    return path[::-1]


def _resample(poly: np.ndarray, spacing: float) -> np.ndarray:
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(math.ceil(s[-1] / spacing)) + 1)
    q = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(q, s, poly[:, 0]), np.interp(q, s, poly[:, 1])], -1)


def _smooth_noise(
    rng: np.random.Generator, t: np.ndarray, n_waves: int = 3, max_freq: float = 3.0
) -> np.ndarray:
    """Sum of a few random low-frequency sinusoids over t in [0, 1], normalised to [-1, 1]."""
    out = np.zeros_like(t)
    for _ in range(n_waves):
        f = rng.uniform(0.5, max_freq)
        out += rng.uniform(0.5, 1.0) * np.sin(2 * math.pi * f * t + rng.uniform(0, 2 * math.pi))
    return out / max(1e-9, np.abs(out).max())


def _rate_limit(a: np.ndarray, max_step: float) -> np.ndarray:
    """Follow ``a`` but change by at most ``max_step`` per frame (a hand turns at a finite rate)."""
    out = np.empty_like(a)
    out[0] = a[0]
    for i in range(1, len(a)):
        out[i] = out[i - 1] + np.clip(a[i] - out[i - 1], -max_step, max_step)
    return out


def _look_targets(world: World, rng: np.random.Generator, xy: np.ndarray, t: np.ndarray) -> np.ndarray:
    """[T, 3] points the camera looks at: key targets every ~12 frames (4-12 per walk), blended linearly.

    A key target is an object centre 0.8-4.5 m away (objects not looked at yet are preferred), else a point on
    the far side of the room at 1 m height.
    """
    n_keys = int(np.clip(round(len(t) / 12), 4, 12))
    key_t = np.linspace(0.0, 1.0, n_keys)
    poly = np.asarray(world.room.polygon)
    centers = np.array([o.center for o in world.objects]) if world.objects else np.zeros((0, 3))
    seen = np.zeros(len(centers))
    keys = []
    for kt in key_t:
        cam = np.array([np.interp(kt, t, xy[:, 0]), np.interp(kt, t, xy[:, 1])])
        d = np.linalg.norm(centers[:, :2] - cam, axis=1) if len(centers) else np.zeros(0)
        ok = np.flatnonzero((d > 0.8) & (d < 4.5))
        if len(ok) and rng.random() < 0.85:
            w = 1.0 / (1.0 + 2.0 * seen[ok])
            j = int(ok[rng.choice(len(ok), p=w / w.sum())])
            seen[j] += 1
            keys.append(centers[j])
        else:
            far = poly[int(np.argmax(np.linalg.norm(poly - cam, axis=1)))]
            keys.append(np.array([*(cam + 0.8 * (far - cam)), 1.0]))
    keys = np.asarray(keys)
    return np.stack([np.interp(t, key_t, keys[:, c]) for c in range(3)], -1)


def look_rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Camera-to-world rotations [..., 3, 3] (OpenCV axes) looking along (yaw, pitch), rolled about the axis.

    Args:
        yaw: [...] heading of the optical axis, radians (0 = +x, counter-clockwise).
        pitch: [...] elevation of the optical axis, radians (negative = looking down).
        roll: [...] rotation about the optical axis, radians.
    """
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    z = np.stack([cp * cy, cp * sy, sp], -1)  # forward
    x = np.stack([sy, -cy, np.zeros_like(yaw)], -1)  # right = forward x up, normalised (pitch < 90 deg)
    y = np.cross(z, x)  # down
    cr, sr = np.cos(roll)[..., None], np.sin(roll)[..., None]
    x2, y2 = cr * x + sr * y, -sr * x + cr * y
    return np.stack([x2, y2, z], -1)


def sample_trajectory(
    world: World,
    rng: np.random.Generator,
    num_frames: int,
    height_m: tuple[float, float] = (1.3, 1.7),
    clearance: float = 0.3,
) -> np.ndarray:
    """A smooth handheld-style walk covering the room.

    Args:
        world: the scene.
        rng: random generator (e.g. ``SynthConfig.rng(i, 1)``).
        num_frames: number of poses T.
        height_m: (min, max) camera height above the floor, metres.
        clearance: minimum horizontal distance from the camera to walls and object footprints, metres (reduced
            down to 0.1 m if the room leaves no free floor at that clearance).

    Returns:
        [T, 4, 4] camera-to-world poses, aligned frame, OpenCV axes.
    """
    free, xs, ys = free_grid(world, clearance)
    while free.sum() < 10 and clearance > 0.1:
        clearance = max(0.1, clearance * 0.7)
        free, xs, ys = free_grid(world, clearance)
    if free.sum() < 2:
        raise RuntimeError(f"{world.scene_id}: no free floor for the camera")
    cells = np.argwhere(free)
    pts = np.stack([xs[cells[:, 0]], ys[cells[:, 1]]], -1)

    # 1. start near a door (else anywhere), then farthest-point waypoints
    doors = [op for op in world.room.openings if op.kind == "door"]
    if doors:
        op = doors[int(rng.integers(len(doors)))]
        a, b = world.room.walls()[op.wall]
        e = (b - a) / np.linalg.norm(b - a)
        target = a + e * op.offset + np.array([-e[1], e[0]]) * 0.8
        start = int(np.argmin(np.linalg.norm(pts - target, axis=1)))
    else:
        start = int(rng.integers(len(pts)))
    area = float(free.sum()) * _CELL * _CELL
    k = int(np.clip(round(area / 2.5), 3, 8))
    chosen = [start]
    dmin = np.linalg.norm(pts - pts[start], axis=1)
    for _ in range(k - 1):
        nxt = int(np.argmax(dmin + rng.uniform(0, 0.3, len(dmin))))
        chosen.append(nxt)
        dmin = np.minimum(dmin, np.linalg.norm(pts - pts[nxt], axis=1))
    order, rest = [start], chosen[1:]
    while rest:
        j = int(np.argmin([np.linalg.norm(pts[r] - pts[order[-1]]) for r in rest]))
        order.append(rest.pop(j))

    # 2. shortest paths, preferring the open middle
    dist = ndimage.distance_transform_edt(free) * _CELL
    cost = 1.0 + 3.0 * np.clip(0.6 - dist, 0, None) / 0.6
    path: list[tuple[int, int]] = []
    for a_, b_ in zip(order[:-1], order[1:], strict=True):
        seg = _shortest_path(cost, free, tuple(cells[a_]), tuple(cells[b_]))
        path.extend(seg if not path else seg[1:])
    poly = (
        np.array([[xs[i], ys[j]] for i, j in path])
        if len(path) > 1
        else pts[[start, start]] + [[0, 0], [0.05, 0]]
    )
    poly = _resample(poly, 0.05)

    # 3. smooth, keeping to the free space
    smooth = poly
    for sigma in (8.0, 5.0, 3.0, 1.5, 0.0):
        cand = poly if sigma == 0 else ndimage.gaussian_filter1d(poly, sigma, axis=0, mode="nearest")
        if np.all(free_space_mask(world, cand, clearance=clearance * 0.75)):
            smooth = cand
            break
    smooth = _resample(smooth, 0.02)

    # 4. timing with a varying walking speed
    t = np.linspace(0.0, 1.0, num_frames)
    speed = 1.0 + 0.35 * _smooth_noise(rng, np.linspace(0, 1, 400))
    s_cum = np.concatenate([[0.0], np.cumsum(speed)])
    s_cum /= s_cum[-1]
    s_at = np.interp(t, np.linspace(0, 1, len(s_cum)), s_cum)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(smooth, axis=0), axis=1))])
    q = s_at * arc[-1]
    xy = np.stack([np.interp(q, arc, smooth[:, 0]), np.interp(q, arc, smooth[:, 1])], -1)

    # 5. orientation: look at a sequence of objects (a scanning operator points the camera at things)
    h_lo, h_hi = height_m
    mid = (h_lo + h_hi) / 2 + rng.uniform(-0.25, 0.25) * (h_hi - h_lo)
    amp = min(mid - h_lo, h_hi - mid) * 0.9
    z = mid + amp * _smooth_noise(rng, t, max_freq=2.0)
    targets = _look_targets(world, rng, xy, t)
    to_t = targets[:, :2] - xy
    dist = np.maximum(np.linalg.norm(to_t, axis=1), 0.3)
    yaw = np.unwrap(np.arctan2(to_t[:, 1], to_t[:, 0]))
    yaw = ndimage.gaussian_filter1d(yaw, max(1.5, num_frames / 40), mode="nearest")
    yaw = _rate_limit(
        yaw + math.radians(12) * _smooth_noise(rng, t, max_freq=5.0), math.radians(_MAX_TURN_DEG)
    )
    pitch = np.clip(np.arctan2(targets[:, 2] - z, dist), math.radians(-50), math.radians(-3))
    pitch = ndimage.gaussian_filter1d(pitch, max(1.0, num_frames / 60), mode="nearest")
    pitch = pitch + math.radians(5) * _smooth_noise(rng, t, max_freq=4.0)
    roll = math.radians(3) * _smooth_noise(rng, t, max_freq=2.0)
    T = np.zeros((num_frames, 4, 4))
    T[:, :3, :3] = look_rotation(yaw, pitch, roll)
    T[:, :2, 3] = xy
    T[:, 2, 3] = z
    T[:, 3, 3] = 1.0
    return T
